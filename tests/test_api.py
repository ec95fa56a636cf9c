"""The JSON API convention, error pages and the OpenAPI document."""
from __future__ import annotations

import re

import pytest


def _csrf(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_malformed_json_is_a_400_with_a_stable_code(client):
    r = client.post("/api/auth/code", data="{phone: 139", content_type="application/json",
                    headers={"X-CSRF-Token": _csrf(client)})
    assert r.status_code == 400
    assert r.get_json()["error"] == {"code": "malformed_json", "message": "请求内容不是有效的 JSON"}


def test_non_json_body_is_refused(client):
    r = client.post("/api/auth/code", data={"phone": "13900000001"},
                    headers={"X-CSRF-Token": _csrf(client)})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("body, field", [
    ({}, "phone"),
    ({"phone": 13900000001}, "phone"),
    ({"phone": "13900000001", "admin": True}, "admin"),
    ([], "body"),
])
def test_schema_violations_name_the_field(client, body, field):
    r = client.post("/api/auth/code", json=body, headers={"X-CSRF-Token": _csrf(client)})
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "validation_failed"
    assert err["details"][0]["field"].startswith(field) or field == "body"


def test_unknown_route_is_a_chinese_404_page(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert "页面不存在" in html and 'lang="zh-CN"' in html


def test_unknown_api_route_is_json(client):
    r = client.get("/api/no/such/thing")
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_json_405(client):
    r = client.get("/api/auth/code")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"


def test_too_large_body_is_413(client):
    r = client.post("/api/auth/code", data="x" * (300 * 1024), content_type="application/json",
                    headers={"X-CSRF-Token": _csrf(client)})
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"


def test_openapi_document_comes_from_the_schemas(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    op = doc["paths"]["/api/auth/code"]["post"]
    schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[1]
    phone = doc["components"]["schemas"][name]["properties"]["phone"]
    assert phone["pattern"] == r"^1[3-9]\d{9}$"
    assert doc["components"]["schemas"][name]["additionalProperties"] is False
    assert "/api/residents/{resident_id}" in doc["paths"]
    assert doc["paths"]["/api/residents/{resident_id}"]["get"]["x-roles"]


def test_openapi_document_is_valid(client):
    from openapi_spec_validator import validate
    validate(client.get("/api/openapi.json").get_json())


def test_every_api_write_route_checks_csrf_and_every_data_route_checks_a_role(app):
    """A route audit: nothing under /api/ that touches personal data is open to anyone."""
    public = {"meta.openapi", "meta.health", "auth.api_request_code", "auth.api_resident_login",
              "auth.api_staff_login", "push.public_key",  # the VAPID public key is public
              # the service worker proves itself with its device token (no session, no cookie)
              "push.resubscribe", "push.notice_clicked",
              # a resident without an account asks to be registered (no session yet)
              "registration.api_register",
              # the SMS provider's delivery receipts carry a secret token in the URL
              "texts.receipts"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in public:
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "required_roles", None) is not None, rule.rule
    # Nothing skips CSRF silently; the exemptions carry their own secret, not a cookie.
    assert app.config["CSRF_EXEMPT"] == {"push.resubscribe", "push.notice_clicked", "texts.receipts"}


def test_security_headers(client):
    r = client.get("/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_throttled_dynamodb_is_a_503_with_retry_after_not_a_500(person, client, demo,
                                                                 dynamodb_endpoint):
    import requests
    person.login_staff("doctor01")
    rid = next(r["resident_id"] for r in demo.residents if r["team_id"] == "team-01")
    requests.post(f"{dynamodb_endpoint}/_faults", json={
        "operation": "PutItem", "code": "ProvisionedThroughputExceededException", "count": 100})
    try:
        r = client.get(f"/api/residents/{rid}")  # the audit append is throttled
    finally:
        requests.delete(f"{dynamodb_endpoint}/_faults")
    assert r.status_code == 503
    assert r.get_json()["error"]["code"] == "service_busy"
    assert r.headers["Retry-After"] == "1"
    assert client.get(f"/api/residents/{rid}").status_code == 200
