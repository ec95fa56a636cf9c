"""Booking a time slice: for yourself, a household member, a contracted resident or a referral;
cancelling, the waitlist, arrivals and no-shows.

Capacity is never checked by reading and then writing: one TransactWriteItems decrements the
slice's remaining places (`left_<channel> >= 1`), creates the booking, claims the client
request id and the (slice, person) pair, and adds the booking to the person's department
ledger (`size(holds) < limit`). The one read before it (a BatchGetItem of the slice, the
person, the ledgers and any proxy grant) only picks the channel and gives early, clear
answers; the conditions are what hold the invariants. A booking costs 3 DynamoDB requests
with the session load.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import size

from backend.errors import is_unavailable
from backend.errors import (AppError, Conflict, Forbidden, NotFound, RateLimited, ServiceBusy,
                            ValidationFailed)
from backend.models.base import _connection, new_id, transaction, utcnow
from backend.models.booking import Booking, BookingLedger, Slot, WaitlistEntry
from backend.models.facility import Facility
from backend.models.people import ProxyGrant, Resident, Uniqueness, save_with_claim
from backend.rules import booking as rules
from backend.rules.booking import CHINA
from backend.rules.identity import age_on
from backend.services import notify
from backend.services.indicators import Tally

__all__ = ["parse_slot_id", "book", "book_exams", "cancel", "get_booking", "my_bookings",
           "viewer_left", "join_waitlist", "accept_offer", "decline_offer", "expire_offers",
           "mark_attendance", "day_bookings", "list_days", "list_slices", "list_centres",
           "list_departments", "leave_waitlist", "offer_next", "lead_hospital", "exam_departments",
           "exam_days", "exam_slices", "slots_for_review", "cancel_for_closed_day"]

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_FACILITY = re.compile(r"^[a-z0-9-]{1,40}$")
_TEMPLATE = re.compile(r"^[0-9A-Za-z-]{1,40}$")
_STARTKEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
_BUSY = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
         "InternalServerError", "ThrottlingError", "ProvisionedThroughputExceeded"}
MAX_EXAMS = 5


def _now() -> float:
    return time.time()


# ---- ids --------------------------------------------------------------------------------

def parse_slot_id(slot_id: str) -> tuple[str, str]:
    """`<facility>#<department>#<YYYY-MM-DD>T<HH:MM>#<template>` -> (bucket, start_key)."""
    parts = (slot_id or "").split("#")
    if len(parts) != 4 or len(slot_id) > 160:
        raise ValidationFailed("号源编号格式不正确", code="invalid_slot_id")
    facility, department, start, template = parts
    if not (_FACILITY.match(facility) and 0 < len(department) <= 20
            and _STARTKEY.match(start) and _TEMPLATE.match(template)):
        raise ValidationFailed("号源编号格式不正确", code="invalid_slot_id")
    try:
        datetime.strptime(start, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ValidationFailed("号源编号中的日期无效", code="invalid_slot_id") from None
    return f"{facility}#{department}", f"{start}#{template}"


def _check_request_id(rid: str) -> None:
    if not _REQUEST_ID.match(rid or ""):
        raise ValidationFailed("请求编号格式不正确", code="invalid_request_id")


def _valid_id(value: str) -> bool:
    return bool(value) and len(value) <= 64 and re.match(r"^[A-Za-z0-9_-]+$", value) is not None


# ---- one read for many tables -----------------------------------------------------------

def _fetch(wanted: list[tuple[type, str, str | None]]) -> list:
    """One BatchGetItem (strongly consistent) over several tables; None where missing."""
    request: dict[str, dict] = {}
    index: dict[tuple, int] = {}
    for i, (model, hk, rk) in enumerate(wanted):
        kwargs = model.get_operation_kwargs_from_class(hk, range_key=rk)
        table, key = kwargs["TableName"], kwargs["Key"]
        request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        index[(table, _key_of(key, key))] = i
    out: list = [None] * len(wanted)
    client = _connection().client
    while request:
        try:
            resp = client.batch_get_item(RequestItems=request)
        except Exception as err:  # throttled or unreachable -> 503, never 500
            code = (getattr(err, "response", None) or {}).get("Error", {}).get("Code", "")
            if code in _BUSY or is_unavailable(err):
                raise ServiceBusy(retry_after=1) from None
            raise
        for table, items in resp.get("Responses", {}).items():
            names = request[table]["Keys"][0]
            for raw in items:
                i = index.get((table, _key_of(raw, names)))
                if i is not None:
                    out[i] = wanted[i][0].from_raw_data(raw)
        request = resp.get("UnprocessedKeys") or {}
        if request:
            time.sleep(0.05)
    return out


def _key_of(item: dict, names: dict) -> tuple:
    return tuple(sorted((name, tuple(sorted(item[name].items()))) for name in names))


# ---- who may book what ------------------------------------------------------------------

def _age(resident: Resident, on: date) -> int:
    return age_on(date.fromisoformat(resident.birth_date), on)


def _at_lead_hospital(facility: Facility) -> bool:
    return facility.kind == "hospital"


def _authorise(user, resident: Resident, facility: Facility, grant) -> str:
    """Check who may book for `resident` here; returns the booker's channel preference."""
    if user.role == "resident":
        if resident.resident_id != user.resident_id and grant is None:
            raise Forbidden("该居民未授权您代为预约", code="not_authorised")
        return "public"
    if user.role == "doctor":
        if not resident.team_id or resident.team_id != user.team_id:
            raise Forbidden("只能为本团队签约居民预约", code="not_your_resident")
        return "referral" if _at_lead_hospital(facility) else "public"
    if user.role == "township_admin":
        if facility.facility_id == user.facility_id:
            return "desk"
        if _at_lead_hospital(facility) and resident.township_id == user.facility_id:
            return "referral"
        raise Forbidden("只能为本机构辖区居民转诊预约", code="not_your_resident")
    if user.role == "hospital_admin" and facility.facility_id == user.facility_id:
        return "desk"
    raise Forbidden("您没有权限预约")


