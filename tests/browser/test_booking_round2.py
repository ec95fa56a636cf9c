"""Booking round 2 in Chromium at a 360 px phone viewport: several exams in one go, a family
doctor picking a contracted resident, arrival buttons and 停诊 on the admin page."""
from __future__ import annotations

import uuid

import pytest

from backend.models.booking import Booking, Slot
from backend.models.notices import Notice
from tests.browser.conftest import login_resident, login_staff
from tests.test_booking import World, bookings_of, tomorrow
from tests.test_booking_round2 import contracted, exam_hospital


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def csp_watch(page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def no_hscroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_resident_books_two_exams_in_one_go_and_is_told_when_one_is_full(phone, live_server, app, w):
    h = exam_hospital(w)
    us, ct = w.slot(h, department="超声"), w.slot(h, department="CT")
    ct9 = w.slot(h, department="CT", start="09:00")
    me, rival = w.resident(), w.resident()
    page = phone.new_page()
    violations = csp_watch(page)
    login_resident(page, live_server, app, me.phone)
    page.goto(f"{live_server}/booking")
    page.click("#exams-link")
    page.wait_for_url("**/booking/exams*")
    page.goto(f"{live_server}/booking/exams?facility={h.facility_id}")
    page.click(f"#exam-days >> text={tomorrow().isoformat()}")
    page.locator('fieldset[data-exam="超声"] label', has_text="08:00-09:00").click()
    page.locator('fieldset[data-exam="CT"] label', has_text="08:00-09:00").click()
    assert no_hscroll(page)
    page.click("#exam-review-btn")
    assert page.locator("#exam-review li").count() == 2
    assert bookings_of(me.resident_id) == []
    # While this person looks at the confirm screen, someone else takes the CT place.
    w.as_resident(rival)
    assert w.book(ct.slot_id).status_code == 201
    page.click("#exam-confirm-btn")
    error = page.locator("#exams-error")
    assert "「CT」08:00-09:00已约满" in error.inner_text()
    assert "所选的2项检查都没有预约" in error.inner_text()
    assert bookings_of(me.resident_id) == []
    assert int(Slot.get(us.bucket, us.start_key, consistent_read=True).left_online) == 1
    assert no_hscroll(page)
    # The ultrasound choice is kept; pick the 09:00 CT instead and confirm.
    assert page.locator('fieldset[data-exam="超声"] input:checked').get_attribute("value") == us.slot_id
    page.locator('fieldset[data-exam="CT"] label', has_text="09:00-10:00").click()
    page.click("#exam-review-btn")
    page.click("#exam-confirm-btn")
    page.wait_for_url("**/booking/exams/done*")
    assert "已预约2项检查" in page.locator("#exams-booked").inner_text()
    assert page.locator("#exam-bookings li").count() == 2
    assert no_hscroll(page)
    stored = bookings_of(me.resident_id)
    assert sorted((b.department, b.start) for b in stored) == [("CT", "09:00"), ("超声", "08:00")]
    assert stored[0].group_id and stored[0].group_id == stored[1].group_id
    assert int(Slot.get(ct9.bucket, ct9.start_key, consistent_read=True).left_online) == 0
    assert violations == []


def test_family_doctor_picks_a_contracted_resident_on_a_phone(phone, live_server, app, w):
    f = w.facility()
    w.template(f, capacity=2)
    patient = contracted(w, "team-01", f"丁{uuid.uuid4().hex[:4]}")
    page = phone.new_page()
    violations = csp_watch(page)
    login_staff(page, live_server, "doctor01")
    page.goto(f"{live_server}/booking")
    page.select_option("#for-select", patient.resident_id)
    page.click("#who button[type=submit]")
    assert patient.name in page.locator("#booking-for").inner_text()
    page.click(f"#centres >> text={f.name}")
    page.click("#departments >> text=全科门诊")
    page.click(f"#days >> text={tomorrow().isoformat()}")
    assert no_hscroll(page)
    page.locator("#slices li").first.locator("button", has_text="预约").click()
    page.wait_for_url("**/booking/*?done=1")
    assert patient.name in page.locator("#booking").inner_text()
    stored = bookings_of(patient.resident_id)
    assert len(stored) == 1 and stored[0].booker_login == "s:doctor01"
    assert violations == []


def test_admin_marks_arrival_and_closes_a_day_on_a_phone(phone, live_server, app, w):
    f = w.facility()
    w.template(f, capacity=2)
    w.template(f, department="慢病门诊", capacity=2)
    a, b = w.resident(), w.resident()
    w.as_resident(a)
    arrived_id = w.book(w.slot(f, department="慢病门诊").slot_id).get_json()["bookings"][0]["booking_id"]
    w.as_resident(b)
    closed_id = w.book(w.slot(f).slot_id).get_json()["bookings"][0]["booking_id"]
    page = phone.new_page()
    violations = csp_watch(page)
    login_staff(page, live_server, f"adm-{f.facility_id}")
    page.goto(f"{live_server}/admin/schedules?day={tomorrow()}")
    row = page.locator(f'li[data-booking="{arrived_id}"]')
    assert row.locator(".mark-noshow").count() == 0
    row.locator(".mark-arrived").click()
    page.wait_for_url("**/admin/schedules?*")
    assert page.locator("#attendance-saved").is_visible()
    assert page.locator(f'li[data-booking="{arrived_id}"] .b-status').inner_text() == "已到诊"
    assert Booking.get(arrived_id, consistent_read=True).status == "arrived"
    assert no_hscroll(page)
    # 停诊 for the general clinic tomorrow.
    form = page.locator("#close-day")
    form.locator('select[name="department"]').select_option("全科门诊")
    form.locator('input[name="day"]').fill(tomorrow().isoformat())
    page.click("#close-day-btn")
    page.wait_for_url("**/admin/schedules?*")
    assert "取消预约 1 个" in page.locator("#closed-msg").inner_text()
    assert "已取消（停诊）" in page.locator(f'li[data-booking="{closed_id}"] .b-status').inner_text()
    stored = Booking.get(closed_id, consistent_read=True)
    assert stored.status == "cancelled" and stored.cancel_reason == "day_closed"
    assert Booking.get(arrived_id, consistent_read=True).status == "arrived"
    told = [n for n in Notice.query(f"res:{b.resident_id}", consistent_read=True) if n.kind == "day_closed"]
    assert len(told) == 1 and told[0].urgent == "1"
    assert no_hscroll(page)
    assert violations == []
