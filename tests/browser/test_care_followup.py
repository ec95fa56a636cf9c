"""A family doctor records a follow-up on a 360 px phone."""
from backend.models.care import ChronicCase, FollowUp
from backend.services.auth import CurrentUser
from backend.rules.contracts import CONSENT_VERSION, paper_consent
from backend.services.contracts import sign
from backend.web import cn_day
from tests.browser.conftest import login_staff
from tests.test_care_http import make_resident

DOCTOR = CurrentUser(login="s:doctor03", role="doctor", display_name="测试医生", resident_id=None,
                     facility_id="twp-02", team_id="team-03", csrf_token="x", session_hash="x")


def test_doctor_records_followup_on_phone(phone, live_server, app):
    patient = make_resident(age=70, conditions=("hypertension",), township="twp-02",
                            village="vil-twp-02-05")
    sign(DOCTOR, resident_ids=[patient.resident_id], team_id=None, kind="individual", years=1,
         channel="desk", consent=paper_consent("QY-T-0001", CONSENT_VERSION, DOCTOR.login))
    page = phone.new_page()
    login_staff(page, live_server, "doctor03")
    page.goto(f"{live_server}/team")
    assert page.locator("#due").get_by_text(patient.name).count() == 1
    page.locator("#due").get_by_text(patient.name).click()
    page.wait_for_url(f"**/team/patients/{patient.resident_id}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.locator("nav.patient-tabs a", has_text="随访").click()
    page.wait_for_url(f"**/team/patients/{patient.resident_id}/followup")

    # An impossible reading is refused with a Chinese message and nothing is stored.
    form = page.locator("#followup-form")
    form.locator('input[name="systolic"]').fill("400")
    form.locator('input[name="diastolic"]').fill("90")
    form.locator('button[type="submit"]').click()
    result = form.locator("[data-result]")
    result.wait_for(state="visible")
    assert "不可能" in result.inner_text()
    assert list(FollowUp.query(patient.resident_id)) == []

    form.locator('input[name="systolic"]').fill("146")
    form.locator('input[name="diastolic"]').fill("86")
    form.locator('input[name="heart_rate"]').fill("72")
    form.locator('input[name="medication"]').fill("氨氯地平 5mg 每日一次")
    form.locator('button[type="submit"]').click()
    form.locator("[data-result]", has_text="控制满意").wait_for()
    stored = list(FollowUp.query(patient.resident_id))
    assert len(stored) == 1 and stored[0].outcome == "controlled"  # 70 years old: < 150/90
    assert stored[0].medication == "氨氯地平 5mg 每日一次"
    case = ChronicCase.get(patient.resident_id, "hypertension")
    # The page reloads and shows the new due date (3 months on).
    page.locator('[data-case="hypertension"] strong', has_text=cn_day(case.next_due)).wait_for()
    assert "本年 1/4 次" in page.locator('[data-case="hypertension"]').inner_text()
    assert page.locator("#history li").count() == 1
    assert "控制满意" in page.locator("#history li").inner_text()
    page.screenshot(path="/tmp/care-followup-360.png", full_page=True)