def _channel(preference: str, slot: Slot, now: float) -> str | None:
    """The channel whose place this booking takes, or None if none is left for this booker."""
    released = now >= int(slot.release_at)
    if preference == "desk":
        order = ["desk", "online"]
    elif preference == "referral":
        order = ["referral", "online"]
    else:
        order = ["online"] + (["referral"] if released else [])
    for ch in order:
        if int(getattr(slot, f"left_{ch}")) >= 1:
            return ch
    return None


def viewer_left(slot: Slot, preference: str, now: float | None = None) -> int:
    now = now or _now()
    released = now >= int(slot.release_at)
    if preference == "desk":
        return int(slot.left_desk) + int(slot.left_online)
    if preference == "referral":
        return int(slot.left_referral) + int(slot.left_online)
    return int(slot.left_online) + (int(slot.left_referral) if released else 0)


def _preference_for_listing(user, facility: Facility) -> str:
    if user.role == "doctor" and _at_lead_hospital(facility):
        return "referral"
    if user.role == "township_admin":
        if facility.facility_id == user.facility_id:
            return "desk"
        if _at_lead_hospital(facility):
            return "referral"
    if user.role == "hospital_admin" and facility.facility_id == user.facility_id:
        return "desk"
    return "public"


# ---- booking ----------------------------------------------------------------------------

@dataclass
class BookResult:
    bookings: list[Booking]
    replayed: bool = False


def _ledger_key(slot: Slot) -> str:
    return f"dept#{slot.facility_id}#{slot.department}"


def _hold_value(slot: Slot) -> str:
    return f"{slot.day}T{slot.start}|{slot.bucket}#{slot.start_key}"


def _open_holds(ledger, now: float) -> tuple[dict, list[str]]:
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


def book(user, subject_id: str, slot_id: str, client_request_id: str) -> BookResult:
    with _admitted():
        return _book(user, subject_id, [slot_id], client_request_id, exams=False)


def book_exams(user, subject_id: str, slot_ids: list[str], client_request_id: str) -> BookResult:
    """Several exams in one go: all of them or none (one transaction)."""
    if not 1 <= len(slot_ids) <= MAX_EXAMS:
        raise ValidationFailed(f"一次最多预约{MAX_EXAMS}项检查", code="too_many_exams")
    with _admitted():
        return _book(user, subject_id, slot_ids, client_request_id, exams=True)


