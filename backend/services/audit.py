"""Append-only audit trail of health-record reads and writes (PIPL)."""
from __future__ import annotations

from backend.models.audit import AuditEvent
from backend.models.base import new_id, utcnow

__all__ = ["record", "events_for", "actor_id"]


def actor_id(user) -> str:
    """Who acted, by account id, never by mobile number: `res:<resident_id>` for a
    resident's account (its login is the phone), the staff login `s:<name>` for staff."""
    if user.role == "resident" and user.resident_id:
        return f"res:{user.resident_id}"
    return user.login


def record(*, actor: str, actor_role: str, subject_id: str, action: str, what: str,
           reason: str | None = None) -> AuditEvent:
    """Append one event; never overwrites (the key is fresh and the write conditional)."""
    now = utcnow()
    event = AuditEvent(subject_id, f"{now.isoformat()}#{new_id()}", actor=actor,
                       actor_role=actor_role, action=action, what=what, reason=reason, at=now)
    event.save(condition=AuditEvent.event_key.does_not_exist())
    return event


def events_for(subject_id: str, limit: int = 50) -> list[AuditEvent]:
    """Newest first: who looked at or changed this person's record."""
    return list(AuditEvent.query(subject_id, scan_index_forward=False, limit=limit))
