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
