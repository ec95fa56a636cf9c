"""Web Push in Chromium: a push delivered to the service worker (CDP) shows a Chinese
notification whose click target is the notice's page; the inbox badge and settings card."""
from __future__ import annotations

from backend.rules.push import build_payload
from backend.services import notify
from tests.browser.conftest import login_resident


SHOWN = """navigator.serviceWorker.ready.then(r => r.getNotifications())
    .then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, lang: n.lang,
                              data: n.data})))"""


def _notifications(page, at_least: int, tries: int = 200) -> list[dict]:
    """The service worker's notifications, once `at_least` are shown (polled: a push is
    handled asynchronously, and wait_for_function cannot await a promise under this CSP)."""
    shown: list[dict] = []
    for _ in range(tries):
        shown = page.evaluate(SHOWN)
        if len(shown) >= at_least:
            return shown
        page.wait_for_timeout(50)
    raise AssertionError(f"fewer than {at_least} notifications shown: {shown}")


def _deliver(page, cdp, origin: str, registration: str, data: str, at_least: int) -> list[dict]:
    """Deliver a push over CDP; once more if the first is dropped (a worker still
    activating can miss a CDP-injected push; a real push service would retry too)."""
    for attempt in range(2):
        cdp.send("ServiceWorker.deliverPushMessage",
                 {"origin": origin, "registrationId": registration, "data": data})
        try:
            return _notifications(page, at_least, tries=100 if attempt == 0 else 200)
        except AssertionError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _registration_id(page, cdp) -> str:
    found: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda e: found.extend(r["registrationId"] for r in e["registrations"]
                                  if not r.get("isDeleted")))
    cdp.send("ServiceWorker.enable")
    for _ in range(100):  # wait_for_timeout (not time.sleep) lets CDP events arrive
        if found:
            break
        page.wait_for_timeout(50)
    assert found, "no service worker registration"
    return found[-1]


def test_push_message_shows_a_chinese_notification_that_opens_the_notice(phone, live_server, app, demo):
    resident = demo.residents[7] if demo.residents[7]["phone"] else demo.residents[8]
    phone.grant_permissions(["notifications"], origin=live_server)
    page = phone.new_page()
    login_resident(page, live_server, app, resident["phone"])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")

    with app.app_context():
        notice = notify.notify(notify.resident_recipient(resident["resident_id"]),
                               kind="vaccine_due", title="疫苗接种提醒",
                               body="孩子的麻腮风第2剂已到期，请预约接种。",
                               url="/vaccination/children/c-001")
    payload = build_payload(notice_id=notice.notice_id, kind=notice.kind, title=notice.title,
                            body=notice.body, url=notice.url).decode()

    cdp = phone.new_cdp_session(page)
    registration = _registration_id(page, cdp)
    shown = _deliver(page, cdp, live_server, registration, payload, 1)
    assert shown == [{"title": "疫苗接种提醒", "body": "孩子的麻腮风第2剂已到期，请预约接种。",
                      "tag": notice.notice_id, "lang": "zh-CN",
                      "data": {"url": "/vaccination/children/c-001", "id": notice.notice_id,
                               "kind": "vaccine_due"}}]

    # A push without a payload still shows something a person understands.
    titles = [(n["title"], n["data"]["url"])
              for n in _deliver(page, cdp, live_server, registration, "", 2)]
    assert ("县域健康：您有一条新消息", "/notices") in titles

    # The same notice waits in the inbox, with the unread badge on the home tile.
    page.goto(live_server + "/")
    badge = page.locator('.tiles a[href="/notices"] .badge')
    badge.wait_for()
    assert int(badge.inner_text().rstrip("+")) >= 1
    page.goto(live_server + "/notices")
    assert "疫苗接种提醒" in page.locator("#notices").inner_text()
    page.locator(f'li[data-notice-id="{notice.notice_id}"] button').click()
    page.wait_for_url("**/vaccination/children/c-001")


def test_settings_explains_push_and_lists_devices(phone, live_server, app, demo):
    resident = demo.residents[9] if demo.residents[9]["phone"] else demo.residents[10]
    phone.grant_permissions(["notifications"], origin=live_server)
    page = phone.new_page()
    login_resident(page, live_server, app, resident["phone"])
    page.goto(live_server + "/settings")
    card = page.locator("#push")
    assert "22:00" in card.inner_text() and "「消息」" in card.inner_text()
    page.locator("#push-devices li.empty", has_text="还没有设备开启通知").wait_for()
    # Asked only on a tap: the button is there, no permission prompt was made on load.
    assert page.locator("#push-enable").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

