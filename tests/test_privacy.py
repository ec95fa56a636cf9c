"""Privacy notice and separate consent to health data, through HTTP (PIPL arts. 13-17, 28-29)."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest

from backend.models.account import Account
from backend.models.base import utcnow
from backend.models.booking import Booking
from backend.models.people import ProxyGrant, Resident
from backend.models.privacy import PrivacyConsent
from backend.rules.privacy import PRIVACY_VERSION


def new_resident(*, phone: bool = True) -> Resident:
    from infra.seed import make_id_number
    rid = f"rp{uuid.uuid4().hex[:12]}"
    born = utcnow().date() - timedelta(days=40 * 365)
    r = Resident(rid, id_number=make_id_number(born, random.randint(0, 499), True), name="李秀兰",
                 sex="F", birth_date=born.isoformat(),
                 phone=f"136{random.randrange(10**8):08d}" if phone else None,
                 household_id=f"hh-{rid}", village_id="vil-twp-01-01", township_id="twp-01",
                 created_at=utcnow())
    r.save()
    if phone:
        Account(f"m:{r.phone}", role="resident", display_name=r.name, resident_id=rid,
                created_at=utcnow()).save()
    return r


def consent(client, token, **over):
    body = {"version": PRIVACY_VERSION, "notice_read": True, "health_data": True, **over}
    return client.post("/api/privacy/consent", json=body, headers={"X-CSRF-Token": token})


def test_first_login_shows_the_notice_and_nothing_with_health_data_until_consent(person, client):
    r = new_resident()
    me = person.login_resident(r.phone, consent=False)
    home = client.get("/")
    assert home.status_code == 303 and home.location.startswith("/privacy/consent")
    page = client.get(home.location).get_data(as_text=True)
    for words in ("收集什么", "为什么", "谁能看到", "保存多久", "如何撤回", "单独同意"):
        assert words in page
    blocked = client.get(f"/api/residents/{r.resident_id}")
    assert blocked.status_code == 403 and blocked.get_json()["error"]["code"] == "consent_required"
    assert client.get("/api/notices").status_code == 200        # the inbox stays reachable
    assert client.get("/api/privacy/consent").get_json()["state"] == "missing"

    refused = consent(client, me["csrf_token"], health_data=False)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "health_consent_required"
    stale = consent(client, me["csrf_token"], version="2020-01-01")
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "notice_changed"
    assert PrivacyConsent.count(r.resident_id) == 0             # nothing half-written

    ok = consent(client, me["csrf_token"])
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["state"] == "granted" and body["notice_version"] == PRIVACY_VERSION and body["at"]
    stored = PrivacyConsent.get(r.resident_id, "current")
    assert stored.health_data and stored.by_login == f"m:{r.phone}" and stored.proxy_id is None
    assert [e.action for e in PrivacyConsent.query(r.resident_id, PrivacyConsent.entry.startswith("event#"))] == ["granted"]
    assert client.get(f"/api/residents/{r.resident_id}").status_code == 200
    assert client.get("/").status_code == 200


def test_the_consent_form_without_javascript(person, client):
    r = new_resident()
    me = person.login_resident(r.phone, consent=False)
    r1 = client.post("/privacy/consent", data={"csrf_token": me["csrf_token"], "version": PRIVACY_VERSION,
                                               "notice_read": "1", "next": "/booking"})
    assert r1.status_code == 422 and "单独同意" in r1.get_data(as_text=True)
    r2 = client.post("/privacy/consent", data={"csrf_token": me["csrf_token"], "version": PRIVACY_VERSION,
                                               "notice_read": "1", "health_data": "1", "next": "//evil.example"})
    assert r2.status_code == 303 and r2.location == "/"


def test_a_proxys_consent_for_an_elderly_relative_is_recorded_as_such(person, client):
    son, mother = new_resident(), new_resident(phone=False)
    ProxyGrant(son.resident_id, mother.resident_id, relation="子女", granted_at=utcnow()).save()
    stranger = new_resident(phone=False)
    me = person.login_resident(son.phone, consent=False)
    assert mother.name in client.get("/privacy/consent").get_data(as_text=True)
    bad = consent(client, me["csrf_token"], relatives=[stranger.resident_id])
    assert bad.status_code == 403 and bad.get_json()["error"]["code"] == "not_your_relative"
    assert consent(client, me["csrf_token"], relatives=[mother.resident_id]).status_code == 200
    hers = PrivacyConsent.get(mother.resident_id, "current")
    assert (hers.proxy_id, hers.relation, hers.by_login) == (son.resident_id, "子女", f"m:{son.phone}")
    assert PrivacyConsent.get(son.resident_id, "current").proxy_id is None


@pytest.fixture()
def booked(app, client, person):
    """A resident with consent and one open booking (through the booking API)."""
    from tests.test_booking import World, tomorrow
    w = World(app, client, person)
    f = w.facility()
    w.template(f)
    r = w.resident()
    w.as_resident(r)
    s = w.slot(f, day=tomorrow())
    res = w.book(s.slot_id)
    assert res.status_code == 201, res.get_json()
    return r, res.get_json()["bookings"][0]["booking_id"], w


def test_withdrawal_with_open_bookings_asks_first_then_cancels_them(booked, client, person):
    r, booking_id, w = booked
    token = person.page_csrf("/privacy/consent")
    ask = client.post("/api/privacy/withdraw", json={}, headers={"X-CSRF-Token": token})
    assert ask.status_code == 409 and ask.get_json()["error"]["code"] == "open_bookings"
    assert "1个未就诊的预约" in ask.get_json()["error"]["message"]
    assert Booking.get(booking_id).status == "booked"
    assert PrivacyConsent.get(r.resident_id, "current").health_data    # nothing changed
    page = client.post("/privacy/withdraw", data={"csrf_token": token})
    assert page.status_code == 409 and "以下预约将被取消" in page.get_data(as_text=True)

    done = client.post("/api/privacy/withdraw", json={"cancel_open_bookings": True},
                       headers={"X-CSRF-Token": token})
    assert done.status_code == 200 and done.get_json()["state"] == "withdrawn"
    assert Booking.get(booking_id).status == "cancelled"
    state = PrivacyConsent.get(r.resident_id, "current")
    assert not state.health_data and state.cancelled_bookings == booking_id
    assert [e.action for e in PrivacyConsent.query(r.resident_id, PrivacyConsent.entry.startswith("event#"))] \
        == ["granted", "withdrawn"]
    again = client.post("/api/bookings", json={"slot_id": "any", "client_request_id": "r-12345678"},
                        headers={"X-CSRF-Token": token})
    assert again.status_code == 403 and again.get_json()["error"]["code"] == "consent_required"
    assert client.get("/privacy/consent").status_code == 200


def test_after_withdrawal_notices_stay_in_the_inbox_only(app, client, person):
    r = new_resident()
    me = person.login_resident(r.phone)
    assert client.post("/api/privacy/withdraw", json={}, headers={"X-CSRF-Token": me["csrf_token"]}).status_code == 200
    from backend.services import notify
    with app.app_context():
        n = notify.notify(notify.resident_recipient(r.resident_id), kind="day_closed", title="停诊通知",
                          body="…", urgent=True)
    stored = type(n).get(n.recipient, n.notice_id)
    assert [d.channel for d in stored.deliveries] == ["inbox"] and stored.text_state is None
