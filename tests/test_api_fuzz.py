"""Every route in the OpenAPI document, fed junk as each kind of user: never a 500.

A cheap, deterministic fuzz: odd path ids, missing/malformed/mistyped bodies. Each answer
must be a JSON error with a stable code (or a success), never an internal error.
"""
from __future__ import annotations

import json

import pytest

ODD_IDS = ["0", "res-999999", "x" * 300, "%E4%B8%AD", "..%2F..%2Fetc", "2026-13-45", "-1", "null"]
ODD_BODIES = [None, "", "{", "[]", "null", "123", json.dumps({"unexpected": True}),
              json.dumps({k: v for k, v in zip("abcdefgh", [None, -1, 1e308, "", "中" * 5000,
                                                            [], {}, True])})]


def _operations(client):
    doc = client.get("/api/openapi.json").get_json()
    for path, methods in doc["paths"].items():
        for method in methods:
            yield path, method


def _fill(path: str, value: str) -> str:
    import re
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.parametrize("who", ["anonymous", "resident", "doctor", "county"])
def test_no_route_answers_500_to_junk(app, who):
    from tests.conftest import Browserless
    client = app.test_client()
    person = Browserless(app, client)
    if who == "resident":
        person.login_resident(app.config["DEMO"].demo_resident["phone"])
    elif who in ("doctor", "county"):
        person.login_staff("doctor02" if who == "doctor" else "county")
    me = client.get("/api/me").get_json() if who != "anonymous" else None
    token = me["csrf_token"] if me else person.csrf()
    checked = 0
    for path, method in _operations(client):
        if path in ("/api/auth/logout",):
            continue  # would end the session the rest of the loop needs
        for odd in (ODD_IDS if "{" in path else [None]):
            url = _fill(path, odd) if odd else path
            bodies = ODD_BODIES if method in ("post", "put", "patch") else [None]
            for body in bodies:
                kwargs = {"headers": {"X-CSRF-Token": token}}
                if body is not None:
                    kwargs.update(data=body, content_type="application/json")
                r = client.open(url, method=method.upper(), **kwargs)
                checked += 1
                assert r.status_code < 500, (who, method, url, body, r.get_data(as_text=True)[:300])
                if r.status_code >= 400 and r.is_json:
                    err = r.get_json()["error"]
                    assert err["code"] and err["message"], (method, url)
    assert checked > 10
