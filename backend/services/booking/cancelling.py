"""The transaction that cancels a booking: its place back, its claims gone, the fee moved."""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, ServiceBusy, is_unavailable
from backend.models.base import transaction, utcnow
from backend.models.booking import Booking, BookingLedger, Slot
from backend.models.people import Uniqueness

from . import fees, store
from .keys import ledger_key, parse_slot_id

__all__ = ["cancel_booking", "cancel_write"]

ATTEMPTS = 3


def cancel_booking(user, booking_id: str) -> Booking:
    """Cancel one booking (the person, their proxy, or the facility's staff): the write only.
    `waitlist.cancel` is what routes call: it also offers the freed place."""
    booking = store.load_booking(booking_id)
    staff = user.role in ("township_admin", "hospital_admin") and booking.facility_id == user.facility_id
    if not staff and not store.may_see(user, booking):
        raise Forbidden("不能取消他人的预约", code="not_your_booking")
    if booking.status != "booked":
        raise Conflict("该预约已取消或已就诊", code="not_active")
    now = store.now()
    if int(booking.starts_at) <= now:
        raise Conflict("预约时间已过，不能取消", code="booking_past")
    if not staff and int(booking.starts_at) - now < int(booking.cancel_notice_minutes) * 60:
        raise Conflict(f"就诊前{int(booking.cancel_notice_minutes)}分钟内不能在线取消，请致电卫生院",
                       code="too_late_to_cancel")
    cancel_write(booking, user.login)
    return booking


def _claim(booking: Booking) -> BookingLedger | None:
    entry = fees.claim_entry(booking.subject_id, booking.facility_id, booking.department, booking.day)
    try:
        return BookingLedger.get(entry.subject_id, entry.entry, consistent_read=True)
    except DoesNotExist:
        return None


def cancel_write(booking: Booking, by: str, *, reason: str | None = None) -> None:
    """One transaction: the booking cancelled (it costs nothing), its place back on its
    channel's counter (`left_<channel> + 1`, `booked - 1`), the person's hold and (slice,
    person) claim gone, and the day's registration fee moved on or released (`fees`).
    The fee claim is read just before; if it changed meanwhile, read again and retry."""
    for _ in range(ATTEMPTS):
        try:
            _write(booking, by, reason, _claim(booking))
        except fees.FeeRaced:
            continue
        booking.status = "cancelled"
        booking.cancel_reason = reason
        return
    raise ServiceBusy(retry_after=1)


def _write(booking: Booking, by: str, reason: str | None, claim: BookingLedger | None) -> None:
    bucket, start_key = parse_slot_id(booking.slot_id)
    actions = [Booking.status.set("cancelled"), Booking.changed_at.set(utcnow()),
               Booking.changed_by.set(by), Booking.fee.set(0)]
    if reason:
        actions.append(Booking.cancel_reason.set(reason))
    deletes, updates = ["slotperson"], ["booking", "slot", "ledger"]
    try:
        with transaction() as tx:
            tx.delete(Uniqueness(f"slotperson#{booking.slot_id}#{booking.subject_id}"))
            if booking.purpose:
                tx.delete(Uniqueness(f"purpose#{booking.subject_id}#{booking.purpose}"))
                deletes.append("purpose")
            tx.update(booking, actions=actions, condition=Booking.status == "booked")
            counter = getattr(Slot, f"left_{booking.channel}")
            tx.update(Slot(bucket, start_key), actions=[counter.add(1), Slot.booked.add(-1)],
                      condition=Slot.booked >= 1)
            tx.update(BookingLedger(booking.subject_id,
                                    ledger_key(booking.facility_id, booking.department)),
                      actions=[BookingLedger.holds[booking.booking_id].remove()],
                      condition=BookingLedger.subject_id.exists())
            for label in fees.on_cancel(tx, booking, claim):
                (deletes if label.startswith("delete") else updates).append("fee")
    except TransactWriteError as err:
        if store.cause(err) in store.BUSY or is_unavailable(err):
            raise ServiceBusy(retry_after=1) from None
        labels = deletes + updates
        failed = {labels[i] for i, r in enumerate(err.cancellation_reasons or [])
                  if r is not None and r.code == "ConditionalCheckFailed" and i < len(labels)}
        if failed == {"fee"}:
            raise fees.FeeRaced() from None
        raise Conflict("预约状态已变化，请刷新后重试", code="not_active") from None
