"""The admin schedule screen: templates, shares, duty flags, calendar, arrivals (pages + JSON)."""
from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Literal

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError, ValidationFailed
from backend.rules.booking import Policy
from backend.security import current_user, require
from backend.services import booking as booking_svc
from backend.services import schedules as svc

bp = Blueprint("schedules", __name__)

ADMINS = ("township_admin", "hospital_admin")
WEEKDAYS = "一二三四五六日"


class TemplateIn(api.Schema):
    department: str = Field(min_length=1, max_length=20)
    kind: str = Field(default="outpatient", min_length=1, max_length=20)  # a registered slot kind
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    on_holidays: bool = False
    session: Literal["day", "evening"] = "day"
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    slice_minutes: int = Field(ge=-10000, le=10000)
    capacity: int = Field(ge=-10000, le=10000)
    online_pct: int = Field(default=80, ge=0, le=100)
    referral_pct: int = Field(default=0, ge=0, le=100)
    fee: int = Field(default=0, ge=0, le=100000)
    doctor_login: str | None = Field(default=None, max_length=40)
    doctor_name: str | None = Field(default=None, max_length=20)
    doctor_title: str | None = Field(default=None, max_length=10)
    place: str | None = Field(default=None, max_length=40)


class PolicyIn(api.Schema):
    horizon_days: int | None = None
    release_hour: int | None = None
    cancel_notice_minutes: int | None = None
    referral_release_hours: int | None = None
    offer_minutes: int | None = None
    max_future_per_department: int | None = None
    noshow_limit: int | None = None
    noshow_window_days: int | None = None
    pause_days: int | None = None


class HolidayDay(api.Schema):
    day: date
    name: str = Field(min_length=1, max_length=10)


class ArrangementIn(api.Schema):
    year: int = Field(ge=2000, le=2100)
    holidays: list[HolidayDay] = Field(min_length=1, max_length=60)
    workdays: list[date] = Field(default_factory=list, max_length=20)


class CloseDayIn(api.Schema):
    department: str = Field(min_length=1, max_length=20)
    day: date


class AttendanceIn(api.Schema):
    status: Literal["arrived", "no_show"]


class DayQuery(api.Schema):
    day: date


def _template_out(t) -> dict:
    from backend.rules.booking import channel_split
    online, desk, referral = channel_split(int(t.capacity), int(t.online_pct), int(t.referral_pct))
    return {"template_id": t.template_id, "department": t.department, "kind": t.kind,
            "weekdays": [int(d) for d in t.weekdays or []], "on_holidays": bool(t.on_holidays),
            "session": t.session, "start": t.start, "end": t.end,
            "slice_minutes": int(t.slice_minutes), "capacity": int(t.capacity),
            "online_pct": int(t.online_pct), "referral_pct": int(t.referral_pct),
            "fee": int(t.fee or 0), "doctor_name": t.doctor_name, "doctor_title": t.doctor_title,
            "place": t.place, "version": int(t.version), "active": bool(t.active),
            "split": {"online": online, "desk": desk, "referral": referral},
            "weekday_text": "、".join("周" + WEEKDAYS[int(d)] for d in t.weekdays or [])
            + ("、节假日" if t.on_holidays else "")}


def _overview() -> dict:
    facility = svc.staff_facility(current_user())
    start = svc.today()
    policy = svc.get_policy(facility.facility_id)
    return {
        "facility": {"facility_id": facility.facility_id, "name": facility.name,
                     "kind": facility.kind, "departments": list(facility.departments or [])},
        "templates": [_template_out(t) for t in svc.list_templates(facility.facility_id)],
        "policy": vars(policy) if hasattr(policy, "__dict__") else policy.__dict__,
        "shares": svc.share_report(facility, start, policy.horizon_days),
        "duty": svc.duty_report(facility),
        "calendar_warnings": svc.calendar_warnings(start),
    }


def _input(data: TemplateIn) -> svc.TemplateInput:
    return svc.TemplateInput(**data.model_dump())


# ---- JSON -------------------------------------------------------------------------------

@bp.get("/api/admin/schedules")
@require(*ADMINS)
@api.describe(summary="排班、号源渠道占比、值班达标与节假日提醒", tags=["排班"])
def api_overview():
    return jsonify(_overview())


@bp.post("/api/admin/templates")
@require(*ADMINS)
@api.body(TemplateIn, summary="新建排班模板（并生成号源）", tags=["排班"])
def api_create_template(data: TemplateIn):
    return jsonify(_template_out(svc.save_template(current_user(), _input(data)))), 201


@bp.post("/api/admin/templates/<template_id>")
@require(*ADMINS)
@api.body(TemplateIn, summary="修改排班模板（已预约的号源保留）", tags=["排班"])
def api_edit_template(data: TemplateIn, template_id: str):
    return jsonify(_template_out(svc.save_template(current_user(), _input(data), template_id)))


@bp.post("/api/admin/templates/<template_id>/deactivate")
@require(*ADMINS)
@api.describe(summary="停用排班模板（已预约的号源保留）", tags=["排班"])
def api_deactivate_template(template_id: str):
    svc.deactivate_template(current_user(), template_id)
    return jsonify(ok=True)


