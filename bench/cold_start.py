"""Cold import time of the Lambda entry module (`backend.wsgi`), median of fresh processes.

    python -m bench.cold_start [--quick]

Each run is a new interpreter with `-X importtime`; the figure is the cumulative import
time of `backend.wsgi` (building the app included), as on a Lambda cold start before the
first request. Also prints the heaviest top-level imports of one run and the machine's
load average (the machine is shared: read the figure against it).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "backend.wsgi"
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s+)(\S+)")


def import_once(entry: str = ENTRY) -> tuple[float, list[tuple[float, str]]]:
    """(cumulative ms of `entry`, [(ms, module) of the entry's direct imports])."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
               AWS_SECRET_ACCESS_KEY=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
               COUNTYCARE_STAGE="local", COUNTYCARE_SSM_PATH="")
    # The bundle ships bytecode (infra.package); this machine's environment sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile our modules again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {entry}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    total, children = None, []
    for line in proc.stderr.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        cumulative, depth, name = int(m.group(2)) / 1000, len(m.group(3)), m.group(4)
        if name == entry and depth == 1:
            total = cumulative
        elif depth == 3:      # imported directly by the entry module's import chain
            children.append((cumulative, name))
    if total is None:
        raise RuntimeError(f"{entry} not found in -X importtime output")
    return total, sorted(children, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 5")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else 5
    import_once()                 # warm the bytecode cache, as a deployed bundle would be
    results = [import_once() for _ in range(runs)]
    times = [t for t, _ in results]
    print(f"runs: {runs}")
    print(f"import_ms: {statistics.median(times):.0f}")
    print(f"import_ms_min: {min(times):.0f}")
    print(f"import_ms_max: {max(times):.0f}")
    heaviest = ", ".join(f"{name}={ms:.0f}" for ms, name in results[0][1][:6])
    print(f"heaviest_imports_ms: {heaviest}")
    print(f"load_avg_1m: {os.getloadavg()[0]:.2f}")
    print("target_import_ms: 500")
    return 0


if __name__ == "__main__":
    sys.exit(main())
