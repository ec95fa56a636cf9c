"""Village duty (巡回坐诊): the admin's roster page, the doctor's duty, session logging (pages + JSON)."""
from __future__ import annotations

from datetime import date
from typing import Literal

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError, ValidationFailed
from backend.forms import whole_number
from backend.models.base import new_id
from backend.rules import duty as rules
from backend.security import current_user, require
from backend.services import duty as svc
from backend.services.schedules import today

bp = Blueprint("duty", __name__)

MAX_ROSTER_ROWS = 400  # as RosterIn.entries


def _year(raw) -> int:
    """A year from a query string (this year when empty)."""
    return whole_number(raw, low=2000, high=2100, default=today().year, field="年份",
                        code="invalid_year")


class EntryIn(api.Schema):
    village_id: str = Field(min_length=1, max_length=40)
    doctor_login: str = Field(min_length=1, max_length=64)
    weekday: int = Field(ge=0, le=6)
    half: Literal["am", "pm"]
    weeks: list[int] = Field(min_length=1, max_length=5)


class RosterIn(api.Schema):
    year: int = Field(ge=2000, le=2100)
    model: Literal["fixed", "rotating"]
    entries: list[EntryIn] = Field(max_length=400)
    version: int | None = None


class ViolationOut(api.Schema):
    code: str
    message: str
    village_id: str | None
    village: str | None


class RosterOut(api.Schema):
    year: int
    model: str | None
    version: int | None
    compliant: bool
    violations: list[ViolationOut]


class StandInIn(api.Schema):
    year: int = Field(ge=2000, le=2100)
    village_id: str = Field(min_length=1, max_length=40)
    doctor_login: str = Field(min_length=1, max_length=64)
    start: date
    end: date
    reason: str = Field(min_length=2, max_length=100)


class SessionIn(api.Schema):
    day: date
    village_id: str = Field(min_length=1, max_length=40)
    half: Literal["am", "pm", "day"]
    status: Literal["held", "missed"]
    patients: int = Field(default=0, ge=0, le=500)
    note: str | None = Field(default=None, max_length=200)
    client_id: str = Field(min_length=8, max_length=64)


class SessionOut(api.Schema):
    day: str
    village_id: str
    half: str
    status: str
    patients: int
    client_id: str


class DutyDayOut(api.Schema):
    day: str
    label: str
    village_id: str
    village: str
    half: str
    kind: str
    status: str | None


class FilingIn(api.Schema):
    what: Literal["roster", "stats"]
    period: str = Field(min_length=4, max_length=6)


def _roster_out(view: dict) -> dict:
    r = view["roster"]
    return {"year": view["year"], "model": r.model if r else None, "version": r.version if r else None,
            "compliant": view["compliant"],
            "violations": [{"code": v.code, "message": v.message, "village_id": v.village_id,
                            "village": view["villages"][v.village_id].name if v.village_id in view["villages"] else None}
                           for v in view["violations"]]}


def _session_out(s) -> dict:
    return {"day": s.day, "village_id": s.village_id, "half": s.half, "status": s.status,
            "patients": int(s.patients or 0), "client_id": s.client_id}


# ---- township admin -----------------------------------------------------------------------

@bp.get("/admin/duty")
@require("township_admin")
def admin_page():
    user = current_user()
    year = _year(request.args.get("year"))
    view = svc.roster_view(user.facility_id, year)
    return render_template("duty/admin.html", v=view, year=year, rules=rules,
                           deadlines=svc.deadlines(user.facility_id, year),
                           message=request.args.get("saved"), today=today(),
                           quarter=rules.quarter_of(today()), error=None)


def _entries_from_form(form) -> list[dict]:
    out = []
    for i in range(whole_number(form.get("rows"), low=0, high=MAX_ROSTER_ROWS, default=0, field="行数")):
        village, doctor = form.get(f"village_{i}"), form.get(f"doctor_{i}")
        if not village and not doctor:
            continue
        if not village or not doctor:
            raise ValidationFailed(f"第{i + 1}行：请同时选择村卫生室和医生", code="incomplete_row")
        weeks = [whole_number(w, low=1, high=5, field="第几周", code="invalid_weeks")
                 for w in form.getlist(f"weeks_{i}")[:5]]
        if not weeks:
            raise ValidationFailed(f"第{i + 1}行：请选择每月第几周", code="invalid_weeks")
        if not (form.get(f"weekday_{i}") or "").strip():
            raise ValidationFailed(f"第{i + 1}行：请选择星期", code="invalid_weekday")
        weekday = whole_number(form.get(f"weekday_{i}"), low=0, high=6, field="星期",
                               code="invalid_weekday")
        out.append({"village_id": village, "doctor_login": doctor, "weekday": weekday,
                    "half": form.get(f"half_{i}", ""), "weeks": weeks})
    return out


@bp.post("/admin/duty")
@require("township_admin")
def admin_save():
    user = current_user()
    year = _year(request.form.get("year"))
    raw_version = (request.form.get("version") or "").strip()
    version = whole_number(raw_version, low=0, high=10**9, field="版本") if raw_version else None
    try:
        entries = _entries_from_form(request.form)
        _, violations = svc.save_roster(user, year=year, model=request.form.get("model", ""),
                                        entries=entries, version=version)
    except AppError as err:
        view = svc.roster_view(user.facility_id, year)
        return render_template("duty/admin.html", v=view, year=year, rules=rules,
                               deadlines=svc.deadlines(user.facility_id, year), message=None,
                               today=today(), quarter=rules.quarter_of(today()),
                               error=err.message), err.status
    flag = "ok" if not violations else "violations"
    return redirect(url_for("duty.admin_page", year=year, saved=flag), code=303)


