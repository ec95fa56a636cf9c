"""Family-doctor care: contracts, chronic-disease cases and follow-ups, the 65+ ledger,
contacts, referrals, long prescriptions and free health checks.

Dates are ISO `YYYY-MM-DD` strings (they sort as dates and key indexes directly).
"""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute,
                                 TTLAttribute, UnicodeAttribute, UnicodeSetAttribute,
                                 UTCDateTimeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["Contract", "ContractOffer", "ChronicCase", "FollowUp", "ElderVisit", "Contact", "Referral",
           "Prescription", "Collection", "MedicineCollector", "HealthCheck", "CareCounter",
           "HomeVisit"]


class ContractsByTeamContact(GlobalSecondaryIndex):
    """A team's active contracts, least recently contacted first (sparse: active only)."""

    class Meta:
        index_name = "by-team-contact"
        projection = AllProjection()

    active_team = UnicodeAttribute(hash_key=True)
    contact_key = UnicodeAttribute(range_key=True)


class ContractsByEnd(GlobalSecondaryIndex):
    """Contracts ending on a day: renewal reminders (end in 30 days) and expiry."""

    class Meta:
        index_name = "by-end"
        projection = AllProjection()

    end = UnicodeAttribute(hash_key=True)
    contract_id = UnicodeAttribute(range_key=True)


class Contract(BaseModel):
    """One person's family-doctor contract. PK resident_id, SK contract_id (ULID).

    A household or workplace contract is one row per person sharing `group_id`. The one
    active contract per person is claimed in `uniqueness` as `contract#<resident_id>`
    in the same transaction that writes the row and sets `Resident.team_id`.
    `active_team` (= team_id while active) and `contact_key` (`<last contact date or
    0000-00-00>#<resident_id>`) key the sparse by-team-contact index.
    """

    class Meta:
        table = "contracts"

    resident_id = UnicodeAttribute(hash_key=True)
    contract_id = UnicodeAttribute(range_key=True)
    group_id = UnicodeAttribute()
    team_id = UnicodeAttribute()
    kind = UnicodeAttribute()            # individual, household, workplace
    workplace = UnicodeAttribute(null=True)
    years = NumberAttribute()
    start = UnicodeAttribute()
    end = UnicodeAttribute()
    status = UnicodeAttribute()          # active, renewed, ended, cancelled
    channel = UnicodeAttribute()         # online, desk
    consent_version = UnicodeAttribute(null=True)
    consent_text = UnicodeAttribute(null=True)
    consent_method = UnicodeAttribute(null=True)        # app, paper (rules.contracts.Consent)
    consent_witness = UnicodeAttribute(null=True)       # staff account id
    consent_form_no = UnicodeAttribute(null=True)       # the signed paper form
    consent_confirmed_by = UnicodeAttribute(null=True)  # who confirmed in the app
    offer_id = UnicodeAttribute(null=True)              # the desk offer it confirmed
    signed_by = UnicodeAttribute()
    signed_at = UTCDateTimeAttribute()
    services = ListAttribute(default=list)
    name = UnicodeAttribute()
    village_id = UnicodeAttribute()
    active_team = UnicodeAttribute(null=True)
    contact_key = UnicodeAttribute(null=True)
    last_contact = UnicodeAttribute(null=True)
    ended_reason = UnicodeAttribute(null=True)
    by_team_contact = ContractsByTeamContact()
    by_end = ContractsByEnd()


class ContractOffer(BaseModel):
    """A contract a doctor prepared at the desk, waiting for the resident's confirmation in
    the app. PK offer_id (ULID, the link in the resident's notice); gone by TTL after 14 days.

    `status` open → accepted, conditionally, in the signing transaction (accepted once).
    """

    class Meta:
        table = "contract-offers"

    offer_id = UnicodeAttribute(hash_key=True)
    resident_ids = ListAttribute(of=UnicodeAttribute)
    team_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    years = NumberAttribute()
    workplace = UnicodeAttribute(null=True)
    offered_by = UnicodeAttribute()       # staff account id: the witness of the confirmation
    offered_by_name = UnicodeAttribute()
    status = UnicodeAttribute()           # open, accepted
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


