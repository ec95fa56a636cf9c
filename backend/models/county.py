"""The county's view: indicator counters, village duty rosters and sessions, filings,
satisfaction ratings and export jobs."""
from __future__ import annotations

from pynamodb.attributes import (ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute,
                                 UTCDateTimeAttribute, TTLAttribute)

from backend.models.base import BaseModel

__all__ = ["IndicatorCount", "DutyRoster", "DutyEntry", "StandIn", "DutySession", "Filing",
           "Rating", "ExportJob", "FLOW_FIELDS", "STOCK_FIELDS", "AGGREGATE_FIELDS"]

# Added to in the writing transactions (services.indicators.Tally), on the month item.
FLOW_FIELDS = ("contracts_signed", "contracts_ended", "contacts_first_q", "followups",
               "followup_cases_q", "bookings_attended", "ratings", "rating_sum",
               "ratings_satisfied", "duty_held", "duty_missed", "duty_patients")
# Added to in the writing transactions, on the `now` item (what is true right now).
STOCK_FIELDS = ("contracted",)
# Set by the scheduled aggregation (services.indicators.aggregate), on the month item.
AGGREGATE_FIELDS = ("residents", "priority", "contracted_priority", "contracted_eom",
                    "elders", "elders_in_ledger", "contracted_total_q", "cases_managed",
                    "bp_denominator", "bp_controlled", "missed_3m", "lost_12m",
                    "slots_capacity", "slots_online", "hospital_capacity", "exam_slots", "exam_booked",
                    "exam_booked_sliced", "referral_capacity", "referral_used",
                    "vaccine_weekend_sessions", "attending_days_min", "duty_required")


class IndicatorCount(BaseModel):
    """Counters of one facility (village, centre, hospital or county) in one period.

    PK scope: the facility id; SK period: `YYYY-MM` (flows and the month's aggregation) or
    `now` (stocks). Every change is added at each level of the facility tree (village,
    centre, county) so that a page reads its own scope's items, never the rows below.
    """

    class Meta:
        table = "indicator-counts"

    scope = UnicodeAttribute(hash_key=True)
    period = UnicodeAttribute(range_key=True)
    as_of = UTCDateTimeAttribute(null=True)           # when the aggregation last ran
    # flows
    contracts_signed = NumberAttribute(null=True)
    contracts_ended = NumberAttribute(null=True)
    contacts_first_q = NumberAttribute(null=True)
    followups = NumberAttribute(null=True)
    followup_cases_q = NumberAttribute(null=True)
    bookings_attended = NumberAttribute(null=True)
    ratings = NumberAttribute(null=True)
    rating_sum = NumberAttribute(null=True)
    ratings_satisfied = NumberAttribute(null=True)
    duty_held = NumberAttribute(null=True)
    duty_missed = NumberAttribute(null=True)
    duty_patients = NumberAttribute(null=True)
    # stocks
    contracted = NumberAttribute(null=True)
    # aggregation
    residents = NumberAttribute(null=True)
    priority = NumberAttribute(null=True)
    contracted_priority = NumberAttribute(null=True)
    contracted_eom = NumberAttribute(null=True)
    elders = NumberAttribute(null=True)
    elders_in_ledger = NumberAttribute(null=True)
    contracted_total_q = NumberAttribute(null=True)
    cases_managed = NumberAttribute(null=True)
    bp_denominator = NumberAttribute(null=True)
    bp_controlled = NumberAttribute(null=True)
    missed_3m = NumberAttribute(null=True)
    lost_12m = NumberAttribute(null=True)
    slots_capacity = NumberAttribute(null=True)
    slots_online = NumberAttribute(null=True)
    hospital_capacity = NumberAttribute(null=True)
    exam_slots = NumberAttribute(null=True)
    exam_booked = NumberAttribute(null=True)
    exam_booked_sliced = NumberAttribute(null=True)
    referral_capacity = NumberAttribute(null=True)
    referral_used = NumberAttribute(null=True)
    vaccine_weekend_sessions = NumberAttribute(null=True)
    attending_days_min = NumberAttribute(null=True)
    duty_required = NumberAttribute(null=True)


