"""Booking round 2 through HTTP against the moto server: the several-exams page, picking whom
to book for, arrival buttons, and closing a day. Every failure reads the tables back."""
from __future__ import annotations

import html
import re
import uuid
from urllib.parse import quote
from datetime import timedelta

import pytest

from backend.models.base import utcnow
from backend.models.booking import Booking, WaitlistEntry
from backend.models.care import Contract
from backend.models.notices import Notice
from backend.services import schedules
from tests.test_booking import World, bookings_of, holds_of, rid, tomorrow


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def form_post(w, path, data):
    token = w.person.page_csrf("/")
    return w.client.post(path, data={"csrf_token": token, **data})


def hidden(page: str, name: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'name="{name}" value="([^"]*)"', page)]


def exam_hospital(w, capacity=1):
    h = w.facility(kind="hospital", departments=("内科", "超声", "CT", "胃镜"))
    for dept in ("超声", "CT"):
        w.template(h, department=dept, kind="exam", capacity=capacity, fee=0, referral_pct=0)
    return h


# ---- 1. several exams in one go --------------------------------------------------------------

def test_exam_page_books_several_exams_in_one_go(w):
    h = exam_hospital(w)
    me = w.resident()
    w.as_resident(me)
    days = w.client.get(f"/booking/exams?facility={h.facility_id}")
    assert days.status_code == 200
    assert tomorrow().isoformat() in days.get_data(as_text=True)
    pick = w.client.get(f"/booking/exams?facility={h.facility_id}&day={tomorrow()}").get_data(as_text=True)
    assert 'data-exam="超声"' in pick and 'data-exam="CT"' in pick and "余1" in pick
    us, ct = w.slot(h, department="超声"), w.slot(h, department="CT")
    review = w.client.get(f"/booking/exams?facility={h.facility_id}&day={tomorrow()}"
                          f"&exam1={quote(us.slot_id)}&exam2={quote(ct.slot_id)}").get_data(as_text=True)
    assert 'id="exam-confirm"' in review and "确认预约2项检查" in review
    assert sorted(hidden(review, "slot_id")) == sorted([us.slot_id, ct.slot_id])
    assert bookings_of(me.resident_id) == []  # reviewing books nothing
    request_id = hidden(review, "client_request_id")[0]
    data = {"slot_id": [us.slot_id, ct.slot_id], "subject_id": me.resident_id,
            "client_request_id": request_id, "facility": h.facility_id, "day": tomorrow().isoformat()}
    r = form_post(w, "/booking/exams/confirm", data)
    assert r.status_code == 303, r.get_data(as_text=True)
    done = w.client.get(r.headers["Location"]).get_data(as_text=True)
    assert "已预约2项检查" in done and "超声" in done and "CT" in done
    stored = bookings_of(me.resident_id)
    assert len(stored) == 2 and {b.department for b in stored} == {"超声", "CT"}
    assert len({b.group_id for b in stored}) == 1 and stored[0].group_id
    assert int(w.fresh(us).left_online) == 0 and int(w.fresh(ct).left_online) == 0
    # The same form sent again (a flaky network) books nothing twice.
    again = form_post(w, "/booking/exams/confirm", data)
    assert again.status_code == 303 and len(bookings_of(me.resident_id)) == 2


def test_exam_page_one_full_slice_books_nothing_and_says_so(w):
    h = exam_hospital(w)
    us, ct = w.slot(h, department="超声"), w.slot(h, department="CT")
    me, rival = w.resident(), w.resident()
    w.as_resident(me)
    review = w.client.get(f"/booking/exams?facility={h.facility_id}&day={tomorrow()}"
                          f"&exam1={quote(us.slot_id)}&exam2={quote(ct.slot_id)}").get_data(as_text=True)
    request_id = hidden(review, "client_request_id")[0]
    # Someone else takes the CT place while this person is on the confirm screen.
    w.as_resident(rival)
    assert w.book(ct.slot_id).status_code == 201
    w.as_resident(me)
    r = form_post(w, "/booking/exams/confirm",
                  {"slot_id": [us.slot_id, ct.slot_id], "subject_id": me.resident_id,
                   "client_request_id": request_id, "facility": h.facility_id,
                   "day": tomorrow().isoformat()})
    page = r.get_data(as_text=True)
    assert r.status_code == 409
    assert "「CT」08:00-09:00已约满" in page and "所选的2项检查都没有预约" in page
    assert 'data-code="slot_full"' in page
    # Back on the picking step, the ultrasound choice kept, the CT slice shown as full.
    assert 'data-exam="超声"' in page and "约满" in page
    assert bookings_of(me.resident_id) == []
    assert holds_of(me.resident_id, h.facility_id, "超声") == {}
    assert int(w.fresh(us).left_online) == 1 and int(w.fresh(us).booked) == 0
    assert int(w.fresh(ct).booked) == 1


