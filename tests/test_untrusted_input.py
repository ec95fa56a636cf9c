"""What a hostile client may send: over-deep JSON, NaN/Infinity, huge numbers, and redirect
targets that leave the site. Each gets a 4xx with a stable code, never a 500, and nothing
is written."""
from __future__ import annotations

import re

import pytest

from backend.forms import safe_next

DEEP = "[" * 100_000 + "]" * 100_000


def _anon_token(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_deep_json_on_a_public_route_is_400_not_500(client):
    token = _anon_token(client)
    r = client.post("/api/auth/code", data=DEEP, content_type="application/json",
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "json_too_deep"
    nested = '{"phone": ' + "[" * 40 + "]" * 40 + "}"
    r = client.post("/api/auth/code", data=nested, content_type="application/json",
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "json_too_deep"


def test_deep_json_on_a_signed_in_route_is_400_and_writes_nothing(person, client, demo):
    me = person.login_resident(demo.demo_resident["phone"])
    before = client.get("/api/push/subscriptions").get_json()["devices"]
    body = '{"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": ' + DEEP + "}"
    r = client.post("/api/push/subscriptions", data=body, content_type="application/json",
                    headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "json_too_deep"
    assert client.get("/api/push/subscriptions").get_json()["devices"] == before


def test_brackets_inside_strings_do_not_count_towards_the_depth(client):
    token = _anon_token(client)
    r = client.post("/api/auth/code", data='{"phone": "' + "[" * 100 + '"}',
                    content_type="application/json", headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.get_json()["error"]["code"] != "json_too_deep"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(person, client, demo, literal):
    person.login_staff("doctor01")
    me = client.get("/api/me").get_json()
    rid = next(r["resident_id"] for r in demo.residents if r["team_id"] == "team-01")
    body = '{"disease": "diabetes", "visit_date": "2026-11-02", "fasting_glucose": %s}' % literal
    r = client.post(f"/api/care/residents/{rid}/followups", data=body,
                    content_type="application/json", headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"


def test_numbers_in_json_are_finite_and_bounded(person, client, demo):
    me = person.login_staff("admin-twp-01")
    before = len(client.get("/api/admin/schedules").get_json()["templates"])
    base = {"department": "全科", "start": "08:00", "end": "11:00", "slice_minutes": 30,
            "capacity": 10}
    for bad in ({"capacity": 10**40}, {"fee": "inf"}, {"weekdays": [1, 10**20]}):
        r = client.post("/api/admin/templates", json={**base, **bad},
                        headers={"X-CSRF-Token": me["csrf_token"]})
        assert r.status_code == 422, (bad, r.get_json())
        assert r.get_json()["error"]["code"] == "validation_failed"
    assert len(client.get("/api/admin/schedules").get_json()["templates"]) == before


@pytest.mark.parametrize("fee", ["inf", "nan", "1e9", "-1", "12.345", "1000000", "０x1"])
def test_fee_in_the_template_form_is_a_bounded_amount(person, client, fee):
    me = person.login_staff("admin-twp-01")
    before = len(client.get("/api/admin/schedules").get_json()["templates"])
    r = client.post("/admin/schedules/templates", data={
        "csrf_token": me["csrf_token"], "department": "全科", "start": "08:00", "end": "11:00",
        "slice_minutes": "30", "capacity": "10", "weekdays": ["1"], "fee_yuan": fee})
    assert r.status_code == 422
    assert "挂号费" in r.get_data(as_text=True)
    assert len(client.get("/api/admin/schedules").get_json()["templates"]) == before


@pytest.mark.parametrize("field, value", [("capacity", "inf"), ("slice_minutes", "1e3"),
                                          ("weekdays", "9"), ("online_pct", "101")])
def test_whole_numbers_in_the_template_form_are_bounded(person, client, field, value):
    me = person.login_staff("admin-twp-01")
    form = {"csrf_token": me["csrf_token"], "department": "全科", "start": "08:00",
            "end": "11:00", "slice_minutes": "30", "capacity": "10", "weekdays": ["1"],
            "fee_yuan": "5"}
    form[field] = value
    r = client.post("/admin/schedules/templates", data=form)
    assert r.status_code == 422 and "应" in r.get_data(as_text=True)


def test_roster_form_row_count_is_bounded(person, client):
    me = person.login_staff("admin-twp-01")
    r = client.post("/admin/duty", data={"csrf_token": me["csrf_token"], "year": "2026",
                                         "model": "fixed", "rows": "1000000000"})
    assert r.status_code == 422


@pytest.mark.parametrize("target, kept", [
    ("/bookings", True),
    ("/team?after=2026-11-02%23r1", True),
    ("//evil.example/", False),
    ("/%09/evil.example", False),
    ("/\t/evil.example", False),
    ("/%0d%0aSet-Cookie:%20x=1", False),
    ("/\r\nSet-Cookie: x=1", False),
    ("/\\evil.example", False),
    ("/%5Cevil.example", False),
    ("/%2F/evil.example", False),
    ("https://evil.example/", False),
    ("javascript:alert(1)", False),
    ("", False),
])
def test_redirect_targets_stay_on_this_site(target, kept):
    assert safe_next(target) == (target if kept else "/")


@pytest.mark.parametrize("target", ["/%09/evil.example", "/\r\nSet-Cookie: x=1",
                                    "/%0d%0aLocation:%20https://evil.example", "//evil.example"])
def test_elder_mode_next_never_leaves_the_site_nor_500s(client, target):
    token = _anon_token(client)
    r = client.post("/settings/elder-mode", data={"on": "1", "csrf_token": token, "next": target})
    assert r.status_code == 303
    assert r.location.endswith("/settings") and "evil" not in r.location
    assert "Set-Cookie: x" not in str(r.headers)


@pytest.mark.parametrize("target", ["/%09/evil.example", "/\r\nSet-Cookie: x=1"])
def test_consent_next_never_leaves_the_site_nor_500s(person, client, demo, target):
    me = person.login_resident(demo.demo_resident["phone"])
    from backend.rules.privacy import PRIVACY_VERSION
    r = client.post("/privacy/consent?next=" + target.replace("\r\n", "%0d%0a"), data={
        "csrf_token": me["csrf_token"], "version": PRIVACY_VERSION, "notice_read": "1",
        "health_data": "1"})
    assert r.status_code == 303 and r.location in ("/", "http://localhost/")
    r = client.get("/privacy/consent", query_string={"next": target})
    assert r.status_code == 200 and "evil.example" not in r.get_data(as_text=True)
