"""Booking due doses on the booking engine: the `vaccination` kind of slice, the clinic's day,
and the weekend figures the admin and the county watch.

The engine holds every booking invariant (capacity, one place per slice, replay, proxies);
this module only says which doses a booking is for (the purpose `vac_<series>-<n>_...`),
checks on the slice's day that they are due, and turns an attended booking into records.
"""
from __future__ import annotations

from datetime import date, timedelta

from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.models.booking import Slot
from backend.rules import immunisation
from backend.services import booking
from backend.services.facilities import bucket_of, get_facility
from backend.services.vaccination import (VACCINATING_KINDS, DoseInput, authorise_child,
                                          history_of, plan_for, record_dose)

__all__ = ["DEPARTMENT", "KIND", "purpose_of", "doses_of", "book_due_doses", "open_bookings",
           "clinics", "doses_bookable_on", "clinic_day", "attend_and_record", "weekend_figures",
           "WHAT_TO_BRING"]

KIND = "vaccination"
DEPARTMENT = "预防接种门诊"
WHAT_TO_BRING = "《预防接种证》（接种本）和孩子的身份证明（户口簿或出生医学证明）"
WEEKEND = (5, 6)


def purpose_of(doses: list[tuple[str, int]]) -> str:
    return "vac_" + "_".join(f"{s}-{n}" for s, n in sorted(doses))


def doses_of(purpose: str | None) -> list[tuple[str, int]]:
    if not purpose or not purpose.startswith("vac_"):
        return []
    out = []
    for part in purpose[4:].split("_"):
        series, _, n = part.rpartition("-")
        if not series or not n.isdigit():
            raise ValidationFailed("预约的疫苗剂次格式不正确", code="invalid_purpose")
        out.append((series, int(n)))
    return out


def doses_bookable_on(child, doses_given, day: date) -> list[immunisation.DoseStatus]:
    """Doses that may be given on `day`: the minimum age and interval met, not past the last age."""
    plan = plan_for(child, doses_given, day)
    return sorted([d for d in plan.due + plan.overdue + plan.upcoming
                   if d.earliest <= day < d.last_day and d.due <= day + timedelta(days=7)],
                  key=lambda d: (d.due, d.series))


def _check(user, resident, slot, purpose: str | None) -> str:
    """The engine's purpose check for a vaccination slice: every dose due on that day."""
    wanted = doses_of(purpose)
    if not wanted:
        raise ValidationFailed("请选择要接种的疫苗", code="purpose_required")
    if get_facility(slot.facility_id).kind not in VACCINATING_KINDS:
        raise Forbidden("该机构不提供预防接种", code="not_a_vaccination_clinic")
    day = date.fromisoformat(slot.day)
    bookable = {(d.series, d.dose): d for d in doses_bookable_on(resident, history_of(
        resident.resident_id), day)}
    labels = []
    for key in wanted:
        if key not in bookable:
            table = immunisation.load_schedule().in_force(day)
            raise Conflict(f"{immunisation.dose_label(table, *key)}在{slot.day}还不能接种或已接种",
                           code="dose_not_due")
        labels.append(bookable[key].label)
    return "、".join(labels)


booking.register_kind(booking.SlotKind(KIND, "预防接种", charges_registration=False,
                                       needs_purpose=True, check=_check))


def clinics(user) -> list:
    """Township and community centres that run a vaccination clinic, the child's own first."""
    return [f for f in booking.list_centres(user)
            if f.kind in VACCINATING_KINDS and DEPARTMENT in (f.departments or [])]


def book_due_doses(user, child_id: str, slot_id: str, client_request_id: str,
                   doses: list[tuple[str, int]] | None = None) -> booking.BookResult:
    """A parent (or staff) books one slice for the child's due doses (all of them by default)."""
    child = authorise_child(user, child_id)
    slot = booking.slots_for_review([slot_id])[0]
    if slot.kind != KIND or slot.department != DEPARTMENT:
        raise Forbidden("该号源不是预防接种门诊的号源", code="not_a_vaccination_clinic")
    if not doses:
        doses = [(d.series, d.dose) for d in doses_bookable_on(
            child, history_of(child.resident_id), date.fromisoformat(slot.day))]
        if not doses:
            raise Conflict("该日没有可以接种的疫苗", code="dose_not_due")
    return booking.book(user, child.resident_id, slot_id, client_request_id,
                        purpose=purpose_of(doses))


def open_bookings(user, child_id: str) -> list:
    """The child's vaccination bookings still to come (for the 接种本 page)."""
    return [b for b in booking.my_bookings(user)
            if b.subject_id == child_id and b.kind == KIND and b.status == "booked"]


# ---- the clinic's day ---------------------------------------------------------------------

def clinic_day(user, day: date) -> list:
    """The day's vaccination bookings at the admin's centre, with the doses planned."""
    return [b for b in booking.day_bookings(user, day) if b.kind == KIND]


def attend_and_record(user, booking_id: str, *, batch: str, manufacturer: str, body_site: str,
                      given_on: date) -> list:
    """The child came: record every planned dose from the booking, then mark the arrival.

    Doses already recorded from this booking are skipped, so a retried form adds nothing.
    """
    b = booking.get_booking(user, booking_id)
    if b.kind != KIND:
        raise Forbidden("不是预防接种预约", code="not_a_vaccination_booking")
    given = {d.dose_key: d for d in history_of(b.subject_id)}
    recorded = []
    for series, n in doses_of(b.purpose):
        existing = given.get(f"{series}#{n}")
        if existing is not None and existing.booking_id == booking_id:
            continue
        recorded.append(record_dose(user, b.subject_id, DoseInput(
            vaccine=series, dose=n, given_on=given_on, batch=batch, manufacturer=manufacturer,
            body_site=body_site, booking_id=booking_id)))
    if b.status == "booked":
        booking.mark_attendance(user, booking_id, "arrived")
    return recorded


# ---- weekend sessions ---------------------------------------------------------------------

def weekend_figures(facility_id: str, start: date, end: date) -> dict:
    """Capacity and sessions of the vaccination clinic between two days (inclusive).

    A session is a (day) with at least one slice not closed; weekend = Saturday or Sunday.
    One Query on the clinic's slots.
    """
    total = weekend = 0
    days: dict[str, bool] = {}
    for slot in Slot.query(bucket_of(facility_id, DEPARTMENT),
                           Slot.start_key.between(start.isoformat(), end.isoformat() + "~")):
        if slot.kind != KIND:
            continue
        is_weekend = date.fromisoformat(slot.day).weekday() in WEEKEND
        total += int(slot.capacity)
        weekend += int(slot.capacity) if is_weekend else 0
        if not slot.closed:
            days[slot.day] = is_weekend
    return {"capacity": total, "weekend_capacity": weekend,
            "weekend_share": round(weekend / total, 3) if total else 0.0,
            "sessions": len(days), "weekend_sessions": sum(1 for w in days.values() if w)}
