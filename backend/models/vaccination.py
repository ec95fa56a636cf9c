"""Children's vaccination book (接种本), health checks, campaigns and scarce-vaccine allocation."""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute,
                                 UnicodeAttribute, UTCDateTimeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["VaccinationDose", "ChildCheck", "Campaign", "CampaignInvite", "AllocationWindow",
           "AllocationRequest"]


class VaccinationDose(BaseModel):
    """One dose given. PK resident_id, SK dose_key `<vaccine>#<dose number>`.

    Written with `attribute_not_exists`, so a dose can be recorded once; a child's whole
    接种本 is one Query.
    """

    class Meta:
        table = "vaccinations"

    resident_id = UnicodeAttribute(hash_key=True)
    dose_key = UnicodeAttribute(range_key=True)
    vaccine = UnicodeAttribute()          # series code (HepB, HPV2, ...) or a non-programme code
    vaccine_name = UnicodeAttribute()
    dose = NumberAttribute()
    given_on = UnicodeAttribute()         # YYYY-MM-DD
    batch = UnicodeAttribute()
    manufacturer = UnicodeAttribute()
    body_site = UnicodeAttribute()        # 左上臂三角肌 ...
    facility_id = UnicodeAttribute()
    facility_name = UnicodeAttribute()
    given_by = UnicodeAttribute()         # the vaccinator's name
    given_by_login = UnicodeAttribute()
    booking_id = UnicodeAttribute(null=True)
    programme = BooleanAttribute(default=True)
    recorded_at = UTCDateTimeAttribute()


class ChildCheck(BaseModel):
    """Children's health checks done. PK resident_id, SK check_key (`newborn`, `m1`, `m3` ... `y6`)
    or `profile` (discharge date after birth, which sets the newborn visit)."""

    class Meta:
        table = "child-checks"

    resident_id = UnicodeAttribute(hash_key=True)
    check_key = UnicodeAttribute(range_key=True)
    done_on = UnicodeAttribute(null=True)
    done_by = UnicodeAttribute(null=True)
    discharge_date = UnicodeAttribute(null=True)
    recorded_at = UTCDateTimeAttribute()


class Campaign(BaseModel):
    """A county vaccination campaign in staggered slots. PK campaign_id (ULID).

    `slots` lists the slices (booking slot ids) the campaign may use, in time order;
    groups (a school or village) are allocated to consecutive slices.
    """

    class Meta:
        table = "campaigns"

    campaign_id = UnicodeAttribute(hash_key=True)
    county_id = UnicodeAttribute()
    title = UnicodeAttribute()
    vaccine = UnicodeAttribute()
    dose = NumberAttribute()
    facility_id = UnicodeAttribute()
    department = UnicodeAttribute()
    slots = ListAttribute(default=list)
    groups = MapAttribute(default=dict)      # group id -> name
    invited = NumberAttribute(default=0)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class InvitesByResident(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-resident"
        projection = AllProjection()

    resident_id = UnicodeAttribute(hash_key=True)
    campaign_id = UnicodeAttribute(range_key=True)


class CampaignInvite(BaseModel):
    """One invited child. PK campaign_id, SK resident_id. status: invited → booked."""

    class Meta:
        table = "campaign-invites"

    campaign_id = UnicodeAttribute(hash_key=True)
    resident_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    group_id = UnicodeAttribute()
    slot_id = UnicodeAttribute(null=True)      # the allocated slice
    booking_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="invited")
    by_resident = InvitesByResident()


class WindowsByCounty(GlobalSecondaryIndex):
    """A county's allocation windows, newest last (ULIDs)."""

    class Meta:
        index_name = "by-county"
        projection = AllProjection()

    county_id = UnicodeAttribute(hash_key=True)
    window_id = UnicodeAttribute(range_key=True)


class AllocationWindow(BaseModel):
    """A scarce vaccine's allocation. PK window_id (ULID).

    mode `lottery`: requests are collected until `closes_at`, then drawn with `seed`; mode
    `queue`: first come, first served at request time. `remaining` is the stock of doses
    not yet promised; every promise decrements it with `remaining >= doses_per_person`.
    """

    class Meta:
        table = "allocation-windows"

    window_id = UnicodeAttribute(hash_key=True)
    county_id = UnicodeAttribute()
    facility_id = UnicodeAttribute()
    facility_name = UnicodeAttribute()
    vaccine_name = UnicodeAttribute()
    doses_per_person = NumberAttribute(default=1)
    stock = NumberAttribute()
    remaining = NumberAttribute()
    mode = UnicodeAttribute()
    opens_at = NumberAttribute()
    closes_at = NumberAttribute()
    min_age = NumberAttribute(default=0)
    max_age = NumberAttribute(default=150)
    hold_hours = NumberAttribute(default=48)
    state = UnicodeAttribute(default="open")     # open | drawing | drawn
    seed = UnicodeAttribute(null=True)               # revealed by the draw
    seed_commitment = UnicodeAttribute(null=True)    # SHA-256 of the seed, shown from the start
    entries = NumberAttribute(default=0)
    entries_digest = UnicodeAttribute(null=True)
    winners_digest = UnicodeAttribute(null=True)
    winners = NumberAttribute(default=0)
    next_rank = NumberAttribute(default=0)       # next loser in draw order to offer a freed place
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    drawn_at = UTCDateTimeAttribute(null=True)
    by_county = WindowsByCounty()


class RequestsByRank(GlobalSecondaryIndex):
    """A drawn window's requests in draw order (sparse: only drawn requests have `rank`)."""

    class Meta:
        index_name = "by-rank"
        projection = AllProjection()

    window_id = UnicodeAttribute(hash_key=True)
    rank = NumberAttribute(range_key=True)


class AllocationRequest(BaseModel):
    """One person's request. PK window_id, SK request_id (ULID: arrival order).

    status: requested → won (held until `hold_until`) → confirmed | expired; or lost (lottery)
    / queued (queue) → won when a place comes back.
    One request per identity number: the `alloc#<window>#<id number>` claim in uniqueness.
    """

    class Meta:
        table = "allocation-requests"

    window_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)
    resident_id = UnicodeAttribute()
    name = UnicodeAttribute()
    booker_login = UnicodeAttribute()
    recipient = UnicodeAttribute()               # whose inbox hears the result (the booker)
    status = UnicodeAttribute(default="requested")
    rank = NumberAttribute(null=True)
    hold_until = NumberAttribute(null=True)
    doses = NumberAttribute(default=1)
    created_at = UTCDateTimeAttribute()
    by_rank = RequestsByRank()
