"""Round 2 of Web Push: logging out stops this device's pushes, a notification click marks
the notice read, the service worker's token endpoints are rate-limited, and the header's
unread badge costs at most one DynamoDB request per page."""
from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from backend.models.base import _connection, all_models
from backend.models.notices import Notice
from backend.models.push import PushSubscription
from backend.rules import notices as rules
from backend.services import notify, push

_phones = itertools.count(160)




def login_someone(person, demo) -> dict:
    """A different adult per login (login codes are rate-limited per phone)."""
    while True:
        r = demo.residents[next(_phones)]
        if r["phone"]:
            return person.login_resident(r["phone"])


def subscribe(client, csrf, device) -> dict:
    r = client.post("/api/push/subscriptions", json=device.subscription_json(),
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def rows(recipient: str) -> set[str]:
    return {d.device_id for d in PushSubscription.query(recipient, consistent_read=True)}


# ---------------------------------------------------------------- 1. logout

def test_logout_form_stops_pushes_to_this_device_only(app, client, person, demo, receiver):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    csrf = person.page_csrf()
    phone, tablet = receiver.device(), receiver.device()
    mine = subscribe(client, csrf, phone)
    # The tablet is subscribed from another browser (no cookie here).
    client.delete_cookie(push.DEVICE_COOKIE)
    other_tab = subscribe(client, csrf, tablet)
    client.set_cookie(push.DEVICE_COOKIE, mine["device_id"])
    assert rows(recipient) == {mine["device_id"], other_tab["device_id"]}

    r = client.post("/logout", data={"csrf_token": csrf, "push_device": ""})
    assert r.status_code == 303
    assert push.DEVICE_COOKIE + "=;" in " ".join(r.headers.getlist("Set-Cookie"))
    assert rows(recipient) == {other_tab["device_id"]}      # the tablet keeps its pushes
    assert client.get("/api/me").status_code == 401

    with app.app_context():
        notify.notify(recipient, kind="slot_offer", title="号源释放", body="请预约", urgent=True)
    assert receiver.texts(phone) == []                        # nothing reaches the shared phone
    assert len(receiver.texts(tablet)) == 1


def test_logout_form_field_names_the_device_when_there_is_no_cookie(client, person, demo, receiver):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    csrf = person.page_csrf()
    mine = subscribe(client, csrf, receiver.device())
    client.delete_cookie(push.DEVICE_COOKIE)
    r = client.post("/logout", data={"csrf_token": csrf, "push_device": mine["device_id"]})
    assert r.status_code == 303 and rows(recipient) == set()


def test_logout_cannot_remove_someone_elses_device(app, client, person, demo, receiver):
    other = "res-" + "x" * 6 + str(next(_phones))
    theirs = receiver.device()
    with app.app_context():
        done = push.subscribe(other, endpoint=theirs.endpoint, p256dh=theirs.p256dh, auth=theirs.auth)
    login_someone(person, demo)
    csrf = person.page_csrf()
    client.set_cookie(push.DEVICE_COOKIE, done.device_id)
    r = client.post("/logout", data={"csrf_token": csrf, "push_device": done.device_id})
    assert r.status_code == 303
    assert rows(other) == {done.device_id}


def test_api_logout_removes_this_device(client, person, demo, receiver):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    csrf = person.page_csrf()
    subscribe(client, csrf, receiver.device())
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.get_json() == {"ok": True}
    assert rows(recipient) == set()


def test_logout_needs_csrf_and_keeps_the_device_without_it(client, person, demo, receiver):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    mine = subscribe(client, person.page_csrf(), receiver.device())
    r = client.post("/logout", data={"push_device": mine["device_id"]})
    assert r.status_code == 403
    assert rows(recipient) == {mine["device_id"]}
    assert client.get("/api/me").status_code == 200


# ---------------------------------------------------------------- 2. notification click

def make_device(app, receiver, recipient):
    dev = receiver.device()
    with app.app_context():
        return push.subscribe(recipient, endpoint=dev.endpoint, p256dh=dev.p256dh, auth=dev.auth)


def test_notification_click_marks_read_with_the_device_token(app, client, receiver):
    recipient = notify.resident_recipient(f"res-click{next(_phones)}")
    device = make_device(app, receiver, recipient)
    with app.app_context():
        sent = [notify.notify(recipient, kind="appointment_reminder", title=f"就诊提醒{i}",
                              body="明天上午9:00", url="/booking") for i in range(2)]
    # No session and no CSRF header: the service worker authenticates with the device token.
    r = client.post(f"/api/push/notices/{sent[0].notice_id}/read",
                    json={"device_id": device.device_id, "token": device.token})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"unread": 1}
    assert Notice.get(recipient, sent[0].notice_id).read_at is not None
    assert Notice.get(recipient, sent[1].notice_id).read_at is None