class CasesByTeamDue(GlobalSecondaryIndex):
    """A team's chronic cases by next due date: the due and overdue lists are one Query."""

    class Meta:
        index_name = "by-team-due"
        projection = AllProjection()

    team_id = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)


class ChronicCase(BaseModel):
    """A patient's management of one disease. PK resident_id, SK disease.

    `due_key` = `<next_due>#<resident_id>#<disease>`; it and `team_id` are present only
    while the patient is contracted and on the list (sparse index). `revision` guards
    concurrent follow-ups (conditional write on the value read).
    """

    class Meta:
        table = "chronic-cases"

    resident_id = UnicodeAttribute(hash_key=True)
    disease = UnicodeAttribute(range_key=True)
    team_id = UnicodeAttribute(null=True)
    due_key = UnicodeAttribute(null=True)
    next_due = UnicodeAttribute()
    name = UnicodeAttribute()
    village_id = UnicodeAttribute()
    birth_date = UnicodeAttribute()
    last_visit = UnicodeAttribute(null=True)
    registered_on = UnicodeAttribute(null=True)   # on the list since (indicators: BP control)
    last_outcome = UnicodeAttribute(null=True)
    last_controlled = BooleanAttribute(null=True)   # the last readings themselves (None: before kinds)
    last_systolic = NumberAttribute(null=True)
    last_diastolic = NumberAttribute(null=True)
    visits_year = UnicodeAttribute(null=True)
    visits_count = NumberAttribute(default=0)
    hidden_until = UnicodeAttribute(null=True)
    call_outcome = UnicodeAttribute(null=True)
    removed_reason = UnicodeAttribute(null=True)
    revision = NumberAttribute(default=0)
    by_team_due = CasesByTeamDue()


class FollowUp(BaseModel):
    """One face-to-face follow-up. PK resident_id, SK visit_key `<disease>#<date>#<ULID>`."""

    class Meta:
        table = "followups"

    resident_id = UnicodeAttribute(hash_key=True)
    visit_key = UnicodeAttribute(range_key=True)
    disease = UnicodeAttribute()
    visit_date = UnicodeAttribute()
    team_id = UnicodeAttribute()
    systolic = NumberAttribute(null=True)
    diastolic = NumberAttribute(null=True)
    fasting_glucose = NumberAttribute(null=True)
    heart_rate = NumberAttribute(null=True)
    temperature = NumberAttribute(null=True)
    danger_symptoms = ListAttribute(default=list)
    medication = UnicodeAttribute(null=True)
    adverse_reaction = BooleanAttribute(default=False)
    adverse_reaction_kind = UnicodeAttribute(null=True)   # none, first, hard_to_control
    new_complication = BooleanAttribute(default=False)
    outcome = UnicodeAttribute()          # as classed when recorded; never re-classed
    controlled = BooleanAttribute(null=True)
    refer = BooleanAttribute(default=False)
    reasons = ListAttribute(default=list)
    next_due = UnicodeAttribute()
    recorded_by = UnicodeAttribute()
    recorded_at = UTCDateTimeAttribute()
    referral_id = UnicodeAttribute(null=True)       # the referral this visit created
    client_visit_id = UnicodeAttribute(null=True)   # the client's id (retries, offline outbox)


class ElderVisit(BaseModel):
    """The 65+ ledger. PK resident_id; SK `latest` (the ledger row) or `visit#<date>#<ULID>`."""

    class Meta:
        table = "elder-visits"

    resident_id = UnicodeAttribute(hash_key=True)
    visit_key = UnicodeAttribute(range_key=True)
    visit_date = UnicodeAttribute()
    score = NumberAttribute()
    grade = UnicodeAttribute()
    next_due = UnicodeAttribute()
    flags = UnicodeSetAttribute(default=set)
    note = UnicodeAttribute(null=True)
    team_id = UnicodeAttribute(null=True)
    recorded_by = UnicodeAttribute()
    recorded_at = UTCDateTimeAttribute()


class Contact(BaseModel):
    """Every contact with a contracted resident. PK resident_id, SK `<ISO time>#<ULID>`."""

    class Meta:
        table = "contacts"

    resident_id = UnicodeAttribute(hash_key=True)
    contact_key = UnicodeAttribute(range_key=True)
    channel = UnicodeAttribute()       # phone, wechat, sms, app, visit
    note = UnicodeAttribute(null=True)
    call_outcome = UnicodeAttribute(null=True)
    disease = UnicodeAttribute(null=True)
    team_id = UnicodeAttribute()
    by = UnicodeAttribute()
    at = UTCDateTimeAttribute()