def test_exam_page_refuses_nothing_chosen_and_non_exams(w):
    h = exam_hospital(w)
    w.template(h, department="内科", capacity=5, online_pct=80, referral_pct=20)
    me = w.resident()
    w.as_resident(me)
    r = w.client.get(f"/booking/exams?facility={h.facility_id}&day={tomorrow()}&exam1=&exam2=")
    assert r.status_code == 200 and "请至少选择一项检查" in r.get_data(as_text=True)
    clinic = w.slot(h, department="内科")
    bad = form_post(w, "/booking/exams/confirm",
                    {"slot_id": [clinic.slot_id], "subject_id": me.resident_id,
                     "client_request_id": rid(), "facility": h.facility_id, "day": tomorrow().isoformat()})
    assert bad.status_code == 422 and 'data-code="not_exam"' in bad.get_data(as_text=True)
    assert bookings_of(me.resident_id) == [] and int(w.fresh(clinic).booked) == 0
    assert w.client.get(f"/booking/exams?facility={h.facility_id}&exam1=nonsense").status_code == 422


def test_exam_page_defaults_to_the_lead_hospital(w, demo):
    me = w.resident()
    w.as_resident(me)
    page = w.client.get("/booking/exams").get_data(as_text=True)
    assert "hosp-01" in page or "县人民医院" in page
    assert 'id="exam-days"' in page


# ---- 2. whom to book for ---------------------------------------------------------------------

def contracted(w, team_id: str, name: str):
    r = w.resident(team_id=team_id)
    r.update(actions=[type(r).name.set(name)])
    today = schedules.today()
    Contract(r.resident_id, f"ctr-{uuid.uuid4().hex[:10]}", group_id=f"grp-{r.resident_id}",
             team_id=team_id, kind="individual", years=1, start=today.isoformat(),
             end=(today + timedelta(days=365)).isoformat(), status="active", channel="desk",
             signed_by="s:doctor01", signed_at=utcnow(), name=name, village_id=r.village_id,
             active_team=team_id, contact_key=f"0000-00-00#{r.resident_id}").save()
    return r


def test_family_doctor_picks_a_contracted_resident_from_the_team_list(w):
    f = w.facility()
    w.template(f, capacity=2)
    mine = contracted(w, "team-01", f"甲{uuid.uuid4().hex[:4]}")
    other = contracted(w, "team-02", f"乙{uuid.uuid4().hex[:4]}")
    moved = contracted(w, "team-01", f"丙{uuid.uuid4().hex[:4]}")
    moved.update(actions=[type(moved).team_id.set("team-02")])  # Resident.team_id decides
    w.person.login_staff("doctor01")
    page = w.client.get("/booking").get_data(as_text=True)
    assert 'id="for-select"' in page and "居民编号" not in page
    assert mine.name in page and f'value="{mine.resident_id}"' in page
    assert other.name not in page and moved.name not in page
    # Until someone is picked there is no booking button.
    day_page = w.client.get(f"/booking?facility={f.facility_id}&department=全科门诊&day={tomorrow()}")
    assert "请先选择就诊人" in day_page.get_data(as_text=True)
    chosen = w.client.get(f"/booking?facility={f.facility_id}&department=全科门诊&day={tomorrow()}"
                          f"&for={mine.resident_id}").get_data(as_text=True)
    assert f'name="subject_id" value="{mine.resident_id}"' in chosen and "预约</button>" in chosen
    s = w.slot(f)
    r = form_post(w, "/booking/confirm", {"slot_id": s.slot_id, "subject_id": mine.resident_id,
                                          "client_request_id": rid()})
    assert r.status_code == 303
    stored = bookings_of(mine.resident_id)
    assert len(stored) == 1 and stored[0].booker_login == "s:doctor01"
    denied = w.client.get(f"/booking?for={other.resident_id}")
    assert denied.status_code == 403 and bookings_of(other.resident_id) == []


def test_resident_sees_themself_and_the_people_who_authorised_them(w, demo):
    w.person.login_resident(demo.demo_resident["phone"])
    page = w.client.get("/booking").get_data(as_text=True)
    assert 'id="for-select"' in page
    assert 'value="res-000002"' in page and "（本人）" in page and "（代约）" in page
    stranger = w.resident()
    r = w.client.get(f"/booking?for={stranger.resident_id}")
    assert r.status_code == 403


