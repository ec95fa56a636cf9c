"""Scarce non-programme vaccines: residents request, the county opens windows and draws."""
from __future__ import annotations

import secrets
from datetime import datetime

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError
from backend.models.facility import Facility
from backend.rules.booking import CHINA
from backend.rules.identity import mask_identity_number
from backend.security import current_user, require
from backend.services import allocation as svc
from backend.services.residents import get_resident, people_i_act_for

bp = Blueprint("allocation", __name__)

STATUS_TEXT = {"requested": "已申请，等待摇号", "won": "已中签，请确认", "lost": "未中签（如有名额退回将依次顺延）",
               "confirmed": "已确认", "expired": "未按时确认，名额已顺延", "queued": "排队中"}
MODE_TEXT = {"lottery": "摇号", "queue": "排队"}


def moment_text(epoch: int) -> str:
    m = datetime.fromtimestamp(int(epoch), CHINA)
    return f"{m.month}月{m.day}日 周{'一二三四五六日'[m.weekday()]} {m:%H:%M}"


class WindowIn(api.Schema):
    vaccine_name: str = Field(min_length=1, max_length=30)
    facility_id: str = Field(min_length=1, max_length=40)
    stock: int = Field(ge=-1_000_000, le=1_000_000)
    doses_per_person: int = Field(ge=1, le=5)
    mode: str = Field(pattern=r"^(lottery|queue)$")
    opens: datetime
    closes: datetime
    min_age: int = Field(default=0, ge=0, le=150)
    max_age: int = Field(default=150, ge=0, le=150)
    hold_hours: int = Field(default=48, ge=1, le=720)


class WindowOut(api.Schema):
    window_id: str
    vaccine_name: str
    facility_name: str
    doses_per_person: int
    mode: str
    opens_text: str
    closes_text: str
    state: str
    min_age: int
    max_age: int
    seed_commitment: str | None = None
    # county only: stock and the published draw
    stock: int | None = None
    remaining: int | None = None
    entries: int | None = None
    winners: int | None = None
    seed: str | None = None
    entries_digest: str | None = None
    winners_digest: str | None = None


class WindowsOut(api.Schema):
    windows: list[WindowOut]


class RequestIn(api.Schema):
    subject_id: str = Field(min_length=1, max_length=64)
    client_request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")


class SubjectIn(api.Schema):
    subject_id: str = Field(min_length=1, max_length=64)


class RequestOut(api.Schema):
    request_id: str
    name: str
    status: str
    status_text: str
    rank: int | None = None
    hold_until_text: str | None = None


class StockIn(api.Schema):
    delta: int = Field(ge=-100_000, le=100_000)


class VerifyOut(api.Schema):
    seed: str
    seed_commitment: str
    commitment_matches: bool
    entries: int
    entries_digest: str
    winners_digest: str
    same_result: bool


def _window(w, county: bool) -> dict:
    out = {"window_id": w.window_id, "vaccine_name": w.vaccine_name, "facility_name": w.facility_name,
           "doses_per_person": int(w.doses_per_person), "mode": w.mode,
           "opens_text": moment_text(w.opens_at), "closes_text": moment_text(w.closes_at),
           "state": w.state, "min_age": int(w.min_age), "max_age": int(w.max_age),
           "seed_commitment": w.seed_commitment}
    if county:
        out.update(stock=int(w.stock), remaining=int(w.remaining), entries=int(w.entries),
                   winners=int(w.winners), entries_digest=w.entries_digest,
                   winners_digest=w.winners_digest, seed=w.seed if w.state == "drawn" else None)
    return out


def _request(r) -> dict:
    return {"request_id": r.request_id, "name": r.name, "status": r.status,
            "status_text": STATUS_TEXT.get(r.status, r.status),
            "rank": int(r.rank) + 1 if r.rank is not None else None,
            "hold_until_text": moment_text(r.hold_until) if r.hold_until and r.status == "won" else None}


def _county_of(user) -> str:
    if user.role == "county":
        return user.facility_id
    if user.role == "resident":
        township = get_resident(user.resident_id).township_id
    else:
        township = user.facility_id
    try:
        return Facility.get(township).county_id
    except Facility.DoesNotExist:
        return ""


# ---- JSON API -----------------------------------------------------------------------------

@bp.get("/api/allocation/windows")
@require("resident", "doctor", "county")
@api.describe(summary="紧缺疫苗分配（居民看不到库存）", response=WindowsOut, tags=["紧缺疫苗"])
def api_windows():
    user = current_user()
    return jsonify({"windows": [_window(w, user.role == "county")
                                for w in svc.windows_for(_county_of(user))]})


@bp.post("/api/allocation/windows")
@require("county")
@api.body(WindowIn, summary="开放一次紧缺疫苗分配（摇号或排队）", response=WindowOut, tags=["紧缺疫苗"])
def api_create_window(data: WindowIn):
    w = svc.create_window(current_user(), svc.WindowInput(**data.model_dump()))
    return jsonify(_window(w, True)), 201


