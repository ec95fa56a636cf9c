"""Registering yourself (`/register`) and the township centre's queue (`/registrations`)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import (Blueprint, current_app, jsonify, make_response, redirect, render_template,
                   request, url_for)
from pydantic import Field

from backend import api
from backend.errors import AppError
from backend.rules.identity import mask_identity_number, mask_mobile
from backend.rules.notices import WEEKDAYS
from backend.security import client_address, current_user, require
from backend.services import registration

bp = Blueprint("registration", __name__)

STATUS_LABELS = {"pending": "待处理", "matched": "已匹配档案", "created": "已建档", "declined": "请现场办理"}
TOLD_LABELS = {"sent": "已短信通知"}


class RegistrationIn(api.Schema):
    name: str = Field(min_length=2, max_length=20, description="身份证上的姓名")
    id_number: str = Field(min_length=18, max_length=18, description="18位身份证号")
    phone: str = Field(pattern=r"^1[3-9]\d{9}$", description="11位手机号")
    village_id: str = Field(min_length=1, max_length=64, description="所在村（卫生室）")


class Submitted(api.Schema):
    ok: bool
    message: str


class MatchIn(api.Schema):
    resident_id: str = Field(min_length=1, max_length=64)


class RequestOut(api.Schema):
    request_id: str
    name: str
    id_number: str
    phone: str
    village_name: str
    created_local: str
    status: str
    candidate: dict | None = None
    phone_in_use: bool = False
    told: str | None = None


class QueueOut(api.Schema):
    requests: list[RequestOut]


SUBMITTED = "申请已提交。乡镇卫生院核实后会发短信告诉您结果，通常在2个工作日内。"


def _local(moment) -> str:
    local = moment.astimezone(ZoneInfo(current_app.config["COUNTYCARE"].timezone))
    return f"{local.month}月{local.day}日 周{WEEKDAYS[local.weekday()]} {local:%H:%M}"


def _serialise(item: registration.QueueItem) -> dict:
    r, c = item.request, item.candidate
    return {"request_id": r.request_id, "name": r.name,
            "id_number": mask_identity_number(r.id_number), "phone": mask_mobile(r.phone),
            "village_name": r.village_name, "created_local": _local(r.created_at),
            "status": r.status, "phone_in_use": item.phone_in_use, "told": r.told,
            "candidate": None if c is None else {
                "resident_id": c.resident_id, "name": c.name, "birth_date": c.birth_date,
                "has_phone": bool(c.phone), "same_name": c.name == r.name}}


# ---- the resident's form ----------------------------------------------------------------

@bp.get("/register")
def register_page():
    if current_user() is not None:
        return redirect(url_for("pages.home"), code=303)
    return render_template("register.html", villages=registration.villages(), form={})


@bp.post("/register")
def register_form():
    form = {k: request.form.get(k, "").strip()[:32] for k in ("name", "id_number", "phone", "village_id")}
    try:
        registration.submit(address=client_address(), **form)
    except AppError as err:
        resp = make_response(render_template("register.html", villages=registration.villages(),
                                             form=form, error=err.message), err.status)
        if err.retry_after:
            resp.headers["Retry-After"] = str(err.retry_after)
        return resp
    return render_template("register.html", submitted=SUBMITTED, villages=[], form={})


@bp.post("/api/registration-requests")
@api.body(RegistrationIn, summary="居民申请登记（未登记的手机号）", response=Submitted, tags=["登记"])
def api_register(data: RegistrationIn):
    registration.submit(address=client_address(), **data.model_dump())
    return jsonify(ok=True, message=SUBMITTED), 202


# ---- the township centre's queue ---------------------------------------------------------

@bp.get("/registrations")
@require("township_admin")
def queue_page():
    items = [_serialise(i) for i in registration.queue(current_user())]
    return render_template("registrations.html", items=items, done=request.args.get("done"))


@bp.post("/registrations/<request_id>/match")
@require("township_admin")
def match_form(request_id: str):
    try:
        r = registration.match(current_user(), request_id, request.form.get("resident_id", "")[:64])
    except AppError as err:
        items = [_serialise(i) for i in registration.queue(current_user())]
        return make_response(render_template("registrations.html", items=items,
                                             error=err.message), err.status)
    return redirect(url_for("registration.queue_page", done="matched" if r.told == "sent" else "matched_untold"),
                    code=303)


@bp.post("/registrations/<request_id>/create")
@require("township_admin")
def create_form(request_id: str):
    try:
        r = registration.create(current_user(), request_id)
    except AppError as err:
        items = [_serialise(i) for i in registration.queue(current_user())]
        return make_response(render_template("registrations.html", items=items,
                                             error=err.message), err.status)
    return redirect(url_for("registration.queue_page", done="created" if r.told == "sent" else "matched_untold"),
                    code=303)


@bp.post("/registrations/<request_id>/decline")
@require("township_admin")
def decline_form(request_id: str):
    try:
        registration.decline(current_user(), request_id)
    except AppError as err:
        items = [_serialise(i) for i in registration.queue(current_user())]
        return make_response(render_template("registrations.html", items=items,
                                             error=err.message), err.status)
    return redirect(url_for("registration.queue_page", done="declined"), code=303)


@bp.get("/api/registration-requests")
@require("township_admin")
@api.describe(summary="本卫生院待处理的登记申请（最早在前）", response=QueueOut, tags=["登记"])
def api_queue():
    return jsonify(requests=[_serialise(i) for i in registration.queue(current_user())])


def _one(r) -> dict:
    return {"request_id": r.request_id, "name": r.name, "id_number": mask_identity_number(r.id_number),
            "phone": mask_mobile(r.phone), "village_name": r.village_name,
            "created_local": _local(r.created_at), "status": r.status, "told": r.told}


@bp.post("/api/registration-requests/<request_id>/match")
@require("township_admin")
@api.body(MatchIn, summary="将登记申请匹配到已有健康档案并短信通知居民", response=RequestOut, tags=["登记"])
def api_match(data: MatchIn, request_id: str):
    return jsonify(_one(registration.match(current_user(), request_id, data.resident_id)))


@bp.post("/api/registration-requests/<request_id>/create")
@require("township_admin")
@api.describe(summary="没有健康档案：为申请人建档（新家庭户）并短信通知", response=RequestOut, tags=["登记"])
def api_create(request_id: str):
    return jsonify(_one(registration.create(current_user(), request_id)))


@bp.post("/api/registration-requests/<request_id>/decline")
@require("township_admin")
@api.describe(summary="无法匹配：短信请居民到卫生院现场办理", response=RequestOut, tags=["登记"])
def api_decline(request_id: str):
    return jsonify(_one(registration.decline(current_user(), request_id)))