def test_notification_click_with_a_wrong_token_marks_nothing(app, client, receiver):
    recipient = notify.resident_recipient(f"res-click{next(_phones)}")
    device = make_device(app, receiver, recipient)
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种", body="x")
    r = client.post(f"/api/push/notices/{notice.notice_id}/read",
                    json={"device_id": device.device_id, "token": "y" * 43})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "invalid_device_token"
    assert Notice.get(recipient, notice.notice_id).read_at is None


def test_notification_click_cannot_mark_another_persons_notice(app, client, receiver):
    mine = notify.resident_recipient(f"res-click{next(_phones)}")
    theirs = notify.resident_recipient(f"res-click{next(_phones)}")
    device = make_device(app, receiver, mine)
    with app.app_context():
        notice = notify.notify(theirs, kind="vaccine_due", title="别人的", body="x")
    r = client.post(f"/api/push/notices/{notice.notice_id}/read",
                    json={"device_id": device.device_id, "token": device.token})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "notice_not_found"
    assert Notice.get(theirs, notice.notice_id).read_at is None


def test_notification_click_refuses_extra_fields(app, client, receiver):
    recipient = notify.resident_recipient(f"res-click{next(_phones)}")
    device = make_device(app, receiver, recipient)
    with app.app_context():
        notice = notify.notify(recipient, kind="vaccine_due", title="接种", body="x")
    r = client.post(f"/api/push/notices/{notice.notice_id}/read",
                    json={"device_id": device.device_id, "token": device.token, "recipient": "res-1"})
    assert r.status_code == 422
    assert Notice.get(recipient, notice.notice_id).read_at is None


# ---------------------------------------------------------------- 3. rate limits

def test_resubscribe_is_rate_limited_per_device(app, client, receiver, monkeypatch):
    monkeypatch.setattr(push, "DEVICE_CALLS_PER_HOUR", 3)
    recipient = notify.resident_recipient(f"res-rl{next(_phones)}")
    device = make_device(app, receiver, recipient)
    env = {"REMOTE_ADDR": f"10.77.{next(_phones) % 250}.9"}
    statuses = []
    for _ in range(3):  # wrong tokens count too: guessing is what the limit is for
        r = client.post("/api/push/resubscribe", environ_base=env,
                        json={"device_id": device.device_id, "token": "z" * 43,
                              "subscription": receiver.device().subscription_json()})
        statuses.append(r.status_code)
    assert statuses == [403, 403, 403]
    r = client.post("/api/push/resubscribe", environ_base=env,
                    json={"device_id": device.device_id, "token": device.token,
                          "subscription": receiver.device().subscription_json()})
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    assert rows(recipient) == {device.device_id}   # nothing swapped


def test_resubscribe_is_rate_limited_per_address(app, client, receiver, monkeypatch):
    monkeypatch.setattr(push, "ADDRESS_CALLS_PER_HOUR", 2)
    env = {"REMOTE_ADDR": f"10.78.{next(_phones) % 250}.9"}
    recipient = notify.resident_recipient(f"res-rl{next(_phones)}")
    devices = [make_device(app, receiver, recipient) for _ in range(3)]
    codes = [client.post("/api/push/resubscribe", environ_base=env,
                         json={"device_id": d.device_id, "token": d.token,
                               "subscription": receiver.device().subscription_json()}).status_code
             for d in devices]
    assert codes == [200, 200, 429]
    assert devices[2].device_id in rows(recipient)       # the refused one was not replaced
    # Another address is not affected.
    r = client.post("/api/push/resubscribe", environ_base={"REMOTE_ADDR": "10.79.1.1"},
                    json={"device_id": devices[2].device_id, "token": devices[2].token,
                          "subscription": receiver.device().subscription_json()})
    assert r.status_code == 200


