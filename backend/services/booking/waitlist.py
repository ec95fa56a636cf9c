"""The waitlist and its offers: joining and leaving, a freed place held for the first person
waiting (with a deadline), accepting, declining and expiring offers; and cancelling, which
frees a place."""
from __future__ import annotations

import logging
from datetime import date, datetime

from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound, ServiceBusy, ValidationFailed, is_unavailable
from backend.models.base import new_id, transaction, utcnow
from backend.models.booking import Booking, Slot, WaitlistEntry
from backend.models.people import Uniqueness, save_with_claim
from backend.rules.booking import CHINA
from backend.services import links, notify
from backend.services.facilities import get_facility, get_policy

from . import store
from .access import viewer_left
from .keys import list_key as _list_key
from .keys import parse_slot_id, valid_id
from .cancelling import cancel_booking
from .transaction import BookResult, book_offered

__all__ = ["cancel", "join_waitlist", "leave_waitlist", "offer_next", "accept_offer",
           "decline_offer", "expire_offers", "get_entry", "return_hold", "release_claim"]

log = logging.getLogger(__name__)


def cancel(user, booking_id: str) -> Booking:
    """Cancel a booking; its freed online place is offered to the day's waitlist first."""
    booking = cancel_booking(user, booking_id)
    if booking.channel == "online":
        try:
            offer_next(_list_key(booking.facility_id, booking.department, booking.day),
                       booking.slot_id)
        except PynamoDBException:  # the expiry task offers it later; the cancel stands
            log.exception("waitlist offer after cancel failed")
    return booking


def join_waitlist(user, subject_id: str, facility_id: str, department: str, day: date) -> WaitlistEntry:
    if user.role != "resident":
        raise Forbidden("候补由居民本人或代办人加入", code="residents_only")
    if not valid_id(subject_id):
        raise ValidationFailed("居民编号格式不正确", code="invalid_resident_id")
    from backend.services.residents import get_resident, may_act_for
    if not may_act_for(user, subject_id):
        raise Forbidden("该居民未授权您代为预约", code="not_authorised")
    resident = get_resident(subject_id)
    get_facility(facility_id)
    slots = list(Slot.query(f"{facility_id}#{department}", Slot.start_key.startswith(day.isoformat())))
    now = store.now()
    future = [s for s in slots if int(s.starts_at) > now and not s.closed]
    if not future:
        raise NotFound("该日没有可候补的号源", code="no_slots")
    if any(viewer_left(s, "public", now) > 0 for s in future):
        raise Conflict("该日还有号源，请直接预约", code="not_full")
    key = _list_key(facility_id, department, day.isoformat())
    entry = WaitlistEntry(key, new_id(), subject_id=subject_id, subject_name=resident.name,
                          booker_login=user.login, booker_resident_id=user.resident_id,
                          status="waiting", created_at=utcnow())
    try:
        added = save_with_claim(entry, f"wl#{subject_id}#{key}", entry.entry_id)
    except TransactWriteError:
        raise ServiceBusy(retry_after=1) from None
    if not added:
        raise Conflict("已在该日候补名单中", code="already_waiting")
    return entry