def _book(user, subject_id: str, slot_ids: list[str], rid: str, *, exams: bool,
          offer: WaitlistEntry | None = None) -> BookResult:
    _check_request_id(rid)
    if not _valid_id(subject_id):
        raise ValidationFailed("居民编号格式不正确", code="invalid_resident_id")
    keys = [parse_slot_id(s) for s in slot_ids]
    if len(set(keys)) != len(keys):
        raise ValidationFailed("同一时段不能重复提交", code="duplicate_slot")
    departments = [k[0] for k in keys]
    if len(set(departments)) != len(departments):
        raise ValidationFailed("同一科室（检查项目）一次只能预约一个时段", code="same_department_twice")
    facilities = {k[0].split("#")[0] for k in keys}

    wanted: list = [(Uniqueness, f"req#{user.login}#{rid}", None), (Resident, subject_id, None)]
    wanted += [(Slot, b, s) for b, s in keys]
    wanted += [(Facility, f, None) for f in sorted(facilities)]
    wanted += [(BookingLedger, subject_id, f"dept#{b}") for b, _ in keys]
    proxy = user.role == "resident" and subject_id != user.resident_id
    if user.role == "resident":
        wanted.append((BookingLedger, user.resident_id, "state"))
    if proxy:
        wanted.append((ProxyGrant, user.resident_id, subject_id))
    got = _fetch(wanted)
    claim, resident = got[0], got[1]
    slots = got[2:2 + len(keys)]
    facility_of = {f.facility_id: f for f in got[2 + len(keys):2 + len(keys) + len(facilities)]
                   if f is not None}
    pos = 2 + len(keys) + len(facilities)
    ledgers = got[pos:pos + len(keys)]
    pos += len(keys)
    state = got[pos] if user.role == "resident" else None
    grant = got[pos + 1] if proxy else None

    if claim is not None:
        return _replayed(claim)
    if resident is None:
        raise NotFound("找不到该居民", code="resident_not_found")
    now = _now()
    for slot in slots:
        if slot is None or slot.facility_id not in facility_of:
            raise NotFound("找不到该号源，可能已调整，请刷新", code="slot_not_found")
    preference = None
    for slot in slots:
        preference = _authorise(user, resident, facility_of[slot.facility_id], grant)
        if exams and slot.kind != "exam":
            raise ValidationFailed("只有检查项目可以一次预约多项", code="not_exam")
    if state is not None and state.paused_until and int(state.paused_until) > now:
        until = datetime.fromtimestamp(int(state.paused_until), CHINA)
        raise Forbidden(f"因多次预约未就诊，在线预约已暂停至{until:%Y年%m月%d日}",
                        code="booking_paused")
    today = datetime.fromtimestamp(now, CHINA).date()
    elderly = _age(resident, today) >= rules.ELDERLY_AGE
    group_id = new_id() if len(slots) > 1 else None
    created = utcnow()
    plan = []
    for slot, ledger in zip(slots, ledgers):
        if int(slot.starts_at) <= now:
            raise Conflict("该时段已过，不能预约", code="slot_past")
        if slot.closed:
            raise Conflict("该日已停诊，请选择其他日期", code="day_closed")
        if now < int(slot.opens_at):
            opens = datetime.fromtimestamp(int(slot.opens_at), CHINA)
            raise Conflict(f"该日号源将于{opens:%m月%d日 %H:%M}放出", code="not_open_yet")
        holds, past = _open_holds(ledger, now)
        if any(str(v).endswith("|" + slot.slot_id) for v in holds.values()):
            raise Conflict("已预约过该时段，请勿重复预约", code="duplicate_booking")
        if len(holds) >= int(slot.max_per_person):
            raise Conflict(f"在该科室最多同时预约{int(slot.max_per_person)}个号", code="limit_reached")
        if offer is not None:
            channel = "held"
        else:
            channel = _channel(preference, slot, now)
            if channel is None:
                raise Conflict("该时段已约满，可加入候补", code="slot_full",
                               details=[{"waitlist": True, "day": slot.day,
                                         "department": slot.department,
                                         "time": f"{slot.start}-{slot.end}",
                                         "facility_id": slot.facility_id}])
        same_day = sum(1 for v in holds.values() if str(v)[:10] == slot.day)
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
                          fee=rules.registration_fee(int(slot.fee), same_day), elderly=elderly,
                          client_request_id=rid, group_id=group_id,
                          cancel_notice_minutes=int(slot.cancel_notice_minutes), created_at=created)
        booking.order_key = f"{slot.day}T{slot.start}#{booking.booking_id}"
        plan.append((slot, ledger, holds, past, channel, booking))

    labels_put, labels_update = [], []
    try:
        with transaction() as tx:
            tx.save(Uniqueness(f"req#{user.login}#{rid}",
                               owner=",".join(p[5].booking_id for p in plan)),
                    condition=Uniqueness.key.does_not_exist())
            labels_put.append("request")
            for slot, ledger, holds, past, channel, booking in plan:
                tx.save(booking, condition=Booking.booking_id.does_not_exist())
                labels_put.append("booking")
                tx.save(Uniqueness(f"slotperson#{slot.slot_id}#{resident.resident_id}",
                                   owner=booking.booking_id),
                        condition=Uniqueness.key.does_not_exist())
                labels_put.append("duplicate")
                counter = Slot.held if channel == "held" else getattr(Slot, f"left_{channel}")
                cond = ((counter >= 1) & (Slot.starts_at > int(now)) & (Slot.closed == False)  # noqa: E712
                        & (Slot.opens_at <= int(now)))
                if channel == "referral" and preference == "public":
                    cond = cond & (Slot.release_at <= int(now))
                tx.update(slot, actions=[counter.add(-1), Slot.booked.add(1)], condition=cond)
                labels_update.append(f"slot|{slot.department}|{slot.start}-{slot.end}")
                entry = BookingLedger(resident.resident_id, _ledger_key(slot))
                value = _hold_value(slot)
                if ledger is None or ledger.holds is None:
                    tx.update(entry, actions=[BookingLedger.holds.set({booking.booking_id: value})],
                              condition=BookingLedger.holds.does_not_exist())
                else:
                    actions = [BookingLedger.holds[booking.booking_id].set(value)]
                    actions += [BookingLedger.holds[bid].remove() for bid in past]
                    lcond = size(BookingLedger.holds) < int(slot.max_per_person) + len(past)
                    for bid in past:
                        lcond = lcond & BookingLedger.holds[bid].exists()
                    tx.update(entry, actions=actions, condition=lcond)
                labels_update.append("ledger")
            if offer is not None:
                tx.update(offer, actions=[WaitlistEntry.status.set("booked"),
                                          WaitlistEntry.offer_state.remove(),
                                          WaitlistEntry.booking_id.set(plan[0][5].booking_id)],
                          condition=(WaitlistEntry.status == "offered")
                          & (WaitlistEntry.offer_expires > int(now)))
                labels_update.append("offer")
    except TransactWriteError as err:
        _explain_failure(err, labels_put + labels_update, user, rid)
        replay = _replay(user, rid)
        if replay is not None:
            return replay
        raise
    if offer is not None:
        _release_claim(offer)
    return BookResult([p[5] for p in plan])


