"""Logging in and out, sessions, CSRF and rate limits, through HTTP against the moto server."""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from backend import create_app
from backend.models.account import LoginCode, Session
from backend.services.auth import _digest
from tests.conftest import make_config


def _csrf(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _addr() -> dict:
    return {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}


def _session_cookie(client):
    return client.get_cookie("cc_session")


def test_resident_logs_in_with_code_and_sees_chinese_home(person, client, demo):
    me = person.login_resident(demo.demo_resident["phone"])
    assert me["role"] == "resident"
    assert me["resident_id"] == demo.demo_resident["resident_id"]
    html = client.get("/").get_data(as_text=True)
    assert "您好" in html and demo.demo_resident["name"] in html
    cookie = _session_cookie(client)
    assert len(cookie.value) >= 43  # 256 bits, urlsafe base64
    # Stored hashed, with a TTL.
    import hashlib
    stored = Session.get(hashlib.sha256(cookie.value.encode()).hexdigest())
    assert stored.login == f"m:{demo.demo_resident['phone']}"
    assert stored.expires_at > datetime.now(timezone.utc)


def test_session_cookie_flags(dynamodb_endpoint, demo):
    secure_app = create_app(make_config(dynamodb_endpoint, secure_cookies=True))
    client = secure_app.test_client()
    token = _csrf(client)
    phone = demo.demo_resident["phone"]
    client.post("/api/auth/code", json={"phone": phone}, headers={"X-CSRF-Token": token},
                environ_base=_addr(), base_url="https://localhost")
    code = secure_app.extensions["code_sender"].last_code(phone)
    r = client.post("/api/auth/login", json={"phone": phone, "code": code},
                    headers={"X-CSRF-Token": token}, environ_base=_addr(),
                    base_url="https://localhost")
    assert r.status_code == 200
    set_cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("__Host-cc_session=")][0]
    assert "HttpOnly" in set_cookie and "Secure" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Path=/" in set_cookie
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_logout_ends_the_session_on_the_server(person, client, demo):
    person.login_resident(demo.demo_resident["phone"])
    cookie = _session_cookie(client).value
    me = client.get("/api/me").get_json()
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code == 200
    # Replaying the old cookie does not work: the server forgot it.
    client.set_cookie("cc_session", cookie)
    r = client.get("/api/me")
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "not_authenticated"


def test_expired_session_asks_to_log_in_again(person, client, demo):
    import hashlib
    person.login_resident(demo.demo_resident["phone"])
    token_hash = hashlib.sha256(_session_cookie(client).value.encode()).hexdigest()
    Session(token_hash).update(actions=[Session.idle_until.set(int(time.time()) - 1)])
    r = client.get("/api/me")
    assert r.status_code == 401
    assert r.get_json()["error"] == {"code": "session_expired", "message": "登录已过期，请重新登录"}
    with pytest.raises(Session.DoesNotExist):
        Session.get(token_hash)
    page = client.get("/residents/" + demo.demo_resident["resident_id"])
    assert page.status_code == 401 and "去登录" in page.get_data(as_text=True)


def test_absolute_timeout_ends_even_an_active_session(person, client, demo):
    import hashlib
    person.login_resident(demo.demo_resident["phone"])
    token_hash = hashlib.sha256(_session_cookie(client).value.encode()).hexdigest()
    Session(token_hash).update(actions=[
        Session.expires_at.set(datetime.now(timezone.utc) - timedelta(seconds=1))])
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("phone", ["1390000000", "12900000001", "139000000011", "abc", "",
                                   "+8613900000001"])
def test_malformed_phone_is_refused(client, phone):
    r = client.post("/api/auth/code", json={"phone": phone}, headers={"X-CSRF-Token": _csrf(client)})
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "validation_failed"
    assert "phone" in r.get_json()["error"]["message"]