def test_notification_click_is_rate_limited(app, client, receiver, monkeypatch):
    monkeypatch.setattr(push, "DEVICE_CALLS_PER_HOUR", 2)
    recipient = notify.resident_recipient(f"res-rl{next(_phones)}")
    device = make_device(app, receiver, recipient)
    with app.app_context():
        notices = [notify.notify(recipient, kind="vaccine_due", title=f"接种{i}", body="x")
                   for i in range(3)]
    codes = [client.post(f"/api/push/notices/{n.notice_id}/read",
                         json={"device_id": device.device_id, "token": device.token}).status_code
             for n in notices]
    assert codes == [200, 200, 429]
    assert Notice.get(recipient, notices[2].notice_id).read_at is None


# ---------------------------------------------------------------- 4. badge and inbox

@contextmanager
def dynamodb_requests():
    """(operation, table) of every DynamoDB request made inside the block."""
    seen: list[tuple[str, str]] = []

    def count(params, model, **_):
        seen.append((model.name, params.get("TableName", "")))

    emitters = {id(c.meta.events): c.meta.events for c in
                [m._get_connection().connection.client for m in all_models()] + [_connection().client]}
    for events in emitters.values():
        events.register("before-parameter-build.dynamodb", count, unique_id="round2-count")
    try:
        yield seen
    finally:
        for events in emitters.values():
            events.unregister("before-parameter-build.dynamodb", unique_id="round2-count")


def notices_table(seen):
    return [op for op, table in seen if table.endswith("notices")]


@pytest.mark.parametrize("path", ["/", "/settings", "/booking"])
def test_header_badge_on_every_page_costs_one_query(app, client, person, demo, path):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    with app.app_context():
        for i in range(3):
            notify.notify(recipient, kind="vaccine_due", title=f"接种{i}", body="x")
    with dynamodb_requests() as seen:
        r = client.get(path)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.search(r'id="header-unread">3<', html), html[:2000]
    assert notices_table(seen) == ["Query"]          # the badge: one Query, however often shown


def test_inbox_page_badge_reuses_its_own_query(app, client, person, demo):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    with app.app_context():
        notify.notify(recipient, kind="vaccine_due", title="接种", body="x")
    with dynamodb_requests() as seen:
        html = client.get("/notices").get_data(as_text=True)
    assert 'id="header-unread">1<' in html
    assert notices_table(seen) == ["Query"]


def test_no_badge_and_no_query_when_signed_out(client):
    client.delete_cookie("cc_session")
    with dynamodb_requests() as seen:
        html = client.get("/login").get_data(as_text=True)
    assert "header-unread" not in html
    assert notices_table(seen) == []


def test_inbox_groups_by_day_with_relative_times_and_read_all(app, client, person, demo):
    me = login_someone(person, demo)
    recipient = notify.resident_recipient(me["resident_id"])
    now = datetime.now(timezone.utc)
    with app.app_context():
        fresh = notify.notify(recipient, kind="vaccine_due", title="刚到的", body="x")
    old = Notice(recipient, "01AAAAAAAAAAAAAAAAAAAAAAAA", kind="followup_due", title="上个月的",
                 body="y", url="/notices", created_at=now - timedelta(days=40))
    old.save()
    html = client.get("/notices").get_data(as_text=True)
    days = re.findall(r'<h2 class="day-label">([^<]+)</h2>', html)
    assert days[0] == "今天" and len(days) == 2
    china = ZoneInfo("Asia/Shanghai")
    assert days[1] == rules.day_label((now - timedelta(days=40)).astimezone(china).date(),
                                      now.astimezone(china).date())
    assert html.index("刚到的") < html.index(days[1]) < html.index("上个月的")
    assert ">刚刚</time>" in html and "全部标为已读" in html
    csrf = person.page_csrf("/notices")
    r = client.post("/notices/read-all", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert Notice.get(recipient, fresh.notice_id).read_at is not None
    assert Notice.get(recipient, old.notice_id).read_at is not None
    html = client.get("/notices").get_data(as_text=True)
    assert 'id="header-unread" hidden>' in html and "全部标为已读" not in html
