"""Every kind of notice the app sends links to a page that opens (200) for its recipient,
through HTTP against the moto server: each notice is made by the flow that really sends it,
then opened from the inbox (POST /notices/<id>/open) as the recipient. The waitlist offer is
followed to the end: open the link, accept, the booking exists."""
from __future__ import annotations

import html
import random
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.models.account import Account
from backend.models.base import utcnow
from backend.models.booking import Booking, WaitlistEntry
from backend.models.care import Contract
from backend.models.notices import Notice
from backend.models.people import ProxyGrant, Resident
from backend.rules.booking import CHINA
from backend.services import allocation, schedules
from tests.test_booking import World, booked, bookings_of, tomorrow
from tests.test_care_http import DESK_CONSENT, make_resident

# Where notices are sent from: every `notify(..., kind="...")` and `NoticeRequest(recipient, "...")`.
SENDERS = re.compile(r'notify\.notify\([^;]*?kind="([a-z_]+)"|NoticeRequest\(\s*[^,()]+(?:\([^()]*\))?,'
                     r'\s*(?:kind=)?"([a-z_]+)"', re.S)


def kinds_sent() -> set[str]:
    root = Path(__file__).resolve().parents[1] / "backend"
    found = set()
    for path in root.rglob("*.py"):
        for m in SENDERS.finditer(path.read_text(encoding="utf-8")):
            found.add(m.group(1) or m.group(2))
    return found


@pytest.fixture()
def w(app, client, person):
    return World(app, client, person)


def resident_who_logs_in(**kw) -> Resident:
    """A contractable resident (twp-01, doctor01's area) with a phone and an account."""
    phone = f"136{random.randint(0, 99999999):08d}"
    r = make_resident(phone=phone, **kw)
    Account(f"m:{phone}", role="resident", display_name=r.name, resident_id=r.resident_id,
            created_at=utcnow()).save()
    return r


def latest(recipient: str, kind: str) -> Notice:
    found = [n for n in Notice.query(recipient, scan_index_forward=False, consistent_read=True)
             if n.kind == kind]
    assert found, f"no {kind} notice for {recipient}"
    return found[0]


def opens(w, recipient: str, kind: str) -> tuple[Notice, str]:
    """Open the newest `kind` notice from the inbox as its (logged-in) recipient."""
    notice = latest(recipient, kind)
    token = w.person.page_csrf("/notices")
    r = w.client.post(f"/notices/{notice.notice_id}/open", data={"csrf_token": token})
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    target = r.headers["Location"]
    assert target == notice.url, (target, notice.url)
    page = w.client.get(target, follow_redirects=True)   # a page may send on to its anchor
    assert page.status_code == 200, (kind, target, page.status_code, page.get_data(as_text=True)[:300])
    return notice, page.get_data(as_text=True)


def past(booking_id: str) -> None:
    """The appointment's time has passed (rewrite the time) so the desk may mark it."""
    Booking(booking_id).update(actions=[Booking.starts_at.set(1)])


# ---- booking notices ---------------------------------------------------------------------

def test_slot_offer_link_opens_and_the_recipient_takes_the_place(w):
    f = w.facility()
    w.template(f, capacity=1, start="08:00", end="09:00")
    first, second = w.resident(), w.resident()
    s = w.slot(f)
    w.as_resident(first)
    taken = w.book(s.slot_id).get_json()["bookings"][0]["booking_id"]
    w.as_resident(second)
    assert w.post("/api/waitlist", {"facility_id": f.facility_id, "department": "全科门诊",
                                    "day": tomorrow().isoformat()}).status_code == 201
    w.as_resident(first)
    assert w.post(f"/api/bookings/{taken}/cancel").status_code == 200
    w.as_resident(second)
    notice, page = opens(w, f"res:{second.resident_id}", "slot_offer")
    assert "#" not in notice.url
    # The page is the offer of this entry; accept it with the page's own form.
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', page))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    entry = WaitlistEntry.get(fields["list_key"], fields["entry_id"], consistent_read=True)
    assert entry.subject_id == second.resident_id and entry.status == "offered"
    r = w.client.post("/booking/offer", data={**fields, "action": "accept"})
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    done = w.client.get(r.headers["Location"])
    assert done.status_code == 200
    [mine] = bookings_of(second.resident_id)
    assert mine.status == "booked" and mine.slot_id == s.slot_id
    assert mine.booking_id in r.headers["Location"]
    assert WaitlistEntry.get(entry.list_key, entry.entry_id, consistent_read=True).status == "booked"


