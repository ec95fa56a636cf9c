"""The notice ladder for must-arrive kinds: inbox, then push, then a text if push could not.

    after_channels(notices, deliveries)   notify's last step: text now where no push went out
                                          (no working subscription, push failed); check later
                                          where it did (per-kind time, `rules.texts.LADDER`)
    run_due(now)                          the every-minute task: text the unconfirmed ones
    FALLBACKS                             channels tried in order when push did not confirm:
                                          today the text (`TextChannel`); a WeChat
                                          subscription-message channel would go before it
    record_receipts(provider, receipts)   delivery receipts (callback) → the notice

At most one text per notice: the notice's `text_state` is claimed by a conditional write
that also requires it unread. Texts respect quiet hours (22:00-07:00) except urgent kinds,
and the per-person and per-county daily budgets (one transaction over both counters; a
refused text is counted as skipped for the county to see; the notice stays in the inbox).
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from flask import current_app
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError

from backend.models.base import condition_failed, failed_items, transaction, utcnow
from backend.models.notices import Delivery, Notice
from backend.models.people import Resident
from backend.models.texts import CountyTextBudget, NoticeEscalation, TextCounter, TextMessage
from backend.rules import push as push_rules
from backend.rules import texts as rules

__all__ = ["after_channels", "run_due", "climb", "FALLBACKS", "FallbackChannel", "TextChannel",
           "record_receipts", "Receipt", "county_day", "budget_for", "set_budget"]

log = logging.getLogger(__name__)


class FallbackChannel(Protocol):
    """A channel that reaches a person whose push did not confirm (text; later WeChat).

    `reach` returns what happened, or None when it does not apply (e.g. the person has no
    WeChat binding) so that the next fallback is tried.
    """

    name: str

    def reach(self, notice: Notice, resident: Resident, now: datetime) -> Delivery | None: ...


def _cfg():
    return current_app.config["COUNTYCARE"]


def _local_day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(_cfg().timezone)).date().isoformat()


# ---- scheduling -------------------------------------------------------------------------

def _schedule(notices_due: list[tuple[Notice, datetime]]) -> None:
    if not notices_due:
        return
    with NoticeEscalation.batch_write() as batch:
        for notice, due in notices_due:
            batch.save(NoticeEscalation(_local_day(due), f"{due.isoformat()}#{notice.recipient}#{notice.notice_id}",
                                        recipient=notice.recipient, notice_id=notice.notice_id,
                                        expires_at=due + timedelta(days=3)))


def after_channels(notices: list[Notice], deliveries: dict[str, list[Delivery]],
                   now: datetime | None = None) -> dict:
    """For each must-arrive notice to a resident: text now, or check after the kind's time."""
    now = now or utcnow()
    later, at_once = [], []
    for notice in notices:
        ladder = rules.ladder_for(notice.kind)
        if ladder is None or not notice.recipient.startswith("res:"):
            continue
        push = [d for d in deliveries.get(notice.notice_id, []) if d.channel == "webpush"]
        status = push[0].status if push else None
        if status == "delivered":
            later.append((notice, now + timedelta(minutes=ladder.confirm_minutes)))
        elif status == "held":   # pushed at 07:00; checked once it has had its time
            release = push_rules.quiet_hours_end(now, _cfg().timezone)
            later.append((notice, release + timedelta(minutes=ladder.confirm_minutes)))
        else:                   # no working subscription, or the push failed
            at_once.append(notice)
    _schedule(later)
    outcomes = _each(lambda n: climb(n, now), at_once)
    return {"scheduled": len(later), "texted_now": sum(1 for o in outcomes if o == "sent")}


def run_due(now: datetime | None = None, limit: int = 2000) -> dict:
    """Text every due notice whose push was not confirmed; idempotent (claimed by delete)."""
    now = now or utcnow()
    today = datetime.fromisoformat(_local_day(now)).date()
    claimed: list[NoticeEscalation] = []
    for day in (today - timedelta(days=1), today):
        for item in NoticeEscalation.query(day.isoformat(),
                                           NoticeEscalation.due_key <= f"{now.isoformat()}~",
                                           limit=limit):
            try:
                item.delete(condition=NoticeEscalation.due_key.exists())
                claimed.append(item)
            except DeleteError:
                continue
    notices = list(Notice.batch_get([(c.recipient, c.notice_id) for c in claimed])) if claimed else []
    counts: dict[str, int] = {}
    for outcome in _each(lambda n: climb(n, now), notices):
        counts[outcome] = counts.get(outcome, 0) + 1
    return {"due": len(claimed), **counts}