def _cause(err) -> str:
    try:
        return err.cause_response_code or ""
    except AttributeError:
        return ""


def _explain_failure(err: TransactWriteError, labels: list[str], user, rid: str) -> None:
    """Turn a cancelled transaction into the answer a person can act on."""
    if is_unavailable(err):
        raise ServiceBusy(retry_after=1) from None
    reasons = err.cancellation_reasons or []
    codes = [(labels[i] if i < len(labels) else "?", r.code if r else None)
             for i, r in enumerate(reasons)]
    if any(c in ("ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded")
           for _, c in codes) or _cause(err) in _BUSY:
        raise ServiceBusy(retry_after=1) from None
    failed_labels = [label for label, c in codes if c == "ConditionalCheckFailed"]
    failed = [label.split("|")[0] for label in failed_labels]
    if "request" in failed:
        return  # a retried request: the caller returns the booking it already made
    if "duplicate" in failed:
        raise Conflict("已预约过该时段，请勿重复预约", code="duplicate_booking") from None
    if "offer" in failed:
        raise Conflict("候补名额已过期或已处理", code="offer_expired") from None
    if "slot" in failed:
        _, department, times = next(lb for lb in failed_labels if lb.startswith("slot|")).split("|")
        raise Conflict("该时段刚刚约满，可加入候补", code="slot_full",
                       details=[{"waitlist": True, "department": department,
                                 "time": times}]) from None
    if "ledger" in failed:
        raise Conflict("该科室预约数已达上限，或您的预约刚刚发生变化，请刷新", code="limit_reached") from None
    if any(c == "TransactionConflict" for _, c in codes):
        # Many people on the same slice at once: answer at once, let them retry shortly.
        raise RateLimited("当前预约人数较多，请稍后再试", retry_after=1) from None
    log.warning("booking transaction cancelled: %s", codes)
    raise ServiceBusy(retry_after=1) from None


# ---- reading bookings -------------------------------------------------------------------

def _may_see(user, booking: Booking) -> bool:
    if booking.booker_login == user.login:
        return True
    if user.role == "resident":
        from backend.services.residents import may_act_for
        return may_act_for(user, booking.subject_id)
    if user.role in ("township_admin", "hospital_admin"):
        return booking.facility_id == user.facility_id
    return False


