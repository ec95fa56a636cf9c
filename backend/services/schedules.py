"""Schedules: booking policy, weekly session templates, the holiday calendar, slot generation,
the attending-doctor duty check and the share figures an admin screen shows.

Reads of facilities, policies and templates live a floor down (`services.facilities`), which
the booking engine also uses; closing a day (停诊) is the engine's (`booking.close_day`).
Nothing here imports the booking package, and it imports nothing from here."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.models.base import new_id, utcnow
from backend.models.booking import (BookingPolicyItem, HolidayArrangement, ScheduleTemplate,
                                    Slot)
from backend.models.facility import Facility
from backend.rules import booking as rules
from backend.rules.booking import Policy, TemplateInvalid, TemplateSpec
from backend.services.facilities import (bucket_of, get_facility, get_policy, list_templates,
                                         staff_facility, today)
from backend.services.slot_kinds import kind_names

__all__ = ["get_policy", "set_policy", "save_template", "list_templates", "deactivate_template",
           "calendar_days", "calendar_warnings", "enter_arrangement", "generate_slots",
           "generate_all", "duty_report", "share_report", "get_facility", "staff_facility",
           "today", "spec_of", "bucket_of"]

log = logging.getLogger(__name__)
PRIMARY_KINDS = ("township", "community")


# ---- policy ---------------------------------------------------------------------------

def set_policy(user, changes: dict) -> Policy:
    facility = staff_facility(user)
    for name, value in changes.items():
        lo, hi = Policy.LIMITS[name]
        if not lo <= value <= hi:
            raise ValidationFailed(f"{_POLICY_LABELS[name]}应在{lo}至{hi}之间", code="invalid_policy")
    policy = replace(get_policy(facility.facility_id), **changes)
    BookingPolicyItem(facility.facility_id, settings=asdict(policy), updated_at=utcnow(),
                      updated_by=user.login).save()
    # Slots already generated take the new windows on the next generation run.
    generate_slots(facility, start=today(), days=policy.horizon_days + 1)
    return policy


_POLICY_LABELS = {
    "horizon_days": "可预约天数", "release_hour": "放号时间", "cancel_notice_minutes": "取消提前分钟数",
    "referral_release_hours": "预留号源释放提前小时数", "offer_minutes": "候补确认时限",
    "max_future_per_department": "每科室最多预约数", "noshow_limit": "爽约次数",
    "noshow_window_days": "爽约统计天数", "pause_days": "暂停预约天数",
}


# ---- templates ------------------------------------------------------------------------

def spec_of(t: ScheduleTemplate) -> TemplateSpec:
    return TemplateSpec(department=t.department, kind=t.kind,
                        weekdays=tuple(int(d) for d in t.weekdays or []),
                        start=rules.parse_hhmm(t.start), end=rules.parse_hhmm(t.end),
                        slice_minutes=int(t.slice_minutes), capacity=int(t.capacity),
                        session=t.session, on_holidays=bool(t.on_holidays),
                        doctor_login=t.doctor_login, doctor_title=t.doctor_title,
                        online_pct=int(t.online_pct), referral_pct=int(t.referral_pct))


@dataclass
class TemplateInput:
    department: str
    kind: str
    weekdays: list[int]
    on_holidays: bool
    session: str
    start: str
    end: str
    slice_minutes: int
    capacity: int
    online_pct: int
    referral_pct: int
    fee: int
    doctor_login: str | None = None
    doctor_name: str | None = None
    doctor_title: str | None = None
    place: str | None = None


def save_template(user, data: TemplateInput, template_id: str | None = None) -> ScheduleTemplate:
    """Create or edit a template after every rule and the overlap check; then generate."""
    facility = staff_facility(user)
    if data.department not in (facility.departments or []):
        raise ValidationFailed("本机构没有该科室", code="unknown_department")
    try:
        start, end = rules.parse_hhmm(data.start), rules.parse_hhmm(data.end)
        spec = TemplateSpec(department=data.department, kind=data.kind,
                            weekdays=tuple(data.weekdays), start=start, end=end,
                            slice_minutes=data.slice_minutes, capacity=data.capacity,
                            session=data.session, on_holidays=data.on_holidays,
                            doctor_login=data.doctor_login, doctor_title=data.doctor_title,
                            online_pct=data.online_pct, referral_pct=data.referral_pct)
        rules.validate_template(spec, facility_kind=facility.kind, kinds=kind_names())
    except TemplateInvalid as err:
        raise ValidationFailed(str(err), code=err.code) from None
    existing = list_templates(facility.facility_id)
    for other in existing:
        if other.template_id != template_id and rules.templates_overlap(spec, spec_of(other)):
            raise ValidationFailed(
                f"与已有排班重叠：{other.department} {other.start}-{other.end}",
                code="overlapping_template")
    now = utcnow()
    fields = dict(department=data.department, kind=data.kind, weekdays=list(data.weekdays),
                  on_holidays=data.on_holidays, session=data.session, start=data.start,
                  end=data.end, slice_minutes=data.slice_minutes, capacity=data.capacity,
                  online_pct=data.online_pct, referral_pct=data.referral_pct, fee=data.fee,
                  doctor_login=data.doctor_login, doctor_name=data.doctor_name,
                  doctor_title=data.doctor_title, place=data.place, updated_at=now)
    if template_id is None:
        template = ScheduleTemplate(facility.facility_id, new_id(), active=True, version=1,
                                    **fields)
        template.save(condition=ScheduleTemplate.template_id.does_not_exist())
    else:
        current = next((t for t in existing if t.template_id == template_id), None)
        if current is None:
            raise NotFound("找不到该排班", code="template_not_found")
        template = ScheduleTemplate(facility.facility_id, template_id, active=True,
                                    version=int(current.version) + 1, **fields)
        try:
            template.save(condition=ScheduleTemplate.version == current.version)
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                raise ValidationFailed("排班已被他人修改，请刷新后重试", code="template_changed") from None
            raise
    generate_slots(facility, start=today(), days=get_policy(facility.facility_id).horizon_days + 1)
    return template


def deactivate_template(user, template_id: str) -> None:
    facility = staff_facility(user)
    try:
        ScheduleTemplate(facility.facility_id, template_id).update(
            actions=[ScheduleTemplate.active.set(False), ScheduleTemplate.updated_at.set(utcnow()),
                     ScheduleTemplate.version.add(1)],
            condition=ScheduleTemplate.template_id.exists())
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound("找不到该排班", code="template_not_found") from None
        raise
    generate_slots(facility, start=today(), days=get_policy(facility.facility_id).horizon_days + 1)


# ---- calendar -------------------------------------------------------------------------

def _arrangements(years: set[int]) -> tuple[dict, set]:
    arrangement, confirmed = {}, set()
    for year in sorted(years):
        for item in HolidayArrangement.query(str(year)):
            if item.kind == "confirmed":
                confirmed.add(year)
            else:
                arrangement[date.fromisoformat(item.day)] = (item.kind, item.name)
    return arrangement, confirmed


def _package_knows(year: int) -> bool:
    import chinese_calendar
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def calendar_days(start: date, days: int) -> list[rules.DayInfo]:
    span = [start + timedelta(days=i) for i in range(days)]
    unknown = {d.year for d in span if not _package_knows(d.year)}
    arrangement, confirmed = _arrangements(unknown) if unknown else ({}, set())
    return [rules.day_info(d, arrangement, confirmed) for d in span]


def calendar_warnings(on: date | None = None, *, county: bool = False) -> list[dict]:
    """Years (this one and the next) whose official arrangement is not known yet. `county`:
    the reader is the county commission, who enters it; centres are told who does."""
    on = on or today()
    then = ("国务院办公厅公布安排后，请在此录入。" if county else
            "国务院办公厅公布安排后由旗县卫生健康委统一录入；本机构需要停诊的日期请用“停诊”。")
    out = []
    for year in (on.year, on.year + 1):
        if _package_knows(year):
            continue
        _, confirmed = _arrangements({year})
        if year not in confirmed:
            out.append({"year": year, "message": (
                f"{year}年法定节假日和调休安排尚未确认（日历数据包只到已公布的年份），"
                f"目前按普通工作日/周末排班；{then}")})
    return out


def enter_arrangement(user, year: int, holidays: list[tuple[date, str]], workdays: list[date]) -> int:
    """Record a year's official arrangement (holiday dates and adjusted working days).

    The arrangement is the county's calendar for every facility, so only the county
    commission enters it; a centre closes its own days with 停诊 (`booking.close_day`)."""
    if user.role != "county":
        raise Forbidden("法定节假日和调休安排由旗县卫生健康委统一录入；本机构停诊请使用“停诊”",
                        code="county_calendar_only")
    if _package_knows(year):
        raise ValidationFailed(f"{year}年的安排已由日历数据包提供，无需录入", code="year_known")
    for d, _ in holidays:
        if d.year != year:
            raise ValidationFailed("日期须在所录入的年份内", code="wrong_year")
    for d in workdays:
        if d.year != year:
            raise ValidationFailed("日期须在所录入的年份内", code="wrong_year")
    if set(d for d, _ in holidays) & set(workdays):
        raise ValidationFailed("同一天不能既是假日又是调休上班日", code="conflicting_days")
    now = utcnow()
    with HolidayArrangement.batch_write() as batch:
        for d, name in holidays:
            batch.save(HolidayArrangement(str(year), d.isoformat(), kind="holiday", name=name,
                                          entered_by=user.login, entered_at=now))
        for d in workdays:
            batch.save(HolidayArrangement(str(year), d.isoformat(), kind="workday", name=None,
                                          entered_by=user.login, entered_at=now))
        batch.save(HolidayArrangement(str(year), "confirmed", kind="confirmed", name=None,
                                      entered_by=user.login, entered_at=now))
    return len(holidays) + len(workdays)


# ---- slot generation ------------------------------------------------------------------

def _slot_for(facility: Facility, t: ScheduleTemplate, spec: TemplateSpec, day: date,
              start: int, end: int, policy: Policy) -> Slot:
    online, desk, referral = rules.channel_split(spec.capacity, spec.online_pct, spec.referral_pct)
    starts = rules.local_dt(day, start)
    return Slot(bucket_of(facility.facility_id, t.department),
                f"{day.isoformat()}T{rules.fmt_hhmm(start)}#{t.template_id}",
                facility_id=facility.facility_id, department=t.department, kind=t.kind,
                day=day.isoformat(), start=rules.fmt_hhmm(start), end=rules.fmt_hhmm(end),
                template_id=t.template_id, template_version=int(t.version),
                starts_at=int(starts.timestamp()),
                opens_at=int(rules.opens_at(day, policy).timestamp()),
                release_at=int(rules.referral_release_at(starts, policy).timestamp()),
                capacity=spec.capacity, cap_online=online, cap_desk=desk, cap_referral=referral,
                left_online=online, left_desk=desk, left_referral=referral, held=0, booked=0,
                fee=int(t.fee or 0), max_per_person=policy.max_future_per_department,
                cancel_notice_minutes=policy.cancel_notice_minutes, closed=False,
                doctor_name=t.doctor_name, doctor_title=t.doctor_title, place=t.place)


def generate_slots(facility: Facility, *, start: date, days: int, batch: bool = False) -> dict:
    """Create the slices of `days` days from `start`; idempotent.

    A slice that exists is left alone unless nobody booked it and its template changed
    (then it is rewritten, conditionally on still being unbooked); a booked slice is never
    deleted or resized. Policy windows (opening, referral release) are refreshed.
    """
    policy = get_policy(facility.facility_id)
    templates = list_templates(facility.facility_id, active_only=False)
    infos = calendar_days(start, days)
    wanted: dict[tuple[str, str], Slot] = {}
    for t in templates:
        if not t.active:
            continue
        spec = spec_of(t)
        for info in infos:
            if rules.template_applies(spec, info):
                for s, e in rules.slices(spec.start, spec.end, spec.slice_minutes):
                    slot = _slot_for(facility, t, spec, info.day, s, e, policy)
                    wanted[(slot.bucket, slot.start_key)] = slot
    existing: dict[tuple[str, str], Slot] = {}
    first, last = start.isoformat(), (start + timedelta(days=days)).isoformat()
    for department in sorted({t.department for t in templates}):
        for slot in Slot.query(bucket_of(facility.facility_id, department),
                               Slot.start_key.between(first, last)):
            existing[(slot.bucket, slot.start_key)] = slot
    created = rewritten = removed = refreshed = 0
    missing = [s for k, s in wanted.items() if k not in existing]
    if batch:
        with Slot.batch_write() as writer:
            for slot in missing:
                writer.save(slot)
        created = len(missing)
    else:
        for slot in missing:
            try:
                slot.save(condition=Slot.start_key.does_not_exist())
                created += 1
            except PutError as err:
                if err.cause_response_code != "ConditionalCheckFailedException":
                    raise
    for key, slot in existing.items():
        new = wanted.get(key)
        if new is None:
            # Template removed or moved: drop the slice only while nobody holds a place.
            try:
                slot.delete(condition=(Slot.booked == 0) & (Slot.held == 0))
                removed += 1
            except DeleteError as err:
                if err.cause_response_code != "ConditionalCheckFailedException":
                    raise
        elif int(slot.template_version) != int(new.template_version):
            try:
                new.save(condition=(Slot.booked == 0) & (Slot.held == 0))
                rewritten += 1
            except PutError as err:
                if err.cause_response_code != "ConditionalCheckFailedException":
                    raise
        elif (slot.opens_at, slot.release_at, slot.max_per_person, slot.cancel_notice_minutes) != (
                new.opens_at, new.release_at, new.max_per_person, new.cancel_notice_minutes):
            slot.update(actions=[Slot.opens_at.set(new.opens_at), Slot.release_at.set(new.release_at),
                                 Slot.max_per_person.set(new.max_per_person),
                                 Slot.cancel_notice_minutes.set(new.cancel_notice_minutes)])
            refreshed += 1
    return {"created": created, "rewritten": rewritten, "removed": removed, "refreshed": refreshed}


def generate_all(days_ahead: int | None = None) -> dict:
    """Every facility of every county: slices for the horizon (+1 day) ahead."""
    totals = {"facilities": 0, "created": 0, "rewritten": 0, "removed": 0, "refreshed": 0}
    for county in Facility.by_parent.query("root"):
        for facility in Facility.by_parent.query(county.facility_id):
            if facility.kind not in ("hospital", "township", "community"):
                continue
            days = days_ahead or get_policy(facility.facility_id).horizon_days + 1
            result = generate_slots(facility, start=today(), days=days)
            totals["facilities"] += 1
            for k, v in result.items():
                totals[k] += v
    return totals


# ---- reports ---------------------------------------------------------------------------

def duty_report(facility: Facility, weeks: int = 4) -> list[dict]:
    """Weeks in which fewer than 3 working days have an attending-level doctor on duty."""
    if facility.kind not in PRIMARY_KINDS:
        return []
    start = today() - timedelta(days=today().weekday())
    infos = calendar_days(start, weeks * 7)
    specs = [spec_of(t) for t in list_templates(facility.facility_id)]
    out = []
    for monday, n in sorted(rules.duty_days_by_week(specs, infos).items()):
        out.append({"week": monday.isoformat(), "attending_days": n,
                    "short": n < rules.DUTY_MIN_WEEKDAYS})
    return out


def share_report(facility: Facility, start: date, days: int) -> dict:
    """Capacity by channel over a date range, and how much of each was used."""
    templates = list_templates(facility.facility_id, active_only=False)
    first, last = start.isoformat(), (start + timedelta(days=days)).isoformat()
    total = {"outpatient": _zero(), "exam": _zero()}
    for department in sorted({t.department for t in templates}):
        for slot in Slot.query(bucket_of(facility.facility_id, department),
                               Slot.start_key.between(first, last)):
            agg = total["exam" if slot.kind == "exam" else "outpatient"]
            agg["slots"] += 1
            agg["capacity"] += int(slot.capacity)
            for ch in ("online", "desk", "referral"):
                cap = int(getattr(slot, f"cap_{ch}"))
                left = int(getattr(slot, f"left_{ch}"))
                agg[f"cap_{ch}"] += cap
                agg[f"used_{ch}"] += cap - left
            agg["booked"] += int(slot.booked)
    for agg in total.values():
        cap = agg["capacity"] or 1
        agg["online_share"] = round((agg["cap_online"] + agg["cap_referral"]) / cap * 100, 1)
        agg["referral_share"] = round(agg["cap_referral"] / cap * 100, 1)
        agg["referral_used"] = round(agg["used_referral"] / (agg["cap_referral"] or 1) * 100, 1)
    return total


def _zero() -> dict:
    return {"slots": 0, "capacity": 0, "booked": 0, "cap_online": 0, "cap_desk": 0,
            "cap_referral": 0, "used_online": 0, "used_desk": 0, "used_referral": 0}
