"""The PWA shell in Chromium at a 360 px phone viewport."""
from tests.browser.conftest import login_resident


def test_home_page_installs_service_worker_and_works_offline(phone, live_server):
    page = phone.new_page()
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() == "县域基层健康服务"
    # The service worker takes control and precaches the shell.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    cache_names = page.evaluate("caches.keys()")
    assert any(name.startswith("cc-shell-") for name in cache_names)
    # No horizontal scrolling at 360 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    phone.set_offline(True)
    page.goto(live_server + "/some/page/never/visited")
    assert "当前没有网络" in page.locator("#offline h1").inner_text()
    assert page.locator("header.bar .brand").inner_text() == "县域健康"
    # The shell's stylesheet came from the cache: the header is styled green.
    bg = page.evaluate("getComputedStyle(document.querySelector('header.bar')).backgroundColor")
    assert bg == "rgb(15, 123, 95)"
    phone.set_offline(False)


def test_resident_logs_in_and_sees_family(phone, live_server, app, demo):
    page = phone.new_page()
    login_resident(page, live_server, app, demo.demo_resident["phone"])
    assert "您好" in page.locator("h1.greet").inner_text()
    people = page.locator("#people li")
    assert people.count() >= 2
    assert "本人" in people.nth(0).inner_text()
    assert "已授权代办" in people.nth(1).inner_text()


def test_elder_mode_persists_on_this_device(phone, live_server):
    page = phone.new_page()
    page.goto(live_server + "/settings")
    base = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.click("#elder-toggle")
    assert page.evaluate("document.documentElement.classList.contains('elder')")
    page.goto(live_server + "/")
    big = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert big > base * 1.2
    # A second phone (context) is not affected.
    other = phone.browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    other.goto(live_server + "/")
    assert not other.evaluate("document.documentElement.classList.contains('elder')")
    other.context.close()


def test_a_new_release_replaces_the_cached_shell(phone, live_server, monkeypatch):
    from backend import web
    from backend.routes import pages
    page = phone.new_page()
    page.goto(live_server + "/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    old = f"cc-shell-{web.release_id()}"
    page.wait_for_function(f"caches.keys().then(k => k.includes('{old}'))")
    monkeypatch.setattr(web, "release_id", lambda: "nextrelease1")
    monkeypatch.setattr(pages, "release_id", lambda: "nextrelease1")
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    page.wait_for_function(
        f"caches.keys().then(k => k.includes('cc-shell-nextrelease1') && !k.includes('{old}'))",
        timeout=15000)
