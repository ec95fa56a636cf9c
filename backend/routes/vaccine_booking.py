"""Booking vaccinations for children's due doses, the clinic's day, and the weekend figures."""
from __future__ import annotations

import secrets
from datetime import date, timedelta

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError, Forbidden, NotFound, ValidationFailed
from backend.models.facility import Facility
from backend.routes.vaccination import day_text
from backend.security import current_user, require
from backend.services import booking
from backend.services import vaccine_booking as svc
from backend.services.care_common import local_today
from backend.services.vaccination import authorise_child, history_of, my_children

bp = Blueprint("vaccine_booking", __name__)

PARENT_AND_STAFF = ("resident", "doctor", "township_admin")


class VaccinationBookingIn(api.Schema):
    slot_id: str = Field(min_length=1, max_length=160)
    client_request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    doses: list[str] | None = Field(default=None, max_length=8)   # ["HepB-2", "IPV-1"]


class VaccinationBookingOut(api.Schema):
    booking_id: str
    child_name: str
    facility_name: str
    day: str
    day_text: str
    start: str
    end: str
    place: str | None = None
    planned_doses: str
    what_to_bring: str
    status: str
    replayed: bool = False


class AttendIn(api.Schema):
    batch: str = Field(min_length=1, max_length=40)
    manufacturer: str = Field(min_length=1, max_length=40)
    body_site: str = Field(min_length=1, max_length=20)
    given_on: date | None = None


class AttendOut(api.Schema):
    recorded: list[str]
    status: str


class WeekendRow(api.Schema):
    facility_id: str
    facility_name: str
    capacity: int
    weekend_capacity: int
    weekend_share: float
    sessions: int
    weekend_sessions: int


class WeekendOut(api.Schema):
    start: str
    end: str
    centres: list[WeekendRow]


def _out(b, replayed: bool = False) -> dict:
    return {"booking_id": b.booking_id, "child_name": b.subject_name,
            "facility_name": b.facility_name, "day": b.day, "day_text": day_text(b.day),
            "start": b.start, "end": b.end, "place": b.place,
            "planned_doses": b.purpose_label or "", "what_to_bring": svc.WHAT_TO_BRING,
            "status": b.status, "replayed": replayed}


def _doses(raw: list[str] | None) -> list[tuple[str, int]] | None:
    if not raw:
        return None
    return svc.doses_of("vac_" + "_".join(raw))


# ---- JSON API -----------------------------------------------------------------------------

@bp.post("/api/children/<child_id>/vaccination-bookings")
@require(*PARENT_AND_STAFF)
@api.body(VaccinationBookingIn, summary="为孩子预约接种时段（默认该日全部应种剂次）",
          response=VaccinationBookingOut, tags=["儿童接种"])
def api_book(data: VaccinationBookingIn, child_id: str):
    result = svc.book_due_doses(current_user(), child_id, data.slot_id, data.client_request_id,
                                _doses(data.doses))
    return jsonify(_out(result.bookings[0], result.replayed)), 200 if result.replayed else 201


@bp.post("/api/vaccination/bookings/<booking_id>/attend")
@require("township_admin")
@api.body(AttendIn, summary="到诊并按预约登记接种", response=AttendOut, tags=["儿童接种"])
def api_attend(data: AttendIn, booking_id: str):
    done = svc.attend_and_record(current_user(), booking_id, batch=data.batch,
                                 manufacturer=data.manufacturer, body_site=data.body_site,
                                 given_on=data.given_on or local_today())
    return jsonify({"recorded": [d.dose_key for d in done], "status": "arrived"})


def _weekend_rows(user, start: date, end: date) -> list[dict]:
    if user.role == "county":
        centres = [f for f in Facility.by_parent.query(user.facility_id)
                   if f.kind in ("township", "community")]
    elif user.role == "township_admin":
        centres = [Facility.get(user.facility_id)]
    else:
        raise Forbidden()
    return [dict(svc.weekend_figures(f.facility_id, start, end), facility_id=f.facility_id,
                 facility_name=f.name) for f in centres]


def _range(default_back: int, default_ahead: int) -> tuple[date, date]:
    try:
        start = date.fromisoformat(request.args["start"]) if request.args.get("start") else \
            local_today() - timedelta(days=default_back)
        end = date.fromisoformat(request.args["end"]) if request.args.get("end") else \
            local_today() + timedelta(days=default_ahead)
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", code="invalid_date") from None
    if not timedelta(0) <= end - start <= timedelta(days=120):
        raise ValidationFailed("日期范围应在120天以内", code="invalid_range")
    return start, end


