"""The day-before reminder reads tomorrow's bookings and reaches the patient and the proxy."""
from __future__ import annotations

from datetime import timedelta

from backend.models.notices import Notice
from backend.models.people import ProxyGrant
from backend.models.base import utcnow
from backend.services import reminders, schedules
from backend.services.booking import BookingAppointments
from tests.test_booking import World

import pytest


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def _notices(resident_id: str, kind: str) -> list[Notice]:
    return [n for n in Notice.query(f"res:{resident_id}") if n.kind == kind]


def test_tomorrows_booking_is_reminded_once_to_patient_and_proxy(w):
    f = w.facility()
    w.template(f, capacity=3)
    elder, child = w.resident(age=80), w.resident(age=50)
    ProxyGrant(child.resident_id, elder.resident_id, relation="子女", granted_at=utcnow()).save()
    slot = w.slot(f)
    w.as_resident(child)
    r = w.book(slot.slot_id, subject_id=elder.resident_id)
    assert r.status_code == 201, r.get_json()
    booking_id = r.get_json()["bookings"][0]["booking_id"]

    day = schedules.today() + timedelta(days=1)
    appts = [a for a in BookingAppointments().appointments_on(day)
             if a.appointment_id == booking_id]
    assert len(appts) == 1 and appts[0].resident_id == elder.resident_id
    assert appts[0].also_notify == (child.resident_id,)
    assert f.name in appts[0].place

    today = schedules.today()
    first = reminders.send_day_before(today)
    assert first["sent"] >= 2
    for who in (elder, child):
        notes = _notices(who.resident_id, "appointment_reminder")
        assert len(notes) == 1 and "明天" in notes[0].title
        assert notes[0].url == f"/booking/{booking_id}"
    again = reminders.send_day_before(today)
    assert again["sent"] == 0
    assert len(_notices(elder.resident_id, "appointment_reminder")) == 1


def test_cancelled_bookings_are_not_reminded(w):
    f = w.facility()
    w.template(f, capacity=3)
    person = w.resident(age=40)
    slot = w.slot(f)
    w.as_resident(person)
    booking_id = w.book(slot.slot_id).get_json()["bookings"][0]["booking_id"]
    r = w.post(f"/api/bookings/{booking_id}/cancel")
    assert r.status_code == 200, r.get_json()
    reminders.send_day_before(schedules.today())
    assert _notices(person.resident_id, "appointment_reminder") == []
