"""Login codes go out through the configured provider; its refusals are clear, never a 500."""
from __future__ import annotations

import pytest

from backend.services import sms
from backend.services.sms_alibaba import AlibabaProvider
from tests.sms_fakes import FakeAlibabaSms


@pytest.fixture()
def alibaba(app, monkeypatch):
    fake = FakeAlibabaSms("LTAI-login", "login-secret").start()
    settings = sms.SmsSettings(provider="alibaba", templates={"login_code": "SMS_LOGIN_9"},
                               endpoint=fake.endpoint, key_id="LTAI-login",
                               key_secret="login-secret", timeout_seconds=1.0,
                               backoff_seconds=0.01)
    monkeypatch.setitem(app.extensions, "code_sender",
                        sms.Texter(AlibabaProvider(settings), settings, sleep=lambda s: None))
    yield fake
    fake.stop()


def test_a_login_code_reaches_the_provider_as_its_template(person, client, demo, alibaba):
    phone = demo.demo_resident["phone"]
    r = client.post("/api/auth/code", json={"phone": phone},
                    headers={"X-CSRF-Token": person.csrf()}, environ_base={"REMOTE_ADDR": "10.77.0.1"})
    assert r.status_code == 200, r.get_json()
    [sent] = alibaba.accepted()
    assert sent["template"] == "SMS_LOGIN_9" and sent["phone"] == phone
    assert list(sent["params"]) == ["code"] and sent["params"]["code"].isdigit()


@pytest.mark.parametrize("outcome,status,code,text", [
    ("invalid_number", 422, "sms_invalid_number", "该手机号无法接收短信"),
    ("throttled", 429, "sms_throttled", "短信发送太频繁"),
    ("template_not_approved", 503, "sms_template_not_approved", "模板未通过审核"),
    ("out_of_credit", 503, "sms_out_of_credit", "余额不足"),
    ("http500", 503, "sms_unavailable", "暂时无法连接"),
])
def test_provider_refusals_are_chinese_with_a_stable_code(person, client, demo, alibaba,
                                                           outcome, status, code, text):
    phone = demo.demo_resident["phone"]
    alibaba.by_phone[phone] = outcome
    r = client.post("/api/auth/code", json={"phone": phone},
                    headers={"X-CSRF-Token": person.csrf()}, environ_base={"REMOTE_ADDR": "10.77.0.2"})
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code and text in r.get_json()["error"]["message"]
    form = client.post("/login/code", data={"phone": phone, "csrf_token": person.csrf()},
                       environ_base={"REMOTE_ADDR": "10.77.0.3"})
    assert form.status_code == status and text in form.get_data(as_text=True)
    assert 'name="phone"' in form.get_data(as_text=True)  # the page to try again, not an error page
