"""Registration is charged once per person, department and day, whatever the timing, through
HTTP against the moto server: the fee is decided by a claim item written in the booking's
own transaction; cancelling the booking that carries it moves it on or releases it."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.models.booking import Booking, BookingLedger
from tests.test_booking import World, booked, bookings_of, rid, tomorrow

FEE = 500


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def clinic(w, slices=4):
    f = w.facility()
    w.template(f, capacity=20, fee=FEE, start="08:00", end=f"{8 + slices:02d}:00")
    assert w.post("/api/admin/policy", {"max_future_per_department": 10}).status_code == 200
    return f


def fees_of(subject_id: str) -> dict:
    return {b.booking_id: int(b.fee) for b in bookings_of(subject_id) if b.status != "cancelled"}


def claim_of(subject_id: str, f) -> BookingLedger | None:
    try:
        return BookingLedger.get(subject_id, f"fee#{f.facility_id}#全科门诊#{tomorrow().isoformat()}",
                                 consistent_read=True)
    except BookingLedger.DoesNotExist:
        return None


def post_until_answered(client, token, body):
    """A client retries a busy answer (429/503) with the same request id, as the page does."""
    for _ in range(10):
        r = client.post("/api/bookings", json=body, headers={"X-CSRF-Token": token})
        if r.status_code not in (429, 503):
            return r
    return r


def test_concurrent_bookings_of_one_department_and_day_charge_exactly_once(w):
    n = 6
    f = clinic(w, slices=n)
    me = w.resident()
    w.as_resident(me)
    clients, token = w.clients(n)
    slots = [w.slot(f, start=f"{8 + i:02d}:00") for i in range(n)]
    start = threading.Barrier(n)

    def book(i):
        start.wait()
        return post_until_answered(clients[i], token, {"slot_id": slots[i].slot_id,
                                                       "client_request_id": rid()})

    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(book, range(n)))
    assert all(booked(r) for r in answers), [r.get_json() for r in answers]
    fees = fees_of(me.resident_id)
    assert len(fees) == n and sorted(fees.values()) == [0] * (n - 1) + [FEE]
    charged = [r.get_json()["bookings"][0] for r in answers if r.get_json()["bookings"][0]["fee_yuan"] != "0.00"]
    assert len(charged) == 1
    claim = claim_of(me.resident_id, f)
    assert claim.fee_booking == charged[0]["booking_id"] and len(claim.holds.as_dict()) == n


def test_a_booking_after_the_first_was_attended_or_has_started_is_not_charged_again(w):
    f = clinic(w)
    me = w.resident()
    w.as_resident(me)
    first = w.book(w.slot(f, start="08:00").slot_id).get_json()["bookings"][0]
    assert first["fee_yuan"] == "5.00"
    # The first appointment's time comes (its hold in the ledger is now in the past) ...
    ledger_key = f"dept#{f.facility_id}#全科门诊"
    BookingLedger(me.resident_id, ledger_key).update(
        actions=[BookingLedger.holds[first["booking_id"]].set("2000-01-01T08:00|past")])
    second = w.book(w.slot(f, start="09:00").slot_id).get_json()["bookings"][0]
    assert second["fee_yuan"] == "0.00" and second["fee_note"]
    # ... and it is marked arrived: a later booking that day is still free.
    Booking(first["booking_id"]).update(actions=[Booking.starts_at.set(1)])
    w.as_admin(f)
    assert w.post(f"/api/admin/bookings/{first['booking_id']}/attendance", {"status": "arrived"}).status_code == 200
    w.as_resident(me)
    third = w.book(w.slot(f, start="10:00").slot_id).get_json()["bookings"][0]
    assert third["fee_yuan"] == "0.00"
    assert sorted(fees_of(me.resident_id).values()) == [0, 0, FEE]


def test_cancelling_the_charged_booking_moves_the_fee_even_to_an_attended_one(w):
    f = clinic(w)
    me = w.resident()
    w.as_resident(me)
    later = w.book(w.slot(f, start="10:00").slot_id).get_json()["bookings"][0]
    earlier = w.book(w.slot(f, start="08:00").slot_id).get_json()["bookings"][0]
    assert (later["fee_yuan"], earlier["fee_yuan"]) == ("5.00", "0.00")
    # The person comes to the 08:00 appointment; the 10:00 one (which carries the fee) is cancelled.
    Booking(earlier["booking_id"]).update(actions=[Booking.starts_at.set(1)])
    w.as_admin(f)
    assert w.post(f"/api/admin/bookings/{earlier['booking_id']}/attendance", {"status": "arrived"}).status_code == 200
    w.as_resident(me)
    assert w.post(f"/api/bookings/{later['booking_id']}/cancel").status_code == 200
    assert Booking.get(earlier["booking_id"], consistent_read=True).fee == FEE
    assert Booking.get(later["booking_id"], consistent_read=True).fee == 0
    assert claim_of(me.resident_id, f).fee_booking == earlier["booking_id"]


def test_cancelling_the_only_booking_of_the_day_releases_the_fee_for_the_next(w):
    f = clinic(w)
    me = w.resident()
    w.as_resident(me)
    only = w.book(w.slot(f, start="08:00").slot_id).get_json()["bookings"][0]
    assert w.post(f"/api/bookings/{only['booking_id']}/cancel").status_code == 200
    assert claim_of(me.resident_id, f) is None
    assert Booking.get(only["booking_id"], consistent_read=True).fee == 0
    nxt = w.book(w.slot(f, start="09:00").slot_id).get_json()["bookings"][0]
    assert nxt["fee_yuan"] == "5.00"
    # Another department the same day has its own fee.
    w.template(f, department="慢病门诊", capacity=5, fee=300)
    w.as_resident(me)
    other = w.book(w.slot(f, department="慢病门诊").slot_id).get_json()["bookings"][0]
    assert other["fee_yuan"] == "3.00"
