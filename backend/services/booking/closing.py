"""Closing a day (停诊): the day's slices close, every booking of it is cancelled with its
place accounted back, the waitlist ends, and everyone concerned is told."""
from __future__ import annotations

from datetime import date

from pynamodb.exceptions import PynamoDBException

from backend.errors import Conflict, NotFound, ValidationFailed
from backend.models.booking import Booking, Slot, WaitlistEntry
from backend.services import links, notify
from backend.services.facilities import bucket_of, staff_facility, today

from .keys import list_key
from .cancelling import cancel_write
from .waitlist import release_claim, return_hold

__all__ = ["close_day", "cancel_for_closed_day"]


def close_day(user, department: str, day: date) -> dict:
    """停诊: the day's slices close (no more bookings), then every booking that day is
    cancelled with its place accounted back and the people booked get an urgent notice.
    Running it again finishes what a failure left."""
    facility = staff_facility(user)
    if day < today():
        raise ValidationFailed("不能对已过去的日期停诊", code="day_past")
    count = 0
    for slot in Slot.query(bucket_of(facility.facility_id, department),
                           Slot.start_key.startswith(day.isoformat())):
        if not slot.closed:
            slot.update(actions=[Slot.closed.set(True)])
        count += 1
    if not count:
        raise NotFound("该日没有可停诊的号源", code="no_slots")
    return {"closed": count,
            **cancel_for_closed_day(user, facility.facility_id, department, day)}


def _closure_recipients(booking: Booking, closer: str) -> list[str]:
    """The person booked, the household member who booked for them, the staff who booked."""
    out = [notify.resident_recipient(booking.subject_id)]
    if booking.booker_resident_id and booking.booker_resident_id != booking.subject_id:
        out.append(notify.resident_recipient(booking.booker_resident_id))
    if booking.booker_role != "resident" and booking.booker_login != closer:
        out.append(booking.booker_login)
    return out


def cancel_for_closed_day(user, facility_id: str, department: str, day: date) -> dict:
    """Every booking of that department and day (its slices already closed) is cancelled
    and everyone concerned gets an urgent notice; the day's waitlist ends and its held
    places go back. Idempotent: run again, it cancels what is left and re-sends nothing
    (one dedupe key per booking).
    """
    counts = {"cancelled": 0, "notified": 0, "waitlist_closed": 0}
    for b in Booking.by_day.query(f"{facility_id}#{day.isoformat()}",
                                  filter_condition=Booking.department == department):
        if b.status == "booked":
            try:
                cancel_write(b, user.login, reason="day_closed")
            except Conflict:
                b = Booking.get(b.booking_id, consistent_read=True)  # changed meanwhile
                if b.status == "booked":
                    raise
        if b.status != "cancelled" or b.cancel_reason != "day_closed":
            continue
        counts["cancelled"] += 1
        for recipient in _closure_recipients(b, user.login):
            sent = notify.notify(
                recipient, kind="day_closed", title="停诊通知：您的预约已取消",
                body=(f"{b.subject_name}：{b.facility_name}{b.department} {b.day} {b.start} 因停诊取消，"
                      "不收取费用，号源已退回。请改约其他日期，给您带来不便，敬请谅解。"),
                url=links.booking_home(), urgent=True, dedupe_key=f"day_closed#{b.booking_id}")
            counts["notified"] += sent is not None
    key = list_key(facility_id, department, day.isoformat())
    for entry in WaitlistEntry.query(key, consistent_read=True):
        if entry.status == "offered":
            if not return_hold(entry, "closed"):
                continue
        elif entry.status == "waiting":
            try:
                entry.update(actions=[WaitlistEntry.status.set("closed")],
                             condition=WaitlistEntry.status == "waiting")
            except PynamoDBException:
                continue
            release_claim(entry)
        else:
            continue
        counts["waitlist_closed"] += 1
        recipient = (notify.resident_recipient(entry.booker_resident_id)
                     if entry.booker_resident_id else entry.booker_login)
        notify.notify(recipient, kind="day_closed", title="停诊通知：候补已结束",
                      body=f"{entry.subject_name}：{department} {day.isoformat()} 停诊，候补已结束，请改约其他日期。",
                      url=links.booking_home(), urgent=True, dedupe_key=f"day_closed#wl#{entry.entry_id}")
    return counts
