"""Residents' consent to the privacy notice and, separately, to processing their health data."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute

from backend.models.base import BaseModel

__all__ = ["PrivacyConsent"]


class PrivacyConsent(BaseModel):
    """PK resident_id, SK entry: `current` (the state in force) or `event#<ISO>#<ULID>` (the
    history: every grant and withdrawal, never rewritten).

    `by_login` is who clicked; for a proxy's consent for a relative `proxy_id` is the
    relative who consented for them and `relation` how they are related.
    """

    class Meta:
        table = "privacy-consents"

    resident_id = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    notice_version = UnicodeAttribute()
    health_data = BooleanAttribute()            # the separate consent (PIPL art. 29)
    action = UnicodeAttribute()                 # granted, withdrawn
    at = UTCDateTimeAttribute()
    by_login = UnicodeAttribute()
    proxy_id = UnicodeAttribute(null=True)
    relation = UnicodeAttribute(null=True)
    cancelled_bookings = UnicodeAttribute(null=True)   # on a withdrawal: which were cancelled
