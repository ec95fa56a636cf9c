"""Scarce vaccines through HTTP → PynamoDB → moto: real-name requests, the draw, holds, stock."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import pytest

from backend.models.people import Uniqueness
from backend.models.vaccination import AllocationRequest, AllocationWindow
from backend.rules.allocation import draw_order
from backend.rules.booking import CHINA
from backend.services import allocation
from tests.test_children_http import make_parent


def csrf(person) -> str:
    return person.page_csrf("/")


def post(person, path, body):
    return person.client.post(path, json=body, headers={"X-CSRF-Token": csrf(person)})


def logout(person):
    person.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf(person)})


def window(person, **extra) -> dict:
    now = datetime.now(CHINA)
    body = {"vaccine_name": "流感疫苗", "facility_id": "twp-01", "stock": 4, "doses_per_person": 2,
            "mode": "lottery", "opens": (now - timedelta(hours=1)).isoformat(),
            "closes": (now + timedelta(hours=1)).isoformat(), "min_age": 18, "max_age": 80}
    body.update(extra)
    person.login_staff("county")
    r = post(person, "/api/allocation/windows", body)
    assert r.status_code == 201, r.get_json()
    logout(person)
    return r.get_json()


def ask(person, resident, window_id, request_id=None):
    person.login_resident(resident.phone)
    r = post(person, f"/api/allocation/windows/{window_id}/requests",
             {"subject_id": resident.resident_id,
              "client_request_id": request_id or uuid.uuid4().hex[:16]})
    logout(person)
    return r


@pytest.fixture()
def later(monkeypatch):
    """Move the allocation clock forward (the window closes; holds run out)."""
    def move(seconds: float):
        start = time.time()
        monkeypatch.setattr(allocation, "_now", lambda: start + seconds)
    return move


def test_lottery_real_name_requests_draw_and_a_second_draw_gives_the_same_result(person, later):
    w = window(person)
    people = [make_parent() for _ in range(5)]
    first = ask(person, people[0], w["window_id"], "retry-0000001")
    assert first.status_code == 201, first.get_json()
    again = ask(person, people[0], w["window_id"], "retry-0000001")      # a retried request
    assert again.get_json()["request_id"] == first.get_json()["request_id"]
    second = ask(person, people[0], w["window_id"])                      # a new one: refused
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "already_requested"
    for p in people[1:]:
        assert ask(person, p, w["window_id"]).status_code == 201
    assert len(list(AllocationRequest.query(w["window_id"]))) == 5

    # Residents never see stock.
    person.login_resident(people[0].phone)
    listed = person.client.get("/api/allocation/windows").get_json()["windows"]
    mine = next(x for x in listed if x["window_id"] == w["window_id"])
    assert not {"stock", "remaining", "seed", "winners"} & set(mine)
    logout(person)

    person.login_staff("county")
    early = post(person, f"/api/allocation/windows/{w['window_id']}/draw", {})
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "window_still_open"
    later(3 * 3600)
    drawn = post(person, f"/api/allocation/windows/{w['window_id']}/draw", {}).get_json()
    assert (drawn["state"], drawn["entries"], drawn["winners"], drawn["remaining"]) == \
        ("drawn", 5, 2, 0)                      # 4 doses, whole series of 2 each
    stored = AllocationWindow.get(w["window_id"])
    ids = [r.request_id for r in AllocationRequest.query(w["window_id"])]
    order = draw_order(stored.seed, ids)
    by_rank = list(AllocationRequest.by_rank.query(w["window_id"]))
    assert [r.request_id for r in by_rank] == order
    assert [r.status for r in by_rank] == ["won", "won", "lost", "lost", "lost"]
    twice = post(person, f"/api/allocation/windows/{w['window_id']}/draw", {}).get_json()
    assert twice["winners_digest"] == drawn["winners_digest"] and twice["remaining"] == 0
    check = person.client.get(f"/api/allocation/windows/{w['window_id']}/verify").get_json()
    assert check["same_result"] and check["commitment_matches"] and check["entries"] == 5
    below = post(person, f"/api/allocation/windows/{w['window_id']}/stock", {"delta": -1})
    assert below.status_code == 409 and below.get_json()["error"]["code"] == "stock_below_zero"
    assert AllocationWindow.get(w["window_id"]).remaining == 0
    logout(person)

    late = ask(person, make_parent(), w["window_id"])
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "window_closed"

    # A winner's hold runs out: the place goes to the next in draw order.
    later(3 * 3600 + 49 * 3600)
    result = allocation.release_expired()
    assert result == {"released": 2, "promoted": 2}
    statuses = [r.status for r in AllocationRequest.by_rank.query(w["window_id"])]
    assert statuses == ["expired", "expired", "won", "won", "lost"]
    assert AllocationWindow.get(w["window_id"]).remaining == 0


def test_queue_mode_never_oversells_and_waits_in_arrival_order(person, later):
    w = window(person, mode="queue", stock=2, doses_per_person=1, min_age=0)
    people = [make_parent() for _ in range(3)]
    codes = [ask(person, p, w["window_id"]).get_json()["status"] for p in people]
    assert codes == ["won", "won", "queued"]
    assert AllocationWindow.get(w["window_id"]).remaining == 0
    person.login_resident(people[0].phone)
    ok = post(person, f"/api/allocation/windows/{w['window_id']}/confirm",
              {"subject_id": people[0].resident_id})
    assert ok.status_code == 200 and ok.get_json()["status"] == "confirmed"
    logout(person)
    later(49 * 3600)                 # people[1] never confirmed
    assert allocation.release_expired() == {"released": 1, "promoted": 1}
    got = {r.resident_id: r.status for r in AllocationRequest.query(w["window_id"])}
    assert got == {people[0].resident_id: "confirmed", people[1].resident_id: "expired",
                   people[2].resident_id: "won"}
    assert AllocationWindow.get(w["window_id"]).remaining == 0


def test_who_may_request_for_whom(person):
    w = window(person, min_age=0)
    stranger, other = make_parent(), make_parent()
    person.login_resident(stranger.phone)
    r = post(person, f"/api/allocation/windows/{w['window_id']}/requests",
             {"subject_id": other.resident_id, "client_request_id": uuid.uuid4().hex[:16]})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_authorised"
    logout(person)
    # A village doctor books for a resident of the team who has no phone.
    no_phone = make_parent(with_phone=False)
    person.login_staff("doctor01")
    r = post(person, f"/api/allocation/windows/{w['window_id']}/requests",
             {"subject_id": no_phone.resident_id, "client_request_id": uuid.uuid4().hex[:16]})
    assert r.status_code == 201, r.get_json()
    assert Uniqueness.get(f"alloc#{w['window_id']}#{no_phone.id_number}").owner == \
        r.get_json()["request_id"]
    assert AllocationRequest.get(w["window_id"], r.get_json()["request_id"]).recipient == "s:doctor01"
    # ... but not for another team's resident
    elsewhere = make_parent(team="team-05", township="twp-03", with_phone=False)
    r = post(person, f"/api/allocation/windows/{w['window_id']}/requests",
             {"subject_id": elsewhere.resident_id, "client_request_id": uuid.uuid4().hex[:16]})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_resident"


def test_bad_windows_are_refused(person):
    person.login_staff("county")
    now = datetime.now(CHINA)
    base = {"vaccine_name": "流感疫苗", "facility_id": "twp-01", "stock": 10, "doses_per_person": 1,
            "mode": "lottery", "opens": now.isoformat(), "closes": (now + timedelta(hours=1)).isoformat()}
    for extra, code in (({"stock": -1}, "stock_below_zero"),
                        ({"closes": (now - timedelta(hours=1)).isoformat()}, "invalid_window"),
                        ({"facility_id": "hosp-01"}, "invalid_facility")):
        r = post(person, "/api/allocation/windows", {**base, **extra})
        assert r.status_code == 422 and r.get_json()["error"]["code"] == code
    logout(person)
    person.login_staff("admin-twp-01")
    assert post(person, "/api/allocation/windows", base).status_code == 403