@bp.post("/admin/duty/standin")
@require("township_admin")
def admin_standin():
    user = current_user()
    form = request.form
    try:
        start, end = date.fromisoformat(form.get("start", "")), date.fromisoformat(form.get("end", ""))
    except ValueError:
        raise ValidationFailed("请填写派驻的开始和结束日期", code="invalid_dates") from None
    svc.add_standin(user, year=start.year, village_id=form.get("village_id", ""),
                    doctor_login=form.get("doctor_login", ""), start=start, end=end,
                    reason=form.get("reason", ""))
    return redirect(url_for("duty.admin_page", year=start.year, saved="standin"), code=303)


@bp.post("/admin/duty/file")
@require("township_admin")
def admin_file():
    user = current_user()
    if request.form.get("confirm") != "1":
        raise ValidationFailed("请勾选确认后再上报", code="confirm_required")
    what, period = request.form.get("what"), request.form.get("period", "")
    if what == "roster":
        svc.file_roster(user, whole_number(period, low=0, high=2100, default=0, field="年份", code="invalid_year"))
    else:
        svc.file_stats(user, period)
    return redirect(url_for("duty.admin_page", saved="filed"), code=303)


@bp.get("/api/duty/roster")
@require("township_admin")
@api.describe(summary="本卫生院的巡回坐诊排班与是否符合要求", response=RosterOut, tags=["duty"])
def roster_api():
    year = _year(request.args.get("year"))
    return jsonify(_roster_out(svc.roster_view(current_user().facility_id, year)))


@bp.put("/api/duty/roster")
@require("township_admin")
@api.body(RosterIn, summary="保存巡回坐诊排班（不达标也保存，并列出问题）", response=RosterOut, tags=["duty"])
def roster_save_api(data: RosterIn):
    user = current_user()
    svc.save_roster(user, year=data.year, model=data.model,
                    entries=[e.model_dump() for e in data.entries], version=data.version)
    return jsonify(_roster_out(svc.roster_view(user.facility_id, data.year)))


@bp.post("/api/duty/standins")
@require("township_admin")
@api.body(StandInIn, summary="派驻：村医不在岗时派卫生院医生顶岗", tags=["duty"])
def standin_api(data: StandInIn):
    s = svc.add_standin(current_user(), year=data.year, village_id=data.village_id,
                        doctor_login=data.doctor_login, start=data.start, end=data.end,
                        reason=data.reason)
    return jsonify({"standin_id": s.standin_id}), 201


@bp.post("/api/duty/filings")
@require("township_admin")
@api.body(FilingIn, summary="上报：排班备案或季度坐诊统计", tags=["duty"])
def filing_api(data: FilingIn):
    user = current_user()
    if data.what == "roster":
        f = svc.file_roster(user, whole_number(data.period, low=0, high=2100, default=0, field="年份",
                                        code="invalid_year"))
    else:
        f = svc.file_stats(user, data.period)
    return jsonify({"filing": f.filing, "filed_on": f.filed_on}), 201


# ---- doctors --------------------------------------------------------------------------

@bp.get("/duty")
@require("doctor")
def mine_page():
    days = svc.my_duty(current_user())
    return render_template("duty/mine.html", days=days, today=today(), halves=rules.HALF_LABELS,
                           new_id=new_id, saved=request.args.get("saved"))


@bp.post("/duty/log")
@require("doctor")
def log_form():
    form = request.form
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        raise ValidationFailed("日期或人数格式不正确", code="invalid_session") from None
    patients = whole_number(form.get("patients"), low=0, high=500, default=0, field="人数",
                            code="invalid_session")
    svc.log_session(current_user(), day=day, village_id=form.get("village_id", ""),
                    half=form.get("half", ""), status=form.get("status", ""), patients=patients,
                    client_id=form.get("client_id", ""), note=form.get("note") or None)
    return redirect(url_for("duty.mine_page", saved="1"), code=303)


@bp.get("/api/duty/mine")
@require("doctor")
@api.describe(summary="我的巡回坐诊安排（近两周与未来四周）", response=list[DutyDayOut], tags=["duty"])
def mine_api():
    return jsonify([{"day": d.day.isoformat(), "label": d.label, "village_id": d.village_id,
                     "village": d.village, "half": d.half, "kind": d.kind,
                     "status": d.session.status if d.session else None}
                    for d in svc.my_duty(current_user())])


@bp.post("/api/duty/sessions")
@require("doctor")
@api.body(SessionIn, summary="登记一次坐诊（已坐诊/未坐诊）；同一 client_id 重放不重复记录",
          response=SessionOut, tags=["duty"])
def session_api(data: SessionIn):
    s = svc.log_session(current_user(), day=data.day, village_id=data.village_id, half=data.half,
                        status=data.status, patients=data.patients, client_id=data.client_id,
                        note=data.note)
    return jsonify(_session_out(s)), 201
