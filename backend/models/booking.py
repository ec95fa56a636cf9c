"""Booking: session templates, time-sliced slots, bookings, per-person ledgers, waitlists."""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute,
                                 UnicodeAttribute, UTCDateTimeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["BookingPolicyItem", "ScheduleTemplate", "Slot", "Booking", "BookingLedger",
           "WaitlistEntry", "HolidayArrangement", "CHANNELS"]

CHANNELS = ("online", "desk", "referral")


class BookingPolicyItem(BaseModel):
    """A facility's booking settings (`backend.rules.booking.Policy`). PK facility_id."""

    class Meta:
        table = "booking-policies"

    facility_id = UnicodeAttribute(hash_key=True)
    settings = MapAttribute(default=dict)
    updated_at = UTCDateTimeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


class ScheduleTemplate(BaseModel):
    """A weekly session of a department (or one doctor): PK facility_id, SK template_id (ULID).

    Editing bumps `version`; slots already generated from an older version keep their
    bookings (see services.schedules.generate_slots).
    """

    class Meta:
        table = "schedule-templates"

    facility_id = UnicodeAttribute(hash_key=True)
    template_id = UnicodeAttribute(range_key=True)
    department = UnicodeAttribute()
    kind = UnicodeAttribute()                 # outpatient | exam
    weekdays = ListAttribute(of=NumberAttribute, default=list)
    on_holidays = BooleanAttribute(default=False)
    session = UnicodeAttribute(default="day")  # day | evening
    start = UnicodeAttribute()                # HH:MM
    end = UnicodeAttribute()
    slice_minutes = NumberAttribute()
    capacity = NumberAttribute()
    online_pct = NumberAttribute(default=80)
    referral_pct = NumberAttribute(default=0)
    fee = NumberAttribute(default=0)          # registration fee in fen
    doctor_login = UnicodeAttribute(null=True)
    doctor_name = UnicodeAttribute(null=True)
    doctor_title = UnicodeAttribute(null=True)
    place = UnicodeAttribute(null=True)       # room / floor shown on the booking
    active = BooleanAttribute(default=True)
    version = NumberAttribute(default=1)
    updated_at = UTCDateTimeAttribute()


class Slot(BaseModel):
    """One time slice. PK bucket `<facility_id>#<department>`, SK `<YYYY-MM-DD>T<HH:MM>#<template_id>`.

    The places left per channel live on this item and are decremented by the booking's
    own transaction (`left_online >= 1`), so a slice can never be overbooked. `held` are
    places offered to someone on the waitlist. Times are UTC; `day` is the local date.
    """

    class Meta:
        table = "slots"

    bucket = UnicodeAttribute(hash_key=True)
    start_key = UnicodeAttribute(range_key=True)
    facility_id = UnicodeAttribute()
    department = UnicodeAttribute()
    kind = UnicodeAttribute()
    day = UnicodeAttribute()
    start = UnicodeAttribute()
    end = UnicodeAttribute()
    template_id = UnicodeAttribute()
    template_version = NumberAttribute(default=1)
    starts_at = NumberAttribute()       # epoch seconds
    opens_at = NumberAttribute()        # booking opens (horizon + release hour)
    release_at = NumberAttribute()      # unused referral places go public
    capacity = NumberAttribute()
    cap_online = NumberAttribute()
    cap_desk = NumberAttribute()
    cap_referral = NumberAttribute()
    left_online = NumberAttribute()
    left_desk = NumberAttribute()
    left_referral = NumberAttribute()
    held = NumberAttribute(default=0)
    booked = NumberAttribute(default=0)
    fee = NumberAttribute(default=0)
    max_per_person = NumberAttribute(default=2)
    cancel_notice_minutes = NumberAttribute(default=120)
    closed = BooleanAttribute(default=False)
    doctor_name = UnicodeAttribute(null=True)
    doctor_title = UnicodeAttribute(null=True)
    place = UnicodeAttribute(null=True)

    @property
    def slot_id(self) -> str:
        return f"{self.bucket}#{self.start_key}"


class BookingsBySubject(GlobalSecondaryIndex):
    """A person's bookings in time order."""

    class Meta:
        index_name = "by-subject"
        projection = AllProjection()

    subject_id = UnicodeAttribute(hash_key=True)
    order_key = UnicodeAttribute(range_key=True)


class BookingsByBooker(GlobalSecondaryIndex):
    """Bookings made by one account (proxies, family doctors)."""

    class Meta:
        index_name = "by-booker"
        projection = AllProjection()

    booker_login = UnicodeAttribute(hash_key=True)
    order_key = UnicodeAttribute(range_key=True)


