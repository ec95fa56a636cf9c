"""The resident's booking flow in Chromium at a 360 px phone viewport."""
from __future__ import annotations

import uuid
from datetime import timedelta

from backend.models.base import utcnow
from backend.models.booking import Booking, Slot
from backend.models.facility import Facility
from backend.services import schedules
from tests.browser.conftest import login_resident


def _centre_with_slots() -> Facility:
    from backend.models.booking import ScheduleTemplate
    fid = f"b{uuid.uuid4().hex[:10]}"
    f = Facility(fid, kind="township", name="浏览器测试卫生院", parent_id="cty-01", county_id="cty-01",
                 address="幸福路8号", departments=["全科门诊"])
    f.save()
    ScheduleTemplate(fid, f"tpl-{fid}", department="全科门诊", kind="outpatient",
                     weekdays=list(range(7)), on_holidays=True, session="day", start="08:00",
                     end="10:00", slice_minutes=30, capacity=3, online_pct=100, referral_pct=0,
                     fee=100, place="一楼2号诊室", active=True, version=1, updated_at=utcnow()).save()
    schedules.generate_slots(f, start=schedules.today(), days=4)
    return f


def test_resident_books_for_a_parent_and_cancels_on_a_phone(phone, live_server, app, demo):
    f = _centre_with_slots()
    day = schedules.today() + timedelta(days=2)
    page = phone.new_page()
    login_resident(page, live_server, app, demo.demo_resident["phone"])
    page.click("text=门诊预约")
    page.wait_for_url("**/booking")
    # Book for the elderly parent who authorised this resident.
    page.select_option("#for-select", "res-000002")
    page.click("#who button[type=submit]")
    page.click(f"#centres >> text={f.name}")
    page.click("#departments >> text=全科门诊")
    page.click(f"#days >> text={day.isoformat()}")
    first = page.locator("#slices li").first
    assert "08:00-08:30" in first.inner_text() and "余3" in first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    first.locator("button", has_text="预约").click()
    page.wait_for_url("**/booking/*?done=1")
    assert "预约成功" in page.locator("#booked-msg").inner_text()
    assert page.locator("#b-day").inner_text() == day.isoformat()
    assert page.locator("#b-time").inner_text() == "08:00-08:30"
    assert "浏览器测试卫生院" in page.locator("#b-place").inner_text()
    assert "一楼2号诊室" in page.locator("#b-place").inner_text()
    assert page.locator("#elderly-mark").is_visible()  # the parent is 78
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    booking_id = page.url.split("/booking/")[1].split("?")[0]
    stored = Booking.get(booking_id, consistent_read=True)
    assert stored.subject_id == "res-000002" and stored.status == "booked" and stored.elderly
    slot = Slot.get(f"{f.facility_id}#全科门诊", f"{day.isoformat()}T08:00#tpl-{f.facility_id}",
                    consistent_read=True)
    assert int(slot.left_online) == 2

    page.click("#cancel-btn")
    page.wait_for_url(f"**/booking/{booking_id}")
    assert page.locator("#b-status").inner_text() == "已取消"
    assert page.locator("#cancel-btn").count() == 0
    assert Booking.get(booking_id, consistent_read=True).status == "cancelled"
    slot = Slot.get(slot.bucket, slot.start_key, consistent_read=True)
    assert int(slot.left_online) == 3 and int(slot.booked) == 0
