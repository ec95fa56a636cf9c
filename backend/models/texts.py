"""Text messages sent for notices, their daily budgets, and the ladder's pending checks."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute

from backend.models.base import BaseModel

__all__ = ["TextMessage", "TextCounter", "CountyTextBudget", "NoticeEscalation"]


class TextMessage(BaseModel):
    """One text a provider accepted. PK message_key: `<provider>#<provider's message id>`
    (Alibaba BizId, Tencent SerialNo), which is what a delivery receipt names."""

    class Meta:
        table = "text-messages"

    message_key = UnicodeAttribute(hash_key=True)
    recipient = UnicodeAttribute()
    notice_id = UnicodeAttribute()
    sent_at = UTCDateTimeAttribute()
    receipt = UnicodeAttribute(null=True)       # delivered / failed, from the first receipt
    receipt_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute()                 # receipts come within 72 hours


class TextCounter(BaseModel):
    """Texts counted against a daily budget. PK key: `person#<resident_id>#<local date>` or
    `county#<county_id>#<local date>`; `skipped` counts texts the budget refused."""

    class Meta:
        table = "text-counters"

    key = UnicodeAttribute(hash_key=True)
    count = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    expires_at = TTLAttribute()


class CountyTextBudget(BaseModel):
    """What a county allows itself to spend on texts per day. PK county_id."""

    class Meta:
        table = "county-text-budgets"

    county_id = UnicodeAttribute(hash_key=True)
    daily_limit = NumberAttribute()
    per_person = NumberAttribute()
    set_by = UnicodeAttribute()
    set_at = UTCDateTimeAttribute()


class NoticeEscalation(BaseModel):
    """A must-arrive notice to check later: text it if its push was not confirmed by then.

    PK due_day (local date of `due`), SK due_key `<due ISO UTC>#<recipient>#<notice_id>`;
    the every-minute task Queries today's and yesterday's partitions up to now and claims
    each item by a conditional delete (a re-run never texts twice).
    """

    class Meta:
        table = "notice-escalations"

    due_day = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)
    recipient = UnicodeAttribute()
    notice_id = UnicodeAttribute()
    expires_at = TTLAttribute()
