"""A centre's booking rules apply to its own bookings, through HTTP against the moto server:
its no-show rule counts and pauses at that centre only, the pause and the 65+ exemption
fall on the person booked for, and an admin's desk places are their own centre's."""
from __future__ import annotations

from datetime import timedelta

import pytest

from backend.models.base import utcnow
from backend.models.booking import Booking, BookingLedger
from backend.models.notices import Notice
from backend.models.people import ProxyGrant
from backend.services import schedules
from tests.test_booking import World, booked, bookings_of, rid


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def no_show(w, facility, booking_id):
    """The appointment's time has passed (rewrite the time), then the centre marks it."""
    Booking(booking_id).update(actions=[Booking.starts_at.set(1)])
    w.as_admin(facility)
    r = w.post(f"/api/admin/bookings/{booking_id}/attendance", {"status": "no_show"})
    assert r.status_code == 200, r.get_json()


def strict_centre(w):
    """A centre whose rule is 1 no-show in 365 days, 30 days' pause."""
    f = w.facility()
    w.template(f, capacity=5, start="08:00", end="12:00")
    r = w.post("/api/admin/policy", {"noshow_limit": 1, "noshow_window_days": 365, "max_future_per_department": 5})
    assert r.status_code == 200, r.get_json()
    return f


def test_a_pause_earned_at_one_centre_stops_online_booking_there_only(w):
    strict, other = strict_centre(w), w.facility()
    w.template(other, capacity=5)
    me = w.resident(age=40)
    w.as_resident(me)
    first = w.book(w.slot(strict).slot_id).get_json()["bookings"][0]["booking_id"]
    no_show(w, strict, first)
    w.as_resident(me)
    r = w.book(w.slot(strict, start="09:00").slot_id)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "booking_paused"
    message = r.get_json()["error"]["message"]
    # The strict centre's rule does not reach the other centre: booking there works.
    r = w.book(w.slot(other).slot_id)
    assert booked(r), r.get_json()
    assert "本机构" in message
    assert BookingLedger.get(me.resident_id, f"state#{strict.facility_id}", consistent_read=True).paused_until
    with pytest.raises(BookingLedger.DoesNotExist):
        BookingLedger.get(me.resident_id, f"state#{other.facility_id}", consistent_read=True)
    # A no-show at the other centre counts under the other centre's rule (3 in 90 days): no pause.
    second = r.get_json()["bookings"][0]["booking_id"]
    no_show(w, other, second)
    w.as_resident(me)
    assert booked(w.book(w.slot(other, start="09:00").slot_id))
    paused = [n for n in Notice.query(f"res:{me.resident_id}") if n.kind == "booking_paused"]
    assert len(paused) == 1 and strict.name in paused[0].body


def test_the_pause_falls_on_the_person_booked_for_not_the_booker(w):
    """A 72-year-old books for a younger relative who does not come: the relative is paused,
    she can still book for herself (she booked, she did not miss anything)."""
    f = strict_centre(w)
    grandma, grandson = w.resident(age=72), w.resident(age=30)
    ProxyGrant(grandma.resident_id, grandson.resident_id, relation="亲属", granted_at=utcnow()).save()
    w.as_resident(grandma)
    r = w.book(w.slot(f).slot_id, subject_id=grandson.resident_id)
    assert booked(r), r.get_json()
    no_show(w, f, r.get_json()["bookings"][0]["booking_id"])
    w.as_resident(grandma)
    mine = w.book(w.slot(f, start="09:00").slot_id)
    assert booked(mine), mine.get_json()
    again = w.book(w.slot(f, start="10:00").slot_id, subject_id=grandson.resident_id)
    assert again.status_code == 403 and again.get_json()["error"]["code"] == "booking_paused"
    assert [b.subject_id for b in bookings_of(grandson.resident_id) if b.status == "booked"] == []
    state = BookingLedger.get(grandson.resident_id, f"state#{f.facility_id}", consistent_read=True)
    assert state.paused_until and len(state.noshows) == 1
    with pytest.raises(BookingLedger.DoesNotExist):
        BookingLedger.get(grandma.resident_id, f"state#{f.facility_id}", consistent_read=True)
    # Both are told: the one paused, and the relative who booked.
    for who in (grandson, grandma):
        assert [n for n in Notice.query(f"res:{who.resident_id}") if n.kind == "booking_paused"]


def test_an_elderly_person_booked_by_a_relative_is_exempt_and_the_relative_is_warned(w):
    f = strict_centre(w)
    son, father = w.resident(age=45), w.resident(age=80)
    ProxyGrant(son.resident_id, father.resident_id, relation="子女", granted_at=utcnow()).save()
    w.as_resident(son)
    r = w.book(w.slot(f).slot_id, subject_id=father.resident_id)
    no_show(w, f, r.get_json()["bookings"][0]["booking_id"])
    for who in (son, father):
        with pytest.raises(BookingLedger.DoesNotExist):
            BookingLedger.get(who.resident_id, f"state#{f.facility_id}", consistent_read=True)
    assert [n for n in Notice.query(f"res:{son.resident_id}") if n.kind == "noshow_warning"]
    w.as_resident(son)
    assert booked(w.book(w.slot(f, start="09:00").slot_id, subject_id=father.resident_id))
    assert booked(w.book(w.slot(f, start="09:00").slot_id))


def test_an_admins_desk_places_are_their_own_centres_only(w):
    """A township admin books an exam at their centre (desk) and one at the lead hospital for
    a resident of their township in one go: the hospital's place is a referral place, never
    the hospital's desk."""
    hospital = w.facility(kind="hospital")
    w.template(hospital, department="CT", kind="exam", capacity=10, online_pct=80, referral_pct=20, fee=0)
    centre = w.facility()
    w.template(centre, department="超声", kind="exam", capacity=5, online_pct=80, fee=0)
    me = w.resident(age=50, township_id=centre.facility_id)
    at_hospital, at_centre = w.slot(hospital, department="CT"), w.slot(centre, department="超声")
    before = w.fresh(at_hospital)
    assert int(before.left_desk) >= 1 and int(before.left_referral) >= 1
    w.as_admin(centre)
    r = w.post("/api/bookings/exams", {"slot_ids": [at_hospital.slot_id, at_centre.slot_id],
                                       "subject_id": me.resident_id, "client_request_id": rid()})
    assert booked(r, 2), r.get_json()
    channels = {b["facility_id"]: b["channel"] for b in r.get_json()["bookings"]}
    assert channels == {hospital.facility_id: "referral", centre.facility_id: "desk"}
    after = w.fresh(at_hospital)
    assert int(after.left_desk) == int(before.left_desk)
    assert int(after.left_referral) == int(before.left_referral) - 1
    assert int(w.fresh(at_centre).left_desk) == int(at_centre.left_desk) - 1
    # A resident of another township gets no desk or referral place at the hospital from this admin.
    stranger = w.resident(age=50, township_id="twp-02")
    r = w.post("/api/bookings/exams", {"slot_ids": [at_hospital.slot_id], "subject_id": stranger.resident_id,
                                       "client_request_id": rid()})
    assert r.status_code == 403 and bookings_of(stranger.resident_id) == []
