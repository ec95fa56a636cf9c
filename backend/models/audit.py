"""The audit trail of health-record access: append-only."""
from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["AuditEvent"]


class AuditByActor(GlobalSecondaryIndex):
    """What one staff member or resident has looked at, newest last."""

    class Meta:
        index_name = "by-actor"
        projection = AllProjection()

    actor = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)


class AuditEvent(BaseModel):
    """One read or write of a health record.

    PK subject_id (whose record), SK event_key `<ISO time>#<ULID>`. Written only with
    `attribute_not_exists` (never overwritten); the Lambda role may PutItem here but
    has no UpdateItem/DeleteItem on this table (infra/cloudformation.json).
    """

    class Meta:
        table = "audit"

    subject_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    actor = UnicodeAttribute()       # account login of who did it (never shown raw to others)
    actor_role = UnicodeAttribute()
    action = UnicodeAttribute()      # read / write
    what = UnicodeAttribute()        # e.g. resident.record, followup.create
    reason = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()
    by_actor = AuditByActor()
