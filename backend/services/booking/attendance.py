"""Arrivals and no-shows: the desk's day list, marking a booking arrived or not attended,
and the no-show rule (count, pause, the 65+ exemption)."""
from __future__ import annotations

from datetime import date, datetime

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.models.base import transaction, utcnow
from backend.models.booking import Booking, BookingLedger
from backend.models.people import Resident
from backend.rules import booking as rules
from backend.rules.booking import CHINA
from backend.rules.identity import age_on
from backend.services import links, notify
from backend.services.facilities import STAFF_ROLES, get_policy
from backend.services.indicators import Tally

from . import store
from .keys import ledger_key, state_key

__all__ = ["day_bookings", "mark_attendance"]


def day_bookings(user, day: date) -> list[Booking]:
    if user.role not in STAFF_ROLES or not user.facility_id:
        raise Forbidden("只有机构管理员可以查看当日预约")
    return sorted(Booking.by_day.query(f"{user.facility_id}#{day.isoformat()}"),
                  key=lambda b: b.order_key)


def mark_attendance(user, booking_id: str, status: str) -> Booking:
    if user.role not in STAFF_ROLES:
        raise Forbidden("只有机构工作人员可以登记到诊")
    if status not in ("arrived", "no_show"):
        raise ValidationFailed("状态应为已到诊或未到诊", code="invalid_status")
    booking = store.load_booking(booking_id)
    if booking.facility_id != user.facility_id:
        raise Forbidden("不是本机构的预约", code="not_your_facility")
    if booking.status != "booked":
        raise Conflict("该预约已取消或已登记", code="not_active")
    now = store.now()
    if status == "no_show" and int(booking.starts_at) > now:
        raise Conflict("就诊时间未到，不能登记爽约", code="too_early")
    tally = Tally()  # county indicators, in the same transaction
    if status == "arrived":
        tally.month(booking.facility_id, "bookings_attended")
    try:
        with transaction() as tx:
            tally.apply(tx)
            tx.update(booking, actions=[Booking.status.set(status), Booking.changed_at.set(utcnow()),
                                        Booking.changed_by.set(user.login)],
                      condition=Booking.status == "booked")
            tx.update(BookingLedger(booking.subject_id,
                                    ledger_key(booking.facility_id, booking.department)),
                      actions=[BookingLedger.holds[booking.booking_id].remove()],
                      condition=BookingLedger.subject_id.exists())
    except TransactWriteError:
        raise Conflict("预约状态已变化，请刷新后重试", code="not_active") from None
    booking.status = status
    if status == "no_show":
        _apply_noshow(booking, now)
    else:
        from backend.services import satisfaction
        satisfaction.invite(booking.subject_id, url=links.rate_booking(booking.booking_id),
                            what=f"{booking.facility_name}{booking.department}就诊",
                            dedupe=booking.booking_id)
    return booking


def _apply_noshow(booking: Booking, now: float) -> None:
    """The no-show rule of the booking's facility, for the person booked for (the one who
    did not come): counted and paused at that facility only; 65+ exempt, and a relative who
    booked for them is warned instead."""
    policy = get_policy(booking.facility_id)
    rule = rules.NoShowRule(policy.noshow_limit, policy.noshow_window_days, policy.pause_days)
    subject = Resident.get(booking.subject_id)
    by_proxy = bool(booking.booker_resident_id) and booking.booker_resident_id != booking.subject_id
    entry = state_key(booking.facility_id)
    try:
        state = BookingLedger.get(booking.subject_id, entry, consistent_read=True)
        previous = [datetime.fromtimestamp(int(t), CHINA) for t in state.noshows or []]
    except DoesNotExist:
        previous = []
    nowdt = datetime.fromtimestamp(now, CHINA)
    outcome = rules.noshow_outcome(previous, nowdt, rule,
                                   subject_age=age_on(date.fromisoformat(subject.birth_date), nowdt.date()),
                                   by_proxy=by_proxy)
    if outcome.warn_proxy:
        notify.notify(notify.resident_recipient(booking.booker_resident_id), kind="noshow_warning",
                      title="代约就诊未到提醒",
                      body=(f"您为{booking.subject_name}预约的{booking.day} {booking.start} "
                            f"{booking.department}未到诊。老人不受爽约限制，但请按时陪同就诊或提前取消。"),
                      url=links.booking(booking.booking_id), dedupe_key=f"noshow#{booking.booking_id}")
        return
    if outcome.action == "exempt":
        return
    actions = [BookingLedger.noshows.set([int(t.timestamp()) for t in outcome.recent])]
    if outcome.paused_until:
        actions.append(BookingLedger.paused_until.set(int(outcome.paused_until.timestamp())))
    BookingLedger(booking.subject_id, entry).update(actions=actions)
    if outcome.paused_until:
        told = [booking.subject_id] + ([booking.booker_resident_id] if by_proxy else [])
        for resident_id in told:
            notify.notify(notify.resident_recipient(resident_id), kind="booking_paused",
                          title="在线预约已暂停",
                          body=(f"{booking.subject_name}近{rule.window_days}天内在{booking.facility_name}"
                                f"{len(outcome.recent)}次预约未就诊，在该机构的在线预约暂停至"
                                f"{outcome.paused_until:%Y年%m月%d日}；其他机构不受影响。如有疑问请联系该机构。"),
                          url=links.booking_home(), dedupe_key=f"paused#{booking.booking_id}")