def _load(booking_id: str) -> Booking:
    if not _valid_id(booking_id):
        raise NotFound("找不到该预约", code="booking_not_found")
    try:
        return Booking.get(booking_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("找不到该预约", code="booking_not_found") from None


def get_booking(user, booking_id: str) -> Booking:
    booking = _load(booking_id)
    if not _may_see(user, booking):
        raise NotFound("找不到该预约", code="booking_not_found")
    return booking


def my_bookings(user) -> list[Booking]:
    """Bookings I made or that are for me, soonest first."""
    found = {b.booking_id: b for b in Booking.by_booker.query(user.login)}
    if user.role == "resident" and user.resident_id:
        for b in Booking.by_subject.query(user.resident_id):
            found[b.booking_id] = b
    return sorted(found.values(), key=lambda b: b.order_key)


# ---- cancelling -------------------------------------------------------------------------

def cancel(user, booking_id: str) -> Booking:
    booking = _load(booking_id)
    staff = user.role in ("township_admin", "hospital_admin") and booking.facility_id == user.facility_id
    if not staff and not _may_see(user, booking):
        raise Forbidden("不能取消他人的预约", code="not_your_booking")
    if booking.status != "booked":
        raise Conflict("该预约已取消或已就诊", code="not_active")
    now = _now()
    if int(booking.starts_at) <= now:
        raise Conflict("预约时间已过，不能取消", code="booking_past")
    if not staff and int(booking.starts_at) - now < int(booking.cancel_notice_minutes) * 60:
        raise Conflict(f"就诊前{int(booking.cancel_notice_minutes)}分钟内不能在线取消，请致电卫生院",
                       code="too_late_to_cancel")
    ledger_key = f"dept#{booking.facility_id}#{booking.department}"
    try:
        ledger = BookingLedger.get(booking.subject_id, ledger_key, consistent_read=True)
    except DoesNotExist:
        ledger = None
    holds, _ = _open_holds(ledger, now)
    heir = next((bid for bid, v in sorted(holds.items())
                 if bid != booking.booking_id and str(v)[:10] == booking.day), None)
    _cancel_write(booking, user.login, heir=heir)
    if booking.channel == "online":
        try:
            offer_next(f"{booking.facility_id}#{booking.department}#{booking.day}", booking.slot_id)
        except PynamoDBException:  # the expiry task offers it later; the cancel stands
            log.exception("waitlist offer after cancel failed")
    return booking


def _cancel_write(booking: Booking, by: str, *, heir: str | None = None,
                  reason: str | None = None) -> None:
    """One transaction: the booking cancelled, its place back on its channel's counter
    (`left_<channel> + 1`, `booked - 1`), the person's hold and (slice, person) claim gone."""
    bucket, start_key = parse_slot_id(booking.slot_id)
    ledger_key = f"dept#{booking.facility_id}#{booking.department}"
    actions = [Booking.status.set("cancelled"), Booking.changed_at.set(utcnow()),
               Booking.changed_by.set(by)]
    if reason:
        actions.append(Booking.cancel_reason.set(reason))
    try:
        with transaction() as tx:
            tx.delete(Uniqueness(f"slotperson#{booking.slot_id}#{booking.subject_id}"))
            tx.update(booking, actions=actions, condition=Booking.status == "booked")
            counter = getattr(Slot, f"left_{booking.channel}")
            tx.update(Slot(bucket, start_key), actions=[counter.add(1), Slot.booked.add(-1)],
                      condition=Slot.booked >= 1)
            tx.update(BookingLedger(booking.subject_id, ledger_key),
                      actions=[BookingLedger.holds[booking.booking_id].remove()],
                      condition=BookingLedger.subject_id.exists())
            if heir and int(booking.fee) > 0:
                # The fee moves to the other booking of the same department and day.
                tx.update(Booking(heir), actions=[Booking.fee.set(int(booking.fee))],
                          condition=Booking.status == "booked")
    except TransactWriteError as err:
        if _cause(err) in _BUSY or is_unavailable(err):
            raise ServiceBusy(retry_after=1) from None
        raise Conflict("预约状态已变化，请刷新后重试", code="not_active") from None
    booking.status = "cancelled"
    booking.cancel_reason = reason


def _closure_recipients(booking: Booking, closer: str) -> list[str]:
    """The person booked, the household member who booked for them, the staff who booked."""
    out = [notify.resident_recipient(booking.subject_id)]
    if booking.booker_resident_id and booking.booker_resident_id != booking.subject_id:
        out.append(notify.resident_recipient(booking.booker_resident_id))
    if booking.booker_role != "resident" and booking.booker_login != closer:
        out.append(booking.booker_login)
    return out


def cancel_for_closed_day(user, facility_id: str, department: str, day: date) -> dict:
    """停诊 (the day's slices are already closed): every booking of that department and day is
    cancelled with its place accounted back, and everyone concerned gets an urgent notice;
    the day's waitlist ends and its held places go back. Idempotent: run again, it cancels
    what is left and re-sends nothing (one dedupe key per booking).
    """
    counts = {"cancelled": 0, "notified": 0, "waitlist_closed": 0}
    for b in Booking.by_day.query(f"{facility_id}#{day.isoformat()}",
                                  filter_condition=Booking.department == department):
        if b.status == "booked":
            try:
                _cancel_write(b, user.login, reason="day_closed")
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
                url="/booking", urgent=True, dedupe_key=f"day_closed#{b.booking_id}")
            counts["notified"] += sent is not None
    key = _list_key(facility_id, department, day.isoformat())
    for entry in WaitlistEntry.query(key, consistent_read=True):
        if entry.status == "offered":
            if not _return_hold(entry, "closed"):
                continue
        elif entry.status == "waiting":
            try:
                entry.update(actions=[WaitlistEntry.status.set("closed")],
                             condition=WaitlistEntry.status == "waiting")
            except PynamoDBException:
                continue
            _release_claim(entry)
        else:
            continue
        counts["waitlist_closed"] += 1
        recipient = (notify.resident_recipient(entry.booker_resident_id)
                     if entry.booker_resident_id else entry.booker_login)
        notify.notify(recipient, kind="day_closed", title="停诊通知：候补已结束",
                      body=f"{entry.subject_name}：{department} {day.isoformat()} 停诊，候补已结束，请改约其他日期。",
                      url="/booking", urgent=True, dedupe_key=f"day_closed#wl#{entry.entry_id}")
    return counts


