"""The patient page on a 360 px phone: the summary first, then a home service recorded on
the visits view, with a Chinese confirmation; no horizontal scroll."""
import random

from backend.models.care import HomeVisit
from backend.rules.contracts import CONSENT_VERSION, paper_consent
from backend.rules.followup import Readings
from backend.services.care_common import local_today
from backend.services.contracts import sign
from backend.services.followups import record_followup
from backend.services.places import name_of
from backend.web import cn_day
from tests.browser.conftest import login_staff
from tests.browser.test_care_followup import DOCTOR
from tests.test_care_http import make_resident


def _no_side_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_patient_summary_and_home_visit_on_a_phone(phone, live_server):
    number = f"137{random.randint(0, 99_999_999):08d}"
    patient = make_resident(age=82, conditions=("hypertension", "diabetes"), township="twp-02",
                            village="vil-twp-02-05", phone=number)
    sign(DOCTOR, resident_ids=[patient.resident_id], team_id=None, kind="individual", years=1,
         channel="desk", consent=paper_consent("QY-T-0002", CONSENT_VERSION, DOCTOR.login))
    record_followup(DOCTOR, patient.resident_id, disease="hypertension",
                    readings=Readings(systolic=152, diastolic=92))
    record_followup(DOCTOR, patient.resident_id, disease="diabetes",
                    readings=Readings(fasting_glucose=7.8))
    page = phone.new_page()
    login_staff(page, live_server, "doctor03")
    page.goto(f"{live_server}/team/patients/{patient.resident_id}")
    summary = page.locator("#summary")
    assert name_of("vil-twp-02-05") in summary.inner_text()
    assert page.locator("#call-phone").get_attribute("href") == f"tel:{number}"
    today = cn_day(local_today())
    assert page.locator("#last-bp").inner_text() == f"最近血压：152/92 mmHg（{today}）"
    assert page.locator("#last-glucose").inner_text() == f"最近空腹血糖：7.8 mmol/L（{today}）"
    assert "周" in page.locator("#due li").first.inner_text()
    box = page.locator("#summary").bounding_box()
    assert box["y"] < 640  # the summary is on the first screen
    _no_side_scroll(page)
    page.screenshot(path="/tmp/patient-360.png", full_page=True)

    page.locator("nav.patient-tabs a", has_text="上门").click()
    page.wait_for_url(f"**/team/patients/{patient.resident_id}/visits")
    form = page.locator("#form-home-visit")
    form.locator('select[name="kind"]').select_option("nursing")
    form.locator('textarea[name="done"]').fill("骶尾部压疮换药，指导家属翻身")
    form.locator('button[type="submit"]').click()
    page.locator("#done-home-visit", has_text="已保存上门服务记录").wait_for()
    [v] = list(HomeVisit.query(patient.resident_id, consistent_read=True))
    assert v.kind == "nursing" and v.done == "骶尾部压疮换药，指导家属翻身"
    row = page.locator("#home-visit-list li").first.inner_text()
    assert "上门护理" in row and today in row
    _no_side_scroll(page)
    page.screenshot(path="/tmp/patient-visits-360.png", full_page=True)
