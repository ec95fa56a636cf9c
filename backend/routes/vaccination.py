"""Children and their vaccination book: pages for parents and vaccinators, and the JSON API."""
from __future__ import annotations

import secrets
from datetime import date

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError
from backend.rules.identity import mask_identity_number
from backend.rules.notices import WEEKDAYS
from backend.security import current_user, require
from backend.services import vaccination as svc
from backend.services import vaccine_booking
from backend.services.care_common import local_today

bp = Blueprint("vaccination", __name__)

PARENT_AND_STAFF = ("resident", "doctor", "township_admin")
STAFF = ("doctor", "township_admin")
STATUS_TEXT = {"due": "应种", "overdue": "逾期未种", "upcoming": "未到时间",
               "no_longer_given": "已超龄不再补种"}


def day_text(value) -> str:
    """2026年12月3日 周四: every date people read carries its weekday."""
    if not value:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.year}年{day.month}月{day.day}日 周{WEEKDAYS[day.weekday()]}"


@bp.app_template_filter("day_text")
def _day_text_filter(value) -> str:
    return day_text(value)


# ---- schemas ------------------------------------------------------------------------------

class NewChildIn(api.Schema):
    name: str = Field(min_length=1, max_length=20)
    relation: str = Field(max_length=10)
    client_request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    id_number: str | None = Field(default=None, max_length=18)
    birth_date: date | None = None
    sex: str | None = Field(default=None, pattern=r"^[MF]$")
    discharge_date: date | None = None
    parent_id: str | None = Field(default=None, max_length=64)


class DoseOut(api.Schema):
    vaccine: str
    name: str
    dose: int
    status: str
    status_text: str
    earliest: str
    due: str
    due_text: str
    overdue: str
    last_day: str


class GivenOut(api.Schema):
    vaccine: str
    vaccine_name: str
    dose: int
    given_on: str
    given_on_text: str
    batch: str
    manufacturer: str
    body_site: str
    facility_name: str
    given_by: str


class CheckOut(api.Schema):
    key: str
    name: str
    status: str
    due: str
    due_text: str
    place: str


class ChildOut(api.Schema):
    resident_id: str
    name: str
    sex: str
    birth_date: str
    birth_date_text: str
    id_number: str | None = None
    table: str | None = None
    due: list[DoseOut] = []
    overdue: list[DoseOut] = []
    upcoming: list[DoseOut] = []
    no_longer_given: list[DoseOut] = []
    given: list[GivenOut] = []
    checks: list[CheckOut] = []


class ChildrenOut(api.Schema):
    children: list[ChildOut]


class DoseIn(api.Schema):
    vaccine: str = Field(min_length=1, max_length=20)
    dose: int = Field(ge=1, le=10)
    given_on: date
    batch: str = Field(min_length=1, max_length=40)
    manufacturer: str = Field(min_length=1, max_length=40)
    body_site: str = Field(min_length=1, max_length=20)
    booking_id: str | None = Field(default=None, max_length=64)


class CheckIn(api.Schema):
    check: str = Field(min_length=1, max_length=20)
    done_on: date


class RecordedOut(api.Schema):
    ok: bool
    key: str


# ---- serialising --------------------------------------------------------------------------

def _dose(d) -> dict:
    return {"vaccine": d.series, "name": d.name, "dose": d.dose, "status": d.status,
            "status_text": STATUS_TEXT[d.status], "earliest": d.earliest.isoformat(),
            "due": d.due.isoformat(), "due_text": day_text(d.due), "overdue": d.overdue.isoformat(),
            "last_day": d.last_day.isoformat()}


def _given(d) -> dict:
    return {"vaccine": d.vaccine, "vaccine_name": d.vaccine_name, "dose": int(d.dose),
            "given_on": d.given_on, "given_on_text": day_text(d.given_on), "batch": d.batch,
            "manufacturer": d.manufacturer, "body_site": d.body_site,
            "facility_name": d.facility_name, "given_by": d.given_by}


def _child(child, book=None) -> dict:
    out = {"resident_id": child.resident_id, "name": child.name, "sex": child.sex,
           "birth_date": child.birth_date, "birth_date_text": day_text(child.birth_date),
           "id_number": mask_identity_number(child.id_number) if child.id_number else None}
    if book is not None:
        p = book.plan
        out.update(table=p.table, due=[_dose(d) for d in p.due],
                   overdue=[_dose(d) for d in p.overdue], upcoming=[_dose(d) for d in p.upcoming],
                   no_longer_given=[_dose(d) for d in p.no_longer_given],
                   given=[_given(d) for d in book.doses],
                   checks=[{"key": c.key, "name": c.name, "status": c.status,
                            "due": c.due.isoformat(), "due_text": day_text(c.due),
                            "place": c.place} for c in book.checks])
    return out


