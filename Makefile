# CountyCare: `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
DDB_PORT ?= 8765
DATA := .localdata/dynamodb.json
STAMP := $(VENV)/.installed
export AWS_ACCESS_KEY_ID ?= local
export AWS_SECRET_ACCESS_KEY ?= local
export AWS_DEFAULT_REGION ?= cn-northwest-1

.PHONY: run test test-fast bench bench-quick package browser-deps install lint template clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Debian's Chromium and CJK fonts for the browser tests (no browser downloads).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not browser"

run: $(STAMP)
	@mkdir -p .localdata
	$(BIN)/python -m infra.run --port $(PORT) --ddb-port $(DDB_PORT) --data $(DATA)

bench: $(STAMP)
	@for b in $$(ls bench/*.py | xargs -n1 basename | sed 's/\.py$$//' | grep -v '^_' | grep -v '^__init__$$'); do \
	  echo "== bench.$$b"; $(BIN)/python -m bench.$$b $(BENCH_ARGS) || exit 1; done

bench-quick:
	$(MAKE) bench BENCH_ARGS=--quick

# The Lambda bundle, built offline from a slim virtualenv with only the runtime packages.
package: $(STAMP)
	$(BIN)/python -m infra.package

template: $(STAMP)
	$(BIN)/python -m infra.tables template

clean:
	rm -rf $(VENV) .venv-lambda build .localdata *.zip
