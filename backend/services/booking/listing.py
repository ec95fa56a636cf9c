"""Listing for pages: centres, departments, days and slices with the places this viewer may
take, the exam rooms, and a person's bookings."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from backend.errors import NotFound, ValidationFailed
from backend.models.booking import Booking, Slot
from backend.models.facility import Facility
from backend.models.people import Resident
from backend.rules.booking import CHINA
from backend.services.facilities import bucket_of, get_facility, list_templates

from . import store
from .access import listing_preference, viewer_left
from .keys import parse_slot_id
from .transaction import MAX_AT_ONCE

__all__ = ["list_centres", "list_departments", "list_days", "list_slices", "lead_hospital",
           "exam_departments", "exam_days", "exam_slices", "slots_for_review", "get_booking",
           "my_bookings"]


def list_centres(user) -> list[Facility]:
    """The lead hospital and the centres of the county (a resident's own centre first)."""
    home = None
    if user.role == "resident" and user.resident_id:
        try:
            home = Resident.get(user.resident_id).township_id
        except DoesNotExist:
            home = None
    anchor = get_facility(home or user.facility_id or "hosp-01")
    county = anchor.county_id
    centres = [f for f in Facility.by_parent.query(county)
               if f.kind in ("hospital", "township", "community")]
    return sorted(centres, key=lambda f: (f.facility_id != home, f.kind != "hospital", f.facility_id))


def list_departments(facility_id: str) -> list[dict]:
    facility = get_facility(facility_id)
    kinds: dict[str, str] = {}
    for t in list_templates(facility.facility_id):
        kinds.setdefault(t.department, t.kind)
    return [{"name": d, "kind": kinds[d]} for d in (facility.departments or []) if d in kinds]


def list_days(user, facility_id: str, department: str) -> list[dict]:
    facility = get_facility(facility_id)
    pref = listing_preference(user, facility)
    now = store.now()
    today = datetime.fromtimestamp(now, CHINA).date()
    first = today.isoformat()
    last = (today + timedelta(days=61)).isoformat()
    days: dict[str, dict] = {}
    for slot in Slot.query(bucket_of(facility_id, department), Slot.start_key.between(first, last)):
        if int(slot.starts_at) <= now:
            continue
        d = days.setdefault(slot.day, {"day": slot.day, "left": 0, "slices": 0, "open": False,
                                       "closed": False})
        d["slices"] += 1
        d["closed"] = d["closed"] or bool(slot.closed)
        if now >= int(slot.opens_at):
            d["open"] = True
            if not slot.closed:
                d["left"] += viewer_left(slot, pref, now)
    return [days[k] for k in sorted(days)]


def list_slices(user, facility_id: str, department: str, day: date) -> list[tuple[Slot, int]]:
    facility = get_facility(facility_id)
    pref = listing_preference(user, facility)
    now = store.now()
    out = []
    for slot in Slot.query(bucket_of(facility_id, department), Slot.start_key.startswith(day.isoformat())):
        left = 0 if (slot.closed or int(slot.starts_at) <= now or now < int(slot.opens_at)) \
            else viewer_left(slot, pref, now)
        out.append((slot, left))
    return sorted(out, key=lambda p: p[0].start_key)


# ---- several exams in one go (the exam page) --------------------------------------------

def lead_hospital(user) -> Facility | None:
    """The county's lead hospital (where the exam rooms are), from the centre list."""
    return next((f for f in list_centres(user) if f.kind == "hospital"), None)


def exam_departments(facility_id: str) -> list[str]:
    return [d["name"] for d in list_departments(facility_id) if d["kind"] == "exam"]


def exam_days(user, facility_id: str) -> list[dict]:
    """Days on which any exam of the facility has places: one Query per exam room."""
    merged: dict[str, dict] = {}
    for department in exam_departments(facility_id):
        for d in list_days(user, facility_id, department):
            m = merged.setdefault(d["day"], {"day": d["day"], "left": 0, "open": False,
                                             "exams": []})
            if d["open"] and not d["closed"]:
                m["open"] = True
                m["left"] += d["left"]
                if d["left"]:
                    m["exams"].append(department)
    return [merged[k] for k in sorted(merged)]


def exam_slices(user, facility_id: str, day: date) -> list[tuple[str, list[tuple[Slot, int]]]]:
    """Every exam room's slices on `day` with the places this viewer may take."""
    return [(department, list_slices(user, facility_id, department, day))
            for department in exam_departments(facility_id)]


def slots_for_review(slot_ids: list[str]) -> list[Slot]:
    """The chosen slices (one BatchGetItem), in the order given; unknown ones are a 404."""
    if not 1 <= len(slot_ids) <= MAX_AT_ONCE:
        raise ValidationFailed(f"请选择1至{MAX_AT_ONCE}项检查", code="too_many_exams")
    keys = [parse_slot_id(s) for s in slot_ids]
    got = store.fetch([(Slot, b, k) for b, k in keys])
    if any(s is None for s in got):
        raise NotFound("找不到该号源，可能已调整，请刷新", code="slot_not_found")
    return got


# ---- a person's bookings ----------------------------------------------------------------

def get_booking(user, booking_id: str) -> Booking:
    booking = store.load_booking(booking_id)
    if not store.may_see(user, booking):
        raise NotFound("找不到该预约", code="booking_not_found")
    return booking


def my_bookings(user) -> list[Booking]:
    """Bookings I made or that are for me, soonest first."""
    found = {b.booking_id: b for b in Booking.by_booker.query(user.login)}
    if user.role == "resident" and user.resident_id:
        for b in Booking.by_subject.query(user.resident_id):
            found[b.booking_id] = b
    return sorted(found.values(), key=lambda b: b.order_key)
