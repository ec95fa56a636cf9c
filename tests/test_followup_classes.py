"""Follow-up classes through HTTP (issue 9 item 19): an adverse drug reaction is told apart
as first or hard to control, and only the hard one (or two uncontrolled visits in a row,
or a new/worse complication) refers up and books a hospital place."""
from __future__ import annotations

import json
from datetime import timedelta

from backend.models.base import new_id, utcnow
from backend.models.care import ChronicCase, FollowUp, Referral
from backend.rules.followup import RULES_PATH
from backend.services.care_common import local_today
from tests.test_care_http import contracted, doctor, post  # noqa: F401  (module fixture)


def followup(doctor, resident_id, **body):
    return post(doctor, f"/api/care/residents/{resident_id}/followups",
                {"disease": "hypertension", **body})


def test_first_adverse_reaction_with_controlled_bp_adjusts_and_does_not_refer(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    resp = followup(doctor, r.resident_id, systolic=128, diastolic=78, adverse_reaction="first")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["outcome"], body["refer"], body["referral_id"]) == ("adverse_reaction_adjust", False, None)
    assert body["next_due"] == (local_today() + timedelta(days=14)).isoformat()
    assert list(Referral.query(r.resident_id)) == []          # no hospital place booked
    stored = list(FollowUp.query(r.resident_id))[0]
    assert (stored.adverse_reaction_kind, stored.adverse_reaction, stored.controlled) == ("first", True, True)
    case = ChronicCase.get(r.resident_id, "hypertension")
    assert case.last_outcome == "adverse_reaction_adjust" and case.last_controlled is True
    # Controlled readings with a reaction are not "uncontrolled": the next high BP is a first.
    again = followup(doctor, r.resident_id, systolic=146, diastolic=88)
    assert again.get_json()["outcome"] == "not_controlled_first"
    assert list(Referral.query(r.resident_id)) == []


def test_hard_to_control_reaction_refers_and_books_the_lead_hospital(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    body = followup(doctor, r.resident_id, systolic=128, diastolic=78,
                    adverse_reaction="hard_to_control").get_json()
    assert (body["outcome"], body["refer"]) == ("adverse_reaction_refer", True)
    refs = list(Referral.query(r.resident_id))
    assert len(refs) == 1 and refs[0].reason == "药物不良反应难以控制" and refs[0].booking_ref


def test_worsening_complication_refers(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    body = followup(doctor, r.resident_id, systolic=128, diastolic=78, new_complication=True).get_json()
    assert (body["outcome"], body["refer"]) == ("complication_refer", True)
    assert len(list(Referral.query(r.resident_id))) == 1


def test_unknown_reaction_kind_is_refused_with_a_code(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    resp = followup(doctor, r.resident_id, systolic=128, diastolic=78, adverse_reaction=True)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"]
    assert list(FollowUp.query(r.resident_id)) == []


def test_classes_stored_before_the_correction_stay_as_recorded(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    day = local_today() - timedelta(days=20)
    # A visit classed by the old rule (adverse reaction → refer), stored without a kind.
    FollowUp(r.resident_id, f"hypertension#{day.isoformat()}#{new_id()}", disease="hypertension",
             visit_date=day.isoformat(), team_id="team-01", systolic=130, diastolic=80,
             adverse_reaction=True, outcome="not_controlled_refer", refer=True,
             next_due=(day + timedelta(days=14)).isoformat(), recorded_by="s:doctor01",
             recorded_at=utcnow()).save()
    hist = doctor.client.get(f"/api/care/residents/{r.resident_id}/followups").get_json()
    assert [f["outcome"] for f in hist["followups"]] == ["not_controlled_refer"]


def test_the_rules_data_is_served_as_the_server_reads_it(client):
    resp = client.get("/rules/followup.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == json.loads(RULES_PATH.read_text("utf-8"))
