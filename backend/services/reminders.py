"""The day-before appointment reminder: asks every registered source for tomorrow's
appointments and sends one notice per person, once (dedupe key per appointment).

The booking capability plugs in by registering an `AppointmentSource`:

    from backend.services import reminders
    reminders.SOURCES.append(BookingAppointments())   # appointments_on(day) -> iterable

so this module needs nothing from booking's tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Protocol
from zoneinfo import ZoneInfo

from backend.services import notify

__all__ = ["Appointment", "AppointmentSource", "SOURCES", "send_day_before", "reminder_text"]


@dataclass(frozen=True)
class Appointment:
    """What a reminder needs to know about one appointment."""

    appointment_id: str
    resident_id: str
    starts_at: datetime            # timezone-aware
    place: str                     # 乌兰镇卫生院 全科门诊
    what: str = "门诊"             # 门诊, 超声检查, 疫苗接种 ...
    url: str = "/booking"
    also_notify: tuple[str, ...] = ()  # resident ids acting for them (who booked for an elder)


class AppointmentSource(Protocol):
    def appointments_on(self, day: date) -> Iterable[Appointment]: ...


SOURCES: list[AppointmentSource] = []


def reminder_text(appt: Appointment, tz: str = "Asia/Shanghai") -> tuple[str, str]:
    local = appt.starts_at.astimezone(ZoneInfo(tz))
    title = f"明天{local:%H:%M}{appt.what}提醒"
    body = (f"您预约了明天（{local.month}月{local.day}日）{local:%H:%M} 在{appt.place}的{appt.what}，"
            "请带好身份证或社保卡，提前15分钟到达。如不能前往，请在应用中取消，把号源留给别人。")
    return title, body


def send_day_before(today: date, *, sources: list[AppointmentSource] | None = None,
                    tz: str = "Asia/Shanghai") -> dict:
    """Remind everyone with an appointment on `today + 1`; re-runs send nothing new."""
    tomorrow = today + timedelta(days=1)
    requests: list[notify.NoticeRequest] = []
    for source in SOURCES if sources is None else sources:
        for appt in source.appointments_on(tomorrow):
            title, body = reminder_text(appt, tz)
            for resident_id in dict.fromkeys((appt.resident_id, *appt.also_notify)):
                requests.append(notify.NoticeRequest(
                    notify.resident_recipient(resident_id), "appointment_reminder", title, body,
                    url=appt.url, dedupe_key=f"reminder#{appt.appointment_id}"))
    sent = notify.notify_many(requests)
    return {"day": tomorrow.isoformat(), "appointments": len({r.dedupe_key for r in requests}),
            "sent": sum(1 for n in sent if n is not None),
            "already_sent": sum(1 for n in sent if n is None)}
