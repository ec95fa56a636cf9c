"""Village duty (巡回坐诊): rosters, stand-ins (派驻), a doctor's duty, sessions, filings.

`log_session` takes the client's id for the session, so the doctor's offline outbox can
replay it: a second call with the same id returns the stored row and writes nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.models.base import condition_failed, new_id, transaction, utcnow
from backend.models.county import DutyEntry, DutyRoster, DutySession, Filing, StandIn
from backend.models.facility import Facility, Team
from backend.models.people import Uniqueness
from backend.rules import duty as rules
from backend.services.auth import CurrentUser
from backend.services.indicators import Tally
from backend.services.schedules import today as local_today

__all__ = ["load_roster", "roster_entries", "centre_staff", "villages_of", "save_roster",
           "roster_view", "add_standin", "my_duty", "log_session", "file_roster", "file_stats",
           "deadlines", "quarter_activity", "check_quarter", "DutyDay", "CLIENT_ID"]

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DUTY_ROLES = ("gp", "public_health")
MAX_STANDIN_DAYS = 92


def _admin_centre(user: CurrentUser) -> str:
    if user.role != "township_admin" or not user.facility_id:
        raise Forbidden("只有乡镇卫生院管理员可以安排巡回坐诊")
    return user.facility_id


def load_roster(township_id: str, year: int) -> DutyRoster | None:
    try:
        return DutyRoster.get(township_id, str(year))
    except DoesNotExist:
        return None


def roster_entries(roster: DutyRoster | None) -> list[rules.Entry]:
    if roster is None:
        return []
    return [rules.Entry(e.village_id, e.doctor_login, int(e.weekday), e.half,
                        tuple(int(w) for w in e.weeks)) for e in roster.entries]


def centre_staff(township_id: str) -> dict[str, dict]:
    """The centre's doctors who can sit in a village clinic, by login (name, title)."""
    out = {}
    for team in Team.by_facility.query(township_id):
        for m in team.members:
            if m.role in DUTY_ROLES:
                out[m.login] = {"login": m.login, "name": m.name, "title": m.title or ""}
    return dict(sorted(out.items(), key=lambda kv: kv[1]["name"]))


def villages_of(township_id: str) -> dict[str, Facility]:
    return {v.facility_id: v for v in Facility.by_parent.query(township_id) if v.kind == "village"}


def _check_year(year: int) -> None:
    this = local_today().year
    if not this - 1 <= year <= this + 1:
        raise ValidationFailed("只能安排去年、今年或明年的坐诊", code="invalid_year")


def save_roster(user: CurrentUser, *, year: int, model: str, entries: list[dict],
                version: int | None) -> tuple[DutyRoster, list[rules.Violation]]:
    """Save the roster as it is; a roster under the minimum is saved with its violations.

    A doctor in two villages at the same half-day is refused (it cannot happen).
    """
    centre = _admin_centre(user)
    _check_year(year)
    if model not in rules.MODELS:
        raise ValidationFailed("坐诊模式只能是固定坐诊或轮岗坐诊", code="invalid_model")
    villages, staff = villages_of(centre), centre_staff(centre)
    parsed = []
    for raw in entries:
        e = rules.Entry(raw["village_id"], raw["doctor_login"], int(raw["weekday"]), raw["half"],
                        tuple(int(w) for w in raw["weeks"]))
        try:
            rules.validate_entry(e)
        except rules.RosterError as err:
            raise ValidationFailed(str(err), code=err.code) from None
        if e.village_id not in villages:
            raise ValidationFailed("只能安排本卫生院的村卫生室", code="unknown_village")
        if e.doctor_login not in staff:
            raise ValidationFailed("只能安排本卫生院的医生", code="unknown_doctor")
        parsed.append(e)
    for doctor, weekday, half, week, where in rules.clashes(parsed):
        names = "、".join(villages[v].name for v in where)
        raise ValidationFailed(
            f"{staff[doctor]['name']}在每月第{week}个周{'一二三四五六日'[weekday]}{rules.HALVES[half]}"
            f"同时排在{names}，一名医生同一时间只能在一个村", code="doctor_double_booked")
    old = load_roster(centre, year)
    if (old.version if old else None) != version:
        raise Conflict("排班已被他人修改，请刷新后再保存", code="roster_changed")
    roster = DutyRoster(centre, str(year), model=model,
                        entries=[DutyEntry(village_id=e.village_id, doctor_login=e.doctor_login,
                                           weekday=e.weekday, half=e.half, weeks=list(e.weeks))
                                 for e in parsed],
                        standins=list(old.standins) if old else [],
                        version=(version or 0) + 1, updated_by=user.login, updated_at=utcnow())
    cond = DutyRoster.version == version if old else DutyRoster.year.does_not_exist()
    try:
        roster.save(condition=cond)
    except Exception as err:  # PutError on the condition
        if "ConditionalCheckFailed" in str(err):
            raise Conflict("排班已被他人修改，请刷新后再保存", code="roster_changed") from None
        raise
    return roster, rules.check_roster(model, parsed, sorted(villages), year)


