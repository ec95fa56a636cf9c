"""Round 2 in Chromium at 360 px: logging out forgets this device (server row, the service
worker's device token, personal caches); clicking a notification marks the notice read and
the header badge follows; the inbox groups by day."""
from __future__ import annotations

import pytest

from backend.models.notices import Notice
from backend.models.push import PushSubscription
from backend.rules.push import build_payload
from backend.services import notify, push
from tests.browser.conftest import login_resident
from tests.browser.test_push_browser import _deliver, _registration_id

IDB_DEVICE = """new Promise((resolve, reject) => {
  const open = indexedDB.open("cc-push", 1);
  open.onupgradeneeded = () => open.result.createObjectStore("device");
  open.onsuccess = () => {
    const req = open.result.transaction("device").objectStore("device").get("current");
    req.onsuccess = () => resolve(req.result === undefined ? null : req.result);
    req.onerror = () => reject(req.error);
  };
  open.onerror = () => reject(open.error);
})"""




def adult(demo, start: int) -> dict:
    return next(r for r in demo.residents[start:] if r["phone"])


def controlled_page(phone, live_server, app, resident):
    phone.grant_permissions(["notifications"], origin=live_server)
    page = phone.new_page()
    login_resident(page, live_server, app, resident["phone"])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    return page


def hand_device_to_worker(page, device_id: str, token: str) -> None:
    # What push.js does after subscribing: the device id in localStorage, the token in the SW.
    page.evaluate("""([id, token]) => { localStorage.setItem("cc-push-device", id);
        return navigator.serviceWorker.ready.then(r => r.active.postMessage(
          {type: "push-device", device: {device_id: id, token}})); }""", [device_id, token])
    for _ in range(100):
        if page.evaluate(IDB_DEVICE):
            return
        page.wait_for_timeout(50)
    raise AssertionError("the worker did not store the device")


def test_logout_forgets_this_device_and_personal_caches(phone, live_server, app, demo, receiver):
    resident = adult(demo, 200)
    recipient = notify.resident_recipient(resident["resident_id"])
    page = controlled_page(phone, live_server, app, resident)
    # Subscribe from the page (the browser keeps the device cookie), as push.js does.
    device = receiver.device()
    made = page.evaluate("""(sub) => fetch("/api/push/subscriptions", {method: "POST",
        credentials: "same-origin", headers: {"Content-Type": "application/json",
        "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content},
        body: JSON.stringify(sub)}).then(r => r.json())""", device.subscription_json())
    hand_device_to_worker(page, made["device_id"], made["token"])
    page.evaluate("""caches.open("cc-records-test").then(c => c.put("/record/x",
        new Response("personal"))).then(() => true)""")
    assert {d.device_id for d in PushSubscription.query(recipient)} == {made["device_id"]}

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.locator("#logout-form button").click()
    page.wait_for_url(live_server + "/")
    page.locator('a[href="/login"]').first.wait_for()

    assert list(PushSubscription.query(recipient, consistent_read=True)) == []
    assert page.evaluate(IDB_DEVICE) is None
    assert page.evaluate("localStorage.getItem('cc-push-device')") is None
    caches = page.evaluate("caches.keys()")
    assert "cc-records-test" not in caches
    assert any(k.startswith("cc-shell-") for k in caches)   # the app shell stays (nothing personal)

    with app.app_context():
        notify.notify(recipient, kind="slot_offer", title="号源释放", body="x", urgent=True)
    assert receiver.for_device(device) == []


def test_clicking_a_notification_marks_it_read_and_updates_the_badge(phone, live_server, app, demo,
                                                                      receiver):
    resident = adult(demo, 210)
    recipient = notify.resident_recipient(resident["resident_id"])
    page = controlled_page(phone, live_server, app, resident)
    dev = receiver.device()
    with app.app_context():
        made = push.subscribe(recipient, endpoint=dev.endpoint, p256dh=dev.p256dh, auth=dev.auth)
        before = notify.unread_count(recipient)
        notice = notify.notify(recipient, kind="appointment_reminder", title="明天就诊",
                               body="明天上午9:00，县医院内科", url="/notices")
    hand_device_to_worker(page, made.device_id, made.token)
    page.goto(live_server + "/settings")
    badge = page.locator("#header-unread")
    assert badge.inner_text() == str(before + 1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    payload = build_payload(notice_id=notice.notice_id, kind=notice.kind, title=notice.title,
                            body=notice.body, url=notice.url).decode()
    cdp = phone.new_cdp_session(page)
    _deliver(page, cdp, live_server, _registration_id(page, cdp), payload, 1)
    worker = phone.service_workers[0]
    # The click handler's work (openWindow itself needs a real user gesture).
    result = worker.evaluate("""self.registration.getNotifications().then(ns => {
        const n = ns.find(x => x.tag === %r);
        return self.markNoticeRead(n.data.id); })""" % notice.notice_id)
    assert result == before
    assert Notice.get(recipient, notice.notice_id).read_at is not None
    page.wait_for_function(f"document.getElementById('header-unread').textContent === '{before}'"
                           if before else "document.getElementById('header-unread').hidden")