def _new_child(data: NewChildIn) -> svc.NewChild:
    return svc.NewChild(name=data.name, relation=data.relation,
                        client_request_id=data.client_request_id, id_number=data.id_number or None,
                        birth_date=data.birth_date, sex=data.sex, discharge_date=data.discharge_date,
                        parent_id=data.parent_id)


# ---- JSON API -----------------------------------------------------------------------------

@bp.get("/api/children")
@require("resident")
@api.describe(summary="我的孩子（已授权代办的未成年人）", response=ChildrenOut, tags=["儿童接种"])
def api_children():
    return jsonify({"children": [_child(c) for c in svc.my_children(current_user())]})


@bp.post("/api/children")
@require(*PARENT_AND_STAFF)
@api.body(NewChildIn, summary="添加孩子（身份证号，或出生日期和性别），并授权家长代办",
          response=ChildOut, tags=["儿童接种"])
def api_add_child(data: NewChildIn):
    return jsonify(_child(svc.add_child(current_user(), _new_child(data)))), 201


@bp.get("/api/children/<child_id>")
@require(*PARENT_AND_STAFF)
@api.describe(summary="孩子的接种本：已种剂次、应种/逾期/未到时间、健康检查（记录审计）",
              response=ChildOut, tags=["儿童接种"])
def api_child_book(child_id: str):
    book = svc.child_book(current_user(), child_id)
    return jsonify(_child(book.child, book))


def _dose_input(data: DoseIn) -> svc.DoseInput:
    return svc.DoseInput(vaccine=data.vaccine, dose=data.dose, given_on=data.given_on,
                         batch=data.batch, manufacturer=data.manufacturer,
                         body_site=data.body_site, booking_id=data.booking_id)


@bp.post("/api/children/<child_id>/doses")
@require(*STAFF)
@api.body(DoseIn, summary="登记已接种剂次（疫苗、剂次、批号、生产企业、日期、部位、接种人）",
          response=GivenOut, tags=["儿童接种"])
def api_record_dose(data: DoseIn, child_id: str):
    return jsonify(_given(svc.record_dose(current_user(), child_id, _dose_input(data)))), 201


@bp.post("/api/children/<child_id>/checks")
@require(*STAFF)
@api.body(CheckIn, summary="登记儿童健康检查", response=RecordedOut, tags=["儿童接种"])
def api_record_check(data: CheckIn, child_id: str):
    item = svc.record_check(current_user(), child_id, data.check, data.done_on)
    return jsonify({"ok": True, "key": item.check_key}), 201


# ---- pages --------------------------------------------------------------------------------

@bp.get("/children")
@require("resident")
def children_page(error: str | None = None, form: dict | None = None):
    user = current_user()
    kids = svc.my_children(user)
    today = local_today()
    rows = []
    for child in kids:
        plan = svc.plan_for(child, svc.history_of(child.resident_id), today)
        rows.append({"child": child, "bookable": plan.bookable(),
                     "next": plan.upcoming[0] if plan.upcoming else None})
    return render_template("vaccination/children.html", rows=rows, error=error, form=form or {},
                           relations=svc.RELATIONS, request_id=secrets.token_urlsafe(12),
                           today=today.isoformat())


@bp.post("/children")
@require("resident")
def add_child_form():
    f = request.form
    raw = {"name": f.get("name", ""), "relation": f.get("relation", ""),
           "client_request_id": f.get("client_request_id", ""),
           "id_number": f.get("id_number") or None, "birth_date": f.get("birth_date") or None,
           "sex": f.get("sex") or None, "discharge_date": f.get("discharge_date") or None}
    try:
        child = svc.add_child(current_user(), _new_child(api.parse(NewChildIn, raw)))
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return children_page(error=err.message, form=raw), err.status
    return redirect(url_for("vaccination.book_page", child_id=child.resident_id, added=1), code=303)


@bp.get("/children/<child_id>")
@require(*PARENT_AND_STAFF)
def book_page(child_id: str, error: str | None = None):
    book = svc.child_book(current_user(), child_id)
    return render_template("vaccination/book.html", c=_child(book.child, book), error=error,
                           added=request.args.get("added"), recorded=request.args.get("recorded"),
                           staff=current_user().role in STAFF, today=local_today().isoformat(),
                           bookings=vaccine_booking.open_bookings(current_user(),
                                                                  book.child.resident_id))


@bp.post("/children/<child_id>/doses")
@require(*STAFF)
def record_dose_form(child_id: str):
    f = request.form
    try:
        data = api.parse(DoseIn, {k: f.get(k) or None for k in
                                  ("vaccine", "dose", "given_on", "batch", "manufacturer",
                                   "body_site", "booking_id")})
        svc.record_dose(current_user(), child_id, _dose_input(data))
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return book_page(child_id, error=err.message), err.status
    return redirect(url_for("vaccination.book_page", child_id=child_id, recorded=1), code=303)