@bp.get("/api/vaccination/weekend")
@require("township_admin", "county")
@api.describe(summary="预防接种门诊周末场次与周末号源占比", response=WeekendOut, tags=["儿童接种"])
def api_weekend():
    start, end = _range(28, 0)
    return jsonify({"start": start.isoformat(), "end": end.isoformat(),
                    "centres": _weekend_rows(current_user(), start, end)})


# ---- pages --------------------------------------------------------------------------------

@bp.get("/vaccination")
@require()
def hub_page():
    user = current_user()
    if user.role == "township_admin":
        return redirect(url_for("vaccine_booking.clinic_page"))
    if user.role == "county":
        return redirect(url_for("vaccine_booking.county_page"))
    if user.role != "resident":
        return redirect(url_for("pages.home"))
    return render_template("vaccination/hub.html", children=my_children(user))


@bp.get("/children/<child_id>/vaccination-booking")
@require(*PARENT_AND_STAFF)
def pick_page(child_id: str, error: str | None = None):
    user = current_user()
    child = authorise_child(user, child_id)
    facility = request.args.get("facility") or ""
    day = request.args.get("day") or ""
    centres = svc.clinics(user)
    ctx = {"child": child, "centres": centres, "facility": facility, "day": day, "error": error,
           "request_id": secrets.token_urlsafe(12), "days": [], "slices": [], "doses": [],
           "facility_name": next((f.name for f in centres if f.facility_id == facility), "")}
    if facility:
        if not any(f.facility_id == facility for f in centres):
            raise Forbidden("该机构不提供预防接种", code="not_a_vaccination_clinic")
        ctx["days"] = [dict(d, text=day_text(d["day"]),
                            weekend=date.fromisoformat(d["day"]).weekday() in svc.WEEKEND)
                       for d in booking.list_days(user, facility, svc.DEPARTMENT)]
    if facility and day:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise ValidationFailed("日期格式应为 YYYY-MM-DD", code="invalid_date") from None
        ctx["day_text"] = day_text(chosen)
        ctx["slices"] = booking.list_slices(user, facility, svc.DEPARTMENT, chosen)
        ctx["doses"] = svc.doses_bookable_on(child, history_of(child.resident_id), chosen)
    return render_template("vaccination/pick.html", **ctx)


@bp.post("/children/<child_id>/vaccination-booking")
@require(*PARENT_AND_STAFF)
def book_form(child_id: str):
    f = request.form
    try:
        result = svc.book_due_doses(current_user(), child_id, f.get("slot_id", ""),
                                    f.get("client_request_id", ""))
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return pick_page(child_id, error=err.message), err.status
    return redirect(url_for("vaccine_booking.booked_page", child_id=child_id,
                            booking_id=result.bookings[0].booking_id, done=1), code=303)


@bp.get("/children/<child_id>/vaccination-booking/<booking_id>")
@require(*PARENT_AND_STAFF)
def booked_page(child_id: str, booking_id: str):
    b = booking.get_booking(current_user(), booking_id)
    if b.subject_id != child_id or b.kind != svc.KIND:
        raise NotFound("找不到该预约", code="booking_not_found")
    return render_template("vaccination/booked.html", b=_out(b), child_id=child_id,
                           done=request.args.get("done"))


@bp.get("/vaccination/clinic")
@require("township_admin")
def clinic_page(error: str | None = None):
    user = current_user()
    try:
        day = date.fromisoformat(request.args.get("day") or local_today().isoformat())
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", code="invalid_date") from None
    rows = svc.clinic_day(user, day)
    ahead = svc.weekend_figures(user.facility_id, local_today(), local_today() + timedelta(days=13))
    return render_template("vaccination/clinic.html", rows=rows, day=day.isoformat(),
                           day_text=day_text(day), ahead=ahead, error=error,
                           today=local_today().isoformat(),
                           recorded=request.args.get("recorded"))


@bp.post("/vaccination/clinic/<booking_id>")
@require("township_admin")
def attend_form(booking_id: str):
    f = request.form
    try:
        data = api.parse(AttendIn, {k: f.get(k) or None for k in
                                    ("batch", "manufacturer", "body_site", "given_on")})
        svc.attend_and_record(current_user(), booking_id, batch=data.batch,
                              manufacturer=data.manufacturer, body_site=data.body_site,
                              given_on=data.given_on or local_today())
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        return clinic_page(error=err.message), err.status
    return redirect(url_for("vaccine_booking.clinic_page", day=f.get("day") or None,
                            recorded=booking_id), code=303)


@bp.get("/county/vaccination")
@require("county")
def county_page():
    user = current_user()
    back = _weekend_rows(user, local_today() - timedelta(days=28), local_today())
    ahead = _weekend_rows(user, local_today(), local_today() + timedelta(days=13))
    return render_template("vaccination/county.html", back=back, ahead=ahead)

