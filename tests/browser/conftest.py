"""Browser fixtures: the session's app on a live 127.0.0.1 port, driven in Debian's Chromium."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from infra.localdb import free_port

CHROMIUM = "/usr/bin/chromium"
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(app):
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture()
def phone(browser):
    """A fresh phone-sized browser context (its own cookies, storage, service worker)."""
    context = browser.new_context(**PHONE)
    yield context
    context.close()


def login_resident(page, base_url: str, app, phone_number: str) -> None:
    """Log in through the real forms, reading the code the console sender printed."""
    page.goto(f"{base_url}/login")
    page.fill('input[name="phone"]', phone_number)
    page.click("text=获取验证码")
    page.wait_for_selector("text=验证码已发送")
    code = app.extensions["code_sender"].last_code(phone_number)
    page.fill('input[name="code"]', code)
    page.click('form[action="/login/resident"] button[type="submit"]')
    page.wait_for_load_state()
    if "/privacy/consent" in page.url:   # first login: the privacy notice and separate consent
        page.check('input[name="notice_read"]')
        page.check('input[name="health_data"]')
        page.click("text=同意并继续")
    page.wait_for_url(f"{base_url}/")


def login_staff(page, base_url: str, username: str) -> None:
    from infra.seed import DEMO_PASSWORD
    page.goto(f"{base_url}/login?tab=staff")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DEMO_PASSWORD)
    page.click('form[action="/login/staff"] button[type="submit"]')
    page.wait_for_url(f"{base_url}/")
