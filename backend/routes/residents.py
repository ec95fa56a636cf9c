"""A resident's health record: the page and its JSON twin, both audited."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from backend import api
from backend.rules.identity import mask_identity_number, mask_mobile
from backend.security import current_user, require
from backend.services import residents

bp = Blueprint("residents", __name__)

STAFF_AND_RESIDENTS = ("resident", "doctor", "township_admin", "county")


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


@bp.get("/api/residents/<resident_id>")
@require(*STAFF_AND_RESIDENTS)
@api.describe(summary="查看居民健康档案（记录审计）", response=ResidentOut, tags=["档案"])
def api_record(resident_id: str):
    view = residents.open_record(current_user(), resident_id, reason=request.args.get("reason"))
    return jsonify(_serialise(view))


@bp.get("/residents/<resident_id>")
@require(*STAFF_AND_RESIDENTS)
def record_page(resident_id: str):
    view = residents.open_record(current_user(), resident_id, reason=request.args.get("reason"))
    return render_template("record.html", record=_serialise(view))
