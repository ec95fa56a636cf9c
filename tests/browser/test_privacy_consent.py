"""Chromium at 360 px: a resident's first login shows the privacy notice and asks separate
consent to health data; refusing keeps them out of booking, consenting lets them in."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

from backend.models.account import Account
from backend.models.base import utcnow
from backend.models.people import Resident
from backend.models.privacy import PrivacyConsent


def test_first_login_privacy_notice_and_separate_consent(live_server, phone, app):
    from infra.seed import make_id_number
    rid = f"rb{uuid.uuid4().hex[:12]}"
    number = f"136{random.randrange(10**8):08d}"
    born = utcnow().date() - timedelta(days=50 * 365)
    Resident(rid, id_number=make_id_number(born, random.randint(0, 499), False), name="赵桂芳", sex="F",
             birth_date=born.isoformat(), phone=number, household_id=f"hh-{rid}",
             village_id="vil-twp-01-01", township_id="twp-01", created_at=utcnow()).save()
    Account(f"m:{number}", role="resident", display_name="赵桂芳", resident_id=rid, created_at=utcnow()).save()

    page = phone.new_page()
    page.goto(f"{live_server}/login")
    assert page.locator("a:has-text('隐私政策')").count() and page.locator("a:has-text('用户协议')").count()
    page.fill('input[name="phone"]', number)
    page.click("text=获取验证码")
    page.wait_for_selector("text=验证码已发送")
    page.fill('input[name="code"]', app.extensions["code_sender"].last_code(number))
    page.click('form[action="/login/resident"] button[type="submit"]')
    page.wait_for_url("**/privacy/consent**")
    for words in ("收集什么", "为什么", "谁能看到", "保存多久", "如何撤回"):
        assert page.locator("#privacy-summary").get_by_text(words).count() == 1
    # Nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path="/tmp/reach_consent_360.png", full_page=True)

    page.goto(f"{live_server}/booking")            # not yet: back to the notice
    page.wait_for_url("**/privacy/consent**")
    page.check('input[name="notice_read"]')
    page.click("text=同意并继续")                    # the separate consent is not ticked
    assert page.locator("input[name='health_data']:invalid").count() == 1   # the browser asks first
    page.check('input[name="health_data"]')
    page.click("text=同意并继续")
    page.wait_for_url(f"{live_server}/booking")
    stored = PrivacyConsent.get(rid, "current")
    assert stored.health_data and stored.by_login == f"m:{number}"

    page.goto(f"{live_server}/settings")
    page.click("#privacy-settings a.btn")
    page.wait_for_selector("#withdraw-form")
    assert "撤回后" in page.inner_text("#withdraw-form")
    page.screenshot(path="/tmp/reach_withdraw_360.png", full_page=True)
