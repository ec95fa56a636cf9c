"""Zappa's own Lambda handler in front of the app: API Gateway requests and scheduled events.

The settings module is what `zappa save-python-settings-file dev` writes (Zappa's own
code), then pointed at this session's moto server. `LambdaHandler` is a process-wide
singleton and `backend.wsgi` builds its app on import, so each test gets a fresh
handler and the previous state (singleton, modules, environment) is put back after.
"""
from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROD_HOST = "a1b2c3d4e5.execute-api.cn-northwest-1.amazonaws.com.cn"


@pytest.fixture(scope="module")
def dev_settings_dir(tmp_path_factory) -> Path:
    """`zappa save-python-settings-file dev`, run through Zappa's CLI class in-process."""
    from zappa.cli import ZappaCLI

    out = tmp_path_factory.mktemp("zappa") / "zappa_settings.py"
    cli = ZappaCLI()
    cli.api_stage = "dev"
    cli.load_settings(str(ROOT / "zappa_settings.json"))
    cli.save_python_settings_file(str(out))
    return out.parent


@pytest.fixture()
def lambda_handler(app, dynamodb_endpoint, dev_settings_dir, tmp_path, monkeypatch):
    """A fresh `zappa.handler.LambdaHandler` whose app reaches the test session's tables."""
    from zappa import handler as zappa_handler

    # The dev stage as generated, with its environment pointed at this test session.
    text = (dev_settings_dir / "zappa_settings.py").read_text()
    assert "APP_MODULE='backend.wsgi'" in text and "API_STAGE='dev'" in text
    overrides = {"AWS_REGION": "cn-northwest-1", "DYNAMODB_ENDPOINT": dynamodb_endpoint,
                 "COUNTYCARE_TABLE_PREFIX": "test", "COUNTYCARE_SSM_PATH": "",
                 "COUNTYCARE_SECRET_KEY": "test-secret", "COUNTYCARE_SMS_PROVIDER": "console"}
    module_name = f"zappa_settings_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module_name}.py").write_text(
        text + f"ENVIRONMENT_VARIABLES.update({overrides!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    saved_environ = dict(os.environ)
    saved_wsgi = sys.modules.pop("backend.wsgi", None)
    root_level = __import__("logging").getLogger().level
    monkeypatch.setattr(zappa_handler.LambdaHandler, "_LambdaHandler__instance", None)
    try:
        yield zappa_handler.LambdaHandler(module_name)
    finally:
        sys.modules.pop(module_name, None)
        sys.modules.pop("backend.wsgi", None)
        if saved_wsgi is not None:
            sys.modules["backend.wsgi"] = saved_wsgi
        os.environ.clear()
        os.environ.update(saved_environ)
        __import__("logging").getLogger().setLevel(root_level)


class Context:
    """The bits of a Lambda context object Zappa's handler reads."""

    function_name = "countycare-dev"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:ap-east-1:000000000000:function:countycare-dev"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def http_api_event(method: str, path: str, body: str | None = None,
                   headers: dict | None = None) -> dict:
    """API Gateway HTTP API, payload 2.0, $default stage (what prod's template sends)."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": PROD_HOST, "accept": "text/html,application/json",
                    "accept-language": "zh-CN", "x-forwarded-for": "203.0.113.9",
                    "x-forwarded-proto": "https", "x-forwarded-port": "443",
                    **(headers or {})},
        "requestContext": {
            "accountId": "000000000000", "apiId": "a1b2c3d4e5", "domainName": PROD_HOST,
            "domainPrefix": "a1b2c3d4e5", "requestId": uuid.uuid4().hex, "routeKey": "$default",
            "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "Mozilla/5.0 (Linux; Android 14)"},
        },
        "body": body, "isBase64Encoded": False,
    }


def rest_api_event(method: str, path: str, stage: str = "dev") -> dict:
    """API Gateway REST API proxy event, payload 1.0 (what Zappa's dev API sends)."""
    host = "x1y2z3.execute-api.ap-east-1.amazonaws.com"
    headers = {"Host": host, "Accept": "text/html", "X-Forwarded-For": "203.0.113.9",
               "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"}
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method, "path":
                           f"/{stage}{path}", "stage": stage, "requestId": uuid.uuid4().hex,
                           "identity": {"sourceIp": "203.0.113.9"}},
        "body": None, "isBase64Encoded": False,
    }


