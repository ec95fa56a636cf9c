"""Shared by the care services: the county's today, the team-patient access check."""
from __future__ import annotations

from datetime import date

from backend.errors import NotFoundOrNotPermitted
from backend.models.base import condition_failed, failed_items  # noqa: F401  (re-exported)
from backend.models.people import Resident
from backend.services.auth import CurrentUser
from backend.services.residents import get_resident
from backend.services.schedules import today

__all__ = ["local_today", "team_patient", "condition_failed", "failed_items"]


def local_today() -> date:
    """Follow-ups fall due by the calendar in China, whatever the server's clock zone."""
    return today()


def team_patient(user: CurrentUser, resident_id: str) -> Resident:
    """The resident, if contracted to this doctor's team (the foundation's access rule).

    Anyone else gets the answer an unknown id gets (`NotFoundOrNotPermitted`).
    """
    resident = get_resident(resident_id)
    if user.role != "doctor" or not user.team_id or resident.team_id != user.team_id:
        raise NotFoundOrNotPermitted()
    return resident