def roster_view(township_id: str, year: int) -> dict:
    """The roster with names, its violations and compliance (for admin and county)."""
    roster = load_roster(township_id, year)
    villages, staff = villages_of(township_id), centre_staff(township_id)
    entries = roster_entries(roster)
    violations = rules.check_roster(roster.model, entries, sorted(villages), year) if roster else []
    return {"roster": roster, "entries": entries, "villages": villages, "staff": staff,
            "violations": violations, "compliant": roster is not None and not violations,
            "year": year}


def add_standin(user: CurrentUser, *, year: int, village_id: str, doctor_login: str,
                start: date, end: date, reason: str) -> StandIn:
    """派驻: a centre doctor covers a village clinic while its village doctor is away."""
    centre = _admin_centre(user)
    if end < start or (end - start).days > MAX_STANDIN_DAYS:
        raise ValidationFailed(f"派驻结束日期须不早于开始日期，且不超过{MAX_STANDIN_DAYS}天",
                               code="invalid_dates")
    if end < local_today():
        raise ValidationFailed("派驻的日期已经过去", code="invalid_dates")
    if len((reason or "").strip()) < 2:
        raise ValidationFailed("请填写村医不在岗的原因（如外出培训）", code="reason_required")
    villages, staff = villages_of(centre), centre_staff(centre)
    if village_id not in villages or doctor_login not in staff:
        raise ValidationFailed("只能派驻本卫生院的医生到本卫生院的村卫生室", code="unknown_village")
    roster = load_roster(centre, year)
    if roster is None:
        raise NotFound("请先保存本年度的巡回坐诊排班", code="no_roster")
    busy = [(d, e) for d, e in rules.planned_sessions(roster_entries(roster), start, end)
            if e.doctor_login == doctor_login and e.village_id != village_id]
    busy += [(date.fromisoformat(s.start), s) for s in roster.standins
             if s.doctor_login == doctor_login and s.start <= end.isoformat()
             and s.end >= start.isoformat()]
    if busy:
        when, other = busy[0]
        raise Conflict(f"{staff[doctor_login]['name']}在{rules.weekday_label(when)}已安排在"
                       f"{villages[other.village_id].name}，同一时间不能派驻两处",
                       code="doctor_double_booked")
    s = StandIn(standin_id=new_id(), village_id=village_id, doctor_login=doctor_login,
                start=start.isoformat(), end=end.isoformat(), reason=reason.strip())
    try:
        roster.update(actions=[DutyRoster.standins.set(list(roster.standins) + [s]),
                               DutyRoster.version.set(roster.version + 1)],
                      condition=DutyRoster.version == roster.version)
    except Exception as err:
        if "ConditionalCheckFailed" in str(err):
            raise Conflict("排班已被他人修改，请刷新后重试", code="roster_changed") from None
        raise
    return s


@dataclass(frozen=True)
class DutyDay:
    day: date
    label: str            # 12月3日 周四
    village_id: str
    village: str
    half: str             # am | pm | day (a stand-in covers the whole day)
    kind: str             # roster | standin
    session: DutySession | None