def _each(fn, items: list, workers: int = 8) -> list:
    """`fn` over items, a few at once (each is a few DynamoDB calls and a provider call)."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor
    app = current_app._get_current_object()

    def run(item):
        with app.app_context():
            return fn(item)
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(run, items))


# ---- one step up the ladder ---------------------------------------------------------------

def climb(notice: Notice, now: datetime) -> str:
    """Try the fallback channels for one notice; returns what happened (a short word)."""
    if notice.read_at is not None:
        return "confirmed"
    if notice.text_state is not None:
        return "already"
    ladder = rules.ladder_for(notice.kind)
    urgent = notice.urgent == "1" or (ladder is not None and ladder.urgent)
    if not urgent and push_rules.in_quiet_hours(now, _cfg().timezone):
        release = push_rules.quiet_hours_end(now, _cfg().timezone)
        _schedule([(notice, release.astimezone(now.tzinfo))])
        return "quiet_hours"
    resident = _resident(notice.recipient)
    for channel in FALLBACKS:
        delivery = channel.reach(notice, resident, now)
        if delivery is not None:
            return delivery.status if delivery.detail is None else delivery.detail.split(":")[0]
    return "no_channel"


def _resident(recipient: str) -> Resident | None:
    try:
        return Resident.get(recipient[len("res:"):])
    except DoesNotExist:
        return None


def _record(notice: Notice, state: str, delivery: Delivery) -> None:
    notice.update(actions=[Notice.text_state.set(state),
                           Notice.deliveries.set(Notice.deliveries.append([delivery]))])


def _claim(notice: Notice) -> bool:
    try:
        notice.update(actions=[Notice.text_state.set("claimed")],
                      condition=Notice.text_state.does_not_exist() & Notice.read_at.does_not_exist())
        return True
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


# ---- budgets ------------------------------------------------------------------------------

_counties: dict[str, str] = {}
_budgets: dict[str, tuple[float, tuple[int, int]]] = {}


def county_of(township_id: str) -> str:
    """The county of a township centre (facilities change rarely: cached per process)."""
    if township_id not in _counties:
        from backend.models.facility import Facility
        try:
            _counties[township_id] = Facility.get(township_id).county_id
        except DoesNotExist:
            _counties[township_id] = "unknown"
    return _counties[township_id]


def budget_for(county_id: str) -> tuple[int, int]:
    """(texts per day for the county, texts per person per day); 60 s cache."""
    cached = _budgets.get(county_id)
    if cached and cached[0] > time.time():
        return cached[1]
    cfg = _cfg()
    try:
        b = CountyTextBudget.get(county_id)
        value = (int(b.daily_limit), int(b.per_person))
    except DoesNotExist:
        value = (cfg.sms_county_daily_default, cfg.sms_person_daily_default)
    _budgets[county_id] = (time.time() + 60, value)
    return value


def set_budget(user, county_id: str, daily_limit: int, per_person: int) -> CountyTextBudget:
    budget = CountyTextBudget(county_id, daily_limit=daily_limit, per_person=per_person,
                              set_by=user.login, set_at=utcnow())
    budget.save()
    _budgets.pop(county_id, None)
    return budget


def county_day(county_id: str, day: str) -> dict:
    try:
        c = TextCounter.get(f"county#{county_id}#{day}")
        return {"sent": int(c.count or 0), "skipped": int(c.skipped or 0)}
    except DoesNotExist:
        return {"sent": 0, "skipped": 0}


def _take_budget(resident_id: str, county_id: str, day: str, now: datetime) -> str | None:
    """Count one text against both budgets at once; the name of the one spent, or None."""
    county_limit, person_limit = budget_for(county_id)
    expires = now + timedelta(days=3)
    person = TextCounter(f"person#{resident_id}#{day}")
    county = TextCounter(f"county#{county_id}#{day}")
    for attempt in range(6):
        try:
            with transaction() as tx:
                tx.update(person, actions=[TextCounter.count.add(1), TextCounter.expires_at.set(expires)],
                          condition=TextCounter.count.does_not_exist() | (TextCounter.count < person_limit))
                tx.update(county, actions=[TextCounter.count.add(1), TextCounter.expires_at.set(expires)],
                          condition=TextCounter.count.does_not_exist() | (TextCounter.count < county_limit))
            return None
        except TransactWriteError as err:
            if condition_failed(err):
                spent = "person" if 0 in failed_items(err) else "county"
                county.update(actions=[TextCounter.skipped.add(1), TextCounter.expires_at.set(expires)])
                return spent
            # The county's counter is one hot item: concurrent transactions on it conflict.
            if attempt == 5 or not any(r and r.code == "TransactionConflict"
                                       for r in err.cancellation_reasons or []):
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    return None


def _refund(resident_id: str, county_id: str, day: str) -> None:
    """A text the provider refused costs nothing: give both budgets their unit back."""
    with transaction() as tx:
        tx.update(TextCounter(f"person#{resident_id}#{day}"), actions=[TextCounter.count.add(-1)])
        tx.update(TextCounter(f"county#{county_id}#{day}"), actions=[TextCounter.count.add(-1)])


# ---- the text channel ----------------------------------------------------------------------

class TextChannel:
    """A text through the licensed provider: the kind's label only, never the notice's body."""

    name = "sms"

    def reach(self, notice: Notice, resident: Resident | None, now: datetime) -> Delivery | None:
        from backend.services.sms import SmsFailed

        if resident is None or not resident.phone:
            if _claim(notice):
                _record(notice, "no_phone", Delivery(channel=self.name, status="skipped", at=now,
                                                      detail="no_phone"))
            return Delivery(channel=self.name, status="skipped", at=now, detail="no_phone")
        if not _claim(notice):
            return Delivery(channel=self.name, status="skipped", at=now, detail="already")
        day = _local_day(now)
        county = county_of(resident.township_id)
        spent = _take_budget(resident.resident_id, county, day, now)
        if spent:
            delivery = Delivery(channel=self.name, status="skipped", at=now, detail=f"budget_{spent}")
            _record(notice, "skipped", delivery)
            return delivery
        texter = current_app.extensions["code_sender"]
        try:
            sent = texter.send_text(resident.phone, "notice", {"label": rules.label_for(notice.kind)},
                                    out_id=notice.notice_id)
        except SmsFailed as err:
            _refund(resident.resident_id, county, day)
            delivery = Delivery(channel=self.name, status="failed", at=utcnow(), detail=err.code)
            _record(notice, "failed", delivery)
            return delivery
        try:
            TextMessage(f"{sent.provider}#{sent.message_id}", recipient=notice.recipient,
                        notice_id=notice.notice_id, sent_at=utcnow(),
                        expires_at=now + timedelta(days=7)).save(
                condition=TextMessage.message_key.does_not_exist())
        except PutError:
            log.warning("duplicate provider message id %s", sent.message_id)
        delivery = Delivery(channel=self.name, status="sent", at=utcnow(),
                            detail=f"{sent.provider}, {sent.attempts} attempt(s)")
        _record(notice, "sent", delivery)
        return Delivery(channel=self.name, status="sent", at=delivery.at)


FALLBACKS: list[FallbackChannel] = [TextChannel()]


# ---- delivery receipts --------------------------------------------------------------------------

@dataclass(frozen=True)
class Receipt:
    message_id: str
    delivered: bool
    code: str
    at: datetime


def record_receipts(provider: str, receipts: list[Receipt]) -> dict:
    """Record each receipt once on its notice; receipts for ids we never sent are ignored."""
    counts = {"recorded": 0, "unknown": 0, "repeated": 0}
    for r in receipts:
        try:
            message = TextMessage.get(f"{provider}#{r.message_id}")
        except DoesNotExist:
            counts["unknown"] += 1
            continue
        status = rules.receipt_status(r.delivered)
        try:
            message.update(actions=[TextMessage.receipt.set(status), TextMessage.receipt_at.set(r.at)],
                           condition=TextMessage.receipt.does_not_exist())
        except UpdateError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                counts["repeated"] += 1
                continue
            raise
        Notice(message.recipient, message.notice_id).update(actions=[Notice.deliveries.set(
            Notice.deliveries.append([Delivery(channel="sms", status=status, at=r.at,
                                               detail=f"receipt {r.code}"[:60])]))])
        counts["recorded"] += 1
    return counts
