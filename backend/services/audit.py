"""Append-only audit trail of health-record reads and writes (PIPL).

    audit.record(user, subject_id=rid, action="read", what="resident.record")   one record
    @audit.list_view("care.due", shown=lambda page: [c.resident_id for c in page.due])
    def due_list(user, ...): ...                                                 a list view
    audit.refused(user, subject_id=rid, what="care.patient_page", code="forbidden")

Who acted is always the account id (`actor_id`): `res:<resident_id>` for a resident, the
staff login `s:<name>` for staff, `system` for scheduled tasks; never a mobile number.
A list view is one event naming every resident it showed (`shown`), keyed by the scope
the list was drawn from (`list#<team or facility>`). Every write is conditional on the key
being new (`attribute_not_exists`): an event is never overwritten.
"""
from __future__ import annotations

import logging
from functools import wraps
from typing import Callable, Iterable

from backend.models.audit import AuditEvent
from backend.models.base import new_id, utcnow

__all__ = ["record", "events_for", "actor_id", "list_view", "record_list", "refused",
           "append", "MAX_SHOWN", "list_subject"]

log = logging.getLogger(__name__)

MAX_SHOWN = 2000  # ids in one list event (about 30 kB; DynamoDB items may be 400 kB)


def actor_id(user) -> str:
    """Who acted, by account id, never by mobile number: `res:<resident_id>` for a
    resident's account (its login is the phone), the staff login `s:<name>` for staff."""
    if user is None:
        return "system"
    if user.role == "resident":
        return f"res:{user.resident_id}" if user.resident_id else "res:unknown"
    if user.login.startswith("m:"):  # a phone login that is not a resident: never store it
        return "acct:unknown"
    return user.login


def append(event: AuditEvent) -> AuditEvent:
    """Write one event if its key is new (ConditionalCheckFailed otherwise): the only write."""
    event.save(condition=AuditEvent.subject_id.does_not_exist()
               & AuditEvent.event_key.does_not_exist())
    return event


def record(user, *, subject_id: str, action: str, what: str, reason: str | None = None,
           reason_note: str | None = None, outcome: str = "ok",
           shown: list[str] | None = None) -> AuditEvent:
    """Append one event by `user` (None: a scheduled task); never overwrites."""
    now = utcnow()
    return append(AuditEvent(
        subject_id[:128], f"{now.isoformat()}#{new_id()}", actor=actor_id(user),
        actor_role=user.role if user is not None else "task", action=action, what=what[:120],
        reason=reason, reason_note=reason_note, at=now, outcome=outcome, shown=shown or None))


def list_subject(user) -> str:
    """The scope a list view is drawn from: the doctor's team, else the staff member's facility."""
    scope = getattr(user, "team_id", None) or getattr(user, "facility_id", None) or actor_id(user)
    return f"list#{scope}"


def record_list(user, what: str, resident_ids: Iterable[str]) -> AuditEvent | None:
    """One event for one view of a list of residents' health data, naming each resident
    shown (in the order shown, each once). An empty list read no one's data: no event."""
    shown = list(dict.fromkeys(r for r in resident_ids if r))
    if not shown:
        return None
    return record(user, subject_id=list_subject(user), action="read", what=what,
                  shown=shown[:MAX_SHOWN])


def list_view(what: str, *, shown: Callable[[object], Iterable[str]]) -> Callable:
    """Decorate a list service `fn(user, ...)`: after it returns, `record_list` names the
    residents in its result (`shown(result)`). The service is audited wherever it is called."""

    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(user, *args, **kwargs):
            result = fn(user, *args, **kwargs)
            record_list(user, what, shown(result))
            return result

        wrapper.audited_as = what
        return wrapper

    return decorate


def refused(user, *, subject_id: str, what: str, code: str) -> AuditEvent | None:
    """A refused attempt at health data (403/404): recorded, with the error code as reason.
    Never raises: a refusal is answered whether or not its record could be written."""
    try:
        return record(user, subject_id=subject_id or "unknown", action="read", what=what,
                      reason=code, outcome="refused")
    except Exception:  # noqa: BLE001 - the refusal stands; the failure is logged
        log.exception("could not record a refused access to %s", what)
        return None


def events_for(subject_id: str, limit: int = 50) -> list[AuditEvent]:
    """Newest first: who looked at or changed this person's record."""
    return list(AuditEvent.query(subject_id, scan_index_forward=False, limit=limit))