class BookingsByDay(GlobalSecondaryIndex):
    """A facility's bookings of one day (arrival desk, closing the day)."""

    class Meta:
        index_name = "by-day"
        projection = AllProjection()

    day_key = UnicodeAttribute(hash_key=True)     # <facility_id>#<YYYY-MM-DD>
    order_key = UnicodeAttribute(range_key=True)


class Booking(BaseModel):
    """PK booking_id (ULID). `order_key` is `<YYYY-MM-DD>T<HH:MM>#<booking_id>`.

    status: booked → cancelled | arrived | no_show. Written only in a transaction with its
    slot's counter, the person's ledger and the uniqueness claims.
    """

    class Meta:
        table = "bookings"

    booking_id = UnicodeAttribute(hash_key=True)
    order_key = UnicodeAttribute()
    day_key = UnicodeAttribute()
    slot_id = UnicodeAttribute()
    facility_id = UnicodeAttribute()
    facility_name = UnicodeAttribute()
    department = UnicodeAttribute()
    kind = UnicodeAttribute()
    day = UnicodeAttribute()
    start = UnicodeAttribute()
    end = UnicodeAttribute()
    starts_at = NumberAttribute()
    place = UnicodeAttribute(null=True)
    doctor_name = UnicodeAttribute(null=True)
    subject_id = UnicodeAttribute()
    subject_name = UnicodeAttribute()
    booker_login = UnicodeAttribute()
    booker_role = UnicodeAttribute()
    booker_resident_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute()
    status = UnicodeAttribute(default="booked")
    fee = NumberAttribute(default=0)
    elderly = BooleanAttribute(default=False)
    client_request_id = UnicodeAttribute()
    group_id = UnicodeAttribute(null=True)   # several exams booked together
    cancel_notice_minutes = NumberAttribute(default=120)
    created_at = UTCDateTimeAttribute()
    changed_at = UTCDateTimeAttribute(null=True)
    changed_by = UnicodeAttribute(null=True)
    cancel_reason = UnicodeAttribute(null=True)  # day_closed (停诊); none when the person cancelled
    purpose = UnicodeAttribute(null=True)        # what it is for, when the kind needs one (order, dose)
    purpose_label = UnicodeAttribute(null=True)  # that purpose as people read it

    by_subject = BookingsBySubject()
    by_booker = BookingsByBooker()
    by_day = BookingsByDay()


class BookingLedger(BaseModel):
    """Per person: PK subject_id; SK `dept#<facility_id>#<department>`,
    `fee#<facility_id>#<department>#<YYYY-MM-DD>` or `state#<facility_id>`.

    A `dept#` item's `holds` maps booking_id -> `<YYYY-MM-DD>T<HH:MM>|<slot>` of every open
    booking in that department: `size(holds) < limit` in the booking transaction caps
    future bookings per department.
    A `fee#` item is the registration-fee claim of one department and day: `fee_booking`
    is the one booking that carries the fee, `holds` maps every booking of that day and
    department not cancelled to its `HH:MM` (`services.booking.fees`).
    A `state#` item records the person's no-shows and any pause of online booking at that
    facility (a facility's no-show rule counts and pauses its own bookings only).
    """

    class Meta:
        table = "booking-ledger"

    subject_id = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    holds = MapAttribute(null=True)
    fee_booking = UnicodeAttribute(null=True)
    noshows = ListAttribute(of=NumberAttribute, null=True)
    paused_until = NumberAttribute(null=True)


class WaitlistByOffer(GlobalSecondaryIndex):
    """Open offers by deadline (sparse: only entries with an offer carry `offer_state`)."""

    class Meta:
        index_name = "by-offer"
        projection = AllProjection()

    offer_state = UnicodeAttribute(hash_key=True)
    offer_expires = NumberAttribute(range_key=True)


class WaitlistEntry(BaseModel):
    """PK list_key `<facility_id>#<department>#<YYYY-MM-DD>`, SK entry_id (ULID: join order).

    status: waiting → offered → booked | expired | declined; or left.
    """

    class Meta:
        table = "waitlist"

    list_key = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)
    subject_id = UnicodeAttribute()
    subject_name = UnicodeAttribute()
    booker_login = UnicodeAttribute()
    booker_resident_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="waiting")
    offer_slot_id = UnicodeAttribute(null=True)
    offer_state = UnicodeAttribute(null=True)
    offer_expires = NumberAttribute(null=True)
    booking_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    by_offer = WaitlistByOffer()


class HolidayArrangement(BaseModel):
    """The official holiday arrangement an admin enters for a year the calendar package does
    not know yet. PK year (`2027`), SK date `YYYY-MM-DD` or `confirmed` (the year is complete).
    """

    class Meta:
        table = "holiday-arrangements"

    year = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()          # holiday | workday | confirmed
    name = UnicodeAttribute(null=True)
    entered_by = UnicodeAttribute()
    entered_at = UTCDateTimeAttribute()
