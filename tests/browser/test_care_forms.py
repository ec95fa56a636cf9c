"""A family doctor uses the patient page's forms on a 360 px phone, with JavaScript off;
a resident opens and prints the service card (A5) from /my-doctor."""
import random
import re

import pytest

from backend.models.account import Account
from backend.models.base import utcnow
from backend.models.booking import Booking
from backend.models.care import MedicineCollector, Prescription, Referral
from backend.models.people import Resident
from backend.rules.followup import Readings
from backend.rules.contracts import CONSENT_VERSION, paper_consent
from backend.services.contracts import sign
from backend.services.followups import record_followup
from backend.web import cn_day
from tests.browser.conftest import PHONE, login_resident, login_staff
from tests.browser.test_care_followup import DOCTOR
from tests.test_care_http import make_resident


@pytest.fixture()
def phone_no_js(browser):
    """The phone, with JavaScript switched off: the forms must work as plain HTML."""
    context = browser.new_context(**PHONE, java_script_enabled=False)
    yield context
    context.close()


def _fits_phone(page) -> None:
    for i in range(page.locator("main form").count()):
        box = page.locator("main form").nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box


def test_doctor_uses_patient_forms_without_javascript(phone_no_js, live_server):
    patient = make_resident(age=66, conditions=("hypertension",), township="twp-02",
                            village="vil-twp-02-06")
    sign(DOCTOR, resident_ids=[patient.resident_id], team_id=None, kind="individual", years=1,
         channel="desk", consent=paper_consent("QY-T-0001", CONSENT_VERSION, DOCTOR.login))
    record_followup(DOCTOR, patient.resident_id, disease="hypertension",
                    readings=Readings(systolic=130, diastolic=80))
    relative = make_resident(age=40, township="twp-02", village="vil-twp-02-06")
    relative.update(actions=[Resident.household_id.set(patient.household_id)])

    page = phone_no_js.new_page()
    login_staff(page, live_server, "doctor03")
    page.goto(f"{live_server}/team/patients/{patient.resident_id}/medicine")
    _fits_phone(page)

    # A 13-week prescription: refused in Chinese, what was typed stays, nothing stored.
    rx_form = page.locator("#form-prescribe")
    rx_form.locator('input[name="weeks"]').fill("13")
    rx_form.locator('textarea[name="drugs"]').fill("氨氯地平 5mg")
    rx_form.locator('button[type="submit"]').click()
    error = page.locator("#error-prescribe")
    error.wait_for()
    assert error.inner_text() == "长处方用药周期应为4到12周（收到 13 周）"
    assert page.locator('#form-prescribe input[name="weeks"]').input_value() == "13"
    assert list(Prescription.query(patient.resident_id, consistent_read=True)) == []
    page.locator('#form-prescribe input[name="weeks"]').fill("12")
    page.locator('#form-prescribe button[type="submit"]').click()
    page.locator("#done-prescribe", has_text="已开具长处方").wait_for()
    [rx] = list(Prescription.query(patient.resident_id, consistent_read=True))
    assert page.locator("#prescriptions .refill").inner_text() == cn_day(rx.next_refill)

    # A relative who was never authorised cannot collect; after the authorisation they can.
    page.locator('#form-collect select[name="collector_id"]').select_option(relative.resident_id)
    page.locator('#form-collect button[type="submit"]').click()
    page.locator("#error-collect", has_text="患者未授权此人代取药").wait_for()
    assert Prescription.get(patient.resident_id, rx.prescription_id).collections == []
    page.locator('#form-collector input[name="relation"]').fill("子女")
    page.locator('#form-collector button[type="submit"]').click()
    page.locator("#done-collector").wait_for()
    assert MedicineCollector.get(patient.resident_id, relative.resident_id).relation == "子女"
    page.locator('#form-collect select[name="collector_id"]').select_option(relative.resident_id)
    page.locator('#form-collect button[type="submit"]').click()
    page.locator("#done-collect").wait_for()
    assert len(Prescription.get(patient.resident_id, rx.prescription_id).collections) == 1

    # Referral up, on the referrals view: the lead hospital's reserved place is booked and shown.
    page.locator('nav.patient-tabs a', has_text="转诊").click()
    page.wait_for_url(f"**/team/patients/{patient.resident_id}/referrals")
    page.locator('#form-refer textarea[name="reason"]').fill("血压波动，需专科评估")
    page.locator('#form-refer button[type="submit"]').click()
    page.locator("#done-refer").wait_for()
    [ref] = list(Referral.query(patient.resident_id, consistent_read=True))
    assert ref.booking_ref
    booked = page.locator(f'[data-booking="{ref.booking_ref}"]')
    b = Booking.get(ref.booking_ref)
    assert f"{cn_day(b.day)} {b.start}-{b.end}" in booked.inner_text()
    _fits_phone(page)
    page.screenshot(path="/tmp/care-forms-360.png", full_page=True)


def _pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


def test_resident_opens_service_card_from_my_doctor_and_prints_a5(phone, live_server, app):
    number = f"136{random.randint(0, 99_999_999):08d}"
    patient = make_resident(age=70, conditions=("hypertension", "diabetes"), township="twp-02",
                            village="vil-twp-02-06", phone=number)
    sign(DOCTOR, resident_ids=[patient.resident_id], team_id=None, kind="individual", years=1,
         channel="desk", consent=paper_consent("QY-T-0001", CONSENT_VERSION, DOCTOR.login))
    for disease, readings in (("hypertension", Readings(systolic=138, diastolic=84)),
                              ("diabetes", Readings(fasting_glucose=6.4))):
        record_followup(DOCTOR, patient.resident_id, disease=disease, readings=readings)
    Account(f"m:{number}", role="resident", display_name=patient.name,
            resident_id=patient.resident_id, created_at=utcnow()).save()
    page = phone.new_page()
    login_resident(page, live_server, app, number)
    page.goto(f"{live_server}/my-doctor")
    page.locator("#contracts").get_by_role("link", name="服务卡").click()
    page.wait_for_url(f"**/card/{patient.resident_id}")
    card = page.locator("#service-card")
    assert patient.name in card.inner_text() and "高血压" in card.inner_text()
    assert card.locator("table.given tr").count() >= 2   # the services given are listed
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.emulate_media(media="print")
    assert not page.locator("#print-card").is_visible()     # no buttons on paper
    assert not page.locator("header.bar, .bar").first.is_visible()
    pdf = page.pdf(prefer_css_page_size=True, print_background=False)
    pages = _pdf_pages(pdf)
    # A5 = 148 x 210 mm = 419.5 x 595.3 pt; the card fits on one sheet.
    assert len(pages) == 1, pages
    w, h = pages[0]
    assert abs(w - 419.5) < 2 and abs(h - 595.3) < 2, pages