class Referral(BaseModel):
    """A referral up to the lead hospital and its return. PK resident_id, SK referral_id.

    `booking_ref` is empty until the booking engine books the hospital's reserved
    capacity (services.care.referral_booking is the seam).
    """

    class Meta:
        table = "referrals"

    resident_id = UnicodeAttribute(hash_key=True)
    referral_id = UnicodeAttribute(range_key=True)
    team_id = UnicodeAttribute()
    disease = UnicodeAttribute(null=True)
    reason = UnicodeAttribute()
    to_facility = UnicodeAttribute()
    department = UnicodeAttribute(null=True)
    urgent = BooleanAttribute(default=False)
    status = UnicodeAttribute()        # referred, returned
    booking_ref = UnicodeAttribute(null=True)
    plan = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    returned_by = UnicodeAttribute(null=True)
    returned_on = UnicodeAttribute(null=True)


class Collection(MapAttribute):
    on = UnicodeAttribute()
    collector_id = UnicodeAttribute()
    relative = BooleanAttribute()
    by = UnicodeAttribute()


class Prescription(BaseModel):
    """A long prescription (4-12 weeks). PK resident_id, SK prescription_id (ULID)."""

    class Meta:
        table = "prescriptions"

    resident_id = UnicodeAttribute(hash_key=True)
    prescription_id = UnicodeAttribute(range_key=True)
    team_id = UnicodeAttribute()
    disease = UnicodeAttribute()
    drugs = ListAttribute(default=list)
    weeks = NumberAttribute()
    start = UnicodeAttribute()
    next_refill = UnicodeAttribute()
    prescribed_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    collections = ListAttribute(of=Collection, default=list)


class MedicineCollector(BaseModel):
    """A patient's recorded authorisation for a relative to collect medicine.

    PK patient_id, SK collector_id (both resident ids).
    """

    class Meta:
        table = "medicine-collectors"

    patient_id = UnicodeAttribute(hash_key=True)
    collector_id = UnicodeAttribute(range_key=True)
    relation = UnicodeAttribute()
    recorded_by = UnicodeAttribute()
    recorded_at = UTCDateTimeAttribute()


class HealthCheck(BaseModel):
    """The yearly free health check of a poor resident. PK resident_id, SK year (`YYYY`)."""

    class Meta:
        table = "health-checks"

    resident_id = UnicodeAttribute(hash_key=True)
    year = UnicodeAttribute(range_key=True)
    check_date = UnicodeAttribute()
    systolic = NumberAttribute()
    diastolic = NumberAttribute()
    fasting_glucose = NumberAttribute()
    heart_rate = NumberAttribute()
    flags = ListAttribute(default=list)
    team_id = UnicodeAttribute()
    recorded_by = UnicodeAttribute()
    recorded_at = UTCDateTimeAttribute()


class CareCounter(BaseModel):
    """Team counters. PK team_id, SK counter (e.g. `overdue_contacted#2026-11`)."""

    class Meta:
        table = "care-counters"

    team_id = UnicodeAttribute(hash_key=True)
    counter = UnicodeAttribute(range_key=True)
    count = NumberAttribute(default=0)


class HomeVisit(BaseModel):
    """A home service for a bedridden or disabled resident (上门治疗, 上门护理, 康复指导,
    家庭病床查床). PK resident_id, SK visit_key `<visit_date>#<ULID>`.

    Counted per team per month in `CareCounter` (`home_visits#YYYY-MM` and
    `home_visits#<kind>#YYYY-MM`) inside the visit's own transaction.
    """

    class Meta:
        table = "home-visits"

    resident_id = UnicodeAttribute(hash_key=True)
    visit_key = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()          # treatment, nursing, rehab, family_bed
    visit_date = UnicodeAttribute()
    done = UnicodeAttribute()          # what was done
    next_visit = UnicodeAttribute(null=True)
    team_id = UnicodeAttribute()
    recorded_by = UnicodeAttribute()
    recorded_at = UTCDateTimeAttribute()
