"""Shared by the care services: the county's today, the team-patient access check."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pynamodb.exceptions import TransactWriteError

from backend.errors import Forbidden
from backend.models.people import Resident
from backend.services.auth import CurrentUser
from backend.services.residents import get_resident

__all__ = ["local_today", "team_patient", "condition_failed", "failed_items"]

_TZ = ZoneInfo("Asia/Shanghai")


def local_today() -> date:
    """Follow-ups fall due by the calendar in China, whatever the server's clock zone."""
    return datetime.now(_TZ).date()


def team_patient(user: CurrentUser, resident_id: str) -> Resident:
    """The resident, if contracted to this doctor's team (the foundation's access rule)."""
    resident = get_resident(resident_id)
    if user.role != "doctor" or not user.team_id or resident.team_id != user.team_id:
        raise Forbidden("该居民未与您的团队签约，不能查看或记录", code="not_contracted_to_team")
    return resident


def condition_failed(err: TransactWriteError) -> bool:
    return any(r and r.code == "ConditionalCheckFailed" for r in err.cancellation_reasons or [])


def failed_items(err: TransactWriteError) -> list[int]:
    """Positions (in PynamoDB's order: checks, deletes, saves, updates) that failed."""
    return [i for i, r in enumerate(err.cancellation_reasons or [])
            if r and r.code == "ConditionalCheckFailed"]
