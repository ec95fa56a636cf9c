"""A resident's health record: the page and its JSON twin, both audited.

The county opens a record only with a reason from a list (`rules.access_reasons`), sent in
a POST body: a reason in the URL would land in every access log on the way.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from pydantic import Field

from backend import api
from backend.errors import AppError
from backend.rules import access_reasons
from backend.rules.identity import mask_identity_number, mask_mobile
from backend.security import current_user, require
from backend.services import residents

bp = Blueprint("residents", __name__)

STAFF_AND_RESIDENTS = ("resident", "doctor", "township_admin", "county")


class CountyViewIn(api.Schema):
    reason: str = Field(min_length=1, max_length=40)   # a code of rules.access_reasons.REASONS
    note: str | None = Field(default=None, max_length=access_reasons.MAX_NOTE)


class ResidentOut(api.Schema):
    resident_id: str
    name: str
    sex: str
    birth_date: str
    age: int
    id_number: str
    phone: str | None = None
    village_id: str
    township_id: str
    team_id: str | None = None
    conditions: list[str]


def _serialise(view: residents.RecordView) -> dict:
    r = view.resident
    return {
        "resident_id": r.resident_id,
        "name": r.name,
        "sex": r.sex,
        "birth_date": r.birth_date,
        "age": residents.age_of(r),
        "id_number": r.id_number if view.full_id_number else mask_identity_number(r.id_number),
        "phone": (r.phone if view.full_id_number else mask_mobile(r.phone)) if r.phone else None,
        "village_id": r.village_id,
        "township_id": r.township_id,
        "team_id": r.team_id,
        "conditions": sorted(r.conditions or []),
    }


def _reason(code, note) -> access_reasons.AccessReason:
    try:
        return access_reasons.parse_reason(code, note)
    except access_reasons.InvalidReason as err:
        raise AppError(str(err), code=err.code) from None


@bp.get("/api/residents/<resident_id>")
@require(*STAFF_AND_RESIDENTS)
@api.describe(summary="查看居民健康档案（记录审计）", response=ResidentOut, tags=["档案"])
def api_record(resident_id: str):
    return jsonify(_serialise(residents.open_record(current_user(), resident_id)))


@bp.post("/api/residents/<resident_id>/county-view")
@require("county")
@api.body(CountyViewIn, summary="卫健委查看个人档案（须选择理由，理由记入审计）",
          response=ResidentOut, tags=["档案"])
def api_county_view(data: CountyViewIn, resident_id: str):
    reason = _reason(data.reason, data.note)
    return jsonify(_serialise(residents.open_record(current_user(), resident_id, reason=reason)))


@bp.get("/residents/<resident_id>")
@require(*STAFF_AND_RESIDENTS)
def record_page(resident_id: str):
    user = current_user()
    if user.role == "county":
        return _reason_form(resident_id)
    return render_template("record.html", record=_serialise(residents.open_record(user, resident_id)))


@bp.post("/residents/<resident_id>")
@require("county")
def county_record_form(resident_id: str):
    """The county's reason form posts here; the record is the answer (no reason in a URL)."""
    form = request.form
    try:
        reason = _reason(form.get("reason"), form.get("note"))
    except AppError as err:
        return _reason_form(resident_id, error=err.message, chosen=form.get("reason"),
                            note=form.get("note", "")[:access_reasons.MAX_NOTE], status=400)
    view = residents.open_record(current_user(), resident_id, reason=reason)
    return render_template("record.html", record=_serialise(view), reason=reason)


def _reason_form(resident_id: str, *, error: str | None = None, chosen: str | None = None,
                 note: str = "", status: int = 200):
    return render_template("record_reason.html", resident_id=resident_id,
                           reasons=access_reasons.REASONS, error=error, chosen=chosen,
                           note=note), status
