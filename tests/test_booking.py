"""Booking through HTTP against the moto server; every failure reads the tables back."""
from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest

from backend.models.base import utcnow
from backend.models.booking import Booking, BookingLedger, ScheduleTemplate, Slot, WaitlistEntry
from backend.models.facility import Facility
from backend.models.notices import Notice
from backend.models.people import ProxyGrant, Resident
from backend.services import schedules


def rid() -> str:
    return uuid.uuid4().hex


def tomorrow() -> date:
    return schedules.today() + timedelta(days=1)


class World:
    """Fresh facilities, admins and residents per test (the database is shared)."""

    def __init__(self, app, client, person):
        self.app, self.client, self.person = app, client, person

    def facility(self, kind="township", departments=("全科门诊", "慢病门诊", "超声", "CT")) -> Facility:
        fid = f"t{uuid.uuid4().hex[:10]}"
        f = Facility(fid, kind=kind, name=f"测试{'医院' if kind == 'hospital' else '卫生院'}{fid[-4:]}",
                     parent_id="cty-01", county_id="cty-01", address="测试路1号",
                     departments=list(departments))
        f.save()
        from backend.models.account import Account
        from backend.services.auth import hash_password
        from infra.seed import DEMO_PASSWORD
        Account(f"s:adm-{fid}", role="hospital_admin" if kind == "hospital" else "township_admin",
                display_name="测试管理员", facility_id=fid, password_hash=hash_password(DEMO_PASSWORD),
                created_at=utcnow()).save()
        return f

    def resident(self, age=40, team_id=None, township_id="twp-01") -> Resident:
        from backend.models.account import Account
        from infra.seed import make_id_number
        res_id = f"r{uuid.uuid4().hex[:12]}"
        born = schedules.today() - timedelta(days=age * 365 + 30)
        phone = f"137{random.randint(0, 99999999):08d}"
        r = Resident(res_id, id_number=make_id_number(born, random.randint(0, 499), True), name="测试居民",
                     sex="M", birth_date=born.isoformat(), phone=phone, household_id=f"hh-{res_id}",
                     village_id="vil-twp-01-01", township_id=township_id, team_id=team_id,
                     created_at=utcnow())
        r.save()
        Account(f"m:{phone}", role="resident", display_name=r.name, resident_id=res_id,
                created_at=utcnow()).save()
        return r

    def as_admin(self, f: Facility):
        self.person.login_staff(f"adm-{f.facility_id}")
        return self

    def as_resident(self, r: Resident):
        self.person.login_resident(r.phone)
        return self

    def post(self, path, body=None):
        token = self.person.page_csrf("/")
        return self.client.post(path, json=body if body is not None else {},
                                headers={"X-CSRF-Token": token})

    def template(self, f: Facility, **kw):
        body = dict(department="全科门诊", kind="outpatient", weekdays=list(range(7)), on_holidays=True,
                    session="day", start="08:00", end="10:00", slice_minutes=60, capacity=2,
                    online_pct=100, referral_pct=0, fee=100)
        body.update(kw)
        self.as_admin(f)
        r = self.post("/api/admin/templates", body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def slot(self, f: Facility, department="全科门诊", day=None, start="08:00") -> Slot:
        day = day or tomorrow()
        found = [s for s in Slot.query(f"{f.facility_id}#{department}",
                                       Slot.start_key.startswith(f"{day.isoformat()}T{start}"),
                                       consistent_read=True)]
        assert found, "slot not generated"
        return found[0]

    def fresh(self, s: Slot) -> Slot:
        return Slot.get(s.bucket, s.start_key, consistent_read=True)

    def clients(self, n: int) -> tuple[list, str]:
        """`n` test clients on the current session (one per thread) and its CSRF token."""
        cookie = self.client.get_cookie("cc_session")
        token = self.client.get("/api/me").get_json()["csrf_token"]
        out = []
        for _ in range(n):
            c = self.app.test_client()
            c.set_cookie("cc_session", cookie.value)
            out.append(c)
        return out, token

    def book(self, slot_id, subject_id=None, request_id=None):
        body = {"slot_id": slot_id, "client_request_id": request_id or rid()}
        if subject_id:
            body["subject_id"] = subject_id
        return self.post("/api/bookings", body)


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def booked(r, n: int = 1) -> bool:
    """Booked: 201, or 200 when the request was retried underneath (a busy local server makes
    botocore retry a transaction that went through) and its bookings are returned."""
    return r.status_code in (200, 201) and len((r.get_json() or {}).get("bookings", [])) == n


def bookings_of(subject_id: str) -> list[Booking]:
    return list(Booking.by_subject.query(subject_id))


def holds_of(subject_id: str, facility_id: str, department: str) -> dict:
    try:
        item = BookingLedger.get(subject_id, f"dept#{facility_id}#{department}", consistent_read=True)
    except BookingLedger.DoesNotExist:
        return {}
    return item.holds.as_dict() if item.holds is not None else {}


# ---- schedules ----------------------------------------------------------------------------

@pytest.mark.parametrize("change, code", [
    ({"slice_minutes": 90, "end": "11:00"}, "slice_too_long"),
    ({"capacity": -3}, "invalid_capacity"),
    ({"online_pct": 50}, "online_share_too_low"),
    ({"department": "不存在科室"}, "unknown_department"),
    ({"session": "evening", "start": "18:00", "end": "22:00", "weekdays": [0]}, "evening_length"),
    ({"session": "day", "start": "18:00", "end": "23:00", "weekdays": [0]}, "evening_too_late"),
    ({"session": "day", "start": "16:00", "end": "18:00", "weekdays": [5]}, "evening_weekdays"),
    ({"start": "25:00"}, "validation_failed"),
    ({"weekdays": "周一"}, "validation_failed"),
])
def test_bad_templates_are_refused_and_nothing_is_written(w, change, code):
    f = w.facility()
    body = dict(department="全科门诊", weekdays=[0, 1], start="08:00", end="10:00",
                slice_minutes=30, capacity=5)
    body.update(change)
    w.as_admin(f)
    r = w.post("/api/admin/templates", body)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == code
    assert r.get_json()["error"]["message"]
    assert list(ScheduleTemplate.query(f.facility_id)) == []
    assert list(Slot.query(f"{f.facility_id}#全科门诊")) == []


def test_overlapping_templates_are_refused(w):
    f = w.facility()
    w.template(f, weekdays=[0, 1, 2], start="08:00", end="10:00")
    r = w.post("/api/admin/templates", dict(department="全科门诊", weekdays=[2], start="09:00",
                                            end="11:00", slice_minutes=30, capacity=5))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "overlapping_template"
    assert len(list(ScheduleTemplate.query(f.facility_id))) == 1


def test_lead_hospital_must_reserve_twenty_percent_for_referrals(w):
    f = w.facility(kind="hospital", departments=("内科",))
    w.as_admin(f)
    r = w.post("/api/admin/templates", dict(department="内科", weekdays=[0], start="08:00",
                                            end="09:00", slice_minutes=30, capacity=10))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "referral_share_too_low"
    assert list(ScheduleTemplate.query(f.facility_id)) == []


def test_slot_generation_is_idempotent_and_keeps_booked_slots(w):
    f = w.facility()
    t = w.template(f, capacity=3)
    before = {s.start_key: s for s in Slot.query(f"{f.facility_id}#全科门诊", consistent_read=True)}
    assert before
    again = schedules.generate_slots(f, start=schedules.today(), days=15)
    assert again["created"] == 0
    assert len(list(Slot.query(f"{f.facility_id}#全科门诊", consistent_read=True))) == len(before)
    # A booked slice survives a template change; an unbooked one follows the template.
    me = w.resident()
    w.as_resident(me)
    booked = w.slot(f)
    assert w.book(booked.slot_id).status_code == 201
    w.as_admin(f)
    r = w.post(f"/api/admin/templates/{t['template_id']}",
               dict(department="全科门诊", weekdays=list(range(7)), on_holidays=True, start="08:00",
                    end="10:00", slice_minutes=60, capacity=6, online_pct=100))
    assert r.status_code == 200, r.get_json()
    kept = w.fresh(booked)
    assert int(kept.capacity) == 3 and int(kept.booked) == 1 and int(kept.left_online) == 2
    other = w.fresh(w.slot(f, day=tomorrow() + timedelta(days=1)))
    assert int(other.capacity) == 6 and int(other.left_online) == 6


def test_admin_overview_shows_shares_duty_and_the_unconfirmed_year(w):
    f = w.facility()
    w.template(f, online_pct=80, capacity=10, doctor_title="主治医师", doctor_login="s:x",
               weekdays=[0, 1])
    r = w.client.get("/api/admin/schedules")
    o = r.get_json()
    assert o["shares"]["outpatient"]["online_share"] >= 80
    assert o["duty"] and all(week["short"] for week in o["duty"])  # 2 days < 3
    years = [x["year"] for x in o["calendar_warnings"]]
    assert schedules.today().year + 1 in years or schedules.today().year + 1 <= 2026
    page = w.client.get("/admin/schedules").get_data(as_text=True)
    assert "不达标" in page and "线上占比" in page


def test_the_county_enters_an_unknown_years_arrangement_and_the_warning_goes(w):
    from backend.models.booking import HolidayArrangement
    w.person.login_staff("county")
    year = 2029
    bad = w.post("/api/admin/holidays", {"year": year, "holidays": [{"day": "2030-01-01", "name": "元旦"}]})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "wrong_year"
    assert [h for h in HolidayArrangement.query(str(year)) if h.day == "2030-01-01"] == []
    known = w.post("/api/admin/holidays", {"year": 2026, "holidays": [{"day": "2026-01-01", "name": "元旦"}]})
    assert known.get_json()["error"]["code"] == "year_known"
    ok = w.post("/api/admin/holidays", {"year": year, "holidays": [{"day": "2029-01-01", "name": "元旦"}],
                                        "workdays": ["2029-02-03"]})
    assert ok.status_code == 201
    assert year not in [x["year"] for x in schedules.calendar_warnings(date(year, 3, 1))]
    infos = {i.day: i for i in schedules.calendar_days(date(2029, 1, 1), 40)}
    assert infos[date(2029, 1, 1)].kind == "holiday" and infos[date(2029, 2, 3)].adjusted


@pytest.mark.parametrize("kind", ["township", "hospital"])
def test_a_centre_admin_cannot_redefine_the_county_calendar(w, kind):
    """The official arrangement is the county's: a centre closes its own days (停诊) instead."""
    from backend.models.booking import HolidayArrangement
    w.person.login_staff("county")
    assert w.post("/api/admin/holidays", {"year": 2029, "holidays": [{"day": "2029-01-01", "name": "元旦"}]}
                  ).status_code == 201
    before = {(h.day, h.kind, h.entered_by) for h in HolidayArrangement.query("2029")}
    f = w.facility(kind=kind)
    w.as_admin(f)
    for body in ({"year": 2029, "holidays": [{"day": "2029-05-06", "name": "本院假"}], "workdays": ["2029-01-01"]},
                 {"year": 2032, "holidays": [{"day": "2032-01-02", "name": "元旦"}]}):
        r = w.post("/api/admin/holidays", body)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "county_calendar_only"
        assert "停诊" in r.get_json()["error"]["message"]
    assert {(h.day, h.kind, h.entered_by) for h in HolidayArrangement.query("2029")} == before
    assert [h for h in HolidayArrangement.query("2032") if h.entered_by == f"s:adm-{f.facility_id}"] == []
    assert {i.day: i for i in schedules.calendar_days(date(2029, 1, 1), 1)}[date(2029, 1, 1)].kind == "holiday"
    # The centre's own page says who enters the calendar and offers 停诊 for its own days.
    page = w.client.get("/admin/schedules").get_data(as_text=True)
    assert "请在下方录入" not in page


# ---- booking ------------------------------------------------------------------------------

def test_resident_books_and_a_retry_returns_the_same_booking(w):
    f = w.facility()
    w.template(f, capacity=2)
    me = w.resident(age=70)
    w.as_resident(me)
    s = w.slot(f)
    request_id = rid()
    r1 = w.book(s.slot_id, request_id=request_id)
    assert r1.status_code == 201, r1.get_json()
    b = r1.get_json()["bookings"][0]
    assert b["day"] == tomorrow().isoformat() and b["start"] == "08:00" and b["elderly"] is True
    assert b["fee_yuan"] == "1.00" and "测试路1号" in b["place"]
    r2 = w.book(s.slot_id, request_id=request_id)
    assert r2.status_code == 200 and r2.get_json()["replayed"] is True
    assert r2.get_json()["bookings"][0]["booking_id"] == b["booking_id"]
    assert [x.booking_id for x in bookings_of(me.resident_id)] == [b["booking_id"]]
    slot = w.fresh(s)
    assert int(slot.left_online) == 1 and int(slot.booked) == 1
    assert list(holds_of(me.resident_id, f.facility_id, "全科门诊")) == [b["booking_id"]]
    page = w.client.get(f"/booking/{b['booking_id']}").get_data(as_text=True)
    assert "老年人优先窗口" in page and "取消预约" in page


def test_same_slice_twice_is_a_duplicate_and_nothing_is_written(w):
    f = w.facility()
    w.template(f, capacity=5)
    me = w.resident()
    w.as_resident(me)
    s = w.slot(f)
    assert w.book(s.slot_id).status_code == 201
    r = w.book(s.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate_booking"
    assert len(bookings_of(me.resident_id)) == 1
    assert int(w.fresh(s).left_online) == 4


def test_full_slice_then_waitlist_then_offer_then_accept(w):
    f = w.facility()
    w.template(f, capacity=1)
    first, second = w.resident(), w.resident()
    s = w.slot(f)
    w.as_resident(first)
    booking_id = w.book(s.slot_id).get_json()["bookings"][0]["booking_id"]
    w.as_resident(second)
    r = w.book(s.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "slot_full"
    assert bookings_of(second.resident_id) == []
    assert int(w.fresh(s).left_online) == 0 and int(w.fresh(s).booked) == 1
    # The other slice of that day is still free: joining the waitlist is refused.
    not_full = w.post("/api/waitlist", {"facility_id": f.facility_id, "department": "全科门诊",
                                        "day": tomorrow().isoformat()})
    assert not_full.status_code == 409 and not_full.get_json()["error"]["code"] == "not_full"
    other = w.slot(f, start="09:00")
    third = w.resident()
    w.as_resident(third)
    assert w.book(other.slot_id).status_code == 201
    w.as_resident(second)
    joined = w.post("/api/waitlist", {"facility_id": f.facility_id, "department": "全科门诊",
                                      "day": tomorrow().isoformat()})
    assert joined.status_code == 201, joined.get_json()
    again = w.post("/api/waitlist", {"facility_id": f.facility_id, "department": "全科门诊",
                                     "day": tomorrow().isoformat()})
    assert again.get_json()["error"]["code"] == "already_waiting"
    entry = joined.get_json()
    # The first person cancels: the place is held for the waitlist, not given to the public.
    w.as_resident(first)
    assert w.post(f"/api/bookings/{booking_id}/cancel").status_code == 200
    slot = w.fresh(s)
    assert int(slot.held) == 1 and int(slot.left_online) == 0 and int(slot.booked) == 0
    item = WaitlistEntry.get(entry["list_key"], entry["entry_id"], consistent_read=True)
    assert item.status == "offered" and item.offer_slot_id == s.slot_id
    notices = list(Notice.query(f"res:{second.resident_id}"))
    assert [n.kind for n in notices] == ["slot_offer"]
    w.as_resident(third)
    stranger = w.post("/api/waitlist/offer", {"list_key": entry["list_key"], "entry_id": entry["entry_id"],
                                              "action": "accept", "client_request_id": rid()})
    assert stranger.status_code == 403
    w.as_resident(second)
    ok = w.post("/api/waitlist/offer", {"list_key": entry["list_key"], "entry_id": entry["entry_id"],
                                        "action": "accept", "client_request_id": rid()})
    assert ok.status_code == 201, ok.get_json()
    slot = w.fresh(s)
    assert int(slot.held) == 0 and int(slot.booked) == 1
    assert [b.status for b in bookings_of(second.resident_id)] == ["booked"]


def test_expired_offer_moves_to_the_next_person(w):
    from backend.services import booking as svc
    f = w.facility()
    w.template(f, capacity=1, start="08:00", end="09:00")
    holder, a, b = w.resident(), w.resident(), w.resident()
    s = w.slot(f)
    w.as_resident(holder)
    booking_id = w.book(s.slot_id).get_json()["bookings"][0]["booking_id"]
    entries = []
    for person in (a, b):
        w.as_resident(person)
        entries.append(w.post("/api/waitlist", {"facility_id": f.facility_id, "department": "全科门诊",
                                                "day": tomorrow().isoformat()}).get_json())
    w.as_resident(holder)
    w.post(f"/api/bookings/{booking_id}/cancel")
    first = WaitlistEntry.get(entries[0]["list_key"], entries[0]["entry_id"], consistent_read=True)
    assert first.status == "offered"
    result = svc.expire_offers(now=int(first.offer_expires) + 1)
    assert result["expired"] >= 1
    assert WaitlistEntry.get(first.list_key, first.entry_id, consistent_read=True).status == "expired"
    nxt = WaitlistEntry.get(entries[1]["list_key"], entries[1]["entry_id"], consistent_read=True)
    assert nxt.status == "offered"
    assert int(w.fresh(s).held) == 1
    assert svc.expire_offers(now=int(nxt.offer_expires) - 1)["expired"] == 0  # idempotent
    assert int(w.fresh(s).held) == 1


def test_proxy_booking_only_for_people_who_authorised_you(w, demo):
    f = w.facility()
    w.template(f, capacity=3)
    s = w.slot(f)
    w.person.login_resident(demo.demo_resident["phone"])
    ok = w.book(s.slot_id, subject_id="res-000002")
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["bookings"][0]["elderly"] is True
    stranger = w.resident()
    r = w.book(s.slot_id, subject_id=stranger.resident_id)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_authorised"
    assert bookings_of(stranger.resident_id) == []
    assert int(w.fresh(s).booked) == 1


def test_referral_places_only_for_family_doctors_and_their_residents(w, demo):
    h = w.facility(kind="hospital", departments=("内科",))
    w.template(h, department="内科", capacity=5, online_pct=80, referral_pct=20)  # 3 public, 1 desk, 1 referral
    # Far enough ahead that the unused referral place is not yet released to the public.
    s = w.slot(h, department="内科", day=schedules.today() + timedelta(days=3))
    assert (int(s.left_online), int(s.left_desk), int(s.left_referral)) == (3, 1, 1)
    public = [w.resident() for _ in range(4)]
    for p in public[:3]:
        w.as_resident(p)
        assert w.book(s.slot_id).status_code == 201
    w.as_resident(public[3])
    r = w.book(s.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "slot_full"
    assert int(w.fresh(s).left_referral) == 1
    team_member = w.resident(team_id="team-01")
    w.person.login_staff("doctor01")
    other_team = w.resident(team_id="team-02")
    denied = w.book(s.slot_id, subject_id=other_team.resident_id)
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "not_your_resident"
    ok = w.book(s.slot_id, subject_id=team_member.resident_id)
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["bookings"][0]["channel"] == "referral"
    slot = w.fresh(s)
    assert int(slot.left_referral) == 0 and int(slot.booked) == 4


def test_several_exams_all_or_nothing(w):
    f = w.facility()
    w.template(f, department="超声", kind="exam", capacity=1, fee=0)
    w.template(f, department="CT", kind="exam", capacity=1, fee=0)
    us, ct = w.slot(f, department="超声"), w.slot(f, department="CT")
    blocker, me = w.resident(), w.resident()
    w.as_resident(blocker)
    assert booked(w.book(ct.slot_id))
    w.as_resident(me)
    r = w.post("/api/bookings/exams", {"slot_ids": [us.slot_id, ct.slot_id], "client_request_id": rid()})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "slot_full"
    assert bookings_of(me.resident_id) == []
    assert int(w.fresh(us).left_online) == 1 and holds_of(me.resident_id, f.facility_id, "超声") == {}
    ct2 = w.slot(f, department="CT", start="09:00")
    ok = w.post("/api/bookings/exams", {"slot_ids": [us.slot_id, ct2.slot_id], "client_request_id": rid()})
    assert booked(ok, 2), ok.get_json()
    got = ok.get_json()["bookings"]
    assert len(got) == 2 and got[0]["group_id"] == got[1]["group_id"]
    assert int(w.fresh(us).left_online) == 0 and int(w.fresh(ct2).left_online) == 0
    two_same = w.post("/api/bookings/exams", {"slot_ids": [us.slot_id, us.slot_id], "client_request_id": rid()})
    assert two_same.status_code == 422


def test_registration_fee_once_per_department_per_day_and_the_limit(w):
    f = w.facility()
    w.template(f, capacity=3, fee=500, start="08:00", end="11:00")
    me = w.resident()
    w.as_resident(me)
    a = w.book(w.slot(f, start="08:00").slot_id).get_json()["bookings"][0]
    b = w.book(w.slot(f, start="09:00").slot_id).get_json()["bookings"][0]
    assert a["fee_yuan"] == "5.00" and b["fee_yuan"] == "0.00" and b["fee_note"]
    third = w.slot(f, start="10:00")
    r = w.book(third.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "limit_reached"
    assert int(w.fresh(third).booked) == 0 and len(bookings_of(me.resident_id)) == 2
    # Cancelling the charged booking moves the fee to the other one.
    assert w.post(f"/api/bookings/{a['booking_id']}/cancel").status_code == 200
    assert Booking.get(b["booking_id"], consistent_read=True).fee == 500
    assert len(holds_of(me.resident_id, f.facility_id, "全科门诊")) == 1


def test_cancel_rules(w):
    f = w.facility()
    w.template(f, capacity=2)
    owner, other = w.resident(), w.resident()
    s = w.slot(f)
    w.as_resident(owner)
    b = w.book(s.slot_id).get_json()["bookings"][0]
    w.as_resident(other)
    r = w.post(f"/api/bookings/{b['booking_id']}/cancel")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_booking"
    assert Booking.get(b["booking_id"]).status == "booked" and int(w.fresh(s).booked) == 1
    assert w.client.get(f"/api/bookings/{b['booking_id']}").status_code == 404
    w.as_resident(owner)
    assert w.post(f"/api/bookings/{b['booking_id']}/cancel").status_code == 200
    again = w.post(f"/api/bookings/{b['booking_id']}/cancel")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_active"
    slot = w.fresh(s)
    assert int(slot.left_online) == 2 and int(slot.booked) == 0
    # A past booking cannot be cancelled (a row from yesterday's list).
    yesterday = schedules.today() - timedelta(days=1)
    schedules.generate_slots(f, start=yesterday, days=1)
    past_slot = w.slot(f, day=yesterday)
    r = w.book(past_slot.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "slot_past"
    assert int(w.fresh(past_slot).booked) == 0
    past = Booking(f"B{uuid.uuid4().hex[:20]}", order_key="x", day_key=f"{f.facility_id}#{yesterday}",
                   slot_id=past_slot.slot_id, facility_id=f.facility_id, facility_name=f.name,
                   department="全科门诊", kind="outpatient", day=yesterday.isoformat(), start="08:00",
                   end="09:00", starts_at=int(past_slot.starts_at), subject_id=owner.resident_id,
                   subject_name="x", booker_login=f"m:{owner.phone}", booker_role="resident",
                   channel="online", client_request_id="r", created_at=utcnow())
    past.save()
    r = w.post(f"/api/bookings/{past.booking_id}/cancel")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "booking_past"
    assert Booking.get(past.booking_id).status == "booked"


def test_cancellation_notice_is_configurable(w):
    f = w.facility()
    w.template(f, capacity=2)
    w.as_admin(f)
    assert w.post("/api/admin/policy", {"cancel_notice_minutes": 2880}).status_code == 200
    bad = w.post("/api/admin/policy", {"horizon_days": 0})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_policy"
    me = w.resident()
    w.as_resident(me)
    b = w.book(w.slot(f).slot_id).get_json()["bookings"][0]
    assert b["can_cancel"] is False
    r = w.post(f"/api/bookings/{b['booking_id']}/cancel")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "too_late_to_cancel"
    assert Booking.get(b["booking_id"]).status == "booked"


def test_booking_horizon_keeps_far_days_closed(w):
    f = w.facility()
    w.template(f, capacity=2)
    w.as_admin(f)
    assert w.post("/api/admin/policy", {"horizon_days": 3}).status_code == 200
    far = schedules.today() + timedelta(days=10)
    schedules.generate_slots(f, start=far, days=1)
    me = w.resident()
    w.as_resident(me)
    s = w.slot(f, day=far)
    r = w.book(s.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_open_yet"
    assert int(w.fresh(s).booked) == 0


def test_closed_day_refuses_bookings(w):
    f = w.facility()
    w.template(f, capacity=2)
    w.as_admin(f)
    assert w.post("/api/admin/close-day", {"department": "全科门诊", "day": tomorrow().isoformat()}).status_code == 200
    me = w.resident()
    w.as_resident(me)
    s = w.slot(f)
    r = w.book(s.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "day_closed"
    assert int(w.fresh(s).booked) == 0 and bookings_of(me.resident_id) == []


@pytest.mark.parametrize("body, status, code", [
    ({"slot_id": "nonsense", "client_request_id": "abcdefgh1"}, 422, "invalid_slot_id"),
    ({"slot_id": "twp-01#全科门诊#2026-02-30T08:00#x", "client_request_id": "abcdefgh1"}, 422, "invalid_slot_id"),
    ({"slot_id": "twp-01#全科门诊#2030-01-01T08:00#nope", "client_request_id": "abcdefgh1"}, 404, "slot_not_found"),
    ({"slot_id": "twp-01#全科门诊#2030-01-01T08:00#nope", "client_request_id": "bad id!"}, 422, "invalid_request_id"),
    ({"slot_id": "twp-01#全科门诊#2030-01-01T08:00#nope", "client_request_id": "abcdefgh1",
      "subject_id": "../../x"}, 422, "invalid_resident_id"),
    ({"slot_id": "x"}, 422, "validation_failed"),
    ({"slot_id": "x", "client_request_id": "abcdefgh1", "extra": 1}, 422, "validation_failed"),
])
def test_malformed_booking_requests(w, body, status, code):
    me = w.resident()
    w.as_resident(me)
    r = w.post("/api/bookings", body)
    assert r.status_code == status and r.get_json()["error"]["code"] == code, r.get_json()
    assert bookings_of(me.resident_id) == []


@pytest.mark.parametrize("path", [
    "/api/booking/slices?facility_id=twp-01&department=全科门诊&day=2026-13-45",
    "/api/booking/slices?facility_id=twp-01&department=全科门诊",
    "/api/booking/days?facility_id=twp-01",
])
def test_malformed_queries_are_422(w, path):
    w.as_resident(w.resident())
    r = w.client.get(path)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_failed"


def test_unknown_booking_and_facility_are_404(w):
    w.as_resident(w.resident())
    assert w.client.get("/api/bookings/NOPE").get_json()["error"]["code"] == "booking_not_found"
    assert w.client.get("/api/booking/centres/nope/departments").status_code == 404
    assert w.client.get("/booking?facility=nope").status_code == 404


def test_noshows_pause_online_booking_but_not_for_the_elderly(w, demo):
    f = w.facility()
    w.template(f, capacity=5, start="08:00", end="12:00")
    assert w.post("/api/admin/policy", {"max_future_per_department": 5}).status_code == 200
    me = w.resident(age=40)
    ids = []
    for day_offset in (1, 2, 3):
        w.as_resident(me)
        s = w.slot(f, day=schedules.today() + timedelta(days=day_offset))
        ids.append(w.book(s.slot_id).get_json()["bookings"][0]["booking_id"])
    # Staff mark them as no-shows (the appointment time has passed: rewrite the time).
    for bid in ids:
        Booking(bid).update(actions=[Booking.starts_at.set(1)])
    w.as_admin(f)
    early = w.facility()
    for bid in ids:
        r = w.post(f"/api/admin/bookings/{bid}/attendance", {"status": "no_show"})
        assert r.status_code == 200, r.get_json()
    state = BookingLedger.get(me.resident_id, f"state#{f.facility_id}", consistent_read=True)
    assert len(state.noshows) == 3 and state.paused_until
    w.as_resident(me)
    r = w.book(w.slot(f, start="11:00").slot_id)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "booking_paused"
    assert len(bookings_of(me.resident_id)) == 3
    # An elderly parent booked by a proxy: exempt, and the proxy is warned.
    w.person.login_resident(demo.demo_resident["phone"])
    r = w.book(w.slot(f, start="10:00").slot_id, subject_id="res-000002")
    assert booked(r), r.get_json()
    b = r.get_json()["bookings"][0]
    Booking(b["booking_id"]).update(actions=[Booking.starts_at.set(1)])
    w.as_admin(f)
    assert w.post(f"/api/admin/bookings/{b['booking_id']}/attendance", {"status": "no_show"}).status_code == 200
    try:
        proxy_state = BookingLedger.get(demo.demo_resident["resident_id"], f"state#{f.facility_id}",
                                        consistent_read=True)
    except BookingLedger.DoesNotExist:
        proxy_state = None  # never paused: no state item at all
    assert proxy_state is None or not proxy_state.paused_until
    warned = [n for n in Notice.query("res:res-000001") if n.kind == "noshow_warning"]
    assert warned
    # Staff of another facility may not mark it.
    w.as_admin(early)
    r = w.post(f"/api/admin/bookings/{b['booking_id']}/attendance", {"status": "arrived"})
    assert r.status_code == 403


@pytest.mark.parametrize("failure", ["throttled", "timeout"])
def test_throttled_dynamodb_is_a_503_with_retry_after_and_nothing_written(w, failure):
    from botocore.exceptions import ReadTimeoutError

    from backend.models.base import _connection
    f = w.facility()
    w.template(f, capacity=2)
    me = w.resident()
    w.as_resident(me)
    s = w.slot(f)

    class Http:
        status_code = 400
        headers = {}

    def throttle(**kwargs):
        if failure == "timeout":
            raise ReadTimeoutError(endpoint_url="http://dynamodb")
        return Http(), {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}

    events = _connection().client.meta.events
    events.register_first("before-call.dynamodb.TransactWriteItems", throttle, unique_id="throttle-test")
    try:
        r = w.book(s.slot_id)
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="throttle-test")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.get_json()["error"]["code"] == "service_busy"
    assert bookings_of(me.resident_id) == [] and int(w.fresh(s).booked) == 0


def test_resident_pages_walk_centre_department_day_slice(w):
    f = w.facility()
    w.template(f, capacity=1)
    me = w.resident()
    w.as_resident(me)
    page = w.client.get(f"/booking?facility={f.facility_id}").get_data(as_text=True)
    assert "全科门诊" in page
    page = w.client.get(f"/booking?facility={f.facility_id}&department=全科门诊").get_data(as_text=True)
    assert tomorrow().isoformat() in page
    page = w.client.get(f"/booking?facility={f.facility_id}&department=全科门诊&day={tomorrow()}").get_data(as_text=True)
    assert "08:00-09:00" in page and "余1" in page
    assert w.client.get(f"/booking?facility={f.facility_id}&department=全科门诊&day=2026-02-31").status_code == 422