class DutyEntry(MapAttribute):
    """One recurring half-day: a doctor in a village clinic on a weekday, some weeks a month."""
    village_id = UnicodeAttribute()
    doctor_login = UnicodeAttribute()
    weekday = NumberAttribute()                 # 0 = Monday
    half = UnicodeAttribute()                   # am | pm
    weeks = ListAttribute(of=NumberAttribute)   # n-th such weekday of the month (1-5)


class StandIn(MapAttribute):
    """派驻: a centre doctor covers a village clinic while its village doctor is away."""
    standin_id = UnicodeAttribute()
    village_id = UnicodeAttribute()
    doctor_login = UnicodeAttribute()
    start = UnicodeAttribute()
    end = UnicodeAttribute()
    reason = UnicodeAttribute()


class DutyRoster(BaseModel):
    """A township centre's village duty roster for a year. PK township_id, SK year (`YYYY`).

    `version` guards concurrent edits (conditional update on the value read).
    """

    class Meta:
        table = "duty-rosters"

    township_id = UnicodeAttribute(hash_key=True)
    year = UnicodeAttribute(range_key=True)
    model = UnicodeAttribute()                  # fixed | rotating
    entries = ListAttribute(of=DutyEntry, default=list)
    standins = ListAttribute(of=StandIn, default=list)
    version = NumberAttribute(default=1)
    updated_by = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()


class DutySession(BaseModel):
    """A half-day session logged held or missed. PK township_id, SK `<date>#<village>#<half>`.

    One row per planned half-day (conditional put); the client's id makes a replay (the
    doctor's offline outbox) return the stored row.
    """

    class Meta:
        table = "duty-sessions"

    township_id = UnicodeAttribute(hash_key=True)
    session_key = UnicodeAttribute(range_key=True)
    day = UnicodeAttribute()
    village_id = UnicodeAttribute()
    half = UnicodeAttribute()
    doctor_login = UnicodeAttribute()
    status = UnicodeAttribute()                 # held | missed
    patients = NumberAttribute(default=0)
    note = UnicodeAttribute(null=True)
    client_id = UnicodeAttribute()
    logged_by = UnicodeAttribute()
    logged_at = UTCDateTimeAttribute()


class Filing(BaseModel):
    """What a centre filed with the county. PK township_id, SK `roster#<YYYY>` or `stats#<YYYYQn>`."""

    class Meta:
        table = "duty-filings"

    township_id = UnicodeAttribute(hash_key=True)
    filing = UnicodeAttribute(range_key=True)
    filed_on = UnicodeAttribute()
    filed_by = UnicodeAttribute()
    roster_version = NumberAttribute(null=True)
    compliant = NumberAttribute(null=True)      # 1 / 0 when filed (a roster is filed as it is)


class Rating(BaseModel):
    """A resident's rating of one service, once. PK `booking#<id>` or `visit#<resident>#<visit_key>`."""

    class Meta:
        table = "ratings"

    subject = UnicodeAttribute(hash_key=True)
    facility_id = UnicodeAttribute()
    stars = NumberAttribute()
    text = UnicodeAttribute(null=True)
    by = UnicodeAttribute()
    at = UTCDateTimeAttribute()


class ExportJob(BaseModel):
    """An .xlsx export written to S3 by a background task. PK job_id (ULID)."""

    class Meta:
        table = "export-jobs"

    job_id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    kind = UnicodeAttribute()                   # roster | activity | indicators
    scope = UnicodeAttribute()
    period = UnicodeAttribute()
    status = UnicodeAttribute(default="queued")  # queued | running | done | failed
    rows_done = NumberAttribute(default=0)
    rows_total = NumberAttribute(default=0)
    object_key = UnicodeAttribute(null=True)
    filename = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)