def test_day_closed_links_open_for_the_booked_and_the_waiting(w):
    f = w.facility()
    w.template(f, capacity=1, start="08:00", end="09:00")
    booked_one, waiting = w.resident(), w.resident()
    w.as_resident(booked_one)
    assert booked(w.book(w.slot(f).slot_id))
    w.as_resident(waiting)
    assert w.post("/api/waitlist", {"facility_id": f.facility_id, "department": "全科门诊",
                                    "day": tomorrow().isoformat()}).status_code == 201
    w.as_admin(f)
    assert w.post("/api/admin/close-day", {"department": "全科门诊", "day": tomorrow().isoformat()}
                  ).status_code == 200
    for who in (booked_one, waiting):
        w.as_resident(who)
        opens(w, f"res:{who.resident_id}", "day_closed")


def test_noshow_warning_booking_paused_and_rating_links_open(w):
    f = w.facility()
    w.template(f, capacity=5, start="08:00", end="11:00")
    assert w.post("/api/admin/policy", {"noshow_limit": 1}).status_code == 200
    son, father, young = w.resident(age=45), w.resident(age=80), w.resident(age=30)
    ProxyGrant(son.resident_id, father.resident_id, relation="子女", granted_at=utcnow()).save()
    w.as_resident(son)
    for_father = w.book(w.slot(f).slot_id, subject_id=father.resident_id).get_json()["bookings"][0]
    w.as_resident(young)
    missed = w.book(w.slot(f).slot_id).get_json()["bookings"][0]
    came = w.book(w.slot(f, start="09:00").slot_id).get_json()["bookings"][0]
    for b in (for_father, missed, came):
        past(b["booking_id"])
    w.as_admin(f)
    for b, status in ((for_father, "no_show"), (came, "arrived"), (missed, "no_show")):
        r = w.post(f"/api/admin/bookings/{b['booking_id']}/attendance", {"status": status})
        assert r.status_code == 200, r.get_json()
    w.as_resident(son)
    _, page = opens(w, f"res:{son.resident_id}", "noshow_warning")
    assert father.name in page
    w.as_resident(young)
    opens(w, f"res:{young.resident_id}", "booking_paused")
    opens(w, f"res:{young.resident_id}", "rate_service")


def test_appointment_reminder_link_opens(w):
    from backend.services import reminders
    from backend.services.booking import BookingAppointments
    f = w.facility()
    w.template(f, capacity=2)
    me = w.resident()
    w.as_resident(me)
    assert booked(w.book(w.slot(f).slot_id))
    reminders.send_day_before(schedules.today(), sources=[BookingAppointments()])
    _, page = opens(w, f"res:{me.resident_id}", "appointment_reminder")
    assert f.name in page


# ---- family doctor and vaccination notices ------------------------------------------------

@pytest.fixture()
def doctor(app):
    from tests.conftest import Browserless
    d = Browserless(app, app.test_client())
    d.login_staff("doctor01")
    return d


def doctor_post(doctor, path, body):
    return doctor.client.post(path, json=body, headers={"X-CSRF-Token": doctor.page_csrf()})


