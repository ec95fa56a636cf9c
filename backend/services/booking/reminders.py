"""Tomorrow's booked appointments as a source of the day-before reminder (`services.reminders`)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from backend.models.booking import Booking
from backend.models.facility import Facility
from backend.services import links

__all__ = ["BookingAppointments", "register_reminders"]


class BookingAppointments:
    """Tomorrow's booked appointments, for the day-before reminder (`reminders.SOURCES`).

    One Query per bookable facility on the by-day index; facilities are found from the
    counties down (Query by-parent), so no table is scanned.
    """

    def appointments_on(self, day: date):
        from backend.services.reminders import Appointment

        for county in Facility.by_parent.query("root"):
            for facility in Facility.by_parent.query(county.facility_id):
                if facility.kind == "village":
                    continue
                for b in Booking.by_day.query(f"{facility.facility_id}#{day.isoformat()}",
                                              filter_condition=Booking.status == "booked"):
                    proxy = (b.booker_resident_id,) if b.booker_resident_id and \
                        b.booker_resident_id != b.subject_id else ()
                    yield Appointment(
                        appointment_id=b.booking_id, resident_id=b.subject_id,
                        starts_at=datetime.fromtimestamp(b.starts_at, tz=timezone.utc),
                        place=" ".join(p for p in (b.facility_name, b.department, b.place) if p),
                        what=_what(b.kind), url=links.booking(b.booking_id), also_notify=proxy)


def _what(kind: str) -> str:
    from backend.errors import AppError
    from backend.services.slot_kinds import kind_of
    try:
        return kind_of(kind).label
    except AppError:
        return "门诊"


def register_reminders() -> None:
    from backend.services import reminders
    if not any(isinstance(s, BookingAppointments) for s in reminders.SOURCES):
        reminders.SOURCES.append(BookingAppointments())
