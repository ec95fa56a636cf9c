"""Scarce non-programme vaccines: one generic allocation (lottery window or visible queue).

Invariants held by conditions, never by reading first:
- one request per identity number (`alloc#<window>#<id number>` claimed with the request);
- a lottery request only while the window is open (ConditionCheck `state = open` and
  `closes_at > now` in the request's transaction; the draw first sets `state = drawing`);
- stock is never oversold: every promise of a whole series decrements `remaining` with
  `remaining >= doses`; stock changes are refused below zero;
- a draw is deterministic (`rules.allocation.draw_order`), so running it twice, or
  resuming one that stopped half way, gives the same ranks and winners.
Residents never see stock figures (no public stock API for scripts to poll): only whether
they may request and what happened to their request.
"""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.models.base import condition_failed, failed_items, new_id, transaction, utcnow
from backend.models.facility import Facility
from backend.models.people import Uniqueness
from backend.models.vaccination import AllocationRequest, AllocationWindow
from backend.rules import allocation as rules
from backend.rules.booking import CHINA
from backend.rules.identity import age_on
from backend.services import audit, links, notify
from backend.services.residents import get_resident, may_act_for

__all__ = ["WindowInput", "create_window", "request_place", "draw", "verify_draw", "confirm",
           "adjust_stock", "windows_for", "get_window", "my_request", "release_expired",
           "draw_list"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MODES = ("lottery", "queue")


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class WindowInput:
    vaccine_name: str
    facility_id: str
    stock: int
    doses_per_person: int
    mode: str
    opens: datetime
    closes: datetime
    min_age: int = 0
    max_age: int = 150
    hold_hours: int = 48


def _county_user(user) -> str:
    if user.role != "county" or not user.facility_id:
        raise Forbidden("只有旗卫健委可以管理紧缺疫苗分配", code="county_only")
    return user.facility_id


def get_window(window_id: str) -> AllocationWindow:
    if not window_id or len(window_id) > 64:
        raise NotFound("找不到该疫苗分配", code="window_not_found")
    try:
        return AllocationWindow.get(window_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("找不到该疫苗分配", code="window_not_found") from None


def _own_window(user, window_id: str) -> AllocationWindow:
    county = _county_user(user)
    window = get_window(window_id)
    if window.county_id != county:
        raise NotFound("找不到该疫苗分配", code="window_not_found")
    return window


def create_window(user, data: WindowInput) -> AllocationWindow:
    county = _county_user(user)
    if data.mode not in MODES:
        raise ValidationFailed("分配方式应为摇号或排队", code="invalid_mode")
    if data.stock < 0:
        raise ValidationFailed("库存不能小于0", code="stock_below_zero")
    if not 1 <= data.doses_per_person <= 5:
        raise ValidationFailed("每人剂次应为1-5剂", code="invalid_doses")
    if data.closes <= data.opens:
        raise ValidationFailed("截止时间应晚于开始时间", code="invalid_window")
    if not 0 <= data.min_age <= data.max_age <= 150:
        raise ValidationFailed("年龄范围不正确", code="invalid_ages")
    try:
        facility = Facility.get(data.facility_id)
    except DoesNotExist:
        raise ValidationFailed("请选择本旗的接种单位", code="invalid_facility") from None
    if facility.county_id != county or facility.kind not in ("township", "community"):
        raise ValidationFailed("请选择本旗的接种单位", code="invalid_facility")
    seed = secrets.token_hex(16)
    window = AllocationWindow(new_id(), county_id=county, facility_id=facility.facility_id,
                              facility_name=facility.name, vaccine_name=data.vaccine_name.strip()[:30],
                              doses_per_person=data.doses_per_person, stock=data.stock,
                              remaining=data.stock, mode=data.mode,
                              opens_at=int(data.opens.timestamp()),
                              closes_at=int(data.closes.timestamp()), min_age=data.min_age,
                              max_age=data.max_age, hold_hours=data.hold_hours, state="open",
                              seed=seed, seed_commitment=rules.commitment(seed),
                              created_by=user.login, created_at=utcnow())
    window.save(condition=AllocationWindow.window_id.does_not_exist())
    return window


def windows_for(county_id: str) -> list[AllocationWindow]:
    return list(AllocationWindow.by_county.query(county_id, scan_index_forward=False, limit=50))


def _authorise(user, resident) -> str:
    """The inbox that hears the result; residents for themselves or people who authorised
    them, village and family doctors for their team's residents (people without phones)."""
    if user.role == "resident":
        if not may_act_for(user, resident.resident_id):
            raise Forbidden("该居民未授权您代为申请", code="not_authorised")
        return notify.resident_recipient(user.resident_id)
    if user.role == "doctor":
        if not resident.team_id or resident.team_id != user.team_id:
            raise Forbidden("只能为本团队签约居民代为申请", code="not_your_resident")
        return user.login
    raise Forbidden("您没有权限申请")


def request_place(user, window_id: str, subject_id: str, client_request_id: str) -> AllocationRequest:
    """File one real-name request (lottery) or take a place in the queue (queue mode)."""
    if not _REQUEST_ID.fullmatch(client_request_id or ""):
        raise ValidationFailed("请求编号格式不正确", code="invalid_request_id")
    window = get_window(window_id)
    resident = get_resident(subject_id)
    recipient = _authorise(user, resident)
    replay_key = f"allocreq#{user.login}#{client_request_id}"
    try:
        owner = Uniqueness.get(replay_key, consistent_read=True).owner
        return AllocationRequest.get(window_id, owner, consistent_read=True)
    except DoesNotExist:
        pass
    now = _now()
    if window.state != "open" or now >= int(window.closes_at):
        raise Conflict("申请已截止", code="window_closed")
    if now < int(window.opens_at):
        opens = datetime.fromtimestamp(int(window.opens_at), CHINA)
        raise Conflict(f"将于{opens:%m月%d日 %H:%M}开始申请", code="window_not_open")
    if not resident.id_number:
        raise ValidationFailed("实名申请须先登记身份证号", code="id_number_required")
    age = age_on(date.fromisoformat(resident.birth_date), datetime.fromtimestamp(now, CHINA).date())
    if not int(window.min_age) <= age <= int(window.max_age):
        raise Forbidden(f"该疫苗面向{int(window.min_age)}-{int(window.max_age)}岁人群",
                        code="not_eligible")
    doses = int(window.doses_per_person)
    request = AllocationRequest(window_id, new_id(), resident_id=resident.resident_id,
                                name=resident.name, booker_login=user.login, recipient=recipient,
                                status="requested", doses=doses, created_at=utcnow())
    queue = window.mode == "queue"
    outcome = _file(window, request, resident.id_number, replay_key, now, take_place=queue)
    if outcome == "sold_out":
        # The queue is full: the request waits in arrival order for a place that comes back.
        request.status, request.hold_until = "queued", None
        outcome = _file(window, request, resident.id_number, replay_key, now, take_place=False)
    if outcome == "replayed":
        owner = Uniqueness.get(replay_key, consistent_read=True).owner
        return AllocationRequest.get(window_id, owner, consistent_read=True)
    if outcome == "duplicate":
        raise Conflict("同一身份证号只能申请一次", code="already_requested")
    if outcome == "closed":
        raise Conflict("申请已截止", code="window_closed")
    audit.record(actor=user.login, actor_role=user.role, subject_id=resident.resident_id,
                 action="write", what=f"allocation.request#{window_id}")
    return request


def _file(window, request, id_number: str, replay_key: str, now: float, *, take_place: bool) -> str:
    """One transaction: the two claims, the request, and the window (a place taken from the
    stock, or only a check that the window is open). Returns ok / replayed / duplicate /
    sold_out / closed."""
    doses = int(window.doses_per_person)
    if take_place:
        request.status, request.hold_until = "won", int(now + int(window.hold_hours) * 3600)
    open_cond = (AllocationWindow.state == "open") & (AllocationWindow.closes_at > int(now))
    try:
        with transaction() as tx:
            if not take_place:
                tx.condition_check(AllocationWindow, window.window_id, condition=open_cond)
            tx.save(Uniqueness(replay_key, owner=request.request_id),
                    condition=Uniqueness.key.does_not_exist())
            tx.save(Uniqueness(f"alloc#{window.window_id}#{id_number}", owner=request.request_id),
                    condition=Uniqueness.key.does_not_exist())
            tx.save(request, condition=AllocationRequest.request_id.does_not_exist())
            if take_place:
                tx.update(window, actions=[AllocationWindow.remaining.add(-doses),
                                           AllocationWindow.winners.add(1)],
                          condition=open_cond & (AllocationWindow.remaining >= doses))
    except TransactWriteError as err:
        if not condition_failed(err):
            raise
        failed = set(failed_items(err))
        first = 0 if take_place else 1      # PynamoDB's order: checks, saves, updates
        if first in failed:
            return "replayed"
        if first + 1 in failed:
            return "duplicate"
        if take_place and window.state == "open" and now < int(window.closes_at):
            return "sold_out"
        return "closed"
    return "ok"


def my_request(user, window_id: str, subject_id: str) -> AllocationRequest | None:
    resident = get_resident(subject_id)
    _authorise(user, resident)
    try:
        owner = Uniqueness.get(f"alloc#{window_id}#{resident.id_number}").owner
        return AllocationRequest.get(window_id, owner, consistent_read=True)
    except DoesNotExist:
        return None


def _hold_text(until: int) -> str:
    moment = datetime.fromtimestamp(until, CHINA)
    return f"{moment.month}月{moment.day}日 周{'一二三四五六日'[moment.weekday()]} {moment:%H:%M}"


def draw(user, window_id: str) -> AllocationWindow:
    """Run the lottery once the window has closed; a second run returns the same result."""
    window = _own_window(user, window_id)
    if window.mode != "lottery":
        raise Conflict("排队分配不需要摇号", code="not_a_lottery")
    if window.state == "drawn":
        return window
    now = _now()
    if now < int(window.closes_at):
        raise Conflict("申请尚未截止，不能摇号", code="window_still_open")
    if window.state == "open":
        try:
            window.update(actions=[AllocationWindow.state.set("drawing")],
                          condition=AllocationWindow.state == "open")
        except UpdateError as err:
            if err.cause_response_code != "ConditionalCheckFailedException":
                raise
            window = get_window(window_id)
            if window.state == "drawn":
                return window
    requests = {r.request_id: r for r in AllocationRequest.query(window_id, consistent_read=True)}
    order = rules.draw_order(window.seed, list(requests))
    doses = int(window.doses_per_person)
    k = rules.winners_count(len(order), int(window.remaining), doses)
    hold = int(now + int(window.hold_hours) * 3600)
    with AllocationRequest.batch_write() as batch:
        for rank, request_id in enumerate(order):
            r = requests[request_id]
            r.rank = rank
            r.status = "won" if rank < k else "lost"
            r.hold_until = hold if rank < k else None
            batch.save(r)
    try:
        window.update(actions=[AllocationWindow.state.set("drawn"),
                               AllocationWindow.remaining.add(-k * doses),
                               AllocationWindow.entries.set(len(order)),
                               AllocationWindow.winners.set(k),
                               AllocationWindow.next_rank.set(k),
                               AllocationWindow.entries_digest.set(rules.digest(sorted(order))),
                               AllocationWindow.winners_digest.set(rules.digest(order[:k])),
                               AllocationWindow.drawn_at.set(utcnow())],
                      condition=(AllocationWindow.state == "drawing")
                      & (AllocationWindow.remaining >= k * doses))
    except UpdateError as err:
        if err.cause_response_code != "ConditionalCheckFailedException":
            raise
        return get_window(window_id)   # another run finished first: same order, same winners
    audit.record(actor=user.login, actor_role=user.role, subject_id=f"allocation#{window_id}",
                 action="write", what="allocation.draw")
    notify.notify_many([notify.NoticeRequest(
        requests[i].recipient, kind="vaccine_due", title=f"{window.vaccine_name}：已中签",
        body=f"{requests[i].name}已中签，{window.facility_name}为其保留全程{doses}剂。"
             f"请在{_hold_text(hold)}前确认，逾期名额将依次顺延。",
        url=links.scarce_window(window_id), dedupe_key=f"alloc-won#{window_id}#{i}")
        for i in order[:k]])
    return get_window(window_id)


def verify_draw(user, window_id: str) -> dict:
    """Re-run the draw from the published seed and the stored entries; compare the digests."""
    window = _own_window(user, window_id)
    if window.state != "drawn":
        raise Conflict("尚未摇号", code="not_drawn")
    ids = [r.request_id for r in AllocationRequest.query(window_id, consistent_read=True,
                                                         attributes_to_get=["request_id"])]
    order = rules.draw_order(window.seed, ids)
    stored = [r.request_id for r in AllocationRequest.by_rank.query(window_id)]
    k = int(window.winners)
    return {"seed": window.seed, "seed_commitment": window.seed_commitment,
            "commitment_matches": rules.commitment(window.seed) == window.seed_commitment,
            "entries": len(ids), "entries_digest": rules.digest(sorted(ids)),
            "winners_digest": rules.digest(order[:k]),
            "same_result": order == stored and rules.digest(order[:k]) == window.winners_digest}


def draw_list(user, window_id: str) -> tuple[AllocationWindow, list[AllocationRequest]]:
    window = _own_window(user, window_id)
    return window, list(AllocationRequest.by_rank.query(window_id, limit=200))


def confirm(user, window_id: str, subject_id: str) -> AllocationRequest:
    """The winner (or who booked for them) confirms within the hold."""
    request = my_request(user, window_id, subject_id)
    if request is None:
        raise NotFound("没有找到您的申请", code="request_not_found")
    if request.status == "confirmed":
        return request
    now = int(_now())
    try:
        request.update(actions=[AllocationRequest.status.set("confirmed")],
                       condition=(AllocationRequest.status == "won")
                       & (AllocationRequest.hold_until > now))
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("该名额未中签或保留时间已过", code="hold_expired") from None
        raise
    return request


def adjust_stock(user, window_id: str, delta: int) -> AllocationWindow:
    """Add a delivery (+) or remove spoiled doses (-); never below zero, never below promises."""
    window = _own_window(user, window_id)
    if not -100_000 <= delta <= 100_000 or delta == 0:
        raise ValidationFailed("请填写调整的剂数", code="invalid_delta")
    try:
        window.update(actions=[AllocationWindow.stock.add(delta),
                               AllocationWindow.remaining.add(delta)],
                      condition=AllocationWindow.remaining >= max(0, -delta))
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("库存不能小于0（已分配的剂次不能收回）", code="stock_below_zero") from None
        raise
    return get_window(window_id)


def release_expired(now: float | None = None) -> dict:
    """Scheduled: holds past their time go back to stock and on to the next in order."""
    now = now or _now()
    released = promoted = 0
    for county in Facility.by_parent.query("root"):
        for window in windows_for(county.facility_id):
            if window.state not in ("drawn", "open") or (window.mode == "lottery"
                                                          and window.state != "drawn"):
                continue
            released += _release_window(window, now)
            promoted += _promote(get_window(window.window_id), now)
    return {"released": released, "promoted": promoted}


def _release_window(window: AllocationWindow, now: float) -> int:
    count = 0
    doses = int(window.doses_per_person)
    expired = AllocationRequest.query(window.window_id, filter_condition=(
        (AllocationRequest.status == "won") & (AllocationRequest.hold_until <= int(now))))
    for r in expired:
        try:
            with transaction() as tx:
                tx.update(r, actions=[AllocationRequest.status.set("expired")],
                          condition=(AllocationRequest.status == "won")
                          & (AllocationRequest.hold_until <= int(now)))
                tx.update(window, actions=[AllocationWindow.remaining.add(doses)])
        except TransactWriteError as err:
            if not condition_failed(err):
                raise
            continue
        count += 1
    return count


def _promote(window: AllocationWindow, now: float) -> int:
    doses = int(window.doses_per_person)
    count = 0
    while int(window.remaining) >= doses:
        if window.mode == "lottery":
            nxt = next(iter(AllocationRequest.by_rank.query(
                window.window_id, AllocationRequest.rank >= int(window.next_rank),
                filter_condition=AllocationRequest.status == "lost", limit=50)), None)
        else:
            nxt = next(iter(AllocationRequest.query(
                window.window_id, filter_condition=AllocationRequest.status == "queued",
                limit=50)), None)
        if nxt is None:
            return count
        hold = int(now + int(window.hold_hours) * 3600)
        actions = [AllocationWindow.remaining.add(-doses)]
        if window.mode == "lottery":
            actions.append(AllocationWindow.next_rank.set(int(nxt.rank) + 1))
        try:
            with transaction() as tx:
                tx.update(nxt, actions=[AllocationRequest.status.set("won"),
                                        AllocationRequest.hold_until.set(hold)],
                          condition=AllocationRequest.status == nxt.status)
                tx.update(window, actions=actions, condition=AllocationWindow.remaining >= doses)
        except TransactWriteError as err:
            if not condition_failed(err):
                raise
            return count
        count += 1
        notify.notify(nxt.recipient, kind="vaccine_due", title=f"{window.vaccine_name}：名额顺延给您",
                      body=f"{nxt.name}获得顺延名额（全程{doses}剂），请在{_hold_text(hold)}前确认。",
                      url=links.scarce_window(window.window_id),
                      dedupe_key=f"alloc-won#{window.window_id}#{nxt.request_id}")
        window = get_window(window.window_id)
    return count
