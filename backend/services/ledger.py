"""The 65+ ledger (台账): membership from the birth date, the yearly visit and grade."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.models.base import new_id, transaction, utcnow
from backend.models.care import ElderVisit
from backend.models.facility import Facility
from backend.models.people import Resident, Uniqueness
from backend.rules import elderly
from backend.rules.identity import age_on
from backend.services import audit, sync_log
from backend.services.auth import CurrentUser
from backend.services.care_common import condition_failed, local_today, team_patient
from backend.services.contracts import get_team

__all__ = ["LedgerRow", "ledger", "record_elder_visit", "recorded_elder_visit", "PRIORITY_LABELS"]

PRIORITY_LABELS = {"hypertension": "高血压", "diabetes": "糖尿病", "poor": "脱贫人口",
                   "disabled": "残疾人", "living_alone": "独居", "bedridden": "卧床",
                   "not_assessed": "本年未评估"}


@dataclass
class LedgerRow:
    resident_id: str
    name: str
    age: int
    village_id: str
    grade: str | None
    score: int | None
    last_visit: str | None
    next_due: str
    flags: list[str]


def _villages(facility_id: str) -> list[str]:
    return [f.facility_id for f in Facility.by_parent.query(facility_id)
            if f.kind == "village"]


@audit.list_view("care.ledger", shown=lambda rows: [r.resident_id for r in rows])
def ledger(user: CurrentUser, *, grade: str | None = None, village_id: str | None = None,
           due_by: date | None = None, today: date | None = None) -> list[LedgerRow]:
    """Residents 65+ of the doctor's team (or the admin's centre), oldest first.

    One Query per village on residents by-village (birth date ≤ the 65th-birthday
    cut-off) and one BatchGet of the ledger rows; no Scan.
    """
    today = today or local_today()
    if user.role == "doctor" and user.team_id:
        facility_id = get_team(user.team_id).facility_id
        team_filter = Resident.team_id == user.team_id
    elif user.role == "township_admin" and user.facility_id:
        facility_id, team_filter = user.facility_id, None
    else:
        raise Forbidden()
    if grade is not None and grade not in elderly.GRADES and grade != "none":
        raise ValidationFailed("分级只能是可自理、轻度依赖、中度依赖、不能自理或未评估", code="invalid_grade")
    villages = _villages(facility_id)
    if village_id:
        if village_id not in villages:
            raise ValidationFailed("该村不在本中心服务范围", code="invalid_village")
        villages = [village_id]
    cutoff = elderly.elder_cutoff_birth_date(today).isoformat()
    people: list[Resident] = []
    for vid in villages:
        people.extend(Resident.by_village.query(vid, Resident.birth_date <= cutoff,
                                                filter_condition=team_filter))
    latest = {v.resident_id: v for v in ElderVisit.batch_get(
        [(p.resident_id, "latest") for p in people])}
    rows = []
    year_start = date(today.year, 1, 1).isoformat()
    for p in people:
        v = latest.get(p.resident_id)
        flags = sorted((p.conditions or set()) | (p.priority_flags or set()) | (v.flags if v else set()))
        if p.poor and "poor" not in flags:
            flags.append("poor")
        if v is None or v.visit_date < year_start:
            flags.append("not_assessed")
        next_due = v.next_due if v else today.isoformat()
        row = LedgerRow(p.resident_id, p.name, age_on(date.fromisoformat(p.birth_date), today),
                        p.village_id, v.grade if v else None, int(v.score) if v else None,
                        v.visit_date if v else None, next_due, flags)
        if grade == "none" and row.grade is not None:
            continue
        if grade not in (None, "none") and row.grade != grade:
            continue
        if due_by is not None and row.next_due > due_by.isoformat():
            continue
        rows.append(row)
    rows.sort(key=lambda r: (r.next_due, -r.age))
    return rows


def _elder_claim_key(user: CurrentUser, client_record_id: str) -> str:
    return f"eldervisit#{user.login}#{client_record_id}"


def recorded_elder_visit(user: CurrentUser, resident_id: str,
                         client_record_id: str | None) -> ElderVisit | None:
    """The visit this client id already recorded (an offline outbox replaying), if any."""
    if not client_record_id:
        return None
    try:
        claim = Uniqueness.get(_elder_claim_key(user, client_record_id), consistent_read=True)
    except DoesNotExist:
        return None
    owner_resident, _, visit_key = claim.owner.partition("|")
    if owner_resident != resident_id:
        raise Conflict("该记录编号已用于另一位居民", code="client_record_id_reused")
    return ElderVisit.get(resident_id, visit_key, consistent_read=True)


def record_elder_visit(user: CurrentUser, resident_id: str, *, score: int,
                       flags: list[str] | None = None, note: str | None = None,
                       visit_date: date | None = None,
                       client_record_id: str | None = None) -> ElderVisit:
    """The yearly health-management visit: the self-care score grades the person.

    With `client_record_id` the claim `eldervisit#<login>#<id>` is written in the same
    transaction, so a replayed upload returns the stored visit and writes nothing.
    """
    resident = team_patient(user, resident_id)
    replay = recorded_elder_visit(user, resident_id, client_record_id)
    if replay is not None:
        return replay
    today = local_today()
    visit = visit_date or today
    if visit > today or visit < today - timedelta(days=30):
        raise ValidationFailed("随访日期须在最近30天内且不晚于今天", code="invalid_visit_date")
    if not elderly.is_elder(date.fromisoformat(resident.birth_date), visit):
        raise ValidationFailed("该居民未满65岁，不在老年人台账内", code="not_elder")
    try:
        grade = elderly.self_care_grade(score)
    except ValueError as err:
        raise ValidationFailed(str(err), code="invalid_self_care_score") from None
    unknown = set(flags or []) - set(PRIORITY_LABELS)
    if unknown:
        raise ValidationFailed("重点人群标记不正确", code="invalid_flag")
    now = utcnow()
    next_due = elderly.next_yearly_visit(visit, today).isoformat()
    fields = dict(visit_date=visit.isoformat(), score=score, grade=grade, next_due=next_due,
                  flags=set(flags or []), note=note, team_id=user.team_id,
                  recorded_by=user.login, recorded_at=now)
    visit_row = ElderVisit(resident_id, f"visit#{visit.isoformat()}#{new_id()}", **fields)
    try:
        with transaction() as tx:
            tx.save(visit_row, condition=ElderVisit.visit_key.does_not_exist())
            if client_record_id:
                tx.save(Uniqueness(_elder_claim_key(user, client_record_id),
                                   owner=f"{resident_id}|{visit_row.visit_key}"),
                        condition=Uniqueness.key.does_not_exist())
            tx.save(ElderVisit(resident_id, "latest", **fields))
            sync_log.stamp(tx, user.team_id, [resident_id], "elder.visit")
    except TransactWriteError as err:
        if condition_failed(err):
            replay = recorded_elder_visit(user, resident_id, client_record_id)
            if replay is not None:  # the same upload twice at once: the first one won
                return replay
            raise Conflict() from None
        raise
    audit.record(user, subject_id=resident_id, action="write",
                 what="elder.visit")
    return visit_row
