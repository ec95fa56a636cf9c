"""Offline sync over HTTP: the day's delta download by team sequence, and the batch upload."""
from __future__ import annotations

from datetime import timedelta

import pytest

from backend.models.base import new_id
from backend.models.care import ElderVisit, FollowUp
from backend.models.people import Resident
from backend.models.sync import Device, HeldRecord
from backend.services.care_common import local_today
from tests.test_care_http import make_resident, post, sign_desk

TEAM, TOWNSHIP, VILLAGE = "team-07", "twp-04", "vil-twp-04-02"


def sign(person, resident_id):
    r = sign_desk(person, resident_id)
    assert r.status_code == 201, r.get_json()


def all_changes(client, after=0, limit=100):
    """Page through the feed like a phone: returns (residents by id, removed, cursor, pages)."""
    residents, removed, pages = {}, set(), 0
    while True:
        r = client.get(f"/api/sync/changes?after={after}&limit={limit}")
        assert r.status_code == 200, r.get_json()
        page = r.get_json()
        pages += 1
        for p in page["residents"]:
            residents[p["id"]] = p
            removed.discard(p["id"])
        for rid in page["removed"]:
            residents.pop(rid, None)
            removed.add(rid)
        assert page["next_after"] >= after
        after = page["next_after"]
        if not page["more"]:
            return residents, removed, after, pages


def followup_record(resident_id, systolic=132, diastolic=82, **extra):
    return {"id": new_id(), "kind": "followup", "resident_id": resident_id,
            "made_at": "2026-01-01T08:00:00+08:00",
            "data": {"disease": "hypertension", "systolic": systolic, "diastolic": diastolic,
                     **extra}}


def upload(person, records, device="phone-test-0001"):
    return post(person, "/api/sync/records", {"device_id": device, "records": records})


@pytest.fixture()
def doctor(person):
    person.login_staff("doctor07")
    return person


def test_first_sync_pages_the_whole_roster_and_a_delta_brings_only_changes(doctor, app):
    roster, _, cursor, pages = all_changes(doctor.client, limit=5)
    seeded = {r.resident_id for r in Resident.scan(Resident.team_id == TEAM)}  # test-side check
    assert seeded <= set(roster) and pages > 1
    sample = next(iter(roster.values()))
    assert sample["village"].endswith("卫生室") and "vil-" not in sample["village"]

    # Nothing changed: the delta is empty and the cursor stays.
    again = doctor.client.get(f"/api/sync/changes?after={cursor}").get_json()
    assert again["residents"] == [] and again["next_after"] == cursor and not again["more"]

    # A newly signed patient and a follow-up arrive in the next delta, each once.
    patient = make_resident(age=70, conditions=("hypertension",), township=TOWNSHIP, village=VILLAGE)
    sign(doctor, patient.resident_id)
    r = post(doctor, f"/api/care/residents/{patient.resident_id}/followups",
             {"disease": "hypertension", "systolic": 150, "diastolic": 92})
    assert r.status_code == 201
    delta, removed, cursor2, _ = all_changes(doctor.client, after=cursor)
    assert set(delta) == {patient.resident_id} and not removed
    assert cursor2 == cursor + 2  # two writes, two sequence numbers, no gap
    case = delta[patient.resident_id]["cases"][0]
    assert case["last_bp"] == [150, 92] and case["last_outcome"] == "not_controlled_first"

    # Ending the contract tells the phone to drop the person.
    r = post(doctor, f"/api/contracts/{patient.resident_id}/end", {"reason": "迁出本地"})
    assert r.status_code == 200, r.get_json()
    delta, removed, cursor3, _ = all_changes(doctor.client, after=cursor2)
    assert delta == {} and removed == {patient.resident_id} and cursor3 == cursor2 + 1


def test_an_interrupted_first_sync_resumes_from_its_last_page(doctor):
    first = doctor.client.get("/api/sync/changes?after=0&limit=3").get_json()
    assert first["more"]
    # The phone lost signal after storing page 1's cursor; it goes on from there.
    rest, _, _, _ = all_changes(doctor.client, after=first["next_after"], limit=50)
    whole, _, _, _ = all_changes(doctor.client, limit=50)
    assert set(p["id"] for p in first["residents"]) | set(rest) == set(whole)


def test_download_is_for_the_team_doctor_only(person):
    person.login_staff("admin-twp-04")
    r = person.client.get("/api/sync/changes")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_the_same_batch_uploaded_twice_is_stored_once(doctor):
    patients = [make_resident(age=70, conditions=("hypertension",), township=TOWNSHIP,
                              village=VILLAGE) for _ in range(3)]
    for p in patients:
        sign(doctor, p.resident_id)
    records = [followup_record(p.resident_id, systolic=128 + i) for i, p in enumerate(patients)]
    records.append({"id": new_id(), "kind": "elder_visit", "resident_id": patients[0].resident_id,
                    "made_at": None, "data": {"score": 5, "visit_date": local_today().isoformat()}})
    first = upload(doctor, records)
    assert first.status_code == 200, first.get_json()
    assert [r["status"] for r in first.get_json()["results"]] == ["stored"] * 4
    verdict = first.get_json()["results"][0]["verdict"]
    assert verdict["outcome"] == "controlled" and verdict["label"] == "控制满意"
    assert first.get_json()["results"][3]["verdict"]["grade"] == "mild"

    second = upload(doctor, records)
    assert [r["status"] for r in second.get_json()["results"]] == ["already_stored"] * 4
    assert second.get_json()["results"][0]["verdict"] == verdict
    stored = [f for p in patients for f in FollowUp.query(p.resident_id)]
    assert len(stored) == 3 and {f.client_visit_id for f in stored} == {r["id"] for r in records[:3]}
    visits = [v for v in ElderVisit.query(patients[0].resident_id) if v.visit_key != "latest"]
    assert len(visits) == 1


