"""Residents' requests to be registered (self-registration), handled by their township centre."""
from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute

from backend.models.base import BaseModel

__all__ = ["RegistrationRequest"]


class RegistrationRequest(BaseModel):
    """PK township_id (the centre of the chosen village), SK request_id (ULID, oldest first).

    One pending request per identity number: the claim `regreq#<id number>` in `uniqueness`
    is written with it (released when the request is declined). Kept 180 days (TTL).
    """

    class Meta:
        table = "registration-requests"

    township_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    id_number = UnicodeAttribute()
    phone = UnicodeAttribute()
    village_id = UnicodeAttribute()
    village_name = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")   # pending, matched, created, declined
    resident_id = UnicodeAttribute(null=True)      # the record it was matched to / created
    handled_by = UnicodeAttribute(null=True)
    handled_at = UTCDateTimeAttribute(null=True)
    told = UnicodeAttribute(null=True)             # the text to the resident: sent / sms_<code>
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