@bp.post("/api/admin/policy")
@require(*ADMINS)
@api.body(PolicyIn, summary="修改预约规则（取消时限、放号、预留释放、爽约）", tags=["排班"])
def api_policy(data: PolicyIn):
    changes = {k: v for k, v in data.model_dump().items() if v is not None}
    return jsonify(vars(svc.set_policy(current_user(), changes)))


@bp.post("/api/admin/holidays")
@require("township_admin", "hospital_admin", "county")
@api.body(ArrangementIn, summary="录入尚未收录年份的法定节假日安排（仅旗县卫健委；机构管理员为403 county_calendar_only）",
          tags=["排班"])
def api_holidays(data: ArrangementIn):
    n = svc.enter_arrangement(current_user(), data.year, [(h.day, h.name) for h in data.holidays],
                              list(data.workdays))
    return jsonify(entered=n, warnings=svc.calendar_warnings(county=True)), 201


@bp.post("/api/admin/close-day")
@require(*ADMINS)
@api.body(CloseDayIn, summary="某科室某日停诊（已预约的取消并通知本人）", tags=["排班"])
def api_close_day(data: CloseDayIn):
    return jsonify(booking_svc.close_day(current_user(), data.department, data.day))


@bp.get("/api/admin/bookings")
@require(*ADMINS)
@api.describe(summary="本机构某日的预约（到诊登记）", tags=["排班"])
def api_day_bookings():
    from backend.routes.booking import serialise
    q = api.query(DayQuery)
    return jsonify(bookings=[serialise(b) for b in booking_svc.day_bookings(current_user(), q.day)])


@bp.post("/api/admin/bookings/<booking_id>/attendance")
@require(*ADMINS)
@api.body(AttendanceIn, summary="登记到诊或爽约", tags=["排班"])
def api_attendance(data: AttendanceIn, booking_id: str):
    from backend.routes.booking import serialise
    return jsonify(serialise(booking_svc.mark_attendance(current_user(), booking_id, data.status)))


# ---- page -------------------------------------------------------------------------------

def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else svc.today()
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", code="invalid_date") from None


@bp.get("/admin/schedules")
@require(*ADMINS)
def schedules_page(error: str | None = None, error_code: str | None = None, day: str | None = None):
    overview = _overview()
    day_value = _day(day or request.args.get("day"))
    from backend.routes.booking import serialise
    now = time.time()
    bookings = [dict(serialise(b), started=int(b.starts_at) <= now)
                for b in booking_svc.day_bookings(current_user(), day_value)]
    return render_template("admin_schedules.html", o=overview, weekdays=WEEKDAYS,
                           day=day_value.isoformat(), bookings=bookings,
                           policy_labels=svc._POLICY_LABELS, error=error, error_code=error_code,
                           next_week=(svc.today() + timedelta(days=7)).isoformat())


@bp.post("/admin/schedules/bookings/<booking_id>/attendance")
@require(*ADMINS)
def attendance_form(booking_id: str):
    """到诊 / 未到诊 buttons on the day's list (form + CSRF; own facility only)."""
    day = _day(request.form.get("day")).isoformat()
    try:
        booking_svc.mark_attendance(current_user(), booking_id, request.form.get("status", ""))
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return schedules_page(error=err.message, error_code=err.code, day=day), err.status
    return redirect(url_for("schedules.schedules_page", day=day, marked=booking_id) + "#day-bookings",
                    code=303)


@bp.post("/admin/schedules/templates")
@require(*ADMINS)
def schedules_form():
    f = request.form
    try:
        data = api.parse(TemplateIn, {
            "department": f.get("department", ""), "kind": f.get("kind", "outpatient"),
            "weekdays": [int(d) for d in f.getlist("weekdays") if d.isdigit()],
            "on_holidays": f.get("on_holidays") == "1", "session": f.get("session", "day"),
            "start": f.get("start", ""), "end": f.get("end", ""),
            "slice_minutes": int(f.get("slice_minutes") or 0), "capacity": int(f.get("capacity") or 0),
            "online_pct": int(f.get("online_pct") or 80), "referral_pct": int(f.get("referral_pct") or 0),
            "fee": int(round(float(f.get("fee_yuan") or 0) * 100)),
            "doctor_name": f.get("doctor_name") or None, "doctor_title": f.get("doctor_title") or None,
            "place": f.get("place") or None})
    except ValueError:
        raise ValidationFailed("请填写数字", code="validation_failed") from None
    svc.save_template(current_user(), _input(data))
    return redirect(url_for("schedules.schedules_page", saved=1), code=303)


@bp.post("/admin/schedules/close-day")
@require(*ADMINS)
def close_day_form():
    """停诊 from the page (form + CSRF): cancels the day's bookings and tells the people."""
    f = request.form
    data = api.parse(CloseDayIn, {"department": f.get("department", ""), "day": f.get("day", "")})
    try:
        result = booking_svc.close_day(current_user(), data.department, data.day)
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return schedules_page(error=err.message, error_code=err.code), err.status
    return redirect(url_for("schedules.schedules_page", day=data.day.isoformat(),
                            closed=result["cancelled"], dept=data.department) + "#close-day", code=303)