def test_contract_and_referral_links_open(w, doctor):
    from backend.services import contracts
    me = resident_who_logs_in(conditions=("hypertension",))
    r = doctor_post(doctor, "/api/contracts/offers", {"resident_ids": [me.resident_id],
                                                      "kind": "individual", "years": 1})
    assert r.status_code == 201, r.get_json()
    w.as_resident(me)
    _, page = opens(w, f"res:{me.resident_id}", "contract_offer")
    assert 'id="offer-form"' in page
    r = doctor_post(doctor, "/api/contracts", {"resident_ids": [me.resident_id], "kind": "individual",
                                               "years": 1, "channel": "desk", **DESK_CONSENT})
    assert r.status_code == 201, r.get_json()
    opens(w, f"res:{me.resident_id}", "contract_signed")
    # Thirty days before it ends (move the end date there), the renewal reminder.
    [c] = [c for c in Contract.query(me.resident_id, consistent_read=True) if c.status == "active"]
    day = schedules.today() + timedelta(days=30)
    c.update(actions=[Contract.end.set(day.isoformat())])
    contracts.send_renewal_reminders(schedules.today())
    opens(w, f"res:{me.resident_id}", "contract_renewal")
    r = doctor_post(doctor, f"/api/care/residents/{me.resident_id}/referrals",
                    {"reason": "血压控制不佳，转上级医院专科", "disease": "hypertension",
                     "department": "内科", "urgent": True})
    assert r.status_code == 201, r.get_json()
    w.as_resident(me)
    notice, _ = opens(w, f"res:{me.resident_id}", "referral_booked")
    assert Booking.get(notice.url.rsplit("/", 1)[1]).subject_id == me.resident_id


def test_followup_digest_link_opens_for_the_team_member(w):
    from backend.services import followups
    # A day far ahead: every case of doctor01's team is overdue by then (and the dedupe key is new).
    day = schedules.today() + timedelta(days=random.randint(2000, 20000))
    followups.send_due_digests(day)
    w.person.login_staff("doctor01")
    opens(w, "s:doctor01", "followup_due")


def test_vaccine_due_link_opens_for_the_winner(w, monkeypatch):
    from tests.test_children_http import make_parent
    now = datetime.now(CHINA)
    w.person.login_staff("county")
    r = w.post("/api/allocation/windows", {
        "vaccine_name": "流感疫苗", "facility_id": "twp-01", "stock": 2, "doses_per_person": 2,
        "mode": "lottery", "opens": (now - timedelta(hours=1)).isoformat(),
        "closes": (now + timedelta(hours=1)).isoformat(), "min_age": 18, "max_age": 80})
    assert r.status_code == 201, r.get_json()
    window_id = r.get_json()["window_id"]
    winner = make_parent()
    w.person.login_resident(winner.phone)
    r = w.post(f"/api/allocation/windows/{window_id}/requests",
               {"subject_id": winner.resident_id, "client_request_id": uuid.uuid4().hex[:16]})
    assert r.status_code == 201, r.get_json()
    start = time.time()
    monkeypatch.setattr(allocation, "_now", lambda: start + 3 * 3600)   # the window has closed
    w.person.login_staff("county")
    assert w.post(f"/api/allocation/windows/{window_id}/draw", {}).status_code == 200
    w.person.login_resident(winner.phone)
    _, page = opens(w, f"res:{winner.resident_id}", "vaccine_due")
    assert window_id in page
    # The winner confirms (so no hold of this window is left to run out for other tests).
    r = w.post(f"/api/allocation/windows/{window_id}/confirm", {"subject_id": winner.resident_id})
    assert r.status_code in (200, 201), r.get_json()


COVERED = {"slot_offer", "day_closed", "noshow_warning", "booking_paused", "rate_service",
           "appointment_reminder", "contract_offer", "contract_signed", "contract_renewal",
           "referral_booked", "followup_due", "vaccine_due"}


def test_every_kind_the_app_sends_is_opened_above():
    assert kinds_sent() == COVERED
