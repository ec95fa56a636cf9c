"""Both SMS providers through their real SDKs against local fakes that check the signature."""
from __future__ import annotations

import pytest

from backend.rules import texts as rules
from backend.services import sms
from tests.sms_fakes import FakeAlibabaSms, FakeTencentSms

TEMPLATES = {"login_code": "SMS_LOGIN_1", "notice": "SMS_NOTICE_1",
             "registration_done": "SMS_REG_1", "registration_declined": "SMS_REG_2"}
KEY_ID, KEY_SECRET = "LTAI-test-key", "test-secret-of-the-account"


def _texter(provider: str, fake, **overrides) -> sms.Texter:
    settings = sms.SmsSettings(**{**dict(
        provider=provider, signature="县域健康", templates=TEMPLATES, endpoint=fake.endpoint,
        region="cn-hangzhou", app_id="1400000001", key_id=KEY_ID, key_secret=KEY_SECRET,
        timeout_seconds=1.0, attempts=3, backoff_seconds=0.01), **overrides})
    if provider == "alibaba":
        from backend.services.sms_alibaba import AlibabaProvider
        impl = AlibabaProvider(settings)
    else:
        from backend.services.sms_tencent import TencentProvider
        impl = TencentProvider(settings)
    return sms.Texter(impl, settings, sleep=lambda s: None)


@pytest.fixture(scope="module", params=["alibaba", "tencent"])
def provider(request):
    fake = (FakeAlibabaSms if request.param == "alibaba" else FakeTencentSms)(
        KEY_ID, KEY_SECRET, late_seconds=1.6).start()
    yield request.param, fake
    fake.stop()


@pytest.fixture()
def fake(provider):
    name, fake = provider
    fake.script.clear()
    fake.by_phone.clear()
    fake.requests.clear()
    return fake


def _params(name: str, params: dict) -> object:
    # Alibaba takes named variables (JSON), Tencent positional ones (in template order).
    return params if name == "alibaba" else list(params.values())


def test_login_code_is_the_approved_template_with_only_its_parameter(provider, fake):
    name, _ = provider
    texter = _texter(name, fake)
    sent = texter.send_text("13912345678", "login_code", {"code": "482913"})
    [request] = fake.requests
    assert request["signature_ok"] is True
    assert request["action"] == "SendSms"
    assert (request["phone"], request["sign_name"], request["template"]) == \
        ("13912345678", "县域健康", "SMS_LOGIN_1")
    assert request["params"] == _params(name, {"code": "482913"})
    assert sent.message_id == request["message_id"] and sent.attempts == 1
    assert request["out_id"]  # our id travels with the text (receipts refer to it)


def test_a_wrong_secret_fails_the_providers_signature_check(provider, fake):
    name, _ = provider
    texter = _texter(name, fake, key_secret="not-the-secret")
    with pytest.raises(sms.SmsFailed) as err:
        texter.send_text("13912345678", "notice", {"label": "停诊通知"})
    assert [r["signature_ok"] for r in fake.requests] == [False]
    assert err.value.code == "sms_rejected"


@pytest.mark.parametrize("outcome,code,status", [
    ("throttled", "sms_throttled", 429),
    ("invalid_number", "sms_invalid_number", 422),
    ("template_not_approved", "sms_template_not_approved", 503),
    ("out_of_credit", "sms_out_of_credit", 503),
])
def test_provider_refusals_become_stable_codes_and_are_not_retried(provider, fake, outcome, code, status):
    name, _ = provider
    fake.by_phone["13900000009"] = outcome
    with pytest.raises(sms.SmsFailed) as err:
        _texter(name, fake).send_text("13900000009", "login_code", {"code": "111111"})
    assert (err.value.code, err.value.status, err.value.reason) == (code, status, outcome)
    assert err.value.message == rules.REASONS[outcome][2]
    assert len(fake.requests) == 1 and fake.requests[0]["signature_ok"]


def test_5xx_is_retried_with_backoff_then_succeeds(provider, fake):
    name, _ = provider
    fake.script.extend(["http500", "http500"])
    waits = []
    texter = _texter(name, fake)
    texter.sleep = waits.append
    sent = texter.send_text("13912345678", "notice", {"label": "号源释放"})
    assert [r["outcome"] for r in fake.requests] == ["http500", "http500", "ok"]
    assert sent.attempts == 3 and waits == [0.01, 0.02]


def test_timeouts_every_time_end_as_unavailable_after_the_last_attempt(provider, fake):
    name, _ = provider
    fake.script.extend(["timeout", "timeout"])
    texter = _texter(name, fake, attempts=2)
    with pytest.raises(sms.SmsFailed) as err:
        texter.send_text("13912345678", "notice", {"label": "号源释放"})
    assert err.value.code == "sms_unavailable"
    assert [r["outcome"] for r in fake.requests] == ["timeout", "timeout"]


def test_free_text_or_extra_parameters_never_reach_the_provider(provider, fake):
    name, _ = provider
    texter = _texter(name, fake)
    with pytest.raises(rules.InvalidParams):
        texter.send_text("13912345678", "notice", {"label": "停诊", "body": "王秀英 高血压复诊"})
    with pytest.raises(rules.InvalidParams):
        texter.send_text("13912345678", "notice", {"label": "请点击 http://x.cn 领取"})
    assert fake.requests == []


def test_a_kind_without_an_approved_template_is_refused_before_sending(provider, fake):
    name, _ = provider
    texter = _texter(name, fake, templates={})
    with pytest.raises(sms.SmsFailed) as err:
        texter.send_text("13912345678", "login_code", {"code": "123456"})
    assert err.value.code == "sms_template_not_approved" and fake.requests == []
