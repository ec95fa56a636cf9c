"""The notification interface every capability calls: `notify(...)`.

A notice always lands in the person's in-app inbox (nothing is lost where push does not
work, e.g. WeChat's browser); further channels (Web Push, SMS, ...) are `Channel`s that
`notify` hands the notice to after it is stored. Recipients are `res:<resident_id>` for
residents and the staff login (`s:<name>`) for staff: `recipient_for(user)` gives it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from pynamodb.exceptions import UpdateError

from backend.models.base import new_id, utcnow
from backend.models.notices import Delivery, Notice
from backend.models.people import save_with_claim

__all__ = ["notify", "notify_many", "NoticeRequest", "recipient_for", "resident_recipient",
           "Channel", "CHANNELS", "inbox", "mark_read", "mark_all_read", "unread_count",
           "get_notice", "record_deliveries"]

log = logging.getLogger(__name__)

INBOX_LIMIT = 100


class Channel(Protocol):
    """A way to reach people besides the inbox (Web Push; later SMS, WeChat notices).

    `deliver` returns what happened (recorded on the notice) or None when the channel
    does not apply (e.g. the person has no device). A channel may also define
    `deliver_many(notices) -> {notice_id: Delivery}` to fan out a batch concurrently.
    """

    name: str

    def deliver(self, notice: Notice) -> Delivery | None: ...


# Extra channels registered at start-up (`backend.services.push.install` adds Web Push).
CHANNELS: list[Channel] = []


@dataclass(frozen=True)
class NoticeRequest:
    """One notice to send: what `notify` takes, as a value for `notify_many`."""

    recipient: str
    kind: str
    title: str
    body: str
    url: str = "/notices"
    urgent: bool = False
    dedupe_key: str | None = None
    about: str | None = None   # set on the copies for carers: the resident it is about


def _with_carers(requests: list[NoticeRequest]) -> list[NoticeRequest]:
    """The requests, then a copy of each one about a resident without a phone for each
    relative they authorised (`ProxyGrant` by-subject) and each member of their family
    doctor's team. A copy keeps the original's dedupe key, so a relative who was also told
    directly (e.g. as the booker) gets the notice once."""
    from backend.models.facility import Team
    from backend.models.people import ProxyGrant, Resident
    from backend.rules.texts import TEAM_KNOWS

    ids = sorted({r.recipient[4:] for r in requests if r.recipient.startswith("res:") and not r.about})
    if not ids:
        return requests
    found = {p.resident_id: p for p in Resident.batch_get(
        ids, attributes_to_get=["resident_id", "phone", "team_id", "name"])}
    phoneless = {i: p for i, p in found.items() if not p.phone}
    if not phoneless:
        return requests
    carers: dict[str, list[str]] = {}
    teams: dict[str, list[str]] = {}
    for rid, person in phoneless.items():
        carers[rid] = [resident_recipient(g.proxy_id) for g in ProxyGrant.by_subject.query(rid)]
        if person.team_id and person.team_id not in teams:
            try:
                teams[person.team_id] = [m.login for m in Team.get(person.team_id).members]
            except Team.DoesNotExist:
                teams[person.team_id] = []
    out = list(requests)
    # A relative told directly keeps their own request: a copy with the same dedupe key
    # would race it for the claim and could win with the elder's wording.
    direct = {(r.recipient, r.dedupe_key) for r in requests if r.dedupe_key}
    for r in requests:
        rid = r.recipient[4:] if r.recipient.startswith("res:") else None
        person = phoneless.get(rid or "")
        if person is None:
            continue
        title = r.title if person.name in r.title else f"{person.name}：{r.title}"
        team = [] if r.kind in TEAM_KNOWS else teams.get(person.team_id or "", [])
        for carer in dict.fromkeys(carers[rid] + team):
            if carer != r.recipient and (carer, r.dedupe_key) not in direct:
                out.append(NoticeRequest(carer, r.kind, title, r.body, r.url, r.urgent,
                                         r.dedupe_key, about=rid))
    return out


def resident_recipient(resident_id: str) -> str:
    return f"res:{resident_id}"


def recipient_for(user) -> str:
    """The inbox of a signed-in user (`CurrentUser`)."""
    return resident_recipient(user.resident_id) if user.role == "resident" else user.login


def notify(recipient: str, *, kind: str, title: str, body: str, url: str = "/notices",
           urgent: bool = False, dedupe_key: str | None = None) -> Notice | None:
    """Store the notice in the inbox, then offer it to every channel.

    Returns None when a notice with the same `dedupe_key` was already sent.
    """
    return notify_many([NoticeRequest(recipient, kind, title, body, url, urgent, dedupe_key)])[0]


def notify_many(requests: list[NoticeRequest], *, concurrency: int = 8) -> list[Notice | None]:
    """`notify` for a batch (a scheduled task's reminders): stored, then fanned out.

    Results are in the order of `requests`; None where the dedupe key was already used.
    Channels with `deliver_many` get the whole batch at once (bounded concurrency inside).
    A notice to a resident without a phone is also sent to the relatives they authorised
    and to their family doctor's team (`_with_carers`), whoever calls.
    """
    original = len(requests)
    now = utcnow()
    requests = _with_carers(requests)
    notices = [Notice(r.recipient, new_id(), kind=r.kind, title=r.title[:60],
                      body=r.body[:400], url=r.url, urgent="1" if r.urgent else "0",
                      created_at=now, about=r.about,
                      deliveries=[Delivery(channel="inbox", status="delivered", at=now)])
               for r in requests]
    plain = [n for n, r in zip(notices, requests) if not r.dedupe_key]
    if len(plain) == 1:
        plain[0].save(condition=Notice.notice_id.does_not_exist())
    elif plain:
        # Fresh ULIDs cannot collide, so a batch write (no conditions) is safe here.
        with Notice.batch_write() as batch:
            for notice in plain:
                batch.save(notice)
    claimed = _parallel(lambda pair: _store_once(*pair),
                        [(n, r.dedupe_key) for n, r in zip(notices, requests) if r.dedupe_key],
                        concurrency)
    skipped = {n.notice_id for n, ok in claimed if not ok}
    stored = [n for n in notices if n.notice_id not in skipped]

    # Someone who withdrew consent to health data gets notices in the inbox only.
    from backend.services.privacy import withdrawn_among
    quiet = withdrawn_among(sorted({n.recipient[4:] for n in stored if n.recipient.startswith("res:")}))
    reach = [n for n in stored if n.recipient[4:] not in quiet or not n.recipient.startswith("res:")]
    extra: dict[str, list[Delivery]] = {}
    for channel in CHANNELS:
        for notice_id, delivery in _offer(channel, reach).items():
            if delivery is not None:
                extra.setdefault(notice_id, []).append(delivery)
    by_id = {n.notice_id: n for n in stored}
    _parallel(lambda item: record_deliveries(by_id[item[0]], item[1]), list(extra.items()), concurrency)
    # Must-arrive kinds climb the ladder: a text where push could not deliver (now or later).
    # Like any channel, a failing ladder never loses the stored notices.
    from flask import has_app_context

    from backend.services import ladder
    if has_app_context():
        try:
            ladder.after_channels(reach, extra, now)
        except Exception:
            log.exception("notice ladder failed for a batch of %d", len(reach))
    elif any(ladder.rules.is_must_arrive(n.kind) for n in reach):
        log.error("notify outside the app: must-arrive notices get no text fallback")
    return [None if n.notice_id in skipped else n for n in notices][:original]


def _store_once(notice: Notice, dedupe_key: str) -> tuple[Notice, bool]:
    # The claim and the notice are written together: a retried task adds nothing.
    return notice, save_with_claim(notice, f"notice#{notice.recipient}#{dedupe_key}",
                                   notice.notice_id)


def _offer(channel: Channel, notices: list[Notice]) -> dict[str, Delivery | None]:
    """One channel failing never stops the inbox or the others."""
    if not notices:
        return {}
    many = getattr(channel, "deliver_many", None)
    if many is not None:
        try:
            return many(notices)
        except Exception:
            log.exception("channel %s failed for a batch of %d", channel.name, len(notices))
            return {n.notice_id: Delivery(channel=channel.name, status="failed", at=utcnow(),
                                          detail="channel_error") for n in notices}
    out: dict[str, Delivery | None] = {}
    for notice in notices:
        try:
            out[notice.notice_id] = channel.deliver(notice)
        except Exception:
            log.exception("channel %s failed for a %s notice", channel.name, notice.kind)
            out[notice.notice_id] = Delivery(channel=channel.name, status="failed", at=utcnow(),
                                             detail="channel_error")
    return out


def record_deliveries(notice: Notice, deliveries: list[Delivery]) -> None:
    """Which channel delivered the notice, and when (appended to the stored notice)."""
    notice.update(actions=[Notice.deliveries.set(Notice.deliveries.append(deliveries))])


def _parallel(fn, items: list, workers: int) -> list:
    if len(items) <= 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def inbox(recipient: str, limit: int = 50) -> list[Notice]:
    """Newest first."""
    return list(Notice.query(recipient, scan_index_forward=False, limit=limit))


def get_notice(recipient: str, notice_id: str) -> Notice | None:
    """A notice of this recipient's inbox (GetItem on the recipient's own key), or None."""
    if not notice_id or len(notice_id) > 64:
        return None
    try:
        return Notice.get(recipient, notice_id)
    except Notice.DoesNotExist:
        return None


def unread_count(recipient: str) -> int:
    """Unread notices among the newest `INBOX_LIMIT` (one Query; the badge shows 99+)."""
    return sum(1 for n in Notice.query(recipient, scan_index_forward=False, limit=INBOX_LIMIT,
                                       attributes_to_get=["notice_id", "read_at"])
               if n.read_at is None)


def mark_read(recipient: str, notice_id: str) -> bool:
    """Mark one notice read (keeps the first reading time); False when it is not theirs."""
    if not notice_id or len(notice_id) > 64:
        return False
    try:
        Notice(recipient, notice_id).update(
            actions=[Notice.read_at.set(Notice.read_at | utcnow())],
            condition=Notice.notice_id.exists())
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_all_read(recipient: str) -> int:
    """Mark the unread among the newest `INBOX_LIMIT` read; returns how many."""
    unread = [n.notice_id for n in Notice.query(recipient, scan_index_forward=False,
                                                limit=INBOX_LIMIT,
                                                attributes_to_get=["notice_id", "read_at"])
              if n.read_at is None]
    return sum(1 for notice_id in unread if mark_read(recipient, notice_id))