@bp.post("/api/allocation/windows/<window_id>/requests")
@require("resident", "doctor")
@api.body(RequestIn, summary="实名申请（本人、已授权家人，或村医代办）", response=RequestOut, tags=["紧缺疫苗"])
def api_request(data: RequestIn, window_id: str):
    r = svc.request_place(current_user(), window_id, data.subject_id, data.client_request_id)
    return jsonify(_request(r)), 201


@bp.get("/api/allocation/windows/<window_id>/requests/<subject_id>")
@require("resident", "doctor")
@api.describe(summary="我的申请结果", response=RequestOut, tags=["紧缺疫苗"])
def api_my_request(window_id: str, subject_id: str):
    r = svc.my_request(current_user(), window_id, subject_id)
    if r is None:
        raise AppError("没有找到申请", code="request_not_found")
    return jsonify(_request(r))


@bp.post("/api/allocation/windows/<window_id>/confirm")
@require("resident", "doctor")
@api.body(SubjectIn, summary="中签后在保留时间内确认", response=RequestOut, tags=["紧缺疫苗"])
def api_confirm(data: SubjectIn, window_id: str):
    return jsonify(_request(svc.confirm(current_user(), window_id, data.subject_id)))


@bp.post("/api/allocation/windows/<window_id>/draw")
@require("county")
@api.body(api.Schema, summary="摇号（截止后；再次调用结果相同）", response=WindowOut, tags=["紧缺疫苗"])
def api_draw(_data, window_id: str):
    return jsonify(_window(svc.draw(current_user(), window_id), True))


@bp.get("/api/allocation/windows/<window_id>/verify")
@require("county")
@api.describe(summary="用公布的种子重算摇号并核对", response=VerifyOut, tags=["紧缺疫苗"])
def api_verify(window_id: str):
    return jsonify(svc.verify_draw(current_user(), window_id))


@bp.post("/api/allocation/windows/<window_id>/stock")
@require("county")
@api.body(StockIn, summary="调整库存（到货或报损；不能低于0）", response=WindowOut, tags=["紧缺疫苗"])
def api_stock(data: StockIn, window_id: str):
    return jsonify(_window(svc.adjust_stock(current_user(), window_id, data.delta), True))


# ---- pages --------------------------------------------------------------------------------

@bp.get("/vaccines/scarce")
@require("resident")
def scarce_page(error: str | None = None):
    user = current_user()
    windows = [w for w in svc.windows_for(_county_of(user))]
    people = people_i_act_for(user)
    rows = []
    for w in windows:
        mine = [(p, svc.my_request(user, w.window_id, p.resident_id)) for p in people]
        rows.append({"w": _window(w, False), "mine": [(p, _request(r) if r else None) for p, r in mine]})
    return render_template("vaccination/scarce.html", rows=rows, error=error,
                           request_id=secrets.token_urlsafe(12), mask_id=mask_identity_number)


@bp.post("/vaccines/scarce/<window_id>")
@require("resident")
def scarce_request_form(window_id: str):
    f = request.form
    try:
        if f.get("action") == "confirm":
            svc.confirm(current_user(), window_id, f.get("subject_id", ""))
        else:
            svc.request_place(current_user(), window_id, f.get("subject_id", ""),
                              f.get("client_request_id", ""))
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return scarce_page(error=err.message), err.status
    return redirect(url_for("allocation.scarce_page", done=1) + f"#w-{window_id}", code=303)


@bp.get("/vaccines/scarce/<window_id>")
@require("resident")
def scarce_window_page(window_id: str):
    return redirect(url_for("allocation.scarce_page") + f"#w-{window_id}")


@bp.get("/county/allocation")
@require("county")
def county_page(error: str | None = None):
    user = current_user()
    windows = [_window(w, True) for w in svc.windows_for(user.facility_id)]
    centres = [f for f in Facility.by_parent.query(user.facility_id)
               if f.kind in ("township", "community")]
    return render_template("vaccination/county_allocation.html", windows=windows, centres=centres,
                           error=error, confirm_id=request.args.get("confirm"))


@bp.post("/county/allocation")
@require("county")
def county_create_form():
    f = request.form
    try:
        data = api.parse(WindowIn, {k: f.get(k) for k in ("vaccine_name", "facility_id", "stock",
                                                          "doses_per_person", "mode", "opens",
                                                          "closes", "min_age", "max_age",
                                                          "hold_hours") if f.get(k)})
        svc.create_window(current_user(), svc.WindowInput(
            **{**data.model_dump(), "opens": data.opens.replace(tzinfo=data.opens.tzinfo or CHINA),
               "closes": data.closes.replace(tzinfo=data.closes.tzinfo or CHINA)}))
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return county_page(error=err.message), err.status
    return redirect(url_for("allocation.county_page"), code=303)


@bp.post("/county/allocation/<window_id>/draw")
@require("county")
def county_draw_form(window_id: str):
    try:
        svc.draw(current_user(), window_id)
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return county_page(error=err.message), err.status
    return redirect(url_for("allocation.county_page") + f"#w-{window_id}", code=303)
