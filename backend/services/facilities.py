"""Facilities and their booking set-up (policy, templates): the floor that schedules and
booking both stand on, so that neither imports the other."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from pynamodb.exceptions import DoesNotExist

from backend.errors import Forbidden, NotFound
from backend.models.booking import BookingPolicyItem, ScheduleTemplate
from backend.models.facility import Facility
from backend.rules.booking import CHINA, Policy

__all__ = ["today", "get_facility", "staff_facility", "get_policy", "list_templates",
           "bucket_of", "STAFF_ROLES"]

STAFF_ROLES = ("township_admin", "hospital_admin")


def today() -> date:
    return datetime.now(CHINA).date()


def get_facility(facility_id: str) -> Facility:
    if not facility_id or len(facility_id) > 40:
        raise NotFound("找不到该医疗机构", code="facility_not_found")
    try:
        return Facility.get(facility_id)
    except DoesNotExist:
        raise NotFound("找不到该医疗机构", code="facility_not_found") from None


def staff_facility(user) -> Facility:
    """The centre or hospital an admin manages (their own, never another)."""
    if user.role not in STAFF_ROLES or not user.facility_id:
        raise Forbidden("只有卫生院或医院管理员可以管理排班")
    return get_facility(user.facility_id)


def get_policy(facility_id: str) -> Policy:
    try:
        item = BookingPolicyItem.get(facility_id)
    except DoesNotExist:
        return Policy()
    known = {k: int(v) for k, v in (item.settings.as_dict() if hasattr(item.settings, "as_dict")
                                     else dict(item.settings)).items() if k in Policy.LIMITS}
    return replace(Policy(), **known)


def list_templates(facility_id: str, *, active_only: bool = True) -> list[ScheduleTemplate]:
    items = list(ScheduleTemplate.query(facility_id))
    return [t for t in items if t.active or not active_only]


def bucket_of(facility_id: str, department: str) -> str:
    return f"{facility_id}#{department}"
