"""Round 2 of the care work: idempotent follow-ups and the patient page's forms (HTTP → moto)."""
from __future__ import annotations

import pytest

from backend.models.audit import AuditEvent
from backend.models.care import ChronicCase, FollowUp, Referral
from backend.models.base import new_id
from backend.models.people import Uniqueness
from tests.test_care_http import contracted, doctor, post  # noqa: F401  (module fixture)


def followups_of(resident_id: str) -> list[FollowUp]:
    return list(FollowUp.query(resident_id, consistent_read=True))


# ---- 1. a retried follow-up POST writes nothing twice ----------------------------------
def test_followup_retry_with_client_visit_id_returns_the_same_followup(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    cid = new_id()
    body = {"disease": "hypertension", "systolic": 128, "diastolic": 80, "client_visit_id": cid}
    first = post(doctor, f"/api/care/residents/{r.resident_id}/followups", body)
    assert first.status_code == 201, first.get_json()
    case_after_first = ChronicCase.get(r.resident_id, "hypertension", consistent_read=True)
    retry = post(doctor, f"/api/care/residents/{r.resident_id}/followups", body)
    assert retry.status_code == 201, retry.get_json()
    assert retry.get_json() == first.get_json()
    stored = followups_of(r.resident_id)
    assert len(stored) == 1 and stored[0].client_visit_id == cid
    assert stored[0].visit_key == first.get_json()["visit_key"]
    case = ChronicCase.get(r.resident_id, "hypertension", consistent_read=True)
    assert int(case.visits_count) == 1 and case.revision == case_after_first.revision
    claim = Uniqueness.get(f"visit#s:doctor01#{cid}")
    assert claim.owner == f"{r.resident_id}|{stored[0].visit_key}"
    whats = [e.what for e in AuditEvent.query(r.resident_id)]
    assert whats.count("followup.hypertension") == 1 and "followup.hypertension.replay" in whats


def test_followup_retry_of_a_referring_visit_keeps_one_referral(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    body = {"disease": "hypertension", "systolic": 190, "diastolic": 115, "client_visit_id": new_id()}
    first = post(doctor, f"/api/care/residents/{r.resident_id}/followups", body)
    assert first.status_code == 201 and first.get_json()["refer"] is True
    retry = post(doctor, f"/api/care/residents/{r.resident_id}/followups", body)
    assert retry.get_json()["referral_id"] == first.get_json()["referral_id"]
    assert len(list(Referral.query(r.resident_id))) == 1
    assert len(followups_of(r.resident_id)) == 1


def test_client_visit_id_reused_for_another_patient_is_refused(doctor):
    a = contracted(doctor, conditions=("hypertension",))
    b = contracted(doctor, conditions=("hypertension",))
    cid = new_id()
    body = {"disease": "hypertension", "systolic": 130, "diastolic": 82, "client_visit_id": cid}
    assert post(doctor, f"/api/care/residents/{a.resident_id}/followups", body).status_code == 201
    resp = post(doctor, f"/api/care/residents/{b.resident_id}/followups", body)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "client_visit_id_reused"
    assert followups_of(b.resident_id) == []
    assert ChronicCase.get(b.resident_id, "hypertension", consistent_read=True).last_visit is None


@pytest.mark.parametrize("cid", ["short", "has space in it", "x" * 65, "中文编号abcdefgh"])
def test_malformed_client_visit_id_is_refused(doctor, cid):
    r = contracted(doctor, conditions=("hypertension",))
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/followups",
                {"disease": "hypertension", "systolic": 130, "diastolic": 82, "client_visit_id": cid})
    assert resp.status_code == 422, resp.get_json()
    assert followups_of(r.resident_id) == []


def test_refused_reading_does_not_claim_the_client_visit_id(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    cid = new_id()
    bad = post(doctor, f"/api/care/residents/{r.resident_id}/followups",
                {"disease": "hypertension", "systolic": 400, "diastolic": 80, "client_visit_id": cid})
    assert bad.status_code == 422
    with pytest.raises(Exception):
        Uniqueness.get(f"visit#s:doctor01#{cid}")
    good = post(doctor, f"/api/care/residents/{r.resident_id}/followups",
                {"disease": "hypertension", "systolic": 130, "diastolic": 80, "client_visit_id": cid})
    assert good.status_code == 201, good.get_json()
    assert len(followups_of(r.resident_id)) == 1


# ---- 2. page forms on /team/patients/<id> (no JavaScript) --------------------------------
import html as _html  # noqa: E402
from datetime import date, timedelta  # noqa: E402

from pynamodb.exceptions import DoesNotExist  # noqa: E402

from backend.models.care import Contract, HealthCheck, MedicineCollector, Prescription  # noqa: E402
from backend.models.people import Resident  # noqa: E402
from backend.services.care_common import local_today  # noqa: E402
from backend.web import cn_day  # noqa: E402
from tests.test_care_http import make_resident  # noqa: E402


def form(person, resident_id, action, data):
    """POST a page form as a browser without JavaScript would (csrf_token field)."""
    token = person.page_csrf(f"/team/patients/{resident_id}")
    return person.client.post(f"/team/patients/{resident_id}/forms/{action}",
                              data={**data, "csrf_token": token})


PATIENT_VIEWS = ("", "/followup", "/medicine", "/referrals", "/contract", "/visits")


def page(person, resident_id) -> str:
    """Every view of the patient's page (summary, follow-up, medicine, referrals, ...)."""
    out = []
    for view in PATIENT_VIEWS:
        resp = person.client.get(f"/team/patients/{resident_id}{view}")
        assert resp.status_code == 200, view
        out.append(_html.unescape(resp.get_data(as_text=True)))
    return "\n".join(out)


def error_text(resp) -> str:
    import re
    m = re.search(r'role="alert" id="error-[a-z]+">([^<]+)<', resp.get_data(as_text=True))
    return _html.unescape(m.group(1)) if m else ""


def test_page_shows_every_form_with_csrf_and_no_inline_script(doctor):
    r = contracted(doctor, conditions=("hypertension",), poor=True)
    text = page(doctor, r.resident_id)
    for form_id in ("form-refer", "form-prescribe", "form-collector", "form-check",
                    "form-renew", "form-end"):
        assert f'id="{form_id}" method="post"' in text, form_id
    assert text.count('name="csrf_token"') >= 6
    assert "<script>" not in text and "style=" not in text and "onclick" not in text
    assert 'name="client_visit_id"' in text  # the JS follow-up form sends its own id
    assert audits_of(r.resident_id, "prescription.overview")


def audits_of(resident_id, what):
    return [e for e in AuditEvent.query(resident_id) if e.what == what]


def test_refer_form_books_and_shows_the_hospital_slot(doctor):
    from backend.models.booking import Booking
    r = contracted(doctor, conditions=("hypertension",))
    bad = form(doctor, r.resident_id, "refer", {"reason": "x", "disease": "hypertension"})
    assert bad.status_code == 422 and error_text(bad) == "转诊原因：太短"
    assert list(Referral.query(r.resident_id)) == []
    ok = form(doctor, r.resident_id, "refer", {"reason": "血压控制不佳，需专科调整", "disease": "hypertension",
                                               "department": "内科", "urgent": "1"})
    assert ok.status_code == 303, ok.get_data(as_text=True)[:300]
    assert ok.headers["Location"].endswith(f"/team/patients/{r.resident_id}/referrals?done=refer#form-refer")
    [ref] = list(Referral.query(r.resident_id))
    assert ref.urgent is True and ref.booking_ref
    b = Booking.get(ref.booking_ref)
    text = page(doctor, r.resident_id)
    assert f"已预约牵头医院号源：{b.facility_name} 内科 {cn_day(b.day)} {b.start}-{b.end}" in text
    due = (local_today() + timedelta(days=14)).isoformat()
    assert ChronicCase.get(r.resident_id, "hypertension").next_due <= due


@pytest.mark.parametrize("weeks,drugs,expected", [
    ("13", "氨氯地平", "长处方用药周期应为4到12周（收到 13 周）"),
    ("3", "氨氯地平", "长处方用药周期应为4到12周（收到 3 周）"),
    ("八", "氨氯地平", "周数：应为整数"),
    ("8", "", "药品：项目太少"),
])
def test_prescription_form_refuses_bad_input_in_chinese(doctor, weeks, drugs, expected):
    r = contracted(doctor, conditions=("hypertension",))
    post(doctor, f"/api/care/residents/{r.resident_id}/followups",
         {"disease": "hypertension", "systolic": 126, "diastolic": 78})
    resp = form(doctor, r.resident_id, "prescribe", {"disease": "hypertension", "weeks": weeks,
                                                      "drugs": drugs})
    assert resp.status_code == 422
    assert error_text(resp) == expected
    assert f'value="{weeks}"' in resp.get_data(as_text=True)  # what was typed stays
    assert list(Prescription.query(r.resident_id, consistent_read=True)) == []


def test_prescription_and_collection_forms(doctor):
    r = contracted(doctor, conditions=("diabetes",))
    unstable = form(doctor, r.resident_id, "prescribe", {"disease": "diabetes", "weeks": "8",
                                                         "drugs": "二甲双胍"})
    assert unstable.status_code == 422 and "稳定患者" in error_text(unstable)
    post(doctor, f"/api/care/residents/{r.resident_id}/followups",
         {"disease": "diabetes", "fasting_glucose": 6.1})
    ok = form(doctor, r.resident_id, "prescribe", {"disease": "diabetes", "weeks": "8",
                                                   "drugs": "二甲双胍 0.5g\n阿卡波糖"})
    assert ok.status_code == 303
    [rx] = list(Prescription.query(r.resident_id))
    refill = (local_today() + timedelta(weeks=8)).isoformat()
    assert rx.drugs == ["二甲双胍 0.5g", "阿卡波糖"] and rx.next_refill == refill
    text = _html.unescape(doctor.client.get(ok.headers["Location"]).get_data(as_text=True))
    assert 'id="done-prescribe">已开具长处方' in text and f"下次取药 <strong class=\"refill\">{cn_day(refill)}" in text

    # A relative in the same household: listed, but not authorised yet.
    relative = make_resident(age=40)
    relative.update(actions=[Resident.household_id.set(r.household_id)])
    text = page(doctor, r.resident_id)
    assert f"{relative.name}（未授权）" in text
    refused = form(doctor, r.resident_id, "collect", {"prescription_id": rx.prescription_id,
                                                      "collector_id": relative.resident_id})
    assert refused.status_code == 403 and error_text(refused) == "患者未授权此人代取药"
    assert Prescription.get(r.resident_id, rx.prescription_id, consistent_read=True).collections == []

    no_relation = form(doctor, r.resident_id, "collector", {"collector_id": relative.resident_id})
    assert no_relation.status_code == 422 and error_text(no_relation) == "关系：必填"
    with pytest.raises(DoesNotExist):
        MedicineCollector.get(r.resident_id, relative.resident_id)
    granted = form(doctor, r.resident_id, "collector", {"collector_id": relative.resident_id,
                                                        "relation": "子女"})
    assert granted.status_code == 303
    assert MedicineCollector.get(r.resident_id, relative.resident_id).relation == "子女"
    collected = form(doctor, r.resident_id, "collect", {"prescription_id": rx.prescription_id,
                                                        "collector_id": relative.resident_id})
    assert collected.status_code == 303
    rx = Prescription.get(r.resident_id, rx.prescription_id, consistent_read=True)
    assert [(c.collector_id, c.relative) for c in rx.collections] == [(relative.resident_id, True)]
    text = page(doctor, r.resident_id)
    assert f"{relative.name}（已授权·子女）" in text and "亲属代取" in text
    assert audits_of(r.resident_id, "prescription.collect")


def test_health_check_form_once_a_year_with_flags(doctor):
    r = contracted(doctor, poor=True)
    bad = form(doctor, r.resident_id, "check", {"systolic": "400", "diastolic": "80",
                                                "fasting_glucose": "5.0", "heart_rate": "70"})
    assert bad.status_code == 422 and "收缩压" in error_text(bad)
    missing = form(doctor, r.resident_id, "check", {"systolic": "120", "diastolic": "80",
                                                    "heart_rate": "70"})
    assert missing.status_code == 422 and error_text(missing) == "空腹血糖：必填"
    assert list(HealthCheck.query(r.resident_id, consistent_read=True)) == []
    ok = form(doctor, r.resident_id, "check", {"systolic": "150", "diastolic": "85",
                                               "fasting_glucose": "7.4", "heart_rate": "70"})
    assert ok.status_code == 303
    text = page(doctor, r.resident_id)
    assert "疑似高血压" in text and "疑似糖尿病" in text and 'id="form-check"' not in text
    again = form(doctor, r.resident_id, "check", {"systolic": "120", "diastolic": "80",
                                                  "fasting_glucose": "5", "heart_rate": "70"})
    assert again.status_code == 409 and "已做过" in error_text(again)
    assert HealthCheck.get(r.resident_id, str(local_today().year)).systolic == 150
    not_poor = contracted(doctor)
    assert 'id="form-check"' not in page(doctor, not_poor.resident_id)
    resp = form(doctor, not_poor.resident_id, "check", {"systolic": "120", "diastolic": "80",
                                                        "fasting_glucose": "5", "heart_rate": "70"})
    assert resp.status_code == 422 and "脱贫" in error_text(resp)
    assert list(HealthCheck.query(not_poor.resident_id)) == []


def test_renew_and_end_forms(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    [old] = list(Contract.query(r.resident_id))
    bad = form(doctor, r.resident_id, "renew", {"years": "4", "paper_form_no": "QY-1",
                                                 "consent_version": "2026-01"})
    assert bad.status_code == 422 and "签约期限只能是1年、2年或3年" in error_text(bad)
    assert [c.contract_id for c in Contract.query(r.resident_id, consistent_read=True)] == [old.contract_id]
    ok = form(doctor, r.resident_id, "renew", {"years": "2", "paper_form_no": "QY-2026-17",
                                                "consent_version": "2026-01"})
    assert ok.status_code == 303
    new = [c for c in Contract.query(r.resident_id, consistent_read=True) if c.contract_id != old.contract_id]
    assert len(new) == 1 and new[0].channel == "desk" and int(new[0].years) == 2
    assert new[0].start == (date.fromisoformat(old.end) + timedelta(days=1)).isoformat()
    assert Uniqueness.get(f"contract#{r.resident_id}").owner == new[0].contract_id
    assert "续约待生效" in page(doctor, r.resident_id)

    unconfirmed = form(doctor, r.resident_id, "end", {"reason": "迁出本县"})
    assert unconfirmed.status_code == 422 and "确认解约" in error_text(unconfirmed)
    no_reason = form(doctor, r.resident_id, "end", {"confirm": "1"})
    assert no_reason.status_code == 422 and error_text(no_reason) == "解约原因：必填"
    assert Resident.get(r.resident_id).team_id == "team-01"
    ended = form(doctor, r.resident_id, "end", {"reason": "迁出本县", "confirm": "1"})
    assert ended.status_code == 303 and ended.headers["Location"].endswith("/team?ended=1")
    assert Resident.get(r.resident_id).team_id is None
    with pytest.raises(DoesNotExist):
        Uniqueness.get(f"contract#{r.resident_id}")
    assert doctor.client.get(f"/team/patients/{r.resident_id}").status_code == 404
    assert "已解约" in doctor.client.get("/team?ended=1").get_data(as_text=True)


def test_page_forms_of_another_teams_patient_are_refused(doctor, app):
    from tests.conftest import Browserless
    r = contracted(doctor, conditions=("hypertension",))
    other = Browserless(app, app.test_client())
    other.login_staff("doctor03")
    token = other.page_csrf("/team")
    resp = other.client.post(f"/team/patients/{r.resident_id}/forms/refer",
                             data={"reason": "越权转诊测试", "csrf_token": token})
    assert resp.status_code == 404
    assert list(Referral.query(r.resident_id)) == []
    no_csrf = doctor.client.post(f"/team/patients/{r.resident_id}/forms/refer",
                                 data={"reason": "没有令牌的转诊"})
    assert no_csrf.status_code in (400, 403)
    assert list(Referral.query(r.resident_id)) == []
