"""The notification interface every capability calls: `notify(...)`.

A notice always lands in the person's in-app inbox (nothing is lost where push does not
work, e.g. WeChat's browser); further channels (Web Push, SMS, ...) are `Channel`s that
`notify` hands the notice to after it is stored. Recipients are `res:<resident_id>` for
residents and the staff login (`s:<name>`) for staff: `recipient_for(user)` gives it.
"""
from __future__ import annotations

import logging
from typing import Protocol

from pynamodb.exceptions import TransactWriteError

from backend.models.base import new_id, transaction, utcnow
from backend.models.notices import Delivery, Notice
from backend.models.people import Uniqueness

__all__ = ["notify", "recipient_for", "resident_recipient", "Channel", "CHANNELS", "inbox",
           "mark_read"]

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    def deliver(self, notice: Notice) -> Delivery | None: ...


# Extra channels registered at start-up (the push issue adds Web Push here).
CHANNELS: list[Channel] = []


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
    now = utcnow()
    notice = Notice(recipient, new_id(), kind=kind, title=title[:60],
                    body=body[:400], url=url, urgent="1" if urgent else "0", created_at=now,
                    deliveries=[Delivery(channel="inbox", status="delivered", at=now)])
    if dedupe_key:
        # The claim and the notice are written together: a retried task adds nothing.
        try:
            with transaction() as tx:
                tx.save(Uniqueness(f"notice#{recipient}#{dedupe_key}", owner=notice.notice_id),
                        condition=Uniqueness.key.does_not_exist())
                tx.save(notice, condition=Notice.notice_id.does_not_exist())
        except TransactWriteError as err:
            if any(r and r.code == "ConditionalCheckFailed" for r in err.cancellation_reasons or []):
                return None
            raise
    else:
        notice.save(condition=Notice.notice_id.does_not_exist())
    for channel in CHANNELS:
        try:
            delivery = channel.deliver(notice)
        except Exception:  # one channel failing never stops the inbox or the others
            log.exception("channel %s failed for a %s notice", channel.name, kind)
            delivery = Delivery(channel=channel.name, status="failed", at=utcnow())
        if delivery is not None:
            notice.update(actions=[Notice.deliveries.set(
                Notice.deliveries.append([delivery]))])
    return notice


def inbox(recipient: str, limit: int = 50) -> list[Notice]:
    """Newest first."""
    return list(Notice.query(recipient, scan_index_forward=False, limit=limit))


def mark_read(recipient: str, notice_id: str) -> None:
    Notice(recipient, notice_id).update(actions=[Notice.read_at.set(utcnow())],
                                        condition=Notice.notice_id.exists())
