"""Satisfaction: a resident rates a follow-up visit or an attended booking, once (pages + JSON)."""
from __future__ import annotations

from typing import Literal

from flask import Blueprint, jsonify, render_template, request
from pydantic import Field

from backend import api
from backend.forms import whole_number
from backend.security import current_user, require
from backend.services import satisfaction as svc

bp = Blueprint("ratings", __name__)


class RatingIn(api.Schema):
    kind: Literal["booking", "visit"]
    booking_id: str | None = Field(default=None, max_length=64)
    resident_id: str | None = Field(default=None, max_length=64)
    visit_key: str | None = Field(default=None, max_length=100)
    stars: int = Field(ge=1, le=5)
    text: str | None = Field(default=None, max_length=300)


class RatingOut(api.Schema):
    facility: str
    stars: int


def _target(kind: str, booking_id: str | None, resident_id: str | None, visit_key: str | None):
    user = current_user()
    if kind == "booking":
        return svc.booking_target(user, booking_id or "")
    return svc.visit_target(user, resident_id or "", visit_key or "")


def _page(target, done=None, status: int = 200):
    return render_template("rate.html", t=target, done=done or svc.existing(target)), status


@bp.get("/rate/booking/<booking_id>")
@require("resident")
def booking_page(booking_id: str):
    return _page(_target("booking", booking_id, None, None))


@bp.get("/rate/visit")
@require("resident")
def visit_page():
    return _page(_target("visit", None, request.args.get("resident"), request.args.get("visit")))


@bp.post("/rate")
@require("resident")
def rate_form():
    f = request.form
    target = _target(f.get("kind", ""), f.get("booking_id"), f.get("resident_id"), f.get("visit_key"))
    stars = whole_number(f.get("stars"), low=1, high=5, field="星级", code="invalid_stars")
    rating = svc.rate(current_user(), target, stars=stars, text=f.get("text"))
    return _page(target, done=rating)


@bp.post("/api/ratings")
@require("resident")
@api.body(RatingIn, summary="评价一次服务（就诊或随访，每次服务一次）", response=RatingOut, tags=["ratings"])
def rate_api(data: RatingIn):
    target = _target(data.kind, data.booking_id, data.resident_id, data.visit_key)
    rating = svc.rate(current_user(), target, stars=data.stars, text=data.text)
    return jsonify({"facility": target.facility_name, "stars": int(rating.stars)}), 201
