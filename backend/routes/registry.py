"""Finding and registering residents (建档), households: JSON and pages that need no script."""
from __future__ import annotations

from datetime import date
from typing import Literal

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError
from backend.models.base import new_id
from backend.rules.identity import age_on, mask_identity_number
from backend.security import current_user, require
from backend.services import places, registry, search
from backend.services.care_common import local_today

bp = Blueprint("registry", __name__)
TAGS = ["建档与查找"]
STAFF = ("doctor", "township_admin")


class RegisterIn(api.Schema):
    id_number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(default=None, max_length=20)
    village_id: str = Field(min_length=1, max_length=40)
    household_id: str | None = Field(default=None, max_length=40)
    relation: str = Field(default="户主", max_length=8)
    address: str | None = Field(default=None, max_length=100)
    conditions: list[Literal["hypertension", "diabetes"]] = Field(default_factory=list, max_length=2)
    request_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")


class PersonOut(api.Schema):
    resident_id: str
    name: str
    sex: str
    age: int
    id_number: str          # masked: first 6 and last 4
    village_id: str
    village: str
    household_id: str
    relation: str | None = None
    contracted_to_team: bool
    url: str


class RegisterOut(api.Schema):
    ok: bool
    message: str
    resident: PersonOut


class SearchOut(api.Schema):
    query: str
    message: str | None = None
    residents: list[PersonOut]


class SearchQuery(api.Schema):
    q: str = Field(default="", max_length=40)
    uncontracted: bool = False
    limit: int = Field(default=20, ge=1, le=50)


def person(r, user, today: date | None = None) -> dict:
    """A resident as a search hit or household member: identity and place, no health data."""
    mine = user.role == "doctor" and r.team_id == user.team_id
    return {"resident_id": r.resident_id, "name": r.name, "sex": r.sex,
            "age": age_on(date.fromisoformat(r.birth_date), today or local_today()),
            "id_number": mask_identity_number(r.id_number), "village_id": r.village_id,
            "village": places.name_of(r.village_id), "household_id": r.household_id,
            "relation": r.household_relation, "contracted_to_team": mine,
            "url": (url_for("patient.patient_page", resident_id=r.resident_id) if mine
                    else url_for("registry.household_page", household_id=r.household_id))}


@bp.post("/api/residents")
@require(*STAFF)
@api.body(RegisterIn, summary="居民建档（身份证号校验、去重，加入或新建家庭户）", response=RegisterOut, tags=TAGS)
def api_register(data: RegisterIn):
    user = current_user()
    r = registry.register_resident(user, **{**data.model_dump(), "conditions": set(data.conditions)})
    return jsonify({"ok": True, "message": f"已为{r.name}建档", "resident": person(r, user)}), 201


@bp.get("/api/residents/search")
@require(*STAFF)
@api.describe(summary="查找居民：姓名、拼音首字母、身份证号或手机号后几位、村名", response=SearchOut, tags=TAGS)
def api_search():
    q = api.query(SearchQuery)
    user = current_user()
    found = search.search_residents(user, q.q, limit=q.limit, uncontracted=q.uncontracted)
    today = local_today()
    return jsonify({"query": found.query, "message": found.message,
                    "residents": [person(r, user, today) for r in found.residents]})


@bp.get("/api/households/<household_id>")
@require(*STAFF)
@api.describe(summary="家庭户及成员（与户主关系）", tags=TAGS)
def api_household(household_id: str):
    user = current_user()
    view = registry.household(user, household_id)
    h = view.household
    return jsonify({"household_id": h.household_id, "village_id": h.village_id,
                    "village": places.name_of(h.village_id), "head_name": h.head_name,
                    "address": h.address, "members": [person(r, user) for r in view.members]})


@bp.get("/api/places/villages")
@require(*STAFF)
@api.describe(summary="本中心的村（名称）", tags=TAGS)
def api_villages():
    township = search.search_scope(current_user())
    return jsonify({"villages": [{"village_id": v.facility_id, "name": v.name}
                                 for v in places.villages_of(township)]})


# ---- pages -----------------------------------------------------------------------------
@bp.get("/team/search")
@require(*STAFF)
def search_page():
    q = api.query(SearchQuery)
    user = current_user()
    found = search.search_residents(user, q.q, limit=q.limit, uncontracted=q.uncontracted) \
        if q.q else None
    today = local_today()
    return render_template("care/search.html", q=q, found=found,
                           rows=[person(r, user, today) for r in found.residents] if found else [])


def _form_values() -> dict:
    values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
    values["conditions"] = request.form.getlist("conditions")
    return values


@bp.get("/team/register")
@require(*STAFF)
def register_page(*, error: str | None = None, values: dict | None = None, existing=None):
    user = current_user()
    values = values or {"household_id": request.args.get("household", "")}
    home = None
    if values.get("household_id"):
        home = registry.household(user, values["household_id"])
    return render_template("care/register.html", error=error, existing=existing, v=values,
                           home=home, villages=places.villages_of(search.search_scope(user)),
                           relations=registry.RELATIONS, new_request_id=new_id())


@bp.post("/team/register")
@require(*STAFF)
def register_form():
    user = current_user()
    v = _form_values()
    try:
        r = registry.register_resident(
            user, id_number=v.get("id_number", ""), name=v.get("name", ""), phone=v.get("phone"),
            village_id=v.get("village_id", ""), household_id=v.get("household_id") or None,
            relation=v.get("relation") or "户主", address=v.get("address") or None,
            conditions={c for c in v["conditions"] if c},
            request_id=v.get("request_id") or None)
    except AppError as err:
        if err.status >= 500 or err.status == 401:
            raise
        existing = (err.details or [None])[0] if err.code == "duplicate_id_number" else None
        return register_page(error=err.message, values=v, existing=existing), err.status
    return redirect(url_for("registry.household_page", household_id=r.household_id,
                            added=r.resident_id), code=303)


@bp.get("/team/households/<household_id>")
@require(*STAFF)
def household_page(household_id: str):
    user = current_user()
    view = registry.household(user, household_id)
    added = request.args.get("added")
    members = [person(r, user) for r in view.members]
    return render_template("care/household.html", h=view.household, members=members,
                           added=next((m for m in members if m["resident_id"] == added), None))


__all__ = ["bp", "person"]
