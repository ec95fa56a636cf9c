"""Children in a household and their vaccination book, through HTTP → PynamoDB → moto."""
from __future__ import annotations

import random
import re
import uuid
from datetime import timedelta

import pytest
from pynamodb.exceptions import DoesNotExist

from backend.models.account import Account
from backend.models.audit import AuditEvent
from backend.models.base import new_id, utcnow
from backend.models.people import ProxyGrant, Resident, Uniqueness
from backend.models.vaccination import VaccinationDose
from backend.services.care_common import local_today
from backend.services.residents import create_resident
from infra.seed import make_id_number

_rng = random.Random()


def make_parent(*, team="team-01", township="twp-01", with_phone=True) -> Resident:
    """A fresh adult with a phone account (or no phone at all), contracted to `team`."""
    today = local_today()
    while True:
        born = today - timedelta(days=32 * 365 + _rng.randint(0, 300))
        idno = make_id_number(born, _rng.randint(0, 499), _rng.random() < 0.5)
        phone = f"137{_rng.randint(0, 99_999_999):08d}"
        try:
            r = create_resident(resident_id=f"t-{new_id()}", id_number=idno, name="家长" + idno[-4:],
                                phone=phone if with_phone else None, household_id=f"hh-t-{new_id()}",
                                village_id="vil-twp-01-02", township_id=township, team_id=team)
        except Exception as err:
            if getattr(err, "code", "") == "duplicate_id_number":
                continue
            raise
        if not with_phone:
            return r
        Account(f"m:{phone}", role="resident", display_name=r.name, resident_id=r.resident_id,
                created_at=utcnow()).save()
        return r


def child_id_number(days_old: int, female: bool) -> str:
    born = local_today() - timedelta(days=days_old)
    return make_id_number(born, _rng.randint(0, 499), not female)


def csrf(person) -> str:
    return person.page_csrf("/")


def post(person, path, body):
    return person.client.post(path, json=body, headers={"X-CSRF-Token": csrf(person)})


def logout_of(person) -> None:
    person.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf(person)})


def rid() -> str:
    return uuid.uuid4().hex[:16]


@pytest.fixture()
def parent(person):
    p = make_parent()
    person.login_resident(p.phone)
    return p


def add_child(person, **extra):
    body = {"name": "小明", "relation": "母亲", "client_request_id": rid()}
    body.update(extra)
    return post(person, "/api/children", body)


def test_a_parent_adds_a_child_without_an_identity_number_and_is_authorised(person, parent):
    born = (local_today() - timedelta(days=40)).isoformat()
    body = {"name": "小雨", "relation": "母亲", "client_request_id": rid(), "birth_date": born,
            "sex": "F"}
    r = post(person, "/api/children", body)
    assert r.status_code == 201, r.get_json()
    child = Resident.get(r.get_json()["resident_id"])
    assert (child.household_id, child.village_id, child.team_id) == \
        (parent.household_id, parent.village_id, parent.team_id)
    assert (child.birth_date, child.sex, child.id_number) == (born, "F", "")
    assert ProxyGrant.get(parent.resident_id, child.resident_id).relation == "母亲"
    assert any(e.what == "child" for e in AuditEvent.query(child.resident_id))
    # A retried request (same id) returns the same child and writes nothing more.
    again = post(person, "/api/children", body)
    assert again.status_code == 201 and again.get_json()["resident_id"] == child.resident_id
    assert [g.subject_id for g in ProxyGrant.query(parent.resident_id)] == [child.resident_id]
    listed = person.client.get("/api/children").get_json()["children"]
    assert [c["name"] for c in listed] == ["小雨"]
    assert re.search(r"周[一二三四五六日]", listed[0]["birth_date_text"])


def test_a_child_with_an_identity_number_takes_birth_date_and_sex_from_it(person, parent):
    idno = child_id_number(400, female=False)
    r = add_child(person, id_number=idno)
    assert r.status_code == 201, r.get_json()
    child = Resident.get(r.get_json()["resident_id"])
    assert child.sex == "M" and child.birth_date == (local_today() - timedelta(days=400)).isoformat()
    assert Uniqueness.get(f"idno#{idno}").owner == child.resident_id
    assert r.get_json()["id_number"] != idno        # masked
    dup = add_child(person, id_number=idno)
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "duplicate_id_number"


@pytest.mark.parametrize("extra,code", [
    ({"birth_date": "2099-01-01", "sex": "M"}, "birth_in_future"),
    ({"birth_date": "2001-01-01", "sex": "M"}, "not_a_child"),
    ({"id_number": "150823202001019999"}, "invalid_id_number"),
    ({}, "birth_date_required"),
    ({"birth_date": "2026-01-01", "sex": "M", "relation": "邻居"}, "invalid_relation"),
])
def test_bad_children_are_refused_and_nothing_is_written(person, parent, extra, code):
    request_id = rid()
    body = {"name": "小明", "relation": "父亲", "client_request_id": request_id, **extra}
    r = post(person, "/api/children", body)
    assert r.status_code in (422, 400), r.get_json()
    assert r.get_json()["error"]["code"] == code
    with pytest.raises(DoesNotExist):
        Uniqueness.get(f"childreq#m:{parent.phone}#{request_id}")
    assert list(ProxyGrant.query(parent.resident_id)) == []


