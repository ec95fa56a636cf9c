"""The audit trail of health-record access: append-only."""
from __future__ import annotations

from pynamodb.attributes import ListAttribute, UnicodeAttribute, UTCDateTimeAttribute
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

    PK subject_id (whose record: a resident id; `list#<team or facility>` for a list view,
    whose `shown` names the residents on it), SK event_key `<ISO time>#<ULID>`. Written only
    with `attribute_not_exists` (never overwritten); the Lambda role may PutItem here but
    has no UpdateItem/DeleteItem on this table (infra/cloudformation.json). The table's
    stream (new images) is copied to an S3 bucket under Object Lock in compliance mode
    (`backend.services.audit_archive`), so a rewrite of the table would still be evident.
    """

    class Meta:
        table = "audit"
        stream_view_type = "NEW_IMAGE"

    subject_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    actor = UnicodeAttribute()       # account id (services.audit.actor_id), never a phone number
    actor_role = UnicodeAttribute()
    action = UnicodeAttribute()      # read / write
    what = UnicodeAttribute()        # e.g. resident.record, followup.create
    reason = UnicodeAttribute(null=True)   # a refusal: the error code; the county: its reason
    reason_note = UnicodeAttribute(null=True)  # the county's own words with its reason
    at = UTCDateTimeAttribute()
    outcome = UnicodeAttribute(null=True)  # ok / refused (events before 2026-12: none = ok)
    shown = ListAttribute(of=UnicodeAttribute, null=True)  # a list view: resident ids shown
    by_actor = AuditByActor()
