"""Home services for the bedridden and disabled, recorded as visits of their kind.

Only the resident's own team records or reads them (`team_patient`); each visit and its
team's monthly counters are one transaction, so a figure never counts a visit that was
not stored.
"""
from __future__ import annotations

from datetime import date, timedelta

from backend.errors import ValidationFailed
from backend.models.base import new_id, transaction, utcnow
from backend.models.care import CareCounter, HomeVisit
from backend.services import audit
from backend.services.auth import CurrentUser
from backend.services.care_common import local_today, team_patient
from backend.services.indicators import month_of

__all__ = ["KINDS", "record", "visits_of", "monthly", "counter_key"]

KINDS = {"treatment": "上门治疗", "nursing": "上门护理", "rehab": "康复指导",
         "family_bed": "家庭病床查床"}
MAX_NEXT_DAYS = 366


def counter_key(month: str, kind: str | None = None) -> str:
    return f"home_visits#{kind}#{month}" if kind else f"home_visits#{month}"


def record(user: CurrentUser, resident_id: str, *, kind: str, visit_date: date | None,
           done: str, next_visit: date | None = None) -> HomeVisit:
    team_patient(user, resident_id)
    today = local_today()
    day = visit_date or today
    if kind not in KINDS:
        raise ValidationFailed("服务类型只能是上门治疗、上门护理、康复指导或家庭病床查床",
                               code="invalid_home_visit_kind")
    if day > today:
        raise ValidationFailed("服务日期不能晚于今天", code="visit_in_future")
    if day < today - timedelta(days=90):
        raise ValidationFailed("只能补录90天内的上门服务", code="visit_too_old")
    text = (done or "").strip()
    if len(text) < 2:
        raise ValidationFailed("请填写服务内容（至少2个字）", code="done_required")
    if next_visit is not None and not (day < next_visit <= day + timedelta(days=MAX_NEXT_DAYS)):
        raise ValidationFailed("下次上门日期须在本次之后一年以内", code="invalid_next_visit")
    visit = HomeVisit(resident_id, f"{day.isoformat()}#{new_id()}", kind=kind,
                      visit_date=day.isoformat(), done=text,
                      next_visit=next_visit.isoformat() if next_visit else None,
                      team_id=user.team_id, recorded_by=user.login, recorded_at=utcnow())
    month = month_of(day)
    with transaction() as tx:
        tx.save(visit, condition=HomeVisit.visit_key.does_not_exist())
        for key in (counter_key(month), counter_key(month, kind)):
            tx.update(CareCounter(user.team_id, key), actions=[CareCounter.count.add(1)])
    return visit


def visits_of(user: CurrentUser, resident_id: str) -> list[HomeVisit]:
    """The resident's home visits, newest first (one Query; audited)."""
    team_patient(user, resident_id)
    rows = sorted(HomeVisit.query(resident_id), key=lambda v: v.visit_key, reverse=True)
    audit.record(user, subject_id=resident_id, action="read", what="home_visit.list")
    return rows


def monthly(team_id: str, month: str) -> dict:
    """The team's home visits in a month: total and per kind (one BatchGet by key)."""
    keys = [(team_id, counter_key(month))] + [(team_id, counter_key(month, k)) for k in KINDS]
    got = {c.counter: int(c.count or 0) for c in CareCounter.batch_get(keys)}
    return {"month": month, "total": got.get(counter_key(month), 0),
            "by_kind": {k: got.get(counter_key(month, k), 0) for k in KINDS},
            "labels": KINDS}