# ---- waitlist ---------------------------------------------------------------------------

def _list_key(facility_id: str, department: str, day: str) -> str:
    return f"{facility_id}#{department}#{day}"


def join_waitlist(user, subject_id: str, facility_id: str, department: str, day: date) -> WaitlistEntry:
    if user.role != "resident":
        raise Forbidden("候补由居民本人或代办人加入", code="residents_only")
    if not _valid_id(subject_id):
        raise ValidationFailed("居民编号格式不正确", code="invalid_resident_id")
    from backend.services.residents import get_resident, may_act_for
    if not may_act_for(user, subject_id):
        raise Forbidden("该居民未授权您代为预约", code="not_authorised")
    resident = get_resident(subject_id)
    _facility(facility_id)
    slots = list(Slot.query(f"{facility_id}#{department}", Slot.start_key.startswith(day.isoformat())))
    now = _now()
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


def _entry(list_key: str, entry_id: str) -> WaitlistEntry:
    if len(list_key) > 100 or not _valid_id(entry_id):
        raise NotFound("找不到该候补", code="waitlist_not_found")
    try:
        return WaitlistEntry.get(list_key, entry_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("找不到该候补", code="waitlist_not_found") from None


def _release_claim(entry: WaitlistEntry) -> None:
    Uniqueness(f"wl#{entry.subject_id}#{entry.list_key}").delete()


def leave_waitlist(user, list_key: str, entry_id: str) -> None:
    entry = _entry(list_key, entry_id)
    if entry.booker_login != user.login:
        raise Forbidden("不能操作他人的候补", code="not_your_waitlist")
    if entry.status == "offered":
        decline_offer(user, list_key, entry_id)
        return
    if entry.status != "waiting":
        raise Conflict("该候补已结束", code="waitlist_closed")
    entry.update(actions=[WaitlistEntry.status.set("left")], condition=WaitlistEntry.status == "waiting")
    _release_claim(entry)


def offer_next(list_key: str, slot_id: str, policy_minutes: int | None = None) -> WaitlistEntry | None:
    """Hold one freed place of `slot_id` for the first person waiting, and tell them."""
    bucket, start_key = parse_slot_id(slot_id)
    waiting = [e for e in WaitlistEntry.query(list_key, filter_condition=WaitlistEntry.status == "waiting",
                                              consistent_read=True)]
    if not waiting:
        return None
    from backend.services.schedules import get_policy
    facility_id = list_key.split("#")[0]
    minutes = policy_minutes or get_policy(facility_id).offer_minutes
    now = _now()
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
                      url=f"/booking/offer?list={list_key}&entry={entry.entry_id}",
                      urgent=True, dedupe_key=f"offer#{entry.entry_id}#{slot_id}")
        return entry
    return None


