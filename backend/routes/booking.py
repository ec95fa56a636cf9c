"""Booking for residents, proxies and family doctors: pages (work without JavaScript) and JSON."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError, Forbidden, ValidationFailed
from backend.rules.booking import CHINA
from backend.security import current_user, require
from backend.services import booking as svc
from backend.services import contracts, residents
from backend.services.facilities import get_facility

bp = Blueprint("booking", __name__)

BOOKERS = ("resident", "doctor", "township_admin", "hospital_admin")
STATUS_TEXT = {"booked": "已预约", "cancelled": "已取消", "arrived": "已到诊", "no_show": "未到诊"}
CHANNEL_TEXT = {"online": "线上", "desk": "窗口/电话", "referral": "基层转诊预留"}


class BookIn(api.Schema):
    slot_id: str = Field(min_length=1, max_length=160)
    subject_id: str | None = Field(default=None, max_length=64)
    client_request_id: str = Field(min_length=1, max_length=64)
    purpose: str | None = Field(default=None, max_length=64)  # kinds that need one (order, dose)


class ExamsIn(api.Schema):
    slot_ids: list[str] = Field(min_length=1, max_length=5)
    subject_id: str | None = Field(default=None, max_length=64)
    client_request_id: str = Field(min_length=1, max_length=64)


class BookingOut(api.Schema):
    booking_id: str
    facility_id: str
    facility_name: str
    department: str
    kind: str
    day: str
    start: str
    end: str
    place: str | None = None
    doctor_name: str | None = None
    subject_id: str
    subject_name: str
    status: str
    status_text: str
    channel: str
    fee_yuan: str
    fee_note: str | None = None
    elderly: bool
    can_cancel: bool
    group_id: str | None = None
    purpose_label: str | None = None


class BookingsOut(api.Schema):
    bookings: list[BookingOut]
    replayed: bool = False


class DaysQuery(api.Schema):
    facility_id: str = Field(min_length=1, max_length=40)
    department: str = Field(min_length=1, max_length=20)


class SlicesQuery(DaysQuery):
    day: date


class WaitlistIn(api.Schema):
    facility_id: str = Field(min_length=1, max_length=40)
    department: str = Field(min_length=1, max_length=20)
    day: date
    subject_id: str | None = Field(default=None, max_length=64)


class OfferIn(api.Schema):
    list_key: str = Field(min_length=1, max_length=100)
    entry_id: str = Field(min_length=1, max_length=64)
    action: Literal["accept", "decline", "leave"]
    client_request_id: str | None = Field(default=None, max_length=64)


def serialise(b) -> dict:
    now = datetime.now(CHINA).timestamp()
    fee = int(b.fee or 0)
    return {
        "booking_id": b.booking_id, "facility_id": b.facility_id, "facility_name": b.facility_name,
        "department": b.department, "kind": b.kind, "day": b.day, "start": b.start, "end": b.end,
        "place": b.place, "doctor_name": b.doctor_name, "subject_id": b.subject_id,
        "subject_name": b.subject_name, "status": b.status,
        "status_text": STATUS_TEXT.get(b.status, b.status)
        + ("（停诊）" if b.cancel_reason == "day_closed" else ""), "channel": b.channel,
        "fee_yuan": f"{fee / 100:.2f}",
        "fee_note": None if fee or b.kind == "exam" or b.status == "cancelled"
        else "同日同科室已收挂号费，本次不再收取",
        "elderly": bool(b.elderly),
        "can_cancel": b.status == "booked"
        and int(b.starts_at) - now >= int(b.cancel_notice_minutes) * 60,
        "group_id": b.group_id,
        "purpose_label": b.purpose_label,
    }


def _subject(given: str | None) -> str:
    user = current_user()
    if given:
        return given
    if user.role == "resident":
        return user.resident_id
    raise ValidationFailed("请指定为哪位居民预约", code="subject_required")


# ---- JSON -------------------------------------------------------------------------------

@bp.get("/api/booking/centres")
@require(*BOOKERS)
@api.describe(summary="可预约的医疗机构", tags=["预约"])
def api_centres():
    return jsonify(centres=[{"facility_id": f.facility_id, "name": f.name, "kind": f.kind}
                            for f in svc.list_centres(current_user())])


@bp.get("/api/booking/centres/<facility_id>/departments")
@require(*BOOKERS)
@api.describe(summary="机构的可预约科室与检查", tags=["预约"])
def api_departments(facility_id: str):
    return jsonify(departments=svc.list_departments(facility_id))


@bp.get("/api/booking/days")
@require(*BOOKERS)
@api.describe(summary="某科室可预约的日期与余号", tags=["预约"])
def api_days():
    q = api.query(DaysQuery)
    return jsonify(days=svc.list_days(current_user(), q.facility_id, q.department))


@bp.get("/api/booking/slices")
@require(*BOOKERS)
@api.describe(summary="某日的时段与余号", tags=["预约"])
def api_slices():
    q = api.query(SlicesQuery)
    return jsonify(slices=[{"slot_id": s.slot_id, "start": s.start, "end": s.end, "left": left,
                            "doctor_name": s.doctor_name, "doctor_title": s.doctor_title,
                            "fee_yuan": f"{int(s.fee) / 100:.2f}", "closed": bool(s.closed)}
                           for s, left in svc.list_slices(current_user(), q.facility_id,
                                                          q.department, q.day)])


def _result(result) -> tuple:
    body = {"bookings": [serialise(b) for b in result.bookings], "replayed": result.replayed}
    return jsonify(body), (200 if result.replayed else 201)


@bp.post("/api/bookings")
@require(*BOOKERS)
@api.body(BookIn, summary="预约一个时段（请求编号保证重试不重复）", response=BookingsOut, tags=["预约"])
def api_book(data: BookIn):
    return _result(svc.book(current_user(), _subject(data.subject_id), data.slot_id,
                            data.client_request_id, purpose=data.purpose))


@bp.post("/api/bookings/exams")
@require(*BOOKERS)
@api.body(ExamsIn, summary="一次预约多项检查（全部成功或全部不成功）", response=BookingsOut, tags=["预约"])
def api_book_exams(data: ExamsIn):
    return _result(svc.book_exams(current_user(), _subject(data.subject_id), data.slot_ids,
                                  data.client_request_id))


@bp.get("/api/bookings")
@require(*BOOKERS)
@api.describe(summary="我的预约（含代约）", response=BookingsOut, tags=["预约"])
def api_my_bookings():
    return jsonify(bookings=[serialise(b) for b in svc.my_bookings(current_user())], replayed=False)


@bp.get("/api/bookings/<booking_id>")
@require(*BOOKERS)
@api.describe(summary="预约详情", response=BookingOut, tags=["预约"])
def api_booking(booking_id: str):
    return jsonify(serialise(svc.get_booking(current_user(), booking_id)))


@bp.post("/api/bookings/<booking_id>/cancel")
@require(*BOOKERS)
@api.describe(summary="取消预约（号源立即释放）", response=BookingOut, tags=["预约"])
def api_cancel(booking_id: str):
    return jsonify(serialise(svc.cancel(current_user(), booking_id)))


@bp.post("/api/waitlist")
@require("resident")
@api.body(WaitlistIn, summary="加入某日某科室的候补", tags=["预约"])
def api_join_waitlist(data: WaitlistIn):
    entry = svc.join_waitlist(current_user(), _subject(data.subject_id), data.facility_id,
                              data.department, data.day)
    return jsonify(list_key=entry.list_key, entry_id=entry.entry_id, status=entry.status), 201


@bp.post("/api/waitlist/offer")
@require("resident")
@api.body(OfferIn, summary="接受、放弃候补号源，或退出候补", response=BookingsOut, tags=["预约"])
def api_offer(data: OfferIn):
    user = current_user()
    if data.action == "accept":
        if not data.client_request_id:
            raise ValidationFailed("缺少请求编号", code="invalid_request_id")
        return _result(svc.accept_offer(user, data.list_key, data.entry_id, data.client_request_id))
    if data.action == "decline":
        svc.decline_offer(user, data.list_key, data.entry_id)
    else:
        svc.leave_waitlist(user, data.list_key, data.entry_id)
    return jsonify(bookings=[], replayed=False)


# ---- pages (server-rendered; forms work without JavaScript) ------------------------------

def _page_args() -> dict:
    args = request.args
    out = {k: (args.get(k) or "").strip()[:64] for k in ("facility", "department", "day", "for")}
    if out["day"]:
        try:
            date.fromisoformat(out["day"])
        except ValueError:
            raise ValidationFailed("日期格式应为 YYYY-MM-DD", code="invalid_date") from None
    return out


def _who(user, given: str) -> tuple[list, str]:
    """Whom this person may pick to book for, and who is picked.

    A resident: themself and the people who authorised them. A family doctor: their team's
    contracted residents (nobody is picked until they choose). Admins type an id.
    """
    if user.role == "resident":
        people = residents.people_i_act_for(user)
        if given and given not in {p.resident_id for p in people}:
            raise Forbidden("该居民未授权您代为预约", code="not_authorised")
        return people, given or user.resident_id
    if user.role == "doctor":
        people = contracts.team_residents(user) if user.team_id else []
        if given and given not in {p.resident_id for p in people}:
            raise Forbidden("只能为本团队签约居民预约", code="not_your_resident")
        return people, given
    return [], given


@bp.get("/booking")
@require(*BOOKERS)
def booking_page(error: str | None = None, error_code: str | None = None):
    user = current_user()
    a = _page_args()
    people, subject = _who(user, a["for"])
    ctx = dict(user=user, a=a, people=people, subject=subject, error=error, error_code=error_code,
               centres=[], departments=[], days=[], slices=[], facility=None,
               request_id=uuid.uuid4().hex, mine=[])
    if not a["facility"]:
        ctx["centres"] = svc.list_centres(user)
        ctx["mine"] = [serialise(b) for b in svc.my_bookings(user) if b.status == "booked"]
    else:
        ctx["facility"] = get_facility(a["facility"])
        if not a["department"]:
            ctx["departments"] = svc.list_departments(a["facility"])
        elif not a["day"]:
            ctx["days"] = svc.list_days(user, a["facility"], a["department"])
        else:
            ctx["slices"] = svc.list_slices(user, a["facility"], a["department"],
                                            date.fromisoformat(a["day"]))
    return render_template("booking.html", **ctx)


@bp.post("/booking/confirm")
@require(*BOOKERS)
def booking_confirm():
    form = request.form
    try:
        result = svc.book(current_user(), _subject(form.get("subject_id") or None),
                          form.get("slot_id", ""), form.get("client_request_id", ""))
    except AppError as err:
        if err.status >= 500:
            raise
        return booking_page(error=err.message, error_code=err.code), err.status
    return redirect(url_for("booking.booking_detail", booking_id=result.bookings[0].booking_id,
                            done=1), code=303)


@bp.post("/booking/waitlist")
@require("resident")
def booking_waitlist():
    form = request.form
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", code="invalid_date") from None
    try:
        svc.join_waitlist(current_user(), _subject(form.get("subject_id") or None),
                          form.get("facility_id", ""), form.get("department", ""), day)
    except AppError as err:
        if err.status >= 500:
            raise
        return booking_page(error=err.message, error_code=err.code), err.status
    return redirect(url_for("booking.booking_page", waitlisted=1), code=303)


@bp.get("/booking/<booking_id>")
@require(*BOOKERS)
def booking_detail(booking_id: str):
    b = svc.get_booking(current_user(), booking_id)
    return render_template("booking_detail.html", b=serialise(b), done=request.args.get("done"))


@bp.post("/booking/<booking_id>/cancel")
@require(*BOOKERS)
def booking_cancel_form(booking_id: str):
    svc.cancel(current_user(), booking_id)
    return redirect(url_for("booking.booking_detail", booking_id=booking_id), code=303)


@bp.get("/booking/offer")
@require("resident")
def offer_page():
    list_key = request.args.get("list", "")[:100]
    entry_id = request.args.get("entry", "")[:64]
    entry = svc.get_entry(list_key, entry_id)
    if entry.booker_login != current_user().login:
        raise Forbidden("不能操作他人的候补", code="not_your_waitlist")
    return render_template("booking_offer.html", entry=entry, request_id=uuid.uuid4().hex,
                           expires=datetime.fromtimestamp(int(entry.offer_expires or 0), CHINA))


@bp.post("/booking/offer")
@require("resident")
def offer_form():
    form = request.form
    list_key, entry_id = form.get("list_key", ""), form.get("entry_id", "")
    if form.get("action") == "accept":
        result = svc.accept_offer(current_user(), list_key, entry_id, form.get("client_request_id", ""))
        return redirect(url_for("booking.booking_detail", booking_id=result.bookings[0].booking_id,
                                done=1), code=303)
    svc.decline_offer(current_user(), list_key, entry_id)
    return redirect(url_for("booking.booking_page"), code=303)


# ---- several exams in one go (page; works without JavaScript) -----------------------------

def _picked(args) -> dict[str, str]:
    """The slices chosen on the exam form (`exam1`..`exam5`), department -> slot id."""
    out: dict[str, str] = {}
    for i in range(1, 11):
        slot_id = (args.get(f"exam{i}") or "").strip()[:160]
        if slot_id:
            bucket, _ = svc.parse_slot_id(slot_id)
            out[bucket.split("#", 1)[1]] = slot_id
    return out


def _exam_facility(user, facility_id: str):
    return get_facility(facility_id) if facility_id else svc.lead_hospital(user)


def _exams_page(user, *, facility_id: str, day: str, given: str, picked: dict[str, str],
                review: bool, error: str | None = None, error_code: str | None = None):
    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ValidationFailed("日期格式应为 YYYY-MM-DD", code="invalid_date") from None
    people, subject = _who(user, given)
    facility = _exam_facility(user, facility_id)
    ctx = dict(user=user, people=people, subject=subject, facility=facility, day=day,
               picked=picked, error=error, error_code=error_code, exams=[], days=[], rooms=[],
               chosen=[], request_id=uuid.uuid4().hex)
    if facility is None:
        return render_template("booking_exams.html", **ctx)
    ctx["exams"] = svc.exam_departments(facility.facility_id)
    if review and picked:
        ctx["chosen"] = svc.slots_for_review(list(picked.values()))
    elif day:
        ctx["rooms"] = svc.exam_slices(user, facility.facility_id, date.fromisoformat(day))
    else:
        ctx["days"] = svc.exam_days(user, facility.facility_id)
    return render_template("booking_exams.html", **ctx)


@bp.get("/booking/exams")
@require(*BOOKERS)
def exams_page():
    a = request.args
    picked = _picked(a)
    error = error_code = None
    if a.get("day") and "exam1" in a and not picked:
        error, error_code = "请至少选择一项检查", "no_exam_chosen"
    return _exams_page(current_user(), facility_id=(a.get("facility") or "")[:40],
                       day=(a.get("day") or "")[:10], given=(a.get("for") or "")[:64],
                       picked=picked, review=bool(picked), error=error, error_code=error_code)


def _exam_failure_text(err: AppError, count: int) -> str:
    if err.code == "slot_full":
        info = (err.details or [{}])[0]
        which = f"「{info.get('department', '')}」{info.get('time', '')}".strip()
        return (f"{which}已约满，所选的{count}项检查都没有预约（多项检查要么全部约上，要么都不预约）。"
                "请重新选择时段。")
    return f"{err.message}。所选的{count}项检查都没有预约。"


@bp.post("/booking/exams/confirm")
@require(*BOOKERS)
def exams_confirm():
    user = current_user()
    form = request.form
    slot_ids = [s for s in form.getlist("slot_id") if s][:svc.MAX_EXAMS + 1]
    subject = form.get("subject_id") or ""
    try:
        result = svc.book_exams(user, _subject(subject or None), slot_ids,
                                form.get("client_request_id", ""))
    except AppError as err:
        if err.status >= 500 or err.status == 429:
            raise
        picked = {}
        for slot_id in slot_ids:
            try:
                picked[svc.parse_slot_id(slot_id)[0].split("#", 1)[1]] = slot_id
            except AppError:
                continue
        page = _exams_page(user, facility_id=(form.get("facility") or "")[:40],
                           day=(form.get("day") or "")[:10], given=subject[:64], picked=picked,
                           review=False, error=_exam_failure_text(err, len(slot_ids)),
                           error_code=err.code)
        return page, err.status
    ids = [b.booking_id for b in result.bookings]
    return redirect(url_for("booking.exams_done", b=ids), code=303)


@bp.get("/booking/exams/done")
@require(*BOOKERS)
def exams_done():
    user = current_user()
    ids = request.args.getlist("b")[:svc.MAX_EXAMS]
    bookings = [serialise(svc.get_booking(user, i)) for i in ids]
    return render_template("booking_exams_done.html", bookings=bookings)