def _planned_for(roster: DutyRoster | None, login: str, start: date, end: date) -> list[tuple[date, str, str, str]]:
    out = [(d, e.village_id, e.half, "roster") for d, e in
           rules.planned_sessions(roster_entries(roster), start, end) if e.doctor_login == login]
    for s in (roster.standins if roster else []):
        if s.doctor_login != login:
            continue
        d = max(start, date.fromisoformat(s.start))
        while d <= min(end, date.fromisoformat(s.end)):
            out.append((d, s.village_id, "day", "standin"))
            d += timedelta(days=1)
    return sorted(out)


def my_duty(user: CurrentUser, *, back_days: int = 14, ahead_days: int = 28) -> list[DutyDay]:
    """A doctor's half-days in village clinics, two weeks back (to log) and four ahead."""
    if user.role != "doctor" or not user.facility_id:
        raise Forbidden("只有医生可以查看自己的坐诊安排")
    today = local_today()
    start, end = today - timedelta(days=back_days), today + timedelta(days=ahead_days)
    roster = load_roster(user.facility_id, today.year)
    planned = _planned_for(roster, user.login, start, end)
    if not planned:
        return []
    villages = villages_of(user.facility_id)
    logged = {s.session_key: s for s in DutySession.query(
        user.facility_id, DutySession.session_key.between(start.isoformat(), f"{end.isoformat()}~"))}
    return [DutyDay(d, rules.weekday_label(d), v, villages[v].name if v in villages else "村卫生室",
                    half, kind, logged.get(_key(d, v, half))) for d, v, half, kind in planned]


def _key(day: date, village_id: str, half: str) -> str:
    return f"{day.isoformat()}#{village_id}#{half}"


def log_session(user: CurrentUser, *, day: date, village_id: str, half: str, status: str,
                patients: int, client_id: str, note: str | None = None) -> DutySession:
    """Log one planned half-day as held (patients seen) or missed; replayable by client id."""
    if user.role != "doctor" or not user.facility_id:
        raise Forbidden("只有坐诊医生可以登记坐诊")
    if not CLIENT_ID.match(client_id or ""):
        raise ValidationFailed("记录编号格式不正确（8-64位字母、数字、-或_）", code="invalid_client_id")
    claim_key = f"duty#{user.login}#{client_id}"
    try:
        claim = Uniqueness.get(claim_key, consistent_read=True)
        return DutySession.get(user.facility_id, claim.owner, consistent_read=True)
    except DoesNotExist:
        pass
    today = local_today()
    if day > today:
        raise ValidationFailed("不能登记未来日期的坐诊", code="session_in_future")
    if day < today - timedelta(days=60):
        raise ValidationFailed("只能登记最近60天内的坐诊", code="session_too_old")
    if status not in ("held", "missed"):
        raise ValidationFailed("坐诊情况只能是已坐诊或未坐诊", code="invalid_status")
    if status == "held" and not 0 <= patients <= 500:
        raise ValidationFailed("接诊人数应在0到500之间", code="invalid_patients")
    planned = {(v, h) for d, v, h, _ in _planned_for(load_roster(user.facility_id, day.year),
                                                     user.login, day, day)}
    if (village_id, half) not in planned:
        raise ValidationFailed("这一天的这个时段您没有排在该村坐诊", code="not_on_duty")
    key = _key(day, village_id, half)
    session = DutySession(user.facility_id, key, day=day.isoformat(), village_id=village_id,
                          half=half, doctor_login=user.login, status=status,
                          patients=patients if status == "held" else 0, note=note,
                          client_id=client_id, logged_by=user.login, logged_at=utcnow())
    tally = Tally()
    tally.month(village_id, "duty_held" if status == "held" else "duty_missed", day=day)
    tally.month(village_id, "duty_patients", session.patients, day=day)
    try:
        with transaction() as tx:
            tx.save(session, condition=DutySession.session_key.does_not_exist())
            tx.save(Uniqueness(claim_key, owner=key), condition=Uniqueness.key.does_not_exist())
            tally.apply(tx)
    except TransactWriteError as err:
        if not condition_failed(err):
            raise
        try:  # the same record sent twice at once: the first one won
            claim = Uniqueness.get(claim_key, consistent_read=True)
            return DutySession.get(user.facility_id, claim.owner, consistent_read=True)
        except DoesNotExist:
            raise Conflict("这个时段的坐诊已经登记过了", code="session_already_logged") from None
    return session


# ---- filings and deadlines ----------------------------------------------------------------