def accept_offer(user, list_key: str, entry_id: str, client_request_id: str) -> BookResult:
    entry = _entry(list_key, entry_id)
    if entry.booker_login != user.login:
        raise Forbidden("不能操作他人的候补", code="not_your_waitlist")
    if entry.status == "booked" and entry.booking_id:
        return BookResult([Booking.get(entry.booking_id)], replayed=True)
    if entry.status != "offered" or int(entry.offer_expires or 0) <= _now():
        raise Conflict("候补名额已过期或已处理", code="offer_expired")
    return _book(user, entry.subject_id, [entry.offer_slot_id], client_request_id, exams=False,
                 offer=entry)


def _return_hold(entry: WaitlistEntry, status: str) -> bool:
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
    _release_claim(entry)
    return True


def decline_offer(user, list_key: str, entry_id: str) -> None:
    entry = _entry(list_key, entry_id)
    if entry.booker_login != user.login:
        raise Forbidden("不能操作他人的候补", code="not_your_waitlist")
    if entry.status != "offered":
        raise Conflict("候补名额已过期或已处理", code="offer_expired")
    if _return_hold(entry, "declined"):
        offer_next(list_key, entry.offer_slot_id)


def expire_offers(now: float | None = None) -> dict:
    """Offers past their time limit go back and on to the next person (idempotent)."""
    now = now or _now()
    expired = offered = 0
    for entry in WaitlistEntry.by_offer.query("offered", WaitlistEntry.offer_expires <= int(now)):
        if _return_hold(entry, "expired"):
            expired += 1
            if offer_next(entry.list_key, entry.offer_slot_id):
                offered += 1
    return {"expired": expired, "offered": offered}


# ---- arrivals and no-shows --------------------------------------------------------------

def day_bookings(user, day: date) -> list[Booking]:
    if user.role not in ("township_admin", "hospital_admin") or not user.facility_id:
        raise Forbidden("只有机构管理员可以查看当日预约")
    return sorted(Booking.by_day.query(f"{user.facility_id}#{day.isoformat()}"),
                  key=lambda b: b.order_key)


def mark_attendance(user, booking_id: str, status: str) -> Booking:
    if user.role not in ("township_admin", "hospital_admin"):
        raise Forbidden("只有机构工作人员可以登记到诊")
    if status not in ("arrived", "no_show"):
        raise ValidationFailed("状态应为已到诊或未到诊", code="invalid_status")
    booking = _load(booking_id)
    if booking.facility_id != user.facility_id:
        raise Forbidden("不是本机构的预约", code="not_your_facility")
    if booking.status != "booked":
        raise Conflict("该预约已取消或已登记", code="not_active")
    now = _now()
    if status == "no_show" and int(booking.starts_at) > now:
        raise Conflict("就诊时间未到，不能登记爽约", code="too_early")
    ledger_key = f"dept#{booking.facility_id}#{booking.department}"
    tally = Tally()  # county indicators, in the same transaction
    if status == "arrived":
        tally.month(booking.facility_id, "bookings_attended")
    try:
        with transaction() as tx:
            tally.apply(tx)
            tx.update(booking, actions=[Booking.status.set(status), Booking.changed_at.set(utcnow()),
                                        Booking.changed_by.set(user.login)],
                      condition=Booking.status == "booked")
            tx.update(BookingLedger(booking.subject_id, ledger_key),
                      actions=[BookingLedger.holds[booking.booking_id].remove()],
                      condition=BookingLedger.subject_id.exists())
    except TransactWriteError:
        raise Conflict("预约状态已变化，请刷新后重试", code="not_active") from None
    booking.status = status
    if status == "no_show":
        _apply_noshow(booking, now)
    else:
        from backend.services import satisfaction
        satisfaction.invite(booking.subject_id, url=f"/rate/booking/{booking.booking_id}",
                            what=f"{booking.facility_name}{booking.department}就诊",
                            dedupe=booking.booking_id)
    return booking


