"""The in-app inbox: every notice a person gets, whatever channel delivered it."""
from __future__ import annotations

from pynamodb.attributes import (ListAttribute, MapAttribute, UnicodeAttribute,
                                 UTCDateTimeAttribute)

from backend.models.base import BaseModel

__all__ = ["Notice", "Delivery"]


class Delivery(MapAttribute):
    channel = UnicodeAttribute()   # inbox, webpush, sms ...
    status = UnicodeAttribute()    # delivered, failed, held; sms also sent, skipped
    at = UTCDateTimeAttribute()
    detail = UnicodeAttribute(null=True)


class Notice(BaseModel):
    """PK recipient (`res:<resident_id>` or a staff login `s:<name>`), SK notice_id.

    notice_id is a ULID (newest last). A notice that a retried task could send twice
    carries a dedupe key, claimed in `uniqueness` in the same transaction as the notice.
    """

    class Meta:
        table = "notices"

    recipient = UnicodeAttribute(hash_key=True)
    notice_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()      # slot_offer, appointment_reminder, followup_due, vaccine_due ...
    title = UnicodeAttribute()
    body = UnicodeAttribute()
    url = UnicodeAttribute()
    urgent = UnicodeAttribute(default="0")
    created_at = UTCDateTimeAttribute()
    read_at = UTCDateTimeAttribute(null=True)
    deliveries = ListAttribute(of=Delivery, default=list)
    # The notice ladder (backend.services.ladder): at most one text per notice, claimed by
    # a conditional write (claimed → sent / skipped / failed / no_phone).
    text_state = UnicodeAttribute(null=True)
    # A copy sent to a relative or the family doctor's team: whom the notice is about.
    about = UnicodeAttribute(null=True)
