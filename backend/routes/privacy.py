"""The privacy notice, the user agreement, and residents' separate consent to health data.

A resident who has not consented (first login, a new notice version, or withdrawn) reaches
only signing in and out, these pages, the inbox, push settings and the app shell: pages
redirect to `/privacy/consent`, the JSON API answers 403 `consent_required`.
"""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import (Blueprint, current_app, g, jsonify, make_response, redirect, render_template, request,
                   url_for)
from pydantic import Field

from backend import api
from backend.errors import AppError, Forbidden
from backend.forms import safe_next
from backend.rules import privacy as rules
from backend.rules.notices import WEEKDAYS
from backend.security import current_user, require
from backend.services import privacy, residents

bp = Blueprint("privacy", __name__)

# Blueprints a resident reaches before consenting (no health data behind them).
OPEN_BLUEPRINTS = {"auth", "privacy", "notices", "push", "registration", "meta", "texts"}
OPEN_PAGES = {"pages.offline", "pages.service_worker", "pages.manifest", "pages.settings",
              "pages.elder_mode", "static"}
STATE_TEXT = {"missing": "首次使用，请阅读隐私政策并确认", "outdated": "隐私政策已更新，请阅读后重新确认",
              "withdrawn": "您已撤回对健康信息处理的同意"}


class ConsentIn(api.Schema):
    version: str = Field(min_length=1, max_length=20, description="所阅读的隐私政策版本")
    notice_read: bool = Field(description="已阅读隐私政策")
    health_data: bool = Field(description="单独同意处理健康信息（敏感个人信息）")
    relatives: list[str] = Field(default_factory=list, max_length=10,
                                 description="代为同意的家人（须已授权代办）")


class WithdrawIn(api.Schema):
    cancel_open_bookings: bool = Field(default=False, description="确认取消尚未就诊的预约")


class ConsentOut(api.Schema):
    state: str
    version: str
    notice_version: str | None = None
    health_data: bool = False
    at: str | None = None
    proxy_id: str | None = None
    relation: str | None = None


@bp.before_app_request
def _consent_gate():
    endpoint = request.endpoint or ""
    if endpoint in OPEN_PAGES or endpoint.split(".")[0] in OPEN_BLUEPRINTS or not endpoint:
        return None
    user = current_user()
    if user is None or user.role != "resident" or not user.resident_id:
        return None
    state = privacy.state_of(user.resident_id)
    g.privacy_state = state
    if state == "granted":
        return None
    if request.path.startswith("/api/"):
        raise Forbidden("请先阅读隐私政策并同意处理健康信息", code="consent_required")
    return redirect(url_for("privacy.consent_page", next=request.full_path.rstrip("?")), code=303)


def _next() -> str:
    return safe_next(request.values.get("next"))


@bp.get("/privacy")
def privacy_page():
    return render_template("legal/privacy.html", version=rules.PRIVACY_VERSION,
                           purposes=rules.PURPOSES, stops=rules.WITHDRAWAL_STOPS, keeps=rules.KEEPS)


@bp.get("/terms")
def terms_page():
    return render_template("legal/terms.html", version=rules.TERMS_VERSION)


def _when(moment) -> str:
    local = moment.astimezone(ZoneInfo(current_app.config["COUNTYCARE"].timezone))
    return f"{local.year}年{local.month}月{local.day}日 周{WEEKDAYS[local.weekday()]} {local:%H:%M}"


def _day(day: str, start: str) -> str:
    d = date.fromisoformat(day)
    return f"{d.month}月{d.day}日 周{WEEKDAYS[d.weekday()]} {start}"


def _consent_view(user, status=200, open_bookings=(), **extra):
    state = privacy.state_of(user.resident_id)
    current = privacy.current(user.resident_id)
    relatives = [p for p in residents.people_i_act_for(user)[1:] if not p.phone
                 and privacy.state_of(p.resident_id) != "granted"]
    return make_response(render_template(
        "privacy_consent.html", state=state, state_text=STATE_TEXT.get(state), next=_next(),
        version=rules.PRIVACY_VERSION, purposes=rules.PURPOSES, stops=rules.WITHDRAWAL_STOPS,
        keeps=rules.KEEPS, relatives=relatives, current=current,
        consent_when=_when(current.at) if current else "",
        open_bookings=[{"facility": b.facility_name, "department": b.department,
                        "when": _day(b.day, b.start)} for b in open_bookings], **extra), status)


@bp.get("/privacy/consent")
@require("resident")
def consent_page():
    return _consent_view(current_user())


@bp.post("/privacy/consent")
@require("resident")
def consent_form():
    user = current_user()
    try:
        privacy.grant(user, version=request.form.get("version", ""),
                      notice_read=request.form.get("notice_read") == "1",
                      health=request.form.get("health_data") == "1",
                      relatives=request.form.getlist("relatives")[:10])
    except AppError as err:
        return _consent_view(user, err.status, error=err.message)
    return redirect(_next(), code=303)


@bp.post("/privacy/withdraw")
@require("resident")
def withdraw_form():
    user = current_user()
    try:
        _, cancelled = privacy.withdraw(user, cancel_bookings=request.form.get("cancel_open_bookings") == "1")
    except AppError as err:
        return _consent_view(user, err.status, error=err.message,
                             open_bookings=privacy.open_bookings(user) if err.code == "open_bookings" else [])
    return _consent_view(user, withdrawn=len(cancelled))


def _out(resident_id: str) -> dict:
    c = privacy.current(resident_id)
    return {"state": privacy.state_of(resident_id), "version": rules.PRIVACY_VERSION,
            "notice_version": c.notice_version if c else None, "health_data": bool(c and c.health_data),
            "at": c.at.isoformat() if c else None, "proxy_id": c.proxy_id if c else None,
            "relation": c.relation if c else None}


@bp.get("/api/privacy/consent")
@require("resident")
@api.describe(summary="我的隐私授权状态（版本、时间）", response=ConsentOut, tags=["隐私"])
def api_consent():
    return jsonify(_out(current_user().resident_id))


@bp.post("/api/privacy/consent")
@require("resident")
@api.body(ConsentIn, summary="阅读隐私政策并单独同意处理健康信息（可代授权的家人同意）",
          response=ConsentOut, tags=["隐私"])
def api_grant(data: ConsentIn):
    user = current_user()
    privacy.grant(user, version=data.version, notice_read=data.notice_read, health=data.health_data,
                  relatives=data.relatives)
    return jsonify(_out(user.resident_id))


@bp.post("/api/privacy/withdraw")
@require("resident")
@api.body(WithdrawIn, summary="撤回对健康信息处理的同意（有未就诊预约时须确认取消）",
          response=ConsentOut, tags=["隐私"])
def api_withdraw(data: WithdrawIn):
    user = current_user()
    privacy.withdraw(user, cancel_bookings=data.cancel_open_bookings)
    return jsonify(_out(user.resident_id))
