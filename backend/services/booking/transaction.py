"""The transaction that books (cancelling is `cancelling`, the fee's claim `fees`).

Capacity is never checked by reading and then writing: one TransactWriteItems decrements the
slice's remaining places (`left_<channel> >= 1`), creates the booking, claims the client
request id and the (slice, person) pair, adds the booking to the person's department
ledger (`size(holds) < limit`) and writes the day's registration-fee claim (`fees`). The one
read before it (a BatchGetItem of the slice, the person, the ledgers, fee claims, pauses and
any proxy grant) only picks the channel and the fee and gives early, clear answers; the
conditions are what hold the invariants. A booking costs 3 DynamoDB requests with the
session load (4 on a person's first booking in a department: the ledger is created first).
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import size

from backend.errors import (AppError, Conflict, Forbidden, NotFound, RateLimited, ServiceBusy,
                            ValidationFailed, is_unavailable)
from backend.models.base import new_id, transaction, utcnow
from backend.models.booking import Booking, BookingLedger, Slot, WaitlistEntry
from backend.models.facility import Facility
from backend.models.people import ProxyGrant, Resident, Uniqueness
from backend.rules import booking as rules
from backend.rules.booking import CHINA
from backend.rules.identity import age_on
from backend.services.facilities import bucket_of

from . import access, fees, store
from .keys import (check_request_id, fee_key, hold_value, ledger_key, parse_slot_id, state_key,
                   valid_id)
from backend.services.slot_kinds import kind_of

__all__ = ["BookResult", "book", "book_many", "book_exams", "book_offered", "book_referral",
           "open_holds", "MAX_AT_ONCE"]

log = logging.getLogger(__name__)
MAX_AT_ONCE = 5
FEE_ATTEMPTS = 3


@dataclass
class BookResult:
    bookings: list[Booking]
    replayed: bool = False


def open_holds(ledger, now: float) -> tuple[dict, list[str]]:
    """(open holds, booking ids of holds whose time has passed)."""
    holds = dict(ledger.holds.as_dict() if ledger is not None and ledger.holds is not None
                 and hasattr(ledger.holds, "as_dict") else (ledger.holds or {}) if ledger else {})
    stamp = datetime.fromtimestamp(now, CHINA).strftime("%Y-%m-%dT%H:%M")
    past = [bid for bid, v in holds.items() if str(v)[:16] <= stamp]
    return {k: v for k, v in holds.items() if k not in past}, past[:10]


def _replay(user, rid: str) -> BookResult | None:
    try:
        claim = Uniqueness.get(f"req#{user.login}#{rid}", consistent_read=True)
    except DoesNotExist:
        return None
    return _replayed(claim)


def _replayed(claim: Uniqueness) -> BookResult:
    ids = [i for i in claim.owner.split(",") if i]
    found = {b.booking_id: b for b in Booking.batch_get(ids)}
    return BookResult([found[i] for i in ids if i in found], replayed=True)


# In-process admission: at most this many booking attempts talk to DynamoDB at once in one
# process (a threaded local server; on Lambda each container serves one request anyway).
# The rest queue briefly and are told to retry (429 + Retry-After) rather than pile up
# until connections time out.
_GATE = threading.BoundedSemaphore(16)
_GATE_WAIT_SECONDS = 20


@contextmanager
def _admitted():
    if not _GATE.acquire(timeout=_GATE_WAIT_SECONDS):
        raise RateLimited("当前预约人数较多，请稍后再试", retry_after=2)
    try:
        yield
    finally:
        _GATE.release()


def book(user, subject_id: str, slot_id: str, client_request_id: str, *,
         purpose: str | None = None) -> BookResult:
    """One slice for one person. `purpose` names what it is for when the kind needs one."""
    with _admitted():
        return _book(user, subject_id, [slot_id], client_request_id, several=False,
                     purpose=purpose)


def book_many(user, subject_id: str, slot_ids: list[str], client_request_id: str) -> BookResult:
    """Several slices of kinds that allow it (exams) in one go: all of them or none."""
    if not 1 <= len(slot_ids) <= MAX_AT_ONCE:
        raise ValidationFailed(f"一次最多预约{MAX_AT_ONCE}项检查", code="too_many_exams")
    with _admitted():
        return _book(user, subject_id, slot_ids, client_request_id, several=True)


book_exams = book_many


def book_offered(user, entry: WaitlistEntry, client_request_id: str) -> BookResult:
    """Take the place a waitlist offer holds (the `held` counter, not a channel's)."""
    return _book(user, entry.subject_id, [entry.offer_slot_id], client_request_id,
                 several=False, offer=entry)


def _read(user, subject_id: str, keys: list[tuple[str, str]], rid: str) -> dict:
    """The one read before the transaction (BatchGetItem over six tables): the request
    claim, the person, the slices and their facilities, the person's department ledgers
    and fee claims of those days, their pause at each facility (online bookings) and the
    proxy grant."""
    facilities = sorted({k[0].split("#")[0] for k in keys})
    online = user.role == "resident"
    proxy = online and subject_id != user.resident_id
    n, m = len(keys), len(facilities)
    wanted: list = [(Uniqueness, f"req#{user.login}#{rid}", None), (Resident, subject_id, None)]
    wanted += [(Slot, b, s) for b, s in keys]
    wanted += [(Facility, f, None) for f in facilities]
    wanted += [(BookingLedger, subject_id, f"dept#{b}") for b, _ in keys]
    wanted += [(BookingLedger, subject_id, fee_key(*b.split("#", 1), s[:10])) for b, s in keys]
    if online:
        wanted += [(BookingLedger, subject_id, state_key(f)) for f in facilities]
    if proxy:
        wanted.append((ProxyGrant, user.resident_id, subject_id))
    got = store.fetch(wanted)
    pos = 2 + n + m
    return {"claim": got[0], "resident": got[1], "slots": got[2:2 + n],
            "facility_of": {f.facility_id: f for f in got[2 + n:pos] if f is not None},
            "ledgers": got[pos:pos + n], "fees": got[pos + n:pos + 2 * n],
            "states": [s for s in got[pos + 2 * n:pos + 2 * n + m] if s is not None] if online else [],
            "grant": got[-1] if proxy else None}


def _book(user, subject_id: str, slot_ids: list[str], rid: str, *, several: bool,
          offer: WaitlistEntry | None = None, purpose: str | None = None) -> BookResult:
    check_request_id(rid)
    if not valid_id(subject_id):
        raise ValidationFailed("居民编号格式不正确", code="invalid_resident_id")
    keys = [parse_slot_id(s) for s in slot_ids]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("同一时段不能重复提交", code="duplicate_slot")
    departments = [k[0] for k in keys]
    if len(set(departments)) != len(departments):
        raise ValidationFailed("同一科室（检查项目）一次只能预约一个时段", code="same_department_twice")
    if purpose is not None and (len(slot_ids) != 1 or not valid_id(purpose.replace(":", "_"))):
        raise ValidationFailed("预约用途格式不正确", code="invalid_purpose")
    for _ in range(FEE_ATTEMPTS):
        try:
            return _attempt(user, subject_id, keys, rid, several=several, offer=offer,
                            purpose=purpose)
        except fees.FeeRaced:
            continue  # the day's fee claim moved meanwhile: read again
    raise ServiceBusy(retry_after=1)


def _paused(states: list, now: float) -> None:
    """A pause earned at a facility stops online booking there (for the person booked for)."""
    for state in states:
        if state.paused_until and int(state.paused_until) > now:
            until = datetime.fromtimestamp(int(state.paused_until), CHINA)
            raise Forbidden(f"因多次预约未就诊，在本机构的在线预约已暂停至{until:%Y年%m月%d日}",
                            code="booking_paused")


def _attempt(user, subject_id: str, keys: list[tuple[str, str]], rid: str, *, several: bool,
             offer: WaitlistEntry | None, purpose: str | None) -> BookResult:
    r = _read(user, subject_id, keys, rid)
    resident, slots, facility_of = r["resident"], r["slots"], r["facility_of"]
    if r["claim"] is not None:
        return _replayed(r["claim"])
    if resident is None:
        raise NotFound("找不到该居民", code="resident_not_found")
    now = store.now()
    for slot in slots:
        if slot is None or slot.facility_id not in facility_of:
            raise NotFound("找不到该号源，可能已调整，请刷新", code="slot_not_found")
    preferences = []
    purpose_label = None
    for slot in slots:
        # Each slice's channel follows from who books it *there*: an admin's desk places are
        # those of their own facility only, whatever else is booked in the same go.
        preferences.append(access.authorise(user, resident, facility_of[slot.facility_id],
                                            r["grant"]))
        kind = kind_of(slot.kind)
        if several and not kind.several_at_once:
            raise ValidationFailed("只有检查项目可以一次预约多项", code="not_exam")
        if kind.needs_purpose and not purpose:
            raise ValidationFailed(f"预约{kind.label}须说明用途", code="purpose_required")
        if kind.check is not None:
            purpose_label = kind.check(user, resident, slot, purpose)
    _paused(r["states"], now)
    today = datetime.fromtimestamp(now, CHINA).date()
    elderly = age_on(date.fromisoformat(resident.birth_date), today) >= rules.ELDERLY_AGE
    group_id = new_id() if len(slots) > 1 else None
    created = utcnow()
    plan = []
    for slot, ledger, claim, preference in zip(slots, r["ledgers"], r["fees"], preferences):
        _check_slot(slot, now)
        holds, past = open_holds(ledger, now)
        if any(str(v).endswith("|" + slot.slot_id) for v in holds.values()):
            raise Conflict("已预约过该时段，请勿重复预约", code="duplicate_booking")
        if len(holds) >= int(slot.max_per_person):
            raise Conflict(f"在该科室最多同时预约{int(slot.max_per_person)}个号", code="limit_reached")
        if offer is not None:
            channel = "held"
        else:
            channel = access.channel(preference, slot, now)
            if channel is None:
                raise Conflict("该时段已约满，可加入候补", code="slot_full",
                               details=[{"waitlist": True, "day": slot.day,
                                         "department": slot.department,
                                         "time": f"{slot.start}-{slot.end}",
                                         "facility_id": slot.facility_id}])
        facility = facility_of[slot.facility_id]
        booking = Booking(new_id(), order_key="", day_key=f"{slot.facility_id}#{slot.day}",
                          slot_id=slot.slot_id, facility_id=slot.facility_id,
                          facility_name=facility.name, department=slot.department,
                          kind=slot.kind, day=slot.day, start=slot.start, end=slot.end,
                          starts_at=int(slot.starts_at),
                          place=" ".join(p for p in (facility.address, slot.place) if p) or None,
                          doctor_name=slot.doctor_name, subject_id=resident.resident_id,
                          subject_name=resident.name, booker_login=user.login,
                          booker_role=user.role,
                          booker_resident_id=user.resident_id if user.role == "resident" else None,
                          channel="online" if channel == "held" else channel, status="booked",
                          fee=fees.fee_for(slot, claim), elderly=elderly,
                          client_request_id=rid, group_id=group_id, purpose=purpose,
                          purpose_label=purpose_label,
                          cancel_notice_minutes=int(slot.cancel_notice_minutes), created_at=created)
        booking.order_key = f"{slot.day}T{slot.start}#{booking.booking_id}"
        plan.append(_Planned(slot, ledger, past, channel, booking, preference, claim))
    return _commit(user, rid, resident, plan, now, offer)


@dataclass
class _Planned:
    slot: Slot
    ledger: BookingLedger | None
    past: list[str]
    channel: str
    booking: Booking
    preference: str
    fee_claim: BookingLedger | None


def _check_slot(slot: Slot, now: float) -> None:
    if int(slot.starts_at) <= now:
        raise Conflict("该时段已过，不能预约", code="slot_past")
    if slot.closed:
        raise Conflict("该日已停诊，请选择其他日期", code="day_closed")
    if now < int(slot.opens_at):
        opens = datetime.fromtimestamp(int(slot.opens_at), CHINA)
        raise Conflict(f"该日号源将于{opens:%m月%d日 %H:%M}放出", code="not_open_yet")


def _ensure_ledger(subject_id: str, slot: Slot) -> None:
    """Create the person's department ledger with an empty `holds` if it is absent
    (`if_not_exists`: idempotent, no read), so that concurrent first bookings all take the
    same `size(holds) < limit` condition instead of racing to create the map."""
    try:
        BookingLedger(subject_id, ledger_key(slot.facility_id, slot.department)).update(
            actions=[BookingLedger.holds.set(BookingLedger.holds | {})])
    except PynamoDBException as err:
        if store.cause(err) in store.BUSY or is_unavailable(err):
            raise ServiceBusy(retry_after=1) from None
        raise


def _commit(user, rid: str, resident: Resident, plan: list[_Planned], now: float,
            offer: WaitlistEntry | None) -> BookResult:
    for p in plan:
        if p.ledger is None or p.ledger.holds is None:
            _ensure_ledger(resident.resident_id, p.slot)
    labels_put, labels_update = [], []
    try:
        with transaction() as tx:
            tx.save(Uniqueness(f"req#{user.login}#{rid}",
                               owner=",".join(p.booking.booking_id for p in plan)),
                    condition=Uniqueness.key.does_not_exist())
            labels_put.append("request")
            for p in plan:
                slot, booking, channel = p.slot, p.booking, p.channel
                tx.save(booking, condition=Booking.booking_id.does_not_exist())
                labels_put.append("booking")
                tx.save(Uniqueness(f"slotperson#{slot.slot_id}#{resident.resident_id}",
                                   owner=booking.booking_id),
                        condition=Uniqueness.key.does_not_exist())
                labels_put.append("duplicate")
                if booking.purpose:
                    tx.save(Uniqueness(f"purpose#{resident.resident_id}#{booking.purpose}",
                                       owner=booking.booking_id),
                            condition=Uniqueness.key.does_not_exist())
                    labels_put.append("purpose")
                counter = Slot.held if channel == "held" else getattr(Slot, f"left_{channel}")
                cond = ((counter >= 1) & (Slot.starts_at > int(now)) & (Slot.closed == False)  # noqa: E712
                        & (Slot.opens_at <= int(now)))
                if channel == "referral" and p.preference == "public":
                    cond = cond & (Slot.release_at <= int(now))
                tx.update(slot, actions=[counter.add(-1), Slot.booked.add(1)], condition=cond)
                labels_update.append(f"slot|{slot.department}|{slot.start}-{slot.end}")
                actions = [BookingLedger.holds[booking.booking_id].set(hold_value(slot))]
                actions += [BookingLedger.holds[bid].remove() for bid in p.past]
                lcond = size(BookingLedger.holds) < int(slot.max_per_person) + len(p.past)
                for bid in p.past:
                    lcond = lcond & BookingLedger.holds[bid].exists()
                tx.update(BookingLedger(resident.resident_id,
                                        ledger_key(slot.facility_id, slot.department)),
                          actions=actions, condition=lcond)
                labels_update.append("ledger")
                if fees.on_book(tx, resident.resident_id, slot, booking, p.fee_claim):
                    labels_update.append("fee")
            if offer is not None:
                tx.update(offer, actions=[WaitlistEntry.status.set("booked"),
                                          WaitlistEntry.offer_state.remove(),
                                          WaitlistEntry.booking_id.set(plan[0].booking.booking_id)],
                          condition=(WaitlistEntry.status == "offered")
                          & (WaitlistEntry.offer_expires > int(now)))
                labels_update.append("offer")
    except TransactWriteError as err:
        _explain_failure(err, labels_put + labels_update)
        replay = _replay(user, rid)
        if replay is not None:
            return replay
        raise
    return BookResult([p.booking for p in plan])


def _explain_failure(err: TransactWriteError, labels: list[str]) -> None:
    """Turn a cancelled transaction into the answer a person can act on."""
    if is_unavailable(err):
        raise ServiceBusy(retry_after=1) from None
    reasons = err.cancellation_reasons or []
    codes = [(labels[i] if i < len(labels) else "?", r.code if r else None)
             for i, r in enumerate(reasons)]
    if any(c in ("ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded")
           for _, c in codes) or store.cause(err) in store.BUSY:
        raise ServiceBusy(retry_after=1) from None
    failed_labels = [label for label, c in codes if c == "ConditionalCheckFailed"]
    failed = [label.split("|")[0] for label in failed_labels]
    if "request" in failed:
        return  # a retried request: the caller returns the booking it already made
    if "duplicate" in failed:
        raise Conflict("已预约过该时段，请勿重复预约", code="duplicate_booking") from None
    if "purpose" in failed:
        raise Conflict("该项目已有一个有效预约，请勿重复预约", code="purpose_booked") from None
    if "offer" in failed:
        raise Conflict("候补名额已过期或已处理", code="offer_expired") from None
    if "slot" in failed:
        _, department, times = next(lb for lb in failed_labels if lb.startswith("slot|")).split("|")
        raise Conflict("该时段刚刚约满，可加入候补", code="slot_full",
                       details=[{"waitlist": True, "department": department,
                                 "time": times}]) from None
    if failed == ["fee"]:
        raise fees.FeeRaced() from None  # only the day's fee claim moved: read again
    if "ledger" in failed:
        raise Conflict("该科室预约数已达上限，或您的预约刚刚发生变化，请刷新", code="limit_reached") from None
    if any(c == "TransactionConflict" for _, c in codes):
        # Many people on the same slice at once: answer at once, let them retry shortly.
        raise RateLimited("当前预约人数较多，请稍后再试", retry_after=1) from None
    log.warning("booking transaction cancelled: %s", codes)
    raise ServiceBusy(retry_after=1) from None


# ---- referral up --------------------------------------------------------------------------

def book_referral(user, *, resident_id: str, facility_id: str, department: str,
                  referral_id: str, search_days: int = 14) -> str | None:
    """A referral up: the earliest slice with a reserved referral place, booked by the doctor.

    Returns the booking id, or None when no reserved place is free in `search_days`. The
    client request id is the referral's, so a retried referral never books twice.
    """
    now = store.now()
    first = datetime.fromtimestamp(now, tz=CHINA).date()
    last = first + timedelta(days=search_days)
    candidates = Slot.query(bucket_of(facility_id, department),
                            Slot.start_key.between(first.isoformat(), f"{last.isoformat()}~"),
                            filter_condition=(Slot.left_referral > 0) & (Slot.starts_at > now))
    for slot in candidates:
        try:
            result = book(user, resident_id, slot.slot_id, f"referral-{referral_id}"[:64])
        except AppError as err:
            if err.code in {"slot_full", "slot_past", "day_closed"}:
                continue
            raise
        return result.bookings[0].booking_id
    return None