def test_bad_records_are_answered_one_by_one_and_the_rest_stored(doctor, person, app):
    ok, gone = (make_resident(age=60, conditions=("hypertension",), township=TOWNSHIP,
                              village=VILLAGE) for _ in range(2))
    sign(doctor, ok.resident_id)
    sign(doctor, gone.resident_id)
    assert post(doctor, f"/api/contracts/{gone.resident_id}/end", {"reason": "迁出本地"}).status_code == 200
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    records = [
        followup_record(ok.resident_id, systolic=400, diastolic=90),          # impossible BP
        followup_record(ok.resident_id, visit_date=tomorrow),                 # future-dated
        {"id": new_id(), "kind": "followup", "resident_id": ok.resident_id},  # corrupted
        "not even an object",
        {"id": new_id(), "kind": "tea_party", "resident_id": ok.resident_id, "data": {}},
        followup_record(gone.resident_id),                                    # left the team
        followup_record(ok.resident_id),                                      # fine
    ]
    r = upload(doctor, records)
    assert r.status_code == 200, r.get_json()
    res = r.get_json()["results"]
    assert [(x["status"], x.get("code")) for x in res] == [
        ("refused", "impossible_systolic"), ("refused", "invalid_visit_date"),
        ("refused", "invalid_record"), ("refused", "invalid_record"), ("refused", "unknown_kind"),
        ("held", "not_on_team"), ("stored", None)]
    assert all(x["message"] and not x["message"].isascii() for x in res if x["status"] != "stored")
    assert res[3]["id"] == "#3"
    assert len(list(FollowUp.query(ok.resident_id))) == 1
    assert list(FollowUp.query(gone.resident_id)) == []
    held = list(HeldRecord.query(TOWNSHIP, HeldRecord.record_key == f"s:doctor07#{records[5]['id']}"))
    assert len(held) == 1 and held[0].resident_name == gone.name and held[0].data["systolic"] == 132
    # Held again on a re-upload, still one row; the centre admin sees it.
    assert upload(doctor, [records[5]]).get_json()["results"][0]["status"] == "held"
    assert len(list(HeldRecord.query(TOWNSHIP, HeldRecord.record_key == f"s:doctor07#{records[5]['id']}"))) == 1
    admin = person.__class__(app, app.test_client())
    admin.login_staff("admin-twp-04")
    seen = admin.client.get("/api/sync/devices").get_json()["held"]
    assert any(h["resident_name"] == gone.name and h["reason"] == "not_found_or_not_permitted" for h in seen)


def test_more_than_a_batch_is_refused_whole(doctor):
    r = upload(doctor, [followup_record("x-1") for _ in range(51)])
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_failed"


def test_a_stale_resident_edit_is_returned_to_resolve(doctor, app):
    patient = make_resident(age=50, township=TOWNSHIP, village=VILLAGE, phone="13900000001")
    sign(doctor, patient.resident_id)
    mine = {"id": new_id(), "kind": "resident_details", "resident_id": patient.resident_id,
            "data": {"phone": "13900000002", "base_version": 0}}
    theirs = {"id": new_id(), "kind": "resident_details", "resident_id": patient.resident_id,
              "data": {"phone": "13900000003", "base_version": 0}}
    assert upload(doctor, [theirs]).get_json()["results"][0]["status"] == "stored"
    answer = upload(doctor, [mine]).get_json()["results"][0]
    assert answer["status"] == "refused" and answer["code"] == "stale_edit"
    assert answer["current"] == {"phone": "13900000003", "version": 1}
    assert Resident.get(patient.resident_id).phone == "13900000003"
    # The doctor keeps their number: a new edit from the version now held wins.
    keep = {**mine, "id": new_id(), "data": {"phone": "13900000002", "base_version": 1}}
    assert upload(doctor, [keep]).get_json()["results"][0]["status"] == "stored"
    assert Resident.get(patient.resident_id).phone == "13900000002"
    assert upload(doctor, [keep]).get_json()["results"][0]["status"] == "already_stored"


def test_phones_report_what_they_hold_and_the_centre_admin_sees_it(doctor, person, app):
    r = post(doctor, "/api/sync/device", {"device_id": "phone-report-01", "pending": 4,
                                          "refused": 1, "residents": 612,
                                          "label": "Android 手机 · Chrome"})
    assert r.status_code == 200, r.get_json()
    assert Device.get("s:doctor07", "phone-report-01").pending == 4
    admin = person.__class__(app, app.test_client())
    admin.login_staff("admin-twp-04")
    phones = admin.client.get("/api/sync/devices").get_json()["phones"]
    mine = [p for p in phones if p["label"] == "Android 手机 · Chrome"]
    assert mine and mine[0]["pending"] == 4 and mine[0]["doctor"] and mine[0]["team"]
    page = admin.client.get("/centre/phones").get_data(as_text=True)
    assert "4 条未上传" in page
