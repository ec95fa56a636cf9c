"""The per-department limit (`size(holds) < limit` in the booking transaction) under
concurrency, through HTTP against the moto server: a first-time booker who books two
slices at once gets both (the first write of the ledger does not race)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.test_booking import World, booked, bookings_of, holds_of, rid
from tests.test_registration_fee import post_until_answered


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def test_a_first_time_booker_booking_two_slices_at_once_gets_both(w):
    f = w.facility()
    w.template(f, capacity=20, start="08:00", end="11:00")   # the default limit: 2 per department
    first, second, third = (w.slot(f, start=t) for t in ("08:00", "09:00", "10:00"))
    people = [w.resident() for _ in range(8)]
    calls = []
    for me in people:
        w.as_resident(me)
        (a, b), token = w.clients(2)
        calls += [(a, token, first.slot_id), (b, token, second.slot_id)]
    start = threading.Barrier(len(calls))

    def book(call):
        client, token, slot_id = call
        start.wait()
        return post_until_answered(client, token, {"slot_id": slot_id, "client_request_id": rid()})

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(book, calls))
    assert all(booked(r) for r in answers), \
        [(r.status_code, r.get_data(as_text=True)[:300]) for r in answers if not booked(r)]
    for me in people:
        assert len(bookings_of(me.resident_id)) == 2
        assert len(holds_of(me.resident_id, f.facility_id, "全科门诊")) == 2
    # The limit still holds: a third slice is refused and nothing is written.
    w.as_resident(people[0])
    r = w.book(third.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "limit_reached"
    assert len(bookings_of(people[0].resident_id)) == 2 and int(w.fresh(third).booked) == 0
