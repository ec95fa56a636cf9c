"""Family-doctor flows through HTTP → PynamoDB → moto, reading the tables back."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from pynamodb.exceptions import DoesNotExist

from backend.models.audit import AuditEvent
from backend.models.care import (CareCounter, ChronicCase, Contact, Contract, ElderVisit,
                                 FollowUp, HealthCheck, Prescription, Referral)
from backend.models.notices import Notice
from backend.models.people import ProxyGrant, Resident, Uniqueness
from backend.models.base import new_id, utcnow
from backend.services.care_common import local_today
from backend.services.residents import create_resident
from infra.seed import make_id_number

_rng = random.Random()


def make_resident(*, age: int = 50, conditions=(), poor: bool = False, township="twp-01",
                  village="vil-twp-01-05", phone=None) -> Resident:
    """A fresh resident (valid identity number, new id) in the given township."""
    today = local_today()
    for _ in range(50):
        born = today - timedelta(days=age * 365 + 30 + _rng.randint(0, 300))
        idno = make_id_number(born, _rng.randint(0, 499), _rng.random() < 0.5)
        try:
            r = create_resident(resident_id=f"t-{new_id()}", id_number=idno, name="测试" + idno[-4:],
                                phone=phone, household_id=f"hh-t-{new_id()}", village_id=village,
                                township_id=township, conditions=set(conditions))
        except Exception as err:  # duplicate identity number: draw again
            if getattr(err, "code", "") == "duplicate_id_number":
                continue
            raise
        if poor:
            r.update(actions=[Resident.poor.set(True)])
        return Resident.get(r.resident_id)
    raise AssertionError("could not draw an identity number")


def post(person, path, body, method="post"):
    token = person.page_csrf()
    return getattr(person.client, method)(path, json=body, headers={"X-CSRF-Token": token})


# A desk contract's consent: the paper form the resident signed, of the current text.
DESK_CONSENT = {"paper_form_no": "QY-2026-0001", "consent_version": "2026-01"}


def sign_desk(person, resident_id, years=1):
    return post(person, "/api/contracts", {"resident_ids": [resident_id], "kind": "individual",
                                           "years": years, "channel": "desk", **DESK_CONSENT})


@pytest.fixture(scope="module")
def doctor(app):
    """doctor01 (team-01, twp-01), logged in once: staff logins are rate-limited per account."""
    from tests.conftest import Browserless
    d = Browserless(app, app.test_client())
    d.login_staff("doctor01")
    return d


def contracted(doctor, **kw) -> Resident:
    r = make_resident(**kw)
    resp = sign_desk(doctor, r.resident_id)
    assert resp.status_code == 201, resp.get_json()
    return Resident.get(r.resident_id)


def audits(subject_id: str, what: str) -> list[AuditEvent]:
    return [e for e in AuditEvent.query(subject_id) if e.what == what]


# ---- contracts -------------------------------------------------------------------------
def test_desk_contract_sets_team_claim_and_case(doctor):
    r = make_resident(conditions=("hypertension",))
    resp = sign_desk(doctor, r.resident_id, years=2)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["contracts"][0]["years"] == 2 and body["contracts"][0]["team_id"] == "team-01"
    assert Resident.get(r.resident_id).team_id == "team-01"
    cid = body["contracts"][0]["contract_id"]
    assert Uniqueness.get(f"contract#{r.resident_id}").owner == cid
    case = ChronicCase.get(r.resident_id, "hypertension")
    assert case.team_id == "team-01" and case.next_due == local_today().isoformat()
    assert audits(r.resident_id, "contract.sign")


@pytest.mark.parametrize("years", [0, 4])
def test_contract_of_four_years_refused_and_nothing_written(doctor, years):
    r = make_resident()
    resp = sign_desk(doctor, r.resident_id, years=years)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "invalid_contract_years"
    assert "1年、2年或3年" in resp.get_json()["error"]["message"]
    assert list(Contract.query(r.resident_id)) == []
    assert Resident.get(r.resident_id).team_id is None
    with pytest.raises(DoesNotExist):
        Uniqueness.get(f"contract#{r.resident_id}")


def test_second_active_contract_refused(doctor, client, person):
    r = contracted(doctor)
    again = sign_desk(doctor, r.resident_id)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_contracted"
    # Another team of the same centre cannot take the person either.
    person.login_staff("doctor02")
    other = sign_desk(person, r.resident_id)
    assert other.status_code == 409
    assert len(list(Contract.query(r.resident_id))) == 1
    assert Resident.get(r.resident_id).team_id == "team-01"


def test_household_contract_is_all_or_nothing(doctor):
    a = make_resident()
    b = make_resident()
    b.update(actions=[Resident.household_id.set(a.household_id)])
    c = make_resident()
    c.update(actions=[Resident.household_id.set(a.household_id)])
    assert sign_desk(doctor, c.resident_id).status_code == 201  # c already contracted
    resp = post(doctor, "/api/contracts", {"resident_ids": [a.resident_id, b.resident_id, c.resident_id],
                                           "kind": "household", "years": 1, "channel": "desk",
                                           **DESK_CONSENT})
    assert resp.status_code == 409
    for x in (a, b):
        assert list(Contract.query(x.resident_id)) == []
        assert Resident.get(x.resident_id).team_id is None
    ok = post(doctor, "/api/contracts", {"resident_ids": [a.resident_id, b.resident_id],
                                         "kind": "household", "years": 3, "channel": "desk",
                                         **DESK_CONSENT})
    assert ok.status_code == 201
    groups = {list(Contract.query(x.resident_id))[0].group_id for x in (a, b)}
    assert len(groups) == 1


def test_resident_signs_online_with_consent_stored(person, demo):
    me = person.login_resident(demo.demo_resident["phone"])
    subject = make_resident(phone=None)
    ProxyGrant(me["resident_id"], subject.resident_id, relation="子女", granted_at=utcnow()).save()
    body = {"resident_ids": [subject.resident_id], "team_id": "team-01", "kind": "individual",
            "years": 1, "channel": "online"}
    no_consent = post(person, "/api/contracts", body)
    assert no_consent.get_json()["error"]["code"] == "consent_required"
    stranger = make_resident()
    refused = post(person, "/api/contracts", {**body, "resident_ids": [stranger.resident_id],
                                              "consent_accepted": True, "consent_version": "2026-01"})
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_found_or_not_permitted"
    ok = post(person, "/api/contracts", {**body, "consent_accepted": True,
                                         "consent_version": "2026-01"})
    assert ok.status_code == 201, ok.get_json()
    c = list(Contract.query(subject.resident_id))[0]
    assert c.channel == "online" and "自愿" in c.consent_text and c.consent_version
    assert c.signed_by == c.consent_confirmed_by == f"res:{me['resident_id']}"
    assert c.consent_method == "app" and c.consent_witness is None
    page = person.client.get("/my-doctor").get_data(as_text=True)
    assert "已签约至" in page


def test_renewal_reminder_30_days_before_end_once(app, doctor):
    from backend.services.contracts import send_renewal_reminders
    r = contracted(doctor)
    c = list(Contract.query(r.resident_id))[0]
    end = date.fromisoformat(c.end)
    assert send_renewal_reminders(end - timedelta(days=30)) >= 1
    send_renewal_reminders(end - timedelta(days=30))  # a retried run adds nothing
    notices = [n for n in Notice.query(f"res:{r.resident_id}") if n.kind == "contract_renewal"]
    assert len(notices) == 1 and c.end in notices[0].body


def test_renew_and_expire_keep_team_consistent(doctor):
    from backend.services.contracts import expire_contracts
    r = contracted(doctor, conditions=("diabetes",))
    old = list(Contract.query(r.resident_id))[0]
    resp = post(doctor, f"/api/contracts/{r.resident_id}/renew", {"years": 4, **DESK_CONSENT})
    assert resp.get_json()["error"]["code"] == "invalid_contract_years"
    resp = post(doctor, f"/api/contracts/{r.resident_id}/renew", {"years": 2, **DESK_CONSENT})
    assert resp.status_code == 200, resp.get_json()
    new = resp.get_json()["contract"]
    assert new["start"] == (date.fromisoformat(old.end) + timedelta(days=1)).isoformat()
    # The old contract's end passes: the renewal holds the claim, the team stays.
    expire_contracts(date.fromisoformat(old.end) + timedelta(days=1))
    assert Resident.get(r.resident_id).team_id == "team-01"
    assert Contract.get(r.resident_id, old.contract_id).status == "renewed"
    assert Uniqueness.get(f"contract#{r.resident_id}").owner == new["contract_id"]
    # Ending the contract clears the team everywhere.
    resp = post(doctor, f"/api/contracts/{r.resident_id}/end", {"reason": "迁出本旗"})
    assert resp.status_code == 200
    assert Resident.get(r.resident_id).team_id is None
    assert ChronicCase.get(r.resident_id, "diabetes").team_id is None
    with pytest.raises(DoesNotExist):
        Uniqueness.get(f"contract#{r.resident_id}")
    # ... and the doctor loses access (the foundation's rule).
    assert doctor.client.get(f"/api/residents/{r.resident_id}").status_code == 404


# ---- follow-ups ----------------------------------------------------------------------
def test_followup_classifies_and_sets_next_due(doctor):
    r = contracted(doctor, age=70, conditions=("hypertension",))
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/followups",
                {"disease": "hypertension", "systolic": 145, "diastolic": 85, "heart_rate": 72,
                 "medication": "氨氯地平 5mg 每日一次"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["outcome"] == "controlled"   # 65+: < 150/90 is acceptable
    case = ChronicCase.get(r.resident_id, "hypertension")
    assert case.next_due == body["next_due"] and case.visits_count == 1
    assert case.due_key.startswith(body["next_due"])
    assert len(list(FollowUp.query(r.resident_id))) == 1
    assert audits(r.resident_id, "followup.hypertension")
    hist = doctor.client.get(f"/api/care/residents/{r.resident_id}/followups").get_json()
    assert hist["yearly"]["hypertension"] == {"count": 1, "required": 4, "short": 3}


def test_twice_not_controlled_refers_and_due_in_two_weeks(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    path = f"/api/care/residents/{r.resident_id}/followups"
    first = post(doctor, path, {"disease": "hypertension", "systolic": 150, "diastolic": 92})
    assert first.get_json()["outcome"] == "not_controlled_first"
    second = post(doctor, path, {"disease": "hypertension", "systolic": 152, "diastolic": 94})
    body = second.get_json()
    assert body["outcome"] == "not_controlled_refer" and body["refer"] is True
    assert body["next_due"] == (local_today() + timedelta(days=14)).isoformat()
    refs = list(Referral.query(r.resident_id))
    assert len(refs) == 1 and refs[0].status == "referred" and refs[0].booking_ref  # booked up
    assert ChronicCase.get(r.resident_id, "hypertension").visits_count == 2


@pytest.mark.parametrize("body,code", [
    ({"disease": "hypertension", "systolic": 400, "diastolic": 90}, "impossible_systolic"),
    ({"disease": "hypertension", "systolic": 120, "diastolic": 130}, "diastolic_above_systolic"),
    ({"disease": "diabetes", "fasting_glucose": -1}, "impossible_glucose"),
    ({"disease": "diabetes", "fasting_glucose": 51}, "impossible_glucose"),
    ({"disease": "hypertension", "systolic": 130, "diastolic": 80, "heart_rate": 0},
     "impossible_heart_rate"),
])
def test_impossible_readings_refused_nothing_written(doctor, body, code):
    r = contracted(doctor, conditions=("hypertension", "diabetes"))
    before = {c.disease: (c.revision, c.next_due) for c in ChronicCase.query(r.resident_id)}
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/followups", body)
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in err["message"])
    assert list(FollowUp.query(r.resident_id)) == []
    assert {c.disease: (c.revision, c.next_due) for c in ChronicCase.query(r.resident_id)} == before


def test_doctor_cannot_record_for_resident_of_another_team(doctor, person):
    r = contracted(doctor, conditions=("hypertension",))
    person.login_staff("doctor02")  # team-02, same centre
    resp = post(person, f"/api/care/residents/{r.resident_id}/followups",
                {"disease": "hypertension", "systolic": 130, "diastolic": 80})
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found_or_not_permitted"
    uncontracted = make_resident(conditions=("hypertension",))
    resp = post(person, f"/api/care/residents/{uncontracted.resident_id}/followups",
                {"disease": "hypertension", "systolic": 130, "diastolic": 80})
    assert resp.get_json()["error"]["code"] == "not_found_or_not_permitted"
    assert list(FollowUp.query(r.resident_id)) == []
    assert list(FollowUp.query(uncontracted.resident_id)) == []


def test_due_list_is_team_scoped_and_ordered(doctor, person):
    r = contracted(doctor, conditions=("diabetes",))
    data = doctor.client.get("/api/care/due?limit=200").get_json()
    assert r.resident_id in [c["resident_id"] for c in data["due"]]
    assert all(data["today"] <= c["next_due"] for c in data["due"])
    assert [c["next_due"] for c in data["due"]] == sorted(c["next_due"] for c in data["due"])
    late = contracted(doctor, conditions=("hypertension",))
    _make_overdue(late, "hypertension", 400)
    overdue = doctor.client.get("/api/care/overdue?limit=200").get_json()["overdue"]
    assert all(c["next_due"] < data["today"] for c in overdue)
    assert overdue[0]["resident_id"] == late.resident_id and overdue[0]["overdue_days"] == 400
    page = doctor.client.get("/team?limit=200")
    assert page.status_code == 200 and r.name in page.get_data(as_text=True)
    assert late.name in doctor.client.get("/team/overdue?limit=200").get_data(as_text=True)
    # Another team's doctor does not see them.
    person.login_staff("doctor02")
    other = person.client.get("/api/care/due?limit=200").get_json()["due"]
    assert r.resident_id not in [c["resident_id"] for c in other]


# ---- overdue calls -------------------------------------------------------------------
def _make_overdue(r: Resident, disease: str, days: int, bp=(130, 80)):
    due = (local_today() - timedelta(days=days)).isoformat()
    ChronicCase(r.resident_id, disease).update(actions=[
        ChronicCase.next_due.set(due), ChronicCase.due_key.set(f"{due}#{r.resident_id}#{disease}"),
        ChronicCase.last_systolic.set(bp[0]), ChronicCase.last_diastolic.set(bp[1]),
        ChronicCase.revision.add(1)])


def test_call_list_sorts_high_bp_first_and_outcomes_hide(doctor):
    calm = contracted(doctor, conditions=("hypertension",))
    risky = contracted(doctor, conditions=("hypertension",))
    _make_overdue(calm, "hypertension", 60)
    _make_overdue(risky, "hypertension", 3, bp=(186, 100))
    ids = [p["resident_id"] for p in doctor.client.get("/api/care/calls").get_json()["patients"]]
    assert ids.index(risky.resident_id) < ids.index(calm.resident_id)
    before = doctor.client.get("/api/care/calls").get_json()["overdue_contacted"]

    resp = post(doctor, f"/api/care/residents/{calm.resident_id}/calls",
                {"disease": "hypertension", "outcome": "agreed"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["hidden_until"] == (local_today() + timedelta(days=7)).isoformat()
    resp = post(doctor, f"/api/care/residents/{calm.resident_id}/calls",
                {"disease": "hypertension", "outcome": "later"})
    assert resp.get_json()["hidden_until"] == (local_today() + timedelta(days=30)).isoformat()
    after = doctor.client.get("/api/care/calls").get_json()
    assert calm.resident_id not in [p["resident_id"] for p in after["patients"]]
    assert after["overdue_contacted"] == before + 1  # the same patient counts once
    # The call is a contact this quarter.
    assert [c.channel for c in Contact.query(calm.resident_id)] == ["phone", "phone"]
    assert Contract.get(calm.resident_id, list(Contract.query(calm.resident_id))[0].contract_id
                        ).last_contact == local_today().isoformat()

    no_reason = post(doctor, f"/api/care/residents/{risky.resident_id}/calls",
                     {"disease": "hypertension", "outcome": "remove"})
    assert no_reason.get_json()["error"]["code"] == "reason_required"
    assert list(Contact.query(risky.resident_id)) == []
    removed = post(doctor, f"/api/care/residents/{risky.resident_id}/calls",
                   {"disease": "hypertension", "outcome": "remove", "reason": "已去世"})
    assert removed.status_code == 201
    case = ChronicCase.get(risky.resident_id, "hypertension")
    assert case.removed_reason == "已去世" and case.due_key is None
    assert doctor.client.get("/api/care/calls").get_json()["overdue_contacted"] == before + 2


def test_contacts_and_not_contacted_this_quarter(doctor):
    r = contracted(doctor)
    listed = [x["resident_id"] for x in doctor.client.get("/api/care/not-contacted").get_json()["residents"]]
    assert r.resident_id in listed
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/contacts", {"channel": "wechat", "note": "提醒复诊"})
    assert resp.status_code == 201
    listed = [x["resident_id"] for x in doctor.client.get("/api/care/not-contacted").get_json()["residents"]]
    assert r.resident_id not in listed
    bad = post(doctor, f"/api/care/residents/{r.resident_id}/contacts", {"channel": "pigeon"})
    assert bad.status_code == 422
    assert len(list(Contact.query(r.resident_id))) == 1


# ---- referral ------------------------------------------------------------------------
def test_referral_up_and_back_down_with_plan(doctor, person, client, app):
    r = contracted(doctor, conditions=("hypertension",))
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/referrals",
                {"reason": "血压波动大，需专科调整", "disease": "hypertension", "urgent": False})
    assert resp.status_code == 201
    ref_id = resp.get_json()["referral_id"]
    two_weeks = (local_today() + timedelta(days=14)).isoformat()
    assert ChronicCase.get(r.resident_id, "hypertension").next_due <= two_weeks
    hosp = app.test_client()
    from tests.conftest import Browserless
    h = Browserless(app, hosp)
    h.login_staff("admin-hospital")
    back = post(h, f"/api/care/residents/{r.resident_id}/referrals/{ref_id}/return",
                {"plan": "氨氯地平加量至10mg，2周后基层复查"})
    assert back.status_code == 200, back.get_json()
    ref = Referral.get(r.resident_id, ref_id)
    assert ref.status == "returned" and "10mg" in ref.plan
    assert ChronicCase.get(r.resident_id, "hypertension").next_due == two_weeks
    again = post(h, f"/api/care/residents/{r.resident_id}/referrals/{ref_id}/return", {"plan": "重复"})
    assert again.get_json()["error"]["code"] == "already_returned"


# ---- 65+ ledger ----------------------------------------------------------------------
def test_ledger_membership_grade_and_filters(doctor):
    old = contracted(doctor, age=80, village="vil-twp-01-06")
    young = contracted(doctor, age=60, village="vil-twp-01-06")
    resp = doctor.client.get("/api/care/ledger?village=vil-twp-01-06")
    assert resp.status_code == 200, resp.get_json()
    rows = resp.get_json()["residents"]
    ids = [x["resident_id"] for x in rows]
    assert old.resident_id in ids and young.resident_id not in ids
    resp = post(doctor, f"/api/care/residents/{old.resident_id}/elder-visits",
                {"score": 12, "flags": ["living_alone"]})
    assert resp.status_code == 201 and resp.get_json()["grade"] == "moderate"
    assert ElderVisit.get(old.resident_id, "latest").grade == "moderate"
    moderate = doctor.client.get("/api/care/ledger?grade=moderate&village=vil-twp-01-06").get_json()["residents"]
    assert old.resident_id in [x["resident_id"] for x in moderate]
    assert all(x["grade"] == "moderate" for x in moderate)
    row = [x for x in moderate if x["resident_id"] == old.resident_id][0]
    assert "living_alone" in row["flags"] and "not_assessed" not in row["flags"]
    due_soon = doctor.client.get(f"/api/care/ledger?due_by={local_today().isoformat()}&village=vil-twp-01-06").get_json()
    assert old.resident_id not in [x["resident_id"] for x in due_soon["residents"]]
    too_young = post(doctor, f"/api/care/residents/{young.resident_id}/elder-visits", {"score": 2})
    assert too_young.get_json()["error"]["code"] == "not_elder"
    bad = post(doctor, f"/api/care/residents/{old.resident_id}/elder-visits", {"score": 40})
    assert bad.get_json()["error"]["code"] == "invalid_self_care_score"
    assert len(list(ElderVisit.query(old.resident_id))) == 2  # latest + one visit
    page = doctor.client.get("/team/ledger?grade=moderate").get_data(as_text=True)
    assert "中度依赖" in page


# ---- medicine ------------------------------------------------------------------------
def test_long_prescription_and_authorised_collection(doctor):
    r = contracted(doctor, conditions=("hypertension",))
    path = f"/api/care/residents/{r.resident_id}/prescriptions"
    unstable = post(doctor, path, {"disease": "hypertension", "weeks": 8, "drugs": ["氨氯地平"]})
    assert unstable.get_json()["error"]["code"] == "not_stable"
    post(doctor, f"/api/care/residents/{r.resident_id}/followups",
         {"disease": "hypertension", "systolic": 128, "diastolic": 78})
    too_long = post(doctor, path, {"disease": "hypertension", "weeks": 13, "drugs": ["氨氯地平"]})
    assert too_long.status_code == 422
    assert too_long.get_json()["error"]["code"] == "invalid_prescription_weeks"
    assert list(Prescription.query(r.resident_id)) == []
    ok = post(doctor, path, {"disease": "hypertension", "weeks": 12, "drugs": ["氨氯地平 5mg"]})
    assert ok.status_code == 201
    pid = ok.get_json()["prescription_id"]
    assert ok.get_json()["next_refill"] == (local_today() + timedelta(weeks=12)).isoformat()

    relative = make_resident(age=40)
    collect = f"/api/care/residents/{r.resident_id}/prescriptions/{pid}/collect"
    refused = post(doctor, collect, {"collector_id": relative.resident_id})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "collector_not_authorised"
    assert Prescription.get(r.resident_id, pid).collections == []
    grant = post(doctor, f"/api/care/residents/{r.resident_id}/collectors",
                 {"collector_id": relative.resident_id, "relation": "子女"})
    assert grant.status_code == 201
    assert post(doctor, collect, {"collector_id": relative.resident_id}).status_code == 200
    rx = Prescription.get(r.resident_id, pid)
    assert [c.collector_id for c in rx.collections] == [relative.resident_id]
    assert rx.collections[0].relative is True


def test_free_health_check_for_poor_residents_once_a_year(doctor):
    poor = contracted(doctor, poor=True)
    path = f"/api/care/residents/{poor.resident_id}/health-checks"
    bad = post(doctor, path, {"systolic": 120, "diastolic": 80, "fasting_glucose": 60, "heart_rate": 70})
    assert bad.get_json()["error"]["code"] == "impossible_glucose"
    assert list(HealthCheck.query(poor.resident_id)) == []
    ok = post(doctor, path, {"systolic": 150, "diastolic": 85, "fasting_glucose": 7.4, "heart_rate": 70})
    assert ok.status_code == 201
    assert ok.get_json()["flags"] == ["suspected_hypertension", "suspected_diabetes"]
    again = post(doctor, path, {"systolic": 120, "diastolic": 80, "fasting_glucose": 5, "heart_rate": 70})
    assert again.get_json()["error"]["code"] == "already_checked_this_year"
    assert HealthCheck.get(poor.resident_id, str(local_today().year)).systolic == 150
    rich = contracted(doctor)
    assert post(doctor, f"/api/care/residents/{rich.resident_id}/health-checks",
                {"systolic": 120, "diastolic": 80, "fasting_glucose": 5, "heart_rate": 70}
                ).get_json()["error"]["code"] == "not_eligible"


# ---- service card and digest ---------------------------------------------------------
def test_service_card_for_doctor_and_family(doctor, person, demo, app):
    r = contracted(doctor, conditions=("hypertension",))
    post(doctor, f"/api/care/residents/{r.resident_id}/followups",
         {"disease": "hypertension", "systolic": 128, "diastolic": 78})
    card = doctor.client.get(f"/api/care/residents/{r.resident_id}/card").get_json()
    assert card["team"]["members"][0]["phone"] and card["contract"]["status"] == "active"
    assert [(g["what"], g["detail"]) for g in card["given"]] == [("高血压随访", "控制满意")]
    html = doctor.client.get(f"/card/{r.resident_id}").get_data(as_text=True)
    assert "家庭医生签约服务卡" in html and "全科医生" in html and "print-card" in html
    assert audits(r.resident_id, "contract.service_card")
    from tests.conftest import Browserless
    family = Browserless(app, app.test_client())
    family.login_resident(demo.demo_resident["phone"])
    assert family.client.get(f"/card/{r.resident_id}").status_code == 404


def test_daily_digest_one_notice_per_member(app, doctor):
    from backend.services.followups import send_due_digests
    contracted(doctor, conditions=("hypertension",))  # due today
    today = local_today()
    # Other tests notify this doctor too (shared database): judge what the digest added.
    before = {n.notice_id for n in Notice.query("s:doctor01")}
    send_due_digests(today)
    send_due_digests(today)  # retried: nothing twice
    after = list(Notice.query("s:doctor01"))
    digests = [n for n in after if n.kind == "followup_due"
               and n.created_at.date() >= today - timedelta(days=1)]
    assert len(digests) == 1
    assert "位随访到期" in digests[0].title
    added = [n for n in after if n.notice_id not in before]
    assert all(n.kind == "followup_due" for n in added), [n.kind for n in added]


def test_pages_render_for_doctor(doctor):
    for path in ("/team", "/team/overdue", "/team/calls", "/team/ledger", "/team/uncontacted"):
        resp = doctor.client.get(path)
        assert resp.status_code == 200, path
        assert "csrf-token" in resp.get_data(as_text=True)


def test_due_list_pages_follow_the_index_order(doctor):
    for days in (5, 9, 13):
        r = contracted(doctor, conditions=("hypertension",))
        _make_overdue(r, "hypertension", days)
    first = doctor.client.get("/api/care/overdue?limit=2").get_json()
    assert len(first["overdue"]) == 2 and first["more"]
    second = doctor.client.get("/api/care/overdue", query_string={
        "limit": 2, "after": first["more"]}).get_json()
    keys = [(c["next_due"], c["resident_id"], c["disease"]) for c in first["overdue"] + second["overdue"]]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for _ in range(3):
        contracted(doctor, conditions=("hypertension",))  # due today
    page1 = doctor.client.get("/api/care/due?limit=2").get_json()
    page2 = doctor.client.get("/api/care/due", query_string={"limit": 2, "after": page1["more"]}).get_json()
    keys = [(c["next_due"], c["resident_id"], c["disease"]) for c in page1["due"] + page2["due"]]
    assert keys == sorted(keys) and len(set(keys)) == 4
    html = doctor.client.get("/team?limit=2").get_data(as_text=True)
    assert 'id="more"' in html
    assert doctor.client.get("/api/care/due?limit=500").status_code == 422


def test_team_members_kept_by_centre_admin(app, doctor):
    from tests.conftest import Browserless
    admin = Browserless(app, app.test_client())
    admin.login_staff("admin-twp-03")
    members = [{"login": "s:doctor05", "name": "测试全科", "role": "gp", "phone": "13800000005",
                "title": "主治医师"},
               {"login": "s:vd05", "name": "测试村医", "role": "village_doctor", "phone": "13800000006"}]
    resp = admin.client.put("/api/teams/team-05/members", json={"members": members},
                            headers={"X-CSRF-Token": admin.page_csrf()})
    assert resp.status_code == 200, resp.get_json()
    from backend.models.facility import Team
    assert [m.role for m in Team.get("team-05").members] == ["gp", "village_doctor"]
    bad_phone = admin.client.put("/api/teams/team-05/members",
                                 json={"members": [{**members[0], "phone": "12345"}]},
                                 headers={"X-CSRF-Token": admin.page_csrf()})
    assert bad_phone.status_code == 422
    other_centre = admin.client.put("/api/teams/team-01/members", json={"members": members},
                                    headers={"X-CSRF-Token": admin.page_csrf()})
    assert other_centre.status_code == 403
    assert Team.get("team-01").members[0].login == "s:doctor01"
    team = admin.client.get("/api/teams/team-05").get_json()
    assert team["members"][1]["role_label"] == "乡村医生"


def test_care_tasks_are_scheduled_in_zappa(app):
    import json
    from pathlib import Path
    from backend.tasks import SCHEDULE
    events = json.loads((Path(__file__).parent.parent / "zappa_settings.json").read_text())["dev"]["events"]
    declared = {e["function"].rsplit(".", 1)[1]: e["expression"] for e in events}
    for name in ("followup_digest", "contract_renewals"):
        assert declared[name] == SCHEDULE[name][0]


def test_openapi_documents_care_routes(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/care/residents/{resident_id}/followups" in paths
    assert "/api/contracts" in paths


def test_referral_up_books_the_lead_hospitals_reserved_place(doctor):
    from backend.models.booking import Booking
    r = contracted(doctor, conditions=("hypertension",))
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/referrals",
                {"reason": "血压控制不佳，转上级医院专科", "disease": "hypertension",
                 "department": "内科", "urgent": True})
    assert resp.status_code == 201, resp.get_json()
    ref = Referral.get(r.resident_id, resp.get_json()["referral_id"])
    assert ref.booking_ref, "the referral should hold a booking at the lead hospital"
    booking = Booking.get(ref.booking_ref)
    assert (booking.subject_id, booking.facility_id, booking.department) == \
        (r.resident_id, "hosp-01", "内科")
    assert booking.channel == "referral" and booking.booker_login == "s:doctor01"
