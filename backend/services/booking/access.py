"""Who may book whom where, and which channel's places (online, desk, referral) they take."""
from __future__ import annotations

from backend.errors import Forbidden
from backend.models.booking import Slot
from backend.models.facility import Facility
from backend.models.people import Resident

from . import store

__all__ = ["authorise", "channel", "viewer_left", "listing_preference", "at_lead_hospital"]


def at_lead_hospital(facility: Facility) -> bool:
    return facility.kind == "hospital"


def authorise(user, resident: Resident, facility: Facility, grant) -> str:
    """Check who may book for `resident` here; returns the booker's channel preference."""
    if user.role == "resident":
        if resident.resident_id != user.resident_id and grant is None:
            raise Forbidden("该居民未授权您代为预约", code="not_authorised")
        return "public"
    if user.role == "doctor":
        if not resident.team_id or resident.team_id != user.team_id:
            raise Forbidden("只能为本团队签约居民预约", code="not_your_resident")
        return "referral" if at_lead_hospital(facility) else "public"
    if user.role == "township_admin":
        if facility.facility_id == user.facility_id:
            return "desk"
        if at_lead_hospital(facility) and resident.township_id == user.facility_id:
            return "referral"
        raise Forbidden("只能为本机构辖区居民转诊预约", code="not_your_resident")
    if user.role == "hospital_admin" and facility.facility_id == user.facility_id:
        return "desk"
    raise Forbidden("您没有权限预约")


def channel(preference: str, slot: Slot, now: float) -> str | None:
    """The channel whose place this booking takes, or None if none is left for this booker."""
    released = now >= int(slot.release_at)
    if preference == "desk":
        order = ["desk", "online"]
    elif preference == "referral":
        order = ["referral", "online"]
    else:
        order = ["online"] + (["referral"] if released else [])
    for ch in order:
        if int(getattr(slot, f"left_{ch}")) >= 1:
            return ch
    return None


def viewer_left(slot: Slot, preference: str, now: float | None = None) -> int:
    now = now or store.now()
    released = now >= int(slot.release_at)
    if preference == "desk":
        return int(slot.left_desk) + int(slot.left_online)
    if preference == "referral":
        return int(slot.left_referral) + int(slot.left_online)
    return int(slot.left_online) + (int(slot.left_referral) if released else 0)


def listing_preference(user, facility: Facility) -> str:
    if user.role == "doctor" and at_lead_hospital(facility):
        return "referral"
    if user.role == "township_admin":
        if facility.facility_id == user.facility_id:
            return "desk"
        if at_lead_hospital(facility):
            return "referral"
    if user.role == "hospital_admin" and facility.facility_id == user.facility_id:
        return "desk"
    return "public"