def test_another_parent_cannot_open_the_childs_book(app, person, parent):
    child = add_child(person, birth_date="2026-01-05", sex="M").get_json()["resident_id"]
    other = make_parent()
    person.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf(person)})
    person.login_resident(other.phone)
    r = person.client.get(f"/api/children/{child}")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_authorised"
    assert person.client.get(f"/children/{child}").status_code == 403


def test_staff_add_a_child_to_a_household_of_their_team_only(person):
    mother = make_parent(team="team-01")
    person.login_staff("doctor01")
    r = add_child(person, birth_date="2026-10-01", sex="F", parent_id=mother.resident_id)
    assert r.status_code == 201, r.get_json()
    assert ProxyGrant.get(mother.resident_id, r.get_json()["resident_id"])
    stranger = make_parent(team="team-05", township="twp-03")
    r = add_child(person, birth_date="2026-10-01", sex="F", parent_id=stranger.resident_id)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_resident"


# ---- vaccination records ------------------------------------------------------------------

@pytest.fixture()
def baby(person, parent):
    """A girl of 70 days in the parent's household; the session is then the vaccinator's."""
    born = local_today() - timedelta(days=70)
    r = add_child(person, name="小花", birth_date=born.isoformat(), sex="F")
    child = r.get_json()["resident_id"]
    person.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf(person)})
    person.login_staff("doctor01")     # works at 乌兰镇卫生院 (a vaccinating centre)
    return {"id": child, "born": born, "parent": parent}


def dose(vaccine, n, on, **extra):
    body = {"vaccine": vaccine, "dose": n, "given_on": on.isoformat(), "batch": "202611A",
            "manufacturer": "北京生物", "body_site": "右上臂三角肌"}
    body.update(extra)
    return body


def test_staff_record_doses_and_the_plan_moves_on(person, baby):
    r = post(person, f"/api/children/{baby['id']}/doses", dose("HepB", 1, baby["born"]))
    assert r.status_code == 201, r.get_json()
    stored = VaccinationDose.get(baby["id"], "HepB#1")
    assert (stored.batch, stored.manufacturer, stored.body_site, stored.facility_name) == \
        ("202611A", "北京生物", "右上臂三角肌", "乌兰镇卫生院")
    assert stored.given_by_login == "s:doctor01" and stored.given_on == baby["born"].isoformat()
    book = person.client.get(f"/api/children/{baby['id']}").get_json()
    due = {(d["vaccine"], d["dose"]) for d in book["due"] + book["overdue"]}
    assert ("HepB", 2) in due and ("HepB", 1) not in due
    assert [g["vaccine"] for g in book["given"]] == ["HepB"]
    assert any(e.what == "child.vaccination_book" and e.actor == "s:doctor01"
               for e in AuditEvent.query(baby["id"]))


@pytest.mark.parametrize("body_of,code", [
    (lambda b: dose("MMR", 1, b + timedelta(days=60)), "below_minimum_age"),
    (lambda b: dose("Rabies", 1, b + timedelta(days=60)), "vaccine_not_in_schedule"),
    (lambda b: dose("HepB", 2, b + timedelta(days=40)), "previous_dose_missing"),
    (lambda b: dose("HepB", 1, local_today() + timedelta(days=1)), "given_in_future"),
])
def test_doses_that_break_the_schedule_are_refused(person, baby, body_of, code):
    r = post(person, f"/api/children/{baby['id']}/doses", body_of(baby["born"]))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == code
    assert list(VaccinationDose.query(baby["id"])) == []


def test_a_dose_twice_or_too_soon_is_refused(person, baby):
    born = baby["born"]
    assert post(person, f"/api/children/{baby['id']}/doses", dose("HepB", 1, born)).status_code == 201
    twice = post(person, f"/api/children/{baby['id']}/doses", dose("HepB", 1, born))
    assert twice.get_json()["error"]["code"] == "dose_already_given"
    soon = post(person, f"/api/children/{baby['id']}/doses", dose("HepB", 2, born + timedelta(days=20)))
    assert soon.status_code == 422 and soon.get_json()["error"]["code"] == "below_minimum_age"
    ok = post(person, f"/api/children/{baby['id']}/doses", dose("HepB", 2, born + timedelta(days=28)))
    assert ok.status_code == 201
    assert [d.dose_key for d in VaccinationDose.query(baby["id"])] == ["HepB#1", "HepB#2"]


def test_parents_cannot_record_doses(person, parent):
    child = add_child(person, birth_date="2026-06-01", sex="M").get_json()["resident_id"]
    r = post(person, f"/api/children/{child}/doses", dose("HepB", 1, local_today()))
    assert r.status_code == 403


def test_the_parent_sees_the_book_with_weekdays(person, baby):
    post(person, f"/api/children/{baby['id']}/doses", dose("HepB", 1, baby["born"]))
    post(person, f"/api/children/{baby['id']}/doses", dose("BCG", 1, baby["born"]))
    person.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf(person)})
    person.login_resident(baby["parent"].phone)
    html = person.client.get(f"/children/{baby['id']}").get_data(as_text=True)
    assert "小花的接种本" in html and "卡介苗 第1剂" in html and "批号 202611A" in html
    born = baby["born"]
    weekday = "一二三四五六日"[born.weekday()]
    assert f"{born.year}年{born.month}月{born.day}日 周{weekday}" in html
    assert "现在该种" in html and "脊灰灭活疫苗 第1剂" in html   # IPV 1 at 2 months
    assert "新生儿家庭访视" not in html                            # past 28 days: dropped
