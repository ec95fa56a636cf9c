"""Offline sync: the per-team change log, device reports, records held for the centre."""
from __future__ import annotations

from pynamodb.attributes import (ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute,
                                 UTCDateTimeAttribute)

from backend.models.base import BaseModel

__all__ = ["SyncLog", "Device", "HeldRecord", "SEQ_PREFIX", "HEAD"]

SEQ_PREFIX = "seq#"
HEAD = "head"


class SyncLog(BaseModel):
    """A team's change feed. PK team_id, SK entry.

    `head` holds `seq`, the team's last sequence number. `seq#<12-digit seq>` rows name the
    residents whose data on the team's phones changed in the write that claimed that
    number. The head's update (condition `seq = <the value read>`) and the row's put
    are in the same transaction as the write itself, so a number is visible only with
    its write and no number is ever skipped or shared: phones page by sequence, never
    by time.
    """

    class Meta:
        table = "sync-log"

    team_id = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    seq = NumberAttribute(null=True)             # head only
    residents = ListAttribute(null=True)         # seq rows: resident ids
    what = UnicodeAttribute(null=True)           # seq rows: e.g. followup, contract.end


class Device(BaseModel):
    """A phone's last report. PK login (the doctor), SK device_id (random, per browser)."""

    class Meta:
        table = "devices"

    login = UnicodeAttribute(hash_key=True)
    device_id = UnicodeAttribute(range_key=True)
    team_id = UnicodeAttribute(null=True)
    label = UnicodeAttribute(null=True)          # e.g. "Android 手机 · Chrome"
    pending = NumberAttribute(default=0)
    refused = NumberAttribute(default=0)
    set_aside = NumberAttribute(default=0)
    residents = NumberAttribute(default=0)
    last_sync = UTCDateTimeAttribute(null=True)
    reported_at = UTCDateTimeAttribute()


class HeldRecord(BaseModel):
    """A record uploaded for a resident no longer on the doctor's team: kept, never dropped.

    PK facility_id (the team's centre, who sorts it out), SK `<login>#<record id>`; the
    conditional put on the key makes a re-upload a no-op.
    """

    class Meta:
        table = "held-records"

    facility_id = UnicodeAttribute(hash_key=True)
    record_key = UnicodeAttribute(range_key=True)
    login = UnicodeAttribute()
    team_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    resident_id = UnicodeAttribute()
    resident_name = UnicodeAttribute(null=True)
    reason = UnicodeAttribute()
    data = MapAttribute(default=dict)
    made_at = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute()
