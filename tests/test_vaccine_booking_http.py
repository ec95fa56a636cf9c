"""Booking due doses on the booking engine, through HTTP → PynamoDB → moto."""
from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

import pytest

from backend.models.booking import Booking, Slot
from backend.models.vaccination import VaccinationDose
from backend.services.care_common import local_today
from tests.test_children_http import logout_of, make_parent, post

pytestmark = pytest.mark.usefixtures("app")


def open_slots(facility: str, department: str = "预防接种门诊", weekend: bool | None = None):
    now = time.time()
    first = local_today().isoformat()
    out = []
    for s in Slot.query(f"{facility}#{department}",
                        Slot.start_key.between(first, (local_today() + timedelta(days=20)).isoformat())):
        if int(s.starts_at) > now + 3600 and int(s.opens_at) <= now and not s.closed \
                and int(s.left_online) >= 1:
            if weekend is None or (date.fromisoformat(s.day).weekday() >= 5) == weekend:
                out.append(s)
    return out


@pytest.fixture()
def family(person):
    """A parent (logged in) with a baby of 70 days: IPV 1 and DTaP 1 due, HepB 1 and BCG overdue."""
    parent = make_parent()
    person.login_resident(parent.phone)
    born = local_today() - timedelta(days=70)
    r = post(person, "/api/children", {"name": "小豆", "relation": "父亲", "birth_date": born.isoformat(),
                                       "sex": "M", "client_request_id": uuid.uuid4().hex[:16]})
    return {"parent": parent, "child": r.get_json()["resident_id"], "born": born}


def book(person, child, slot_id, rid=None, **extra):
    return post(person, f"/api/children/{child}/vaccination-bookings",
                {"slot_id": slot_id, "client_request_id": rid or uuid.uuid4().hex[:16], **extra})


def test_seeded_centres_run_weekday_and_weekend_vaccination_sessions():
    weekday, weekend = open_slots("twp-01", weekend=False), open_slots("twp-01", weekend=True)
    assert weekend and all(s.kind == "vaccination" and int(s.fee) == 0 for s in weekend)
    assert {date.fromisoformat(s.day).weekday() for s in weekday} <= {1, 3}


def test_a_parent_books_a_weekend_slice_for_the_due_doses(person, family):
    slot = open_slots("twp-01", weekend=True)[0]
    r = book(person, family["child"], slot.slot_id, rid="vac-retry-0001")
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert "脊灰灭活疫苗 第1剂" in out["planned_doses"] and "乙肝疫苗 第1剂" in out["planned_doses"]
    assert "接种本" in out["what_to_bring"] and "周六" in out["day_text"]
    stored = Booking.get(out["booking_id"])
    assert (stored.kind, stored.subject_id, stored.fee) == ("vaccination", family["child"], 0)
    assert "IPV-1" in stored.purpose and stored.booker_login == f"m:{family['parent'].phone}"
    after = Slot.get(slot.bucket, slot.start_key)
    assert int(after.left_online) == int(slot.left_online) - 1
    again = book(person, family["child"], slot.slot_id, rid="vac-retry-0001")
    assert again.status_code == 200 and again.get_json()["booking_id"] == out["booking_id"]
    # The same doses cannot be booked twice on another slice.
    other = next(s for s in open_slots("twp-01") if s.slot_id != slot.slot_id)
    twice = book(person, family["child"], other.slot_id)
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "purpose_booked"
    page = person.client.get(f"/children/{family['child']}").get_data(as_text=True)
    assert "已预约" in page and out["planned_doses"] in page


def test_refusals_a_clinic_that_does_not_vaccinate_a_dose_not_due_and_strangers(person, family):
    outpatient = open_slots("twp-01", department="全科门诊")[0]
    r = book(person, family["child"], outpatient.slot_id)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_a_vaccination_clinic"
    slot = open_slots("twp-01")[0]
    r = book(person, family["child"], slot.slot_id, doses=["MMR-1"])        # 8 months
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "dose_not_due"
    stranger = make_parent()
    logout_of(person)
    person.login_resident(stranger.phone)
    r = book(person, family["child"], slot.slot_id)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_authorised"
    assert list(Booking.by_subject.query(family["child"])) == []


def test_staff_mark_attendance_and_record_the_planned_doses(person, family):
    slot = open_slots("twp-01")[0]
    booked = book(person, family["child"], slot.slot_id).get_json()
    logout_of(person)
    person.login_staff("admin-twp-01")
    page = person.client.get(f"/vaccination/clinic?day={slot.day}").get_data(as_text=True)
    assert booked["planned_doses"] in page and "小豆" in page
    body = {"batch": "B2026-11", "manufacturer": "北京生物", "body_site": "左大腿前外侧"}
    r = post(person, f"/api/vaccination/bookings/{booked['booking_id']}/attend", body)
    assert r.status_code == 200, r.get_json()
    assert set(r.get_json()["recorded"]) >= {"IPV#1", "HepB#1"}
    doses = {d.dose_key: d for d in VaccinationDose.query(family["child"])}
    assert doses["IPV#1"].booking_id == booked["booking_id"] and doses["IPV#1"].batch == "B2026-11"
    assert Booking.get(booked["booking_id"]).status == "arrived"
    retry = post(person, f"/api/vaccination/bookings/{booked['booking_id']}/attend", body)
    assert retry.status_code == 200 and retry.get_json()["recorded"] == []
    assert len(list(VaccinationDose.query(family["child"]))) == len(doses)


def test_admin_sees_the_weekend_share_and_the_county_sees_weekend_sessions(person, demo):
    person.login_staff("admin-twp-01")
    # The seeded eight days (the suite may cross midnight in Shanghai after seeding).
    start = demo.slots_from
    end = start + timedelta(days=7)
    r = person.client.get(f"/api/vaccination/weekend?start={start}&end={end}").get_json()
    [row] = r["centres"]
    # Seeded: Tue + Thu 08:00-11:30 (7 slices x 6), Saturday 08:30-11:30 (3 slices x 8).
    days = [start + timedelta(days=i) for i in range(8)]
    weekday = sum(42 for d in days if d.weekday() in (1, 3))
    weekend = sum(24 for d in days if d.weekday() == 5)
    assert (row["capacity"], row["weekend_capacity"]) == (weekday + weekend, weekend)
    assert row["weekend_share"] == round(weekend / (weekday + weekend), 3)
    assert row["weekend_sessions"] == sum(1 for d in days if d.weekday() == 5)
    assert row["facility_name"] == "乌兰镇卫生院"
    html = person.client.get("/vaccination/clinic").get_data(as_text=True)
    assert "其中周末" in html
    logout_of(person)
    person.login_staff("county")
    r = person.client.get(f"/api/vaccination/weekend?start={start}&end={end}").get_json()
    # Other tests add centres of their own (shared database): the seven seeded ones hold clinics.
    from infra.seed import TOWNSHIPS
    seeded = [c for c in r["centres"] if c["facility_id"] in {t[0] for t in TOWNSHIPS}]
    assert len(seeded) == 7 and all(c["weekend_sessions"] >= 1 for c in seeded)
    assert "周末场次" in person.client.get("/county/vaccination").get_data(as_text=True)