def test_wrong_code_then_reused_code_then_expired_code(app, client, demo):
    phone = demo.residents[5]["phone"] or demo.demo_resident["phone"]
    token, env = _csrf(client), _addr()
    client.post("/api/auth/code", json={"phone": phone}, headers={"X-CSRF-Token": token},
                environ_base=env)
    code = app.extensions["code_sender"].last_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = client.post("/api/auth/login", json={"phone": phone, "code": wrong},
                    headers={"X-CSRF-Token": token}, environ_base=env)
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "wrong_code")
    assert r.get_json()["error"]["message"] == "验证码不正确"
    r = client.post("/api/auth/login", json={"phone": phone, "code": code},
                    headers={"X-CSRF-Token": token}, environ_base=env)
    assert r.status_code == 200
    # The same code a second time: used.
    other = app.test_client()
    t2 = _csrf(other)
    r = other.post("/api/auth/login", json={"phone": phone, "code": code},
                   headers={"X-CSRF-Token": t2}, environ_base=env)
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "code_expired")
    # A fresh code that has expired.
    client.post("/api/auth/code", json={"phone": phone}, headers={"X-CSRF-Token": token},
                environ_base=env)
    code = app.extensions["code_sender"].last_code(phone)
    cfg = app.config["COUNTYCARE"]
    LoginCode(_digest(cfg, phone)).update(actions=[
        LoginCode.codes[_digest(cfg, f"{phone}:{code}")].set(int(time.time()) - 5)])
    r = other.post("/api/auth/login", json={"phone": phone, "code": code},
                   headers={"X-CSRF-Token": t2}, environ_base=env)
    assert r.get_json()["error"]["code"] == "code_expired"


def test_too_many_code_requests_are_rate_limited_per_address(dynamodb_endpoint):
    strict = create_app(make_config(dynamodb_endpoint, code_requests_per_address=(2, 3600)))
    client = strict.test_client()
    token, env = _csrf(client), _addr()
    statuses = [client.post("/api/auth/code", json={"phone": f"135{uuid.uuid4().int % 10**8:08d}"},
                            headers={"X-CSRF-Token": token}, environ_base=env).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_staff_login_and_wrong_password(person, client):
    me = person.login_staff("doctor01")
    assert me["role"] == "doctor" and me["team_id"] == "team-01"
    other = client.application.test_client()
    token = _csrf(other)
    r = other.post("/api/auth/staff-login", json={"username": "doctor01", "password": "wrong"},
                   headers={"X-CSRF-Token": token}, environ_base=_addr())
    assert r.status_code == 400
    assert r.get_json()["error"] == {"code": "wrong_password", "message": "用户名或密码不正确"}
    r = other.post("/api/auth/staff-login", json={"username": "nobody", "password": "x"},
                   headers={"X-CSRF-Token": token}, environ_base=_addr())
    assert r.get_json()["error"]["code"] == "wrong_password"  # no hint that the user is unknown


def test_login_forms_work_without_javascript(app, client, demo):
    phone = demo.demo_resident["phone"]
    token = _csrf(client)
    r = client.post("/login/code", data={"phone": phone, "csrf_token": token}, environ_base=_addr())
    assert r.status_code == 200 and "验证码已发送" in r.get_data(as_text=True)
    assert phone in r.get_data(as_text=True)  # kept in the form, never in a URL
    code = app.extensions["code_sender"].last_code(phone)
    r = client.post("/login/resident", data={"phone": phone, "code": "000000" if code != "000000" else "111111",
                                             "csrf_token": token}, environ_base=_addr())
    assert r.status_code == 400 and "验证码不正确" in r.get_data(as_text=True)
    r = client.post("/login/resident", data={"phone": phone, "code": code, "csrf_token": token},
                    environ_base=_addr())
    assert r.status_code == 303
    assert "您好" in client.get("/").get_data(as_text=True)
    me = client.get("/api/me").get_json()
    r = client.post("/logout", data={"csrf_token": me["csrf_token"]})
    assert r.status_code == 303
    assert client.get("/api/me").status_code == 401


def test_bad_phone_in_form_shows_chinese_error(client):
    r = client.post("/login/code", data={"phone": "123", "csrf_token": _csrf(client)})
    assert r.status_code == 422
    assert "请输入正确的11位手机号" in r.get_data(as_text=True)


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": "forged"}])
def test_writes_without_a_valid_csrf_token_are_refused(client, headers):
    _csrf(client)  # the anonymous CSRF cookie is set
    r = client.post("/api/auth/code", json={"phone": "13900000001"}, headers=headers)
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "csrf_failed"


def test_signed_in_writes_need_the_session_token_not_the_anonymous_one(person, client, demo):
    anon = _csrf(client)
    person.login_resident(demo.demo_resident["phone"])
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": anon})
    assert r.status_code == 403
    assert client.get("/api/me").status_code == 200  # still signed in
