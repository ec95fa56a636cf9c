"""Facilities of a county (hospital, township and community centres, village clinics) and teams."""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute,
                                 UnicodeAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["Facility", "Team", "TeamMember", "TeamMembership", "FACILITY_KINDS"]

FACILITY_KINDS = ("county", "hospital", "township", "community", "village")


class FacilitiesByParent(GlobalSecondaryIndex):
    """Children of a facility: the centres of a county, the village clinics of a centre."""

    class Meta:
        index_name = "by-parent"
        projection = AllProjection()

    parent_id = UnicodeAttribute(hash_key=True)
    facility_id = UnicodeAttribute(range_key=True)


class Facility(BaseModel):
    """PK facility_id (e.g. `twp-01`); `parent_id` is the county or the township centre."""

    class Meta:
        table = "facilities"

    facility_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    name = UnicodeAttribute()
    parent_id = UnicodeAttribute()
    county_id = UnicodeAttribute()
    address = UnicodeAttribute(null=True)
    mobile_clinic = BooleanAttribute(default=False)
    departments = ListAttribute(default=list)  # outpatient departments / exam rooms (names)
    by_parent = FacilitiesByParent()


class TeamMember(MapAttribute):
    login = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()   # gp, nurse, public_health, village_doctor
    phone = UnicodeAttribute()
    title = UnicodeAttribute(null=True)


class ServicePhone(MapAttribute):
    label = UnicodeAttribute()   # e.g. 团队服务电话, 卫生院值班电话
    number = UnicodeAttribute()  # a landline (0478-1234567) or a service mobile
    hours = UnicodeAttribute(null=True)  # e.g. 周一至周五 8:00-17:30


class TeamsByFacility(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-facility"
        projection = AllProjection()

    facility_id = UnicodeAttribute(hash_key=True)
    team_id = UnicodeAttribute(range_key=True)


class Team(BaseModel):
    """A family-doctor team. PK team_id; attached to a township or community centre."""

    class Meta:
        table = "teams"

    team_id = UnicodeAttribute(hash_key=True)
    facility_id = UnicodeAttribute()
    name = UnicodeAttribute()
    members = ListAttribute(of=TeamMember, default=list)
    # The contracted service package shown on the service card (names, Chinese).
    services = ListAttribute(default=list)
    # The team's own numbers for residents (clinic desk, duty phone): never members' mobiles.
    service_phones = ListAttribute(of=ServicePhone, default=list)
    revision = NumberAttribute(null=True)   # members are replaced under `revision ==`
    by_facility = TeamsByFacility()


class TeamMembership(BaseModel):
    """Which team a staff member works in now: what their access follows on every request.

    PK login (`s:<username>`). Written in the same transaction as `Team.members` (one
    team per person: the put is conditional on no other team holding them); removing a
    member deletes it, so their open sessions lose the team's records on the next request.
    """

    class Meta:
        table = "team-memberships"

    login = UnicodeAttribute(hash_key=True)
    team_id = UnicodeAttribute()
    facility_id = UnicodeAttribute()
