"""The prod Lambda bundle (`make package`): built offline, slim, and it serves requests.

The unzipped bundle runs in a separate Python without site-packages, with only what the
Lambda runtime adds (boto3, botocore, s3transfer) next to it, as `handler.lambda_handler`.
Builds `.venv-lambda` on first use (about a minute on a fresh machine, seconds after).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from infra import package

pytestmark = pytest.mark.slow

RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "countycare-lambda.zip"
    return package.build("prod", out)


@pytest.fixture(scope="module")
def unzipped(bundle, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(bundle) as z:
        z.extractall(target)
    return target


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory) -> Path:
    """What the python3.11 Lambda runtime provides besides the bundle: the AWS SDK."""
    import boto3
    import botocore
    import s3transfer

    runtime = tmp_path_factory.mktemp("runtime")
    for module in (boto3, botocore, s3transfer):
        (runtime / module.__name__).symlink_to(Path(module.__file__).parent)
    return runtime


def test_bundle_is_slim_and_carries_the_prod_settings(bundle):
    zip_mb, unzipped_mb = package.bundle_sizes(bundle)
    assert zip_mb < 30
    assert unzipped_mb < 250        # Lambda's limit for an unzipped function
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        settings = z.read("zappa_settings.py").decode()
    tops = {n.split("/")[0] for n in names}
    assert {"handler.py", "zappa_settings.py", "backend", "frontend", "flask", "pynamodb",
            "zappa"} <= tops
    for absent in ("tests", "bench", ".venv", ".venv-lambda", "build", "moto", "pytest",
                   "playwright", "cfnlint", "troposphere", "pip", *RUNTIME_PROVIDED):
        assert absent not in tops, absent
    # Compiled once at packaging (read-only /var/task), and only by the runtime's CPython.
    assert "backend/__pycache__/__init__.cpython-311.pyc" in names
    assert not any(n.endswith(".pyc") and ".cpython-311." not in n for n in names)
    assert "API_STAGE='prod'" in settings
    assert "'AWS_REGION': 'cn-northwest-1'" in settings
    assert "DEBUG=False" in settings and "LOG_LEVEL='INFO'" in settings


def _invoke(unzipped: Path, runtime: Path, endpoint: str, events: list[dict]) -> list[dict]:
    overrides = {"DYNAMODB_ENDPOINT": endpoint, "COUNTYCARE_TABLE_PREFIX": "test",
                 "COUNTYCARE_SSM_PATH": "", "COUNTYCARE_SECRET_KEY": "bundle-test",
                 "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    script = textwrap.dedent(f"""
        import json, sys
        import zappa_settings
        zappa_settings.ENVIRONMENT_VARIABLES.update({overrides!r})
        import handler
        class Context:
            function_name = "countycare-prod"
            aws_request_id = "bundle-test"
            def get_remaining_time_in_millis(self):
                return 30000
        results = [handler.lambda_handler(e, Context()) for e in json.loads(sys.stdin.read())]
        import flask  # the bundle's own copy, not the test virtualenv's
        assert flask.__file__.startswith({str(unzipped)!r}), flask.__file__
        print("RESULT" + json.dumps(results))
    """)
    # -S -s: no site-packages at all; the bundle and the runtime's SDK only.
    proc = subprocess.run(
        [sys.executable, "-S", "-s", "-c", script], input=json.dumps(events),
        cwd=unzipped, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": f"{unzipped}:{runtime}", "PATH": "/usr/bin:/bin",
             "LANG": "C.UTF-8", "AWS_DEFAULT_REGION": "cn-northwest-1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def test_unzipped_bundle_serves_the_http_api_and_runs_a_schedule(unzipped, lambda_runtime,
                                                                 app, dynamodb_endpoint):
    from backend.models.ops import TaskRun
    from tests.test_lambda_handler import http_api_event, scheduled_event

    with app.app_context():
        try:
            runs_before = TaskRun.get("heartbeat").runs
        except TaskRun.DoesNotExist:
            runs_before = 0
    home, missing, schedule = _invoke(unzipped, lambda_runtime, dynamodb_endpoint, [
        http_api_event("GET", "/"), http_api_event("GET", "/nowhere"),
        scheduled_event("backend.tasks.heartbeat")])
    assert home["statusCode"] == 200
    assert "县域基层健康服务" in home["body"]
    assert missing["statusCode"] == 404 and "找不到" in missing["body"]
    assert schedule == {"alive": True}
    with app.app_context():
        assert TaskRun.get("heartbeat").runs == runs_before + 1