def check_quarter(quarter: str, *, ended: bool) -> tuple[int, int]:
    """A quarter that is not in the future (and, for filing, has ended)."""
    try:
        year, q = rules.parse_quarter(quarter)
    except rules.RosterError as err:
        raise ValidationFailed(str(err), code=err.code) from None
    start, end = rules.quarter_bounds(year, q)
    today = local_today()
    if start > today:
        raise ValidationFailed("该季度还没有开始", code="quarter_in_future")
    if ended and end >= today:
        raise ValidationFailed("该季度还没有结束，结束后再上报", code="quarter_not_ended")
    return year, q


def _file(user: CurrentUser, filing: str, **fields) -> Filing:
    centre = _admin_centre(user)
    item = Filing(centre, filing, filed_on=local_today().isoformat(), filed_by=user.login, **fields)
    try:
        item.save(condition=Filing.filing.does_not_exist())
    except Exception as err:
        if "ConditionalCheckFailed" in str(err):
            raise Conflict("已经上报过了", code="already_filed") from None
        raise
    return item


def file_roster(user: CurrentUser, year: int) -> Filing:
    """备案: the roster as it stands (its compliance recorded with it)."""
    view = roster_view(_admin_centre(user), year)
    if view["roster"] is None:
        raise NotFound("请先保存本年度的巡回坐诊排班", code="no_roster")
    return _file(user, f"roster#{year}", roster_version=view["roster"].version,
                 compliant=1 if view["compliant"] else 0)


def file_stats(user: CurrentUser, quarter: str) -> Filing:
    year, q = check_quarter(quarter, ended=True)
    return _file(user, f"stats#{year}Q{q}")


def deadlines(township_id: str, year: int) -> list[dict]:
    """The roster filing (end of April) and each quarter's statistics (10th after)."""
    today = local_today()
    filed = {f.filing: f for f in Filing.query(township_id)}
    rows = []
    f = filed.get(f"roster#{year}")
    due = rules.roster_due(year)
    rows.append({"what": f"{year}年坐诊人员名单备案", "due": due, "due_label": rules.weekday_label(due),
                 "filed_on": f.filed_on if f else None,
                 "status": rules.deadline_status(due, date.fromisoformat(f.filed_on) if f else None, today)})
    for q in (2, 3, 4):  # "from April on": the quarters from the second
        start, end = rules.quarter_bounds(year, q)
        if start > today:
            continue
        due = rules.stats_due(year, q)
        f = filed.get(f"stats#{year}Q{q}")
        rows.append({"what": f"{year}年第{q}季度坐诊活动统计", "due": due,
                     "due_label": rules.weekday_label(due), "quarter": f"{year}Q{q}",
                     "filed_on": f.filed_on if f else None,
                     "status": rules.deadline_status(due, date.fromisoformat(f.filed_on) if f else None,
                                                     today, opens=end + timedelta(days=1))})
    return rows


def quarter_activity(township_id: str, quarter: str) -> list[dict]:
    """Per village of the centre: sessions planned, held, missed and patients seen."""
    year, q = check_quarter(quarter, ended=False)
    start, end = rules.quarter_bounds(year, q)
    until = min(end, local_today())
    villages, staff = villages_of(township_id), centre_staff(township_id)
    roster = load_roster(township_id, year)
    rows = {v: {"village_id": v, "village": villages[v].name, "planned": 0, "held": 0,
                "missed": 0, "patients": 0, "doctors": set()} for v in sorted(villages)}
    for _, e in rules.planned_sessions(roster_entries(roster), start, until):
        if e.village_id in rows:
            rows[e.village_id]["planned"] += 1
            rows[e.village_id]["doctors"].add(staff.get(e.doctor_login, {}).get("name", ""))
    for s in DutySession.query(township_id, DutySession.session_key.between(
            start.isoformat(), f"{until.isoformat()}~")):
        r = rows.get(s.village_id)
        if r is None:
            continue
        r[s.status] += 1
        r["patients"] += int(s.patients or 0)
        r["doctors"].add(staff.get(s.doctor_login, {}).get("name", ""))
    out = []
    for r in rows.values():
        r["doctors"] = "、".join(sorted(d for d in r["doctors"] if d))
        out.append(r)
    return out
