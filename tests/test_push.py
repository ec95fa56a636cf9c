"""Web Push end to end: notify() → channel → pywebpush → a local push service that checks
the VAPID JWT and decrypts the payload; retries, gone devices, quiet hours, subscriptions."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from backend.models.base import new_id
from backend.models.notices import Notice
from backend.models.push import HeldPush, PushSubscription
from backend.services import notify, push
from tests.push_receiver import PushReceiver, Reply

UTC = timezone.utc
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)      # 10:00 in Shanghai
LATE_EVENING = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
NEXT_MORNING = datetime(2026, 11, 25, 23, 5, tzinfo=UTC)  # 07:05 on the 26th in Shanghai


@pytest.fixture(autouse=True)
def app_context(app):
    with app.app_context():
        yield


@pytest.fixture()
def vapid(app, monkeypatch):
    cfg = app.config["COUNTYCARE"]
    private, public = push.generate_vapid_keys()
    monkeypatch.setattr(cfg, "vapid_private_key", private)
    monkeypatch.setattr(cfg, "vapid_public_key", "")
    monkeypatch.setattr(cfg, "vapid_subject", "mailto:ops@countycare.example.cn")
    monkeypatch.setattr(cfg, "push_backoff_seconds", 0.01)
    monkeypatch.setattr(cfg, "push_timeout_seconds", 1.0)
    return public


@pytest.fixture()
def receiver(app, vapid):
    r = PushReceiver(vapid, app.config["COUNTYCARE"].vapid_subject).start()
    yield r
    r.stop()


@pytest.fixture()
def sleeps(monkeypatch):
    """The backoff waits the channel asked for (not slept, so tests stay fast)."""
    waited: list[float] = []
    monkeypatch.setattr(push.CHANNEL, "sleep", waited.append)
    return waited


@pytest.fixture()
def clock(monkeypatch):
    def set_to(moment: datetime):
        monkeypatch.setattr(push.CHANNEL, "clock", lambda: moment)
    set_to(DAYTIME)
    return set_to


def fresh_recipient() -> str:
    return notify.resident_recipient(f"res-t{new_id()}")


def subscribe(recipient: str, device) -> str:
    sub = device.subscription_json()
    return push.subscribe(recipient, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"],
                          auth=sub["keys"]["auth"], user_agent="Mozilla/5.0 (Linux; Android 13) Chrome/120").device_id


def webpush_deliveries(recipient: str, notice_id: str) -> list:
    return [d for d in Notice.get(recipient, notice_id).deliveries if d.channel == "webpush"]


def test_push_reaches_every_device_signed_and_encrypted(app, receiver, clock, sleeps):
    recipient = fresh_recipient()
    phone, tablet = receiver.device(), receiver.device()
    subscribe(recipient, phone)
    subscribe(recipient, tablet)
    with app.app_context():
        notice = notify.notify(recipient, kind="appointment_reminder", title="明天9:00门诊提醒",
                               body="您预约了明天9:00在乌兰镇卫生院全科门诊就诊。", url="/booking/b1")
    assert receiver.errors == []
    for device in (phone, tablet):
        [text] = receiver.texts(device)
        message = json.loads(text)
        assert message == {"id": notice.notice_id, "kind": "appointment_reminder",
                           "title": "明天9:00门诊提醒",
                           "body": "您预约了明天9:00在乌兰镇卫生院全科门诊就诊。", "url": "/booking/b1"}
        [req] = receiver.for_device(device)
        assert req.claims["sub"] == "mailto:ops@countycare.example.cn"
        assert req.claims["aud"] == receiver.origin
        assert req.headers["ttl"] == "43200" and req.headers["urgency"] == "normal"
    [delivery] = webpush_deliveries(recipient, notice.notice_id)
    assert delivery.status == "delivered" and delivery.detail == "2/2 devices"
    assert sleeps == []


def test_urgent_slot_offer_is_high_urgency_with_short_ttl(app, receiver, clock):
    recipient = fresh_recipient()
    device = receiver.device()
    subscribe(recipient, device)
    with app.app_context():
        notify.notify(recipient, kind="slot_offer", title="候补号源已释放", body="请在30分钟内确认",
                      url="/booking/waitlist/w1")
    [req] = receiver.for_device(device)
    assert (req.headers["ttl"], req.headers["urgency"]) == ("1800", "high")


@pytest.mark.parametrize("status", [404, 410])
def test_gone_device_is_deleted_and_the_others_still_get_it(app, receiver, clock, status):
    recipient = fresh_recipient()
    gone, fine = receiver.device(Reply(status)), receiver.device()
    gone_id, fine_id = subscribe(recipient, gone), subscribe(recipient, fine)
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="疫苗接种提醒", body="麻腮风第2剂到期")
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get(recipient, gone_id)
    assert PushSubscription.get(recipient, fine_id).recipient == recipient
    assert len(receiver.for_device(gone)) == 1  # not retried
    assert json.loads(receiver.texts(fine)[0])["title"] == "疫苗接种提醒"
    [delivery] = webpush_deliveries(recipient, notice.notice_id)
    assert delivery.status == "delivered"
    assert delivery.detail == f"1/2 devices; http {status}"


def test_throttled_push_is_retried_with_backoff(app, receiver, clock, sleeps):
    recipient = fresh_recipient()
    device = receiver.device(Reply(429, {"Retry-After": "2"}), Reply(503))
    device_id = subscribe(recipient, device)
    with app.app_context():
        notice = notify.notify(recipient, kind="followup_due", title="随访提醒", body="请到卫生院测血压")
    assert [r.status for r in receiver.for_device(device)] == [429, 503, 201]
    assert sleeps == [2.0, 0.02]   # Retry-After first, then exponential from the base
    assert json.loads(receiver.texts(device)[0])["body"] == "请到卫生院测血压"
    assert PushSubscription.get(recipient, device_id)  # kept
    assert webpush_deliveries(recipient, notice.notice_id)[0].status == "delivered"


def test_retries_stop_and_the_failure_is_recorded(app, receiver, clock, sleeps):
    recipient = fresh_recipient()
    broken, fine = receiver.device(Reply(500), Reply(502), Reply(503)), receiver.device()
    broken_id = subscribe(recipient, broken)
    subscribe(recipient, fine)
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种提醒", body="乙肝第3剂")
    assert [r.status for r in receiver.for_device(broken)] == [500, 502, 503]
    assert len(sleeps) == 2
    assert PushSubscription.get(recipient, broken_id)  # a flaky service is not a gone device
    [delivery] = webpush_deliveries(recipient, notice.notice_id)
    assert delivery.status == "delivered" and delivery.detail == "1/2 devices; http 503"


def test_endpoint_that_times_out_does_not_hold_up_the_others(app, receiver, clock, sleeps, monkeypatch):
    cfg = app.config["COUNTYCARE"]
    monkeypatch.setattr(cfg, "push_timeout_seconds", 0.3)
    monkeypatch.setattr(cfg, "push_max_attempts", 2)
    recipient = fresh_recipient()
    stalled = receiver.device(Reply(201, delay=1.5), Reply(201, delay=1.5))
    fine = receiver.device()
    subscribe(recipient, stalled)
    subscribe(recipient, fine)
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种提醒", body="百白破第4剂")
    assert receiver.texts(fine)
    [delivery] = webpush_deliveries(recipient, notice.notice_id)
    assert delivery.status == "delivered" and delivery.detail == "1/2 devices; timeout"
    assert len(sleeps) == 1


def test_only_failures_mean_a_failed_delivery_but_the_inbox_has_it(app, receiver, clock, sleeps):
    recipient = fresh_recipient()
    subscribe(recipient, receiver.device(Reply(403)))
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种提醒", body="乙肝")
    stored = Notice.get(recipient, notice.notice_id)
    assert [(d.channel, d.status) for d in stored.deliveries] == [("inbox", "delivered"),
                                                                   ("webpush", "failed")]
    assert stored.deliveries[1].detail == "0/1 devices; http 403"


def test_payload_too_large_is_refused_before_sending(app, receiver, clock):
    recipient = fresh_recipient()
    device = receiver.device()
    subscribe(recipient, device)
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种提醒", body="乙肝",
                               url="/vaccination/" + "x" * 5000)
    assert receiver.for_device(device) == []
    [delivery] = webpush_deliveries(recipient, notice.notice_id)
    assert (delivery.status, delivery.detail) == ("failed", "payload_too_large")


def test_long_body_is_shortened_to_fit_and_arrives(app, receiver, clock):
    recipient = fresh_recipient()
    device = receiver.device()
    subscribe(recipient, device)
    with app.app_context():
        notify.notify(recipient, kind="followup_due", title="随访", body="血" * 400,
                      url="/visits/" + "a" * 2900)
    [req] = receiver.for_device(device)
    assert req.body_size <= 4096
    message = json.loads(req.plaintext)
    assert message["body"].endswith("…") and len(message["body"]) < 400


def test_no_device_means_no_push_record(app, clock):
    recipient = fresh_recipient()
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种提醒", body="乙肝")
    assert [d.channel for d in Notice.get(recipient, notice.notice_id).deliveries] == ["inbox"]


def test_one_channel_failing_never_stops_the_inbox_or_push(app, receiver, clock, monkeypatch):
    class Broken:
        name = "sms"

        def deliver(self, notice):
            raise RuntimeError("gateway down")

    monkeypatch.setattr(notify, "CHANNELS", [Broken(), push.CHANNEL])
    recipient = fresh_recipient()
    device = receiver.device()
    subscribe(recipient, device)
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种提醒", body="乙肝")
    stored = Notice.get(recipient, notice.notice_id)
    assert [(d.channel, d.status) for d in stored.deliveries] == [
        ("inbox", "delivered"), ("sms", "failed"), ("webpush", "delivered")]
    assert receiver.texts(device)


def test_quiet_hours_hold_until_seven_unless_urgent(app, receiver, clock):
    clock(LATE_EVENING)
    recipient = fresh_recipient()
    device = receiver.device()
    subscribe(recipient, device)
    with app.app_context():
        calm = notify.notify(recipient, kind="vaccine_due", title="接种提醒", body="乙肝第2剂")
        urgent = notify.notify(recipient, kind="slot_offer", title="候补号源", body="请尽快确认",
                               urgent=True)
    assert [json.loads(t)["id"] for t in receiver.texts(device)] == [urgent.notice_id]
    [held] = webpush_deliveries(recipient, calm.notice_id)
    assert (held.status, held.detail) == ("held", "quiet hours until 07:00")
    assert HeldPush.get("2026-11-26", f"{recipient}#{calm.notice_id}").recipient == recipient

    with app.app_context():
        assert push.release_held(now=datetime(2026, 11, 25, 20, 0, tzinfo=UTC))["released"] == 0
        summary = push.release_held(now=NEXT_MORNING)
        again = push.release_held(now=NEXT_MORNING)
    assert summary["delivered"] >= 1
    assert again["released"] == 0 or calm.notice_id not in str(again)
    assert [json.loads(t)["id"] for t in receiver.texts(device)] == [urgent.notice_id, calm.notice_id]
    assert [d.status for d in webpush_deliveries(recipient, calm.notice_id)] == ["held", "delivered"]
    with pytest.raises(HeldPush.DoesNotExist):
        HeldPush.get("2026-11-26", f"{recipient}#{calm.notice_id}")


def test_notify_many_fans_out_concurrently_and_dedupes(app, receiver, clock):
    recipients = [fresh_recipient() for _ in range(12)]
    devices = {r: receiver.device() for r in recipients}
    for r, d in devices.items():
        subscribe(r, d)
    batch = [notify.NoticeRequest(r, "vaccine_due", "接种提醒", f"第{i}位", dedupe_key="dose-1")
             for i, r in enumerate(recipients)]
    with app.app_context():
        first = notify.notify_many(batch)
        second = notify.notify_many(batch)
    assert all(n is not None for n in first) and second == [None] * 12
    for i, r in enumerate(recipients):
        assert [json.loads(t)["body"] for t in receiver.texts(devices[r])] == [f"第{i}位"]
        assert len(list(Notice.query(r))) == 1
    assert receiver.errors == []