def _apply_noshow(booking: Booking, now: float) -> None:
    from backend.services.schedules import get_policy
    policy = get_policy(booking.facility_id)
    rule = rules.NoShowRule(policy.noshow_limit, policy.noshow_window_days, policy.pause_days)
    subject = Resident.get(booking.subject_id)
    by_proxy = bool(booking.booker_resident_id) and booking.booker_resident_id != booking.subject_id
    person = booking.booker_resident_id or booking.subject_id
    try:
        state = BookingLedger.get(person, "state", consistent_read=True)
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
                      url=f"/booking/{booking.booking_id}", dedupe_key=f"noshow#{booking.booking_id}")
        return
    if outcome.action == "exempt":
        return
    actions = [BookingLedger.noshows.set([int(t.timestamp()) for t in outcome.recent])]
    if outcome.paused_until:
        actions.append(BookingLedger.paused_until.set(int(outcome.paused_until.timestamp())))
    BookingLedger(person, "state").update(actions=actions)
    if outcome.paused_until:
        notify.notify(notify.resident_recipient(person), kind="booking_paused", title="在线预约已暂停",
                      body=(f"近{rule.window_days}天内{len(outcome.recent)}次预约未就诊，"
                            f"在线预约暂停至{outcome.paused_until:%Y年%m月%d日}。如有疑问请联系卫生院。"),
                      url="/booking", dedupe_key=f"paused#{booking.booking_id}")


# ---- browsing ---------------------------------------------------------------------------

def _facility(facility_id: str) -> Facility:
    from backend.services.schedules import get_facility
    return get_facility(facility_id)


def list_centres(user) -> list[Facility]:
    """The lead hospital and the centres of the county (a resident's own centre first)."""
    home = None
    if user.role == "resident" and user.resident_id:
        try:
            home = Resident.get(user.resident_id).township_id
        except DoesNotExist:
            home = None
    anchor = _facility(home or user.facility_id or "hosp-01")
    county = anchor.county_id
    centres = [f for f in Facility.by_parent.query(county)
               if f.kind in ("hospital", "township", "community")]
    return sorted(centres, key=lambda f: (f.facility_id != home, f.kind != "hospital", f.facility_id))


def list_departments(facility_id: str) -> list[dict]:
    from backend.services.schedules import list_templates
    facility = _facility(facility_id)
    kinds: dict[str, str] = {}
    for t in list_templates(facility.facility_id):
        kinds.setdefault(t.department, t.kind)
    return [{"name": d, "kind": kinds[d]} for d in (facility.departments or []) if d in kinds]


def list_days(user, facility_id: str, department: str) -> list[dict]:
    facility = _facility(facility_id)
    pref = _preference_for_listing(user, facility)
    now = _now()
    today = datetime.fromtimestamp(now, CHINA).date()
    first = today.isoformat()
    last = (today + timedelta(days=61)).isoformat()
    days: dict[str, dict] = {}
    for slot in Slot.query(f"{facility_id}#{department}", Slot.start_key.between(first, last)):
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
    facility = _facility(facility_id)
    pref = _preference_for_listing(user, facility)
    now = _now()
    out = []
    for slot in Slot.query(f"{facility_id}#{department}", Slot.start_key.startswith(day.isoformat())):
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
    if not 1 <= len(slot_ids) <= MAX_EXAMS:
        raise ValidationFailed(f"请选择1至{MAX_EXAMS}项检查", code="too_many_exams")
    keys = [parse_slot_id(s) for s in slot_ids]
    got = _fetch([(Slot, b, k) for b, k in keys])
    if any(s is None for s in got):
        raise NotFound("找不到该号源，可能已调整，请刷新", code="slot_not_found")
    return got


def book_referral(user, *, resident_id: str, facility_id: str, department: str,
                  referral_id: str, search_days: int = 14) -> str | None:
    """A referral up: the earliest slice with a reserved referral place, booked by the doctor.

    Returns the booking id, or None when no reserved place is free in `search_days`. The
    client request id is the referral's, so a retried referral never books twice.
    """
    from backend.services.schedules import bucket_of
    now = _now()
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


class BookingAppointments:
    """Tomorrow's booked appointments, for the day-before reminder (`reminders.SOURCES`).

    One Query per bookable facility on the by-day index; facilities are found from the
    counties down (Query by-parent), so no table is scanned.
    """

    def appointments_on(self, day: date):
        from datetime import timezone

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
                        what="检查" if b.kind == "exam" else "门诊",
                        url=f"/booking/{b.booking_id}", also_notify=proxy)


def _register_reminders() -> None:
    from backend.services import reminders
    if not any(isinstance(s, BookingAppointments) for s in reminders.SOURCES):
        reminders.SOURCES.append(BookingAppointments())


_register_reminders()
