"""The notice ladder: inbox always, push where subscribed, one text where push could not reach."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from backend.models.base import new_id, utcnow
from backend.models.notices import Notice
from backend.models.people import ProxyGrant, Resident
from backend.models.texts import NoticeEscalation
from backend.services import ladder, notify, push, sms
from backend.services.sms_alibaba import AlibabaProvider
from tests.push_receiver import PushReceiver, Reply
from tests.sms_fakes import FakeAlibabaSms

UTC = timezone.utc
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)        # 10:00 in Shanghai
LATE_EVENING = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


@pytest.fixture(autouse=True)
def ctx(app, request):
    """Services need the app; HTTP tests must not share one app context (and its `g`)
    across requests, so they open it only around direct calls (`APP[0].app_context()`)."""
    APP[:] = [app]
    if "client" in request.fixturenames:
        yield
        return
    with app.app_context():
        yield


APP: list = []


@pytest.fixture()
def receiver(app, monkeypatch):
    cfg = app.config["COUNTYCARE"]
    private, public = push.generate_vapid_keys()
    monkeypatch.setattr(cfg, "vapid_private_key", private)
    monkeypatch.setattr(cfg, "vapid_public_key", "")
    monkeypatch.setattr(cfg, "push_backoff_seconds", 0.01)
    monkeypatch.setattr(push.CHANNEL, "sleep", lambda s: None)
    monkeypatch.setattr(push.CHANNEL, "clock", lambda: DAYTIME)
    r = PushReceiver(public, cfg.vapid_subject).start()
    yield r
    r.stop()


@pytest.fixture()
def texts(app):
    """The texts the (console) provider was asked to send from now on, per phone."""
    provider = app.extensions["code_sender"].provider
    start = len(provider.messages)
    return lambda phone: [m for m in provider.messages[start:] if m["phone"] == phone]


def resident(demo, *, phone: bool = True) -> Resident:
    """A fresh resident of the seeded county (a phone of their own unless told otherwise)."""
    seed = demo.residents[0]
    r = Resident(f"res-l{new_id()}", id_number="-", name="测试居民", sex="F",
                 birth_date="1950-01-01", phone=f"135{random.randrange(10**8):08d}" if phone else None,
                 household_id="hh-l", village_id=seed["village_id"], township_id=seed["township_id"],
                 team_id=seed["team_id"] or "team-01", created_at=utcnow())
    r.save()
    return r


def subscribe(recipient: str, device) -> None:
    sub = device.subscription_json()
    push.subscribe(recipient, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"],
                   auth=sub["keys"]["auth"], user_agent="Mozilla/5.0 (Linux; Android 13) Chrome/120")


def offer(recipient: str, kind: str = "slot_offer") -> Notice:
    with APP[0].app_context():
        return notify.notify(recipient, kind=kind, title="候补号源已为您保留",
                         body="12月3日 周四 09:30 全科有一个号源，请在10:05前确认。",
                             url="/booking", urgent=kind in ("slot_offer", "day_closed"),
                             dedupe_key=f"test#{new_id()}")


def stored(notice: Notice) -> Notice:
    return Notice.get(notice.recipient, notice.notice_id, consistent_read=True)


def sms_deliveries(notice: Notice) -> list:
    return [(d.status, d.detail) for d in stored(notice).deliveries if d.channel == "sms"]


def test_no_push_subscription_sends_one_text_with_the_label_only(demo, texts):
    person = resident(demo)
    notice = offer(notify.resident_recipient(person.resident_id))
    [text] = texts(person.phone)
    assert text["params"] == {"label": "号源释放"} and text["out_id"] == notice.notice_id
    assert stored(notice).text_state == "sent"
    # Climbing again (a re-run of the task, a second worker) sends nothing more.
    assert ladder.climb(stored(notice), utcnow()) == "already"
    assert ladder.run_due(utcnow() + timedelta(hours=2))["due"] >= 0
    assert len(texts(person.phone)) == 1


def test_push_fails_then_one_text(demo, receiver, texts):
    person = resident(demo)
    recipient = notify.resident_recipient(person.resident_id)
    subscribe(recipient, receiver.device(Reply(503), Reply(503), Reply(503)))
    notice = offer(recipient)
    push_d = [d for d in stored(notice).deliveries if d.channel == "webpush"]
    assert [d.status for d in push_d] == ["failed"]
    assert len(texts(person.phone)) == 1 and stored(notice).text_state == "sent"


def test_push_clicked_in_time_means_no_text(demo, receiver, texts):
    person = resident(demo)
    recipient = notify.resident_recipient(person.resident_id)
    subscribe(recipient, receiver.device())
    notice = offer(recipient)
    assert [d.status for d in stored(notice).deliveries if d.channel == "webpush"] == ["delivered"]
    assert texts(person.phone) == []
    assert notify.mark_read(recipient, notice.notice_id)   # the notification was clicked
    ran = ladder.run_due(utcnow() + timedelta(minutes=6))
    assert ran.get("confirmed", 0) >= 1
    assert texts(person.phone) == [] and stored(notice).text_state is None


def test_push_not_confirmed_within_the_kinds_time_sends_one_text(demo, receiver, texts):
    person = resident(demo)
    recipient = notify.resident_recipient(person.resident_id)
    subscribe(recipient, receiver.device())
    notice = offer(recipient)                       # slot_offer: 5 minutes to confirm
    ladder.run_due(utcnow() + timedelta(minutes=3))
    assert texts(person.phone) == []
    ladder.run_due(utcnow() + timedelta(minutes=6))
    ladder.run_due(utcnow() + timedelta(minutes=7))  # a re-run: nothing twice
    assert len(texts(person.phone)) == 1
    assert notify.mark_read(recipient, notice.notice_id)


def test_quiet_hours_hold_texts_except_urgent_kinds(demo, texts, monkeypatch):
    monkeypatch.setattr(notify, "utcnow", lambda: LATE_EVENING)
    calm, urgent = resident(demo), resident(demo)
    referral = notify.notify(notify.resident_recipient(calm.resident_id), kind="referral_booked",
                             title="转诊预约已为您挂号", body="12月3日 周四 09:30 内科", url="/booking")
    offer(notify.resident_recipient(urgent.resident_id), kind="day_closed")
    assert texts(calm.phone) == [] and len(texts(urgent.phone)) == 1
    assert stored(referral).text_state is None
    ladder.run_due(datetime(2026, 11, 25, 23, 1, tzinfo=UTC))   # 07:01 next morning
    assert [t["params"] for t in texts(calm.phone)] == [{"label": "转诊预约"}]


def test_person_budget_spent_keeps_the_notice_and_skips_the_text(demo, texts, app):
    someone = resident(demo)
    recipient = notify.resident_recipient(someone.resident_id)
    sent = [offer(recipient) for _ in range(app.config["COUNTYCARE"].sms_person_daily_default + 1)]
    assert len(texts(someone.phone)) == app.config["COUNTYCARE"].sms_person_daily_default
    assert sms_deliveries(sent[-1]) == [("skipped", "budget_person")]
    assert stored(sent[-1]).title == "候补号源已为您保留"   # still in the inbox


def test_county_budget_spent_is_counted_for_the_county_to_see(demo, texts, person, client):
    person.login_staff("county")
    token = person.page_csrf("/county/texts")
    before = client.get("/api/county/texts").get_json()
    assert "sent" in before, before
    try:
        r = client.post("/api/county/texts/budget", json={"daily_limit": before["sent"], "per_person": 5},
                        headers={"X-CSRF-Token": token})
        assert r.status_code == 200, r.get_json()
        someone = resident(demo)
        notice = offer(notify.resident_recipient(someone.resident_id))
        assert texts(someone.phone) == []
        assert sms_deliveries(notice) == [("skipped", "budget_county")]
        after = client.get("/api/county/texts").get_json()
        assert after["skipped"] == before["skipped"] + 1 and after["sent"] == before["sent"]
        page = client.get("/county/texts").get_data(as_text=True)
        assert f"{after['skipped']} 条" in page and "因额度用完未发送" in page
        bad = client.post("/api/county/texts/budget", json={"daily_limit": -1, "per_person": 5},
                          headers={"X-CSRF-Token": token})
        assert bad.status_code == 422
    finally:
        client.post("/api/county/texts/budget", json={"daily_limit": 2000, "per_person": 5},
                    headers={"X-CSRF-Token": token})


@pytest.fixture()
def alibaba(app, monkeypatch):
    fake = FakeAlibabaSms("LTAI-ladder", "ladder-secret", late_seconds=1.5).start()
    settings = sms.SmsSettings(provider="alibaba", templates={"notice": "SMS_NOTICE_7", "login_code": "SMS_LOGIN_7"},
                               endpoint=fake.endpoint, key_id="LTAI-ladder", key_secret="ladder-secret",
                               timeout_seconds=1.0, attempts=3, backoff_seconds=0.01)
    monkeypatch.setitem(app.extensions, "code_sender",
                        sms.Texter(AlibabaProvider(settings), settings, sleep=lambda s: None))
    monkeypatch.setattr(app.config["COUNTYCARE"], "sms_callback_token", "cb-secret-123")
    yield fake
    fake.stop()


def test_provider_5xx_and_timeouts_are_retried_then_marked_not_delivered(demo, alibaba, person, client):
    someone = resident(demo)
    alibaba.script.extend(["http500", "timeout", "http500"])
    notice = offer(notify.resident_recipient(someone.resident_id))
    assert [r["outcome"] for r in alibaba.requests] == ["http500", "timeout", "http500"]
    assert sms_deliveries(notice) == [("failed", "sms_unavailable")]
    assert stored(notice).text_state == "failed"
    with APP[0].app_context():
        assert ladder.climb(stored(notice), utcnow()) == "already"   # never a second text
    assert len(alibaba.requests) == 3


def test_receipts_are_recorded_once_and_shown_as_the_channel_that_reached(demo, alibaba, person, client):
    someone = resident(demo)
    notice = offer(notify.resident_recipient(someone.resident_id))
    [sent] = alibaba.accepted()
    receipt = [{"phone_number": someone.phone, "send_time": "2026-12-02 15:00:00",
                "report_time": "2026-12-02 15:00:09", "success": True, "err_code": "DELIVERED",
                "err_msg": "用户接收成功", "sms_size": "1", "biz_id": sent["message_id"],
                "out_id": notice.notice_id},
               {"phone_number": "13800000000", "send_time": "2026-12-02 15:00:00",
                "report_time": "2026-12-02 15:00:09", "success": True, "err_code": "DELIVERED",
                "biz_id": "999999^never-sent", "out_id": "x"}]
    forged = client.post("/api/sms/receipts/alibaba/not-the-token", json=receipt)
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "invalid_callback_token"
    assert ("delivered", "receipt DELIVERED") not in sms_deliveries(notice)
    r = client.post("/api/sms/receipts/alibaba/cb-secret-123", json=receipt)
    assert r.status_code == 200
    assert {k: r.get_json()[k] for k in ("code", "recorded", "unknown")} == \
        {"code": 0, "recorded": 1, "unknown": 1}
    again = client.post("/api/sms/receipts/alibaba/cb-secret-123", json=receipt[:1]).get_json()
    assert again["repeated"] == 1 and again["recorded"] == 0
    assert sms_deliveries(notice).count(("delivered", "receipt DELIVERED")) == 1
    junk = client.post("/api/sms/receipts/alibaba/cb-secret-123", json={"biz_id": 1})
    assert junk.status_code == 422
    # The inbox names the channel that reached the person.
    phone_person = someone.phone
    from backend.models.account import Account
    Account(f"m:{phone_person}", role="resident", display_name="测试居民",
            resident_id=someone.resident_id, created_at=utcnow()).save()
    token = person.csrf()
    client.post("/api/auth/code", json={"phone": phone_person}, headers={"X-CSRF-Token": token})
    code = alibaba.accepted()[-1]["params"]["code"]       # the login code went out as a text too
    assert client.post("/api/auth/login", json={"phone": phone_person, "code": code},
                       headers={"X-CSRF-Token": token}).status_code == 200
    [shown] = [n for n in client.get("/api/notices").get_json()["notices"]
               if n["notice_id"] == notice.notice_id]
    assert shown["reached"] == "短信已送达" and shown["kind_label"] == "号源释放"


def test_a_person_without_a_phone_is_reached_through_relatives_and_the_team(demo, texts):
    from backend.models.facility import Team, TeamMember
    team = Team(f"team-l{new_id()}", facility_id="twp-01", name="测试家庭医生队",   # its own team:
                members=[TeamMember(login=f"s:lt{new_id()}", name="测试医生", role="gp",  # other tests
                                    phone="13800000000")])                          # read team-01's inbox
    team.save()
    elder = resident(demo, phone=False)
    elder.update(actions=[Resident.team_id.set(team.team_id)])
    son = resident(demo)
    ProxyGrant(son.resident_id, elder.resident_id, relation="子女", granted_at=utcnow()).save()
    notice = offer(notify.resident_recipient(elder.resident_id), kind="day_closed")
    assert sms_deliveries(notice) == [("skipped", "no_phone")]
    [copy] = [n for n in notify.inbox(notify.resident_recipient(son.resident_id)) if n.about == elder.resident_id]
    assert copy.kind == "day_closed" and elder.name in copy.title
    assert len(texts(son.phone)) == 1               # the relative has no push: a text
    for member in team.members:
        assert any(n.about == elder.resident_id and n.kind == "day_closed"
                   for n in notify.inbox(member.login, limit=20))
    # Told directly as well (e.g. as the booker) with the same dedupe key: once, not twice.
    again = notify.notify_many([notify.NoticeRequest(notify.resident_recipient(elder.resident_id), "noshow_warning",
                                                     "未到诊", "…", dedupe_key="same-key-1"),
                                notify.NoticeRequest(notify.resident_recipient(son.resident_id), "noshow_warning",
                                                     "未到诊", "…", dedupe_key="same-key-1")])
    assert again[1] is not None
    son_copies = [n for n in notify.inbox(notify.resident_recipient(son.resident_id)) if n.kind == "noshow_warning"]
    assert len(son_copies) == 1


def test_every_sent_kind_has_a_chinese_label(app, client, person, demo):
    from backend.rules.texts import label_for
    for kind in ("slot_offer", "day_closed", "referral_booked", "appointment_reminder", "noshow_warning",
                 "booking_paused", "contract_renewal", "contract_signed", "contract_offer", "followup_due"):
        assert label_for(kind) != "通知", kind
    assert label_for("day_closed") == "停诊通知"


def test_an_expired_offer_says_so_instead_of_its_old_deadline(app, client, person, demo):
    from backend.models.booking import WaitlistEntry
    me = person.login_resident(demo.demo_resident["phone"])
    entry = WaitlistEntry("hosp-01#内科#2026-12-03", new_id(), subject_id=me["resident_id"],
                          subject_name="测试", booker_login=f"m:{demo.demo_resident['phone']}",
                          status="expired", created_at=utcnow())
    entry.save()
    with app.app_context():
        notice = notify.notify(notify.resident_recipient(me["resident_id"]), kind="slot_offer",
                               title="候补号源已为您保留", body="请在10:05前确认，逾期将顺延给下一位。",
                               url=f"/booking/offer?list={entry.list_key}&entry={entry.entry_id}",
                               urgent=True)
    [shown] = [n for n in client.get("/api/notices").get_json()["notices"] if n["notice_id"] == notice.notice_id]
    assert shown["state"] == "已过期" and "10:05" not in shown["body"]
    html = client.get("/notices").get_data(as_text=True)
    assert "已过期" in html and "已顺延给下一位" in html