# ---- 3. arrival / no-show buttons on the admin page -----------------------------------------

def test_admin_marks_arrival_and_no_show_with_buttons_for_their_own_facility_only(w):
    f = w.facility()
    w.template(f, capacity=3)
    s = w.slot(f)
    a, b = w.resident(), w.resident()
    ids = []
    for r in (a, b):
        w.as_resident(r)
        ids.append(w.book(s.slot_id).get_json()["bookings"][0]["booking_id"])
    w.as_admin(f)
    page = w.client.get(f"/admin/schedules?day={tomorrow()}").get_data(as_text=True)
    assert page.count("mark-arrived") == 2 and "mark-noshow" not in page  # not started yet
    assert f"/admin/schedules/bookings/{ids[0]}/attendance" in page
    # Without the CSRF token nothing happens.
    r = w.client.post(f"/admin/schedules/bookings/{ids[0]}/attendance",
                      data={"status": "arrived", "day": tomorrow().isoformat()})
    assert r.status_code in (400, 403)
    assert Booking.get(ids[0], consistent_read=True).status == "booked"
    # Arrived.
    r = form_post(w, f"/admin/schedules/bookings/{ids[0]}/attendance",
                  {"status": "arrived", "day": tomorrow().isoformat()})
    assert r.status_code == 303 and f"day={tomorrow()}" in r.headers["Location"]
    assert Booking.get(ids[0], consistent_read=True).status == "arrived"
    assert ids[0] not in holds_of(a.resident_id, f.facility_id, "全科门诊")
    # Too early for a no-show: a clear message, nothing written.
    r = form_post(w, f"/admin/schedules/bookings/{ids[1]}/attendance",
                  {"status": "no_show", "day": tomorrow().isoformat()})
    assert r.status_code == 409 and "就诊时间未到" in r.get_data(as_text=True)
    assert Booking.get(ids[1], consistent_read=True).status == "booked"
    # Once the time has passed the no-show button appears and works.
    Booking(ids[1]).update(actions=[Booking.starts_at.set(1)])
    page = w.client.get(f"/admin/schedules?day={tomorrow()}").get_data(as_text=True)
    assert page.count("mark-noshow") == 1 and "已到诊</span>" in page
    r = form_post(w, f"/admin/schedules/bookings/{ids[1]}/attendance",
                  {"status": "no_show", "day": tomorrow().isoformat()})
    assert r.status_code == 303
    assert Booking.get(ids[1], consistent_read=True).status == "no_show"
    # Another facility's admin can neither see nor mark these bookings.
    other = w.facility()
    w.as_admin(other)
    assert ids[0] not in w.client.get(f"/admin/schedules?day={tomorrow()}").get_data(as_text=True)
    c = w.resident()
    w.as_resident(c)
    cid = w.book(s.slot_id).get_json()["bookings"][0]["booking_id"]
    w.as_admin(other)
    r = form_post(w, f"/admin/schedules/bookings/{cid}/attendance",
                  {"status": "arrived", "day": tomorrow().isoformat()})
    assert r.status_code == 403 and "不是本机构的预约" in r.get_data(as_text=True)
    assert Booking.get(cid, consistent_read=True).status == "booked"


# ---- 4. closing a day (停诊) cancels and tells everyone booked ------------------------------

def notices_of(recipient: str, kind: str) -> list[Notice]:
    return [n for n in Notice.query(recipient, consistent_read=True) if n.kind == kind]