def get_entry(list_key: str, entry_id: str) -> WaitlistEntry:
    if len(list_key or "") > 100 or not valid_id(entry_id):
        raise NotFound("找不到该候补", code="waitlist_not_found")
    try:
        return WaitlistEntry.get(list_key, entry_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("找不到该候补", code="waitlist_not_found") from None


def release_claim(entry: WaitlistEntry) -> None:
    Uniqueness(f"wl#{entry.subject_id}#{entry.list_key}").delete()


def leave_waitlist(user, list_key: str, entry_id: str) -> None:
    entry = get_entry(list_key, entry_id)
    if entry.booker_login != user.login:
        raise Forbidden("不能操作他人的候补", code="not_your_waitlist")
    if entry.status == "offered":
        decline_offer(user, list_key, entry_id)
        return
    if entry.status != "waiting":
        raise Conflict("该候补已结束", code="waitlist_closed")
    entry.update(actions=[WaitlistEntry.status.set("left")], condition=WaitlistEntry.status == "waiting")
    release_claim(entry)


def offer_next(list_key: str, slot_id: str, policy_minutes: int | None = None) -> WaitlistEntry | None:
    """Hold one freed place of `slot_id` for the first person waiting, and tell them."""
    bucket, start_key = parse_slot_id(slot_id)
    waiting = [e for e in WaitlistEntry.query(list_key, filter_condition=WaitlistEntry.status == "waiting",
                                              consistent_read=True)]
    if not waiting:
        return None
    facility_id = list_key.split("#")[0]
    minutes = policy_minutes or get_policy(facility_id).offer_minutes
    now = store.now()
    expires = int(now + minutes * 60)
    for entry in waiting[:3]:
        try:
            with transaction() as tx:
                tx.update(Slot(bucket, start_key),
                          actions=[Slot.left_online.add(-1), Slot.held.add(1)],
                          condition=(Slot.left_online >= 1) & (Slot.starts_at > int(now) + 600)
                          & (Slot.closed == False))  # noqa: E712
                tx.update(entry, actions=[WaitlistEntry.status.set("offered"),
                                          WaitlistEntry.offer_slot_id.set(slot_id),
                                          WaitlistEntry.offer_state.set("offered"),
                                          WaitlistEntry.offer_expires.set(expires)],
                          condition=WaitlistEntry.status == "waiting")
        except TransactWriteError as err:
            if is_unavailable(err):
                raise ServiceBusy(retry_after=1) from None
            reasons = err.cancellation_reasons or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                return None  # the place is gone (taken, or the slice is too close)
            continue  # this person just left the list: try the next
        department, day = list_key.split("#")[1:3]
        start = start_key[11:16]
        recipient = (notify.resident_recipient(entry.booker_resident_id)
                     if entry.booker_resident_id else entry.booker_login)
        deadline = datetime.fromtimestamp(expires, CHINA)
        notify.notify(recipient, kind="slot_offer", title="候补号源已为您保留",
                      body=(f"{entry.subject_name}：{day} {start} {department}有一个号源，"
                            f"请在{deadline:%H:%M}前确认，逾期将顺延给下一位。"),
                      url=links.waitlist_offer(list_key, entry.entry_id),
                      urgent=True, dedupe_key=f"offer#{entry.entry_id}#{slot_id}")
        return entry
    return None


def accept_offer(user, list_key: str, entry_id: str, client_request_id: str) -> BookResult:
    entry = get_entry(list_key, entry_id)
    if entry.booker_login != user.login:
        raise Forbidden("不能操作他人的候补", code="not_your_waitlist")
    if entry.status == "booked" and entry.booking_id:
        return BookResult([Booking.get(entry.booking_id)], replayed=True)
    if entry.status != "offered" or int(entry.offer_expires or 0) <= store.now():
        raise Conflict("候补名额已过期或已处理", code="offer_expired")
    result = book_offered(user, entry, client_request_id)
    release_claim(entry)
    return result


def return_hold(entry: WaitlistEntry, status: str) -> bool:
    """An offer ends unused: its held place goes back online, the entry's claim is freed."""
    bucket, start_key = parse_slot_id(entry.offer_slot_id)
    try:
        with transaction() as tx:
            tx.update(entry, actions=[WaitlistEntry.status.set(status),
                                      WaitlistEntry.offer_state.remove()],
                      condition=WaitlistEntry.status == "offered")
            tx.update(Slot(bucket, start_key),
                      actions=[Slot.held.add(-1), Slot.left_online.add(1)],
                      condition=Slot.held >= 1)
    except TransactWriteError:
        return False
    release_claim(entry)
    return True


def decline_offer(user, list_key: str, entry_id: str) -> None:
    entry = get_entry(list_key, entry_id)
    if entry.booker_login != user.login:
        raise Forbidden("不能操作他人的候补", code="not_your_waitlist")
    if entry.status != "offered":
        raise Conflict("候补名额已过期或已处理", code="offer_expired")
    if return_hold(entry, "declined"):
        offer_next(list_key, entry.offer_slot_id)


def expire_offers(now: float | None = None) -> dict:
    """Offers past their time limit go back and on to the next person (idempotent)."""
    now = now or store.now()
    expired = offered = 0
    for entry in WaitlistEntry.by_offer.query("offered", WaitlistEntry.offer_expires <= int(now)):
        if return_hold(entry, "expired"):
            expired += 1
            if offer_next(entry.list_key, entry.offer_slot_id):
                offered += 1
    return {"expired": expired, "offered": offered}