def scheduled_event(function: str) -> dict:
    """An EventBridge schedule; Zappa runs what follows the rule name's last "-"."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "000000000000", "time": "2026-01-01T00:00:00Z",
        "region": "cn-northwest-1",
        "resources": [f"arn:aws-cn:events:cn-northwest-1:000000000000:rule/"
                      f"countycare-prod-{function}"],
        "detail": {},
    }


def test_get_home_through_the_http_api_returns_the_chinese_home_page(lambda_handler):
    response = lambda_handler.handler(http_api_event("GET", "/"), Context())
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "县域基层健康服务" in response["body"]
    assert '<html lang="zh' in response["body"]
    # $default stage: links are not prefixed with a stage name.
    assert 'href="/static/' in response["body"] and "/$default/" not in response["body"]
    assert "Content-Security-Policy" in response["headers"]


def test_get_home_through_zappas_rest_api_keeps_the_stage_in_links(lambda_handler):
    response = lambda_handler.handler(rest_api_event("GET", "/"), Context())
    assert response["statusCode"] == 200
    assert "县域基层健康服务" in response["body"]
    assert 'href="/dev/static/' in response["body"]


def test_post_without_csrf_token_is_refused_with_a_json_error(lambda_handler):
    phone = "13900000001"
    body = json.dumps({"phone": phone})
    response = lambda_handler.handler(
        http_api_event("POST", "/api/auth/code", body=body,
                       headers={"content-type": "application/json"}), Context())
    assert response["statusCode"] == 403
    payload = json.loads(response["body"])
    assert payload["error"]["code"] == "csrf_failed"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in payload["error"]["message"])
    # Refused before the service ran: no code went out for the number.
    handler_app = sys.modules["backend.wsgi"].app
    assert handler_app.extensions["code_sender"].last_code(phone) is None


def test_unknown_route_gets_the_chinese_404_page(lambda_handler):
    response = lambda_handler.handler(http_api_event("GET", "/no-such-page"), Context())
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "找不到" in response["body"]


def test_static_icon_is_returned_base64_encoded(lambda_handler):
    response = lambda_handler.handler(http_api_event("GET", "/static/icons/icon-192.png"),
                                      Context())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    import base64
    assert base64.b64decode(response["body"]).startswith(b"\x89PNG")


def test_scheduled_event_runs_the_heartbeat_task(lambda_handler, app):
    from backend.models.ops import TaskRun

    with app.app_context():
        try:
            before = TaskRun.get("heartbeat")
            runs_before, last_before = before.runs, before.last_run
        except TaskRun.DoesNotExist:
            runs_before, last_before = 0, None
    result = lambda_handler.handler(scheduled_event("backend.tasks.heartbeat"), Context())
    assert result == {"alive": True}
    with app.app_context():
        after = TaskRun.get("heartbeat")
    assert after.runs == runs_before + 1
    assert after.ok == 1
    assert last_before is None or after.last_run > last_before
    assert "alive" in after.summary


def test_handler_reaches_the_session_tables_not_the_stage_defaults(lambda_handler):
    from backend.models.ops import TaskRun

    assert TaskRun.Meta.table_name == "test-task-runs"
    assert os.environ["COUNTYCARE_STAGE"] == "dev"


def test_client_address_is_api_gateways_source_ip_not_a_header(lambda_handler):
    """Through Zappa's handler: the address is the event's sourceIp (REST and HTTP API),
    whatever X-Forwarded-For says (Zappa copies that header into REMOTE_ADDR)."""
    from backend.security import client_address

    handler_app = sys.modules["backend.wsgi"].app
    seen = []
    handler_app.before_request(lambda: seen.append(client_address()))
    spoof = "6.6.6.6, 7.7.7.7"
    lambda_handler.handler(http_api_event("GET", "/", headers={"x-forwarded-for": spoof}),
                           Context())
    rest = rest_api_event("GET", "/")
    rest["headers"]["X-Forwarded-For"] = spoof
    rest["multiValueHeaders"]["X-Forwarded-For"] = [spoof]
    lambda_handler.handler(rest, Context())
    assert seen == ["203.0.113.9", "203.0.113.9"]