def test_closing_a_day_cancels_every_booking_returns_places_and_notifies_once(w, demo):
    f = w.facility()
    w.template(f, capacity=2, start="08:00", end="10:00", fee=300)
    w.template(f, department="慢病门诊", capacity=2, start="08:00", end="09:00")
    day = tomorrow()
    s8, s9 = w.slot(f), w.slot(f, start="09:00")
    other_dept = w.slot(f, department="慢病门诊")
    a, b, c = w.resident(), w.resident(), w.resident()
    ids = {}
    w.as_resident(a)
    ids["a"] = w.book(s8.slot_id).get_json()["bookings"][0]["booking_id"]
    w.as_resident(b)
    ids["b"] = w.book(s9.slot_id).get_json()["bookings"][0]["booking_id"]
    ids["b2"] = w.book(s8.slot_id).get_json()["bookings"][0]["booking_id"]  # full now at 08:00
    w.as_resident(c)
    ids["c"] = w.book(other_dept.slot_id).get_json()["bookings"][0]["booking_id"]  # not closed
    # A proxy booking for the elderly parent: both the parent and the proxy are told.
    w.person.login_resident(demo.demo_resident["phone"])
    ids["p"] = w.book(s9.slot_id, subject_id="res-000002").get_json()["bookings"][0]["booking_id"]
    # A waitlist for a full day is ended too.
    assert int(w.fresh(s8).left_online) == 0
    w.as_admin(f)
    r = w.post("/api/admin/close-day", {"department": "全科门诊", "day": day.isoformat()})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["closed"] == 2 and body["cancelled"] == 4
    for key in ("a", "b", "b2", "p"):
        stored = Booking.get(ids[key], consistent_read=True)
        assert stored.status == "cancelled" and stored.cancel_reason == "day_closed", key
        assert stored.changed_by == f"s:adm-{f.facility_id}"
    assert Booking.get(ids["c"], consistent_read=True).status == "booked"
    # Places accounted back on their channel, the slices stay closed.
    for s in (s8, s9):
        fresh = w.fresh(s)
        assert fresh.closed and int(fresh.booked) == 0 and int(fresh.left_online) == 2
        assert int(fresh.left_online) + int(fresh.left_desk) + int(fresh.held) + int(fresh.booked) == 2
    assert int(w.fresh(other_dept).booked) == 1 and not w.fresh(other_dept).closed
    assert holds_of(a.resident_id, f.facility_id, "全科门诊") == {}
    assert holds_of(b.resident_id, f.facility_id, "全科门诊") == {}
    # Everyone booked gets one urgent notice per booking; the proxy too.
    got_a = notices_of(f"res:{a.resident_id}", "day_closed")
    assert len(got_a) == 1 and got_a[0].urgent == "1" and "停诊" in got_a[0].title
    assert day.isoformat() in got_a[0].body and "08:00" in got_a[0].body
    assert len(notices_of(f"res:{b.resident_id}", "day_closed")) == 2
    assert len(notices_of(f"res:{c.resident_id}", "day_closed")) == 0
    parent = [n for n in notices_of("res:res-000002", "day_closed") if day.isoformat() in n.body
              and f.name in n.body]
    proxy = [n for n in notices_of(f"res:{demo.demo_resident['resident_id']}", "day_closed")
             if f.name in n.body]
    assert len(parent) == 1 and len(proxy) == 1
    # Closing again (a retry) cancels nothing twice and sends nothing twice.
    again = w.post("/api/admin/close-day", {"department": "全科门诊", "day": day.isoformat()})
    assert again.status_code == 200 and again.get_json()["notified"] == 0
    assert len(notices_of(f"res:{a.resident_id}", "day_closed")) == 1
    assert int(w.fresh(s8).left_online) == 2 and int(w.fresh(s8).booked) == 0
    # Nobody can book the closed day, and the cancelled booking shows why.
    w.as_resident(a)
    r = w.book(s8.slot_id)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "day_closed"
    assert "停诊" in w.client.get(f"/booking/{ids['a']}").get_data(as_text=True)


def test_closing_a_day_ends_its_waitlist_and_returns_a_held_place(w):
    f = w.facility()
    w.template(f, capacity=1, start="08:00", end="09:00")
    s = w.slot(f)
    holder, waiting, next_ = w.resident(), w.resident(), w.resident()
    w.as_resident(holder)
    bid = w.book(s.slot_id).get_json()["bookings"][0]["booking_id"]
    for r in (waiting, next_):
        w.as_resident(r)
        assert w.post("/api/waitlist", {"facility_id": f.facility_id, "department": "全科门诊",
                                        "day": tomorrow().isoformat()}).status_code == 201
    w.as_resident(holder)
    assert w.post(f"/api/bookings/{bid}/cancel").status_code == 200  # offered to `waiting`
    assert int(w.fresh(s).held) == 1
    w.as_admin(f)
    r = w.post("/api/admin/close-day", {"department": "全科门诊", "day": tomorrow().isoformat()})
    assert r.status_code == 200 and r.get_json()["waitlist_closed"] == 2
    fresh = w.fresh(s)
    assert int(fresh.held) == 0 and int(fresh.left_online) == 1 and int(fresh.booked) == 0
    entries = list(WaitlistEntry.query(f"{f.facility_id}#全科门诊#{tomorrow()}", consistent_read=True))
    assert sorted(e.status for e in entries) == ["closed", "closed"]
    assert len(notices_of(f"res:{next_.resident_id}", "day_closed")) == 1


def test_closing_a_past_day_is_refused(w):
    f = w.facility()
    w.template(f, capacity=1)
    w.as_admin(f)
    r = w.post("/api/admin/close-day", {"department": "全科门诊",
                                        "day": (schedules.today() - timedelta(days=1)).isoformat()})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "day_past"
