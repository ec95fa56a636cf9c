"""Registration (建档) and households through HTTP → Flask → PynamoDB → the local server."""
from __future__ import annotations

import random
from datetime import date

import pytest
from pynamodb.exceptions import DoesNotExist

from backend.models.audit import AuditEvent
from backend.models.facility import Facility
from backend.models.people import Resident, Uniqueness
from backend.models.registry import Household, SearchKey
from infra.seed import make_id_number
from tests.test_care_http import doctor, post, sign_desk  # noqa: F401  (module fixture)

_rng = random.Random()
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
SURNAMES = "钟赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦许何吕施张孔曹严华金魏陶姜"
GIVEN = "静宝明华建国秀英桂兰玉梅志强海燕春生冬梅红霞军平"


def fresh_id(age: int = 40) -> str:
    born = date(date.today().year - age, _rng.randint(1, 12), _rng.randint(1, 28))
    return make_id_number(born, _rng.randint(500, 999), _rng.random() < 0.5)


def fresh_name() -> str:
    return _rng.choice(SURNAMES) + "".join(_rng.choice(GIVEN) for _ in range(2))


def register(person, **body):
    body = {"id_number": fresh_id(), "name": fresh_name(), "village_id": "vil-twp-01-04", **body}
    return post(person, "/api/residents", body)


@pytest.fixture()
def other_centre(app):
    """A doctor of another township (twp-02)."""
    from tests.conftest import Browserless
    d = Browserless(app, app.test_client())
    d.login_staff("doctor03")
    assert d.client.get("/api/me").get_json()["team_id"] != "team-01"
    return d


def test_register_opens_a_household_claims_the_number_and_indexes_the_name(doctor):
    idno = fresh_id(age=70)
    resp = register(doctor, id_number=idno.lower(), name="钟静宝", phone="139 0000 1234",
                    conditions=["hypertension"])
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()["resident"]
    assert out["village"] == Facility.get("vil-twp-01-04").name
    r = Resident.get(out["resident_id"])
    assert (r.id_number, r.phone, r.household_relation) == (idno.upper(), "13900001234", "户主")
    assert r.sex == ("M" if int(idno[16]) % 2 else "F") and r.birth_date[:4] == idno[6:10]
    assert r.conditions == {"hypertension"} and r.team_id is None
    assert Uniqueness.get(f"idno#{idno.upper()}").owner == r.resident_id
    home = Household.get(r.household_id)
    assert (home.head_id, home.head_name, home.village_id) == (r.resident_id, "钟静宝", "vil-twp-01-04")
    terms = {k.term_key.split("#")[0] for k in SearchKey.query(SearchKey.shard_of("twp-01", "p", "zjb"), SearchKey.term_key.startswith("p:zjb"))
             if k.resident_id == r.resident_id}
    assert terms == {"p:zjb"}
    assert [e.what for e in AuditEvent.query(r.resident_id)] == ["resident.register"]


def test_full_width_digits_are_normalised_and_the_same_person_cannot_register_twice(doctor):
    idno = fresh_id()
    first = register(doctor, id_number=idno.translate(FULL_WIDTH))
    assert first.status_code == 201, first.get_json()
    rid = first.get_json()["resident"]["resident_id"]
    assert Resident.get(rid).id_number == idno
    again = register(doctor, id_number=idno)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "duplicate_id_number"
    assert Uniqueness.get(f"idno#{idno}").owner == rid


def test_duplicate_points_at_the_existing_record_only_for_staff_who_may_see_it(doctor, other_centre):
    idno = fresh_id()
    rid = register(doctor, id_number=idno).get_json()["resident"]["resident_id"]
    assert sign_desk(doctor, rid).status_code == 201          # now on doctor01's team
    mine = register(doctor, id_number=idno).get_json()["error"]
    assert mine["code"] == "duplicate_id_number"
    assert mine["details"][0]["resident_id"] == rid and mine["details"][0]["url"].endswith(rid)
    theirs = register(other_centre, id_number=idno, village_id="vil-twp-02-01")
    assert theirs.status_code == 409
    body = theirs.get_json()["error"]
    assert body["code"] == "duplicate_id_number" and "details" not in body
    assert Resident.get(rid).name not in body["message"]


def test_a_household_groups_people_with_their_relationship_to_one_head(doctor):
    head = register(doctor, name="王建国").get_json()["resident"]
    hid = head["household_id"]
    wife = register(doctor, name="李秀英", household_id=hid, relation="配偶")
    assert wife.status_code == 201, wife.get_json()
    child = register(doctor, name="王明", household_id=hid, relation="子女",
                     id_number=fresh_id(age=12))
    assert child.status_code == 201
    second_head = register(doctor, household_id=hid, relation="户主")
    assert second_head.status_code == 409
    assert second_head.get_json()["error"]["code"] == "household_has_head"
    got = doctor.client.get(f"/api/households/{hid}").get_json()
    assert [(m["name"], m["relation"]) for m in got["members"]][0] == ("王建国", "户主")
    assert sorted(m["relation"] for m in got["members"]) == sorted(["户主", "配偶", "子女"])
    assert got["village"] == Facility.get("vil-twp-01-04").name


@pytest.mark.parametrize("body,status,code", [
    ({"id_number": "150823196001011235"}, 422, "invalid_id_number"),      # wrong check digit
    ({"id_number": "15082319601301123X"}, 422, "invalid_id_number"),      # month 13
    ({"name": "张"}, 422, "invalid_name"),
    ({"phone": "12345678901"}, 422, "invalid_phone"),
    ({"village_id": "vil-twp-02-01"}, 422, "invalid_village"),            # another centre's
    ({"household_id": "hh-does-not-exist", "relation": "子女"}, 422, "invalid_household"),
    ({"relation": "邻居"}, 422, "invalid_relation"),
])
def test_bad_registration_is_refused_with_a_code_and_nothing_written(doctor, body, status, code):
    idno = body.get("id_number") or fresh_id()
    resp = register(doctor, **{**body, "id_number": idno})
    assert resp.status_code == status, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in err["message"])
    with pytest.raises(DoesNotExist):
        Uniqueness.get(f"idno#{idno.upper()}")


def test_a_retried_registration_returns_the_same_record(doctor):
    body = {"id_number": fresh_id(), "name": fresh_name(), "village_id": "vil-twp-01-04",
            "request_id": "reg-retry-" + str(_rng.randint(10**6, 10**7))}
    first = post(doctor, "/api/residents", body).get_json()["resident"]
    again = post(doctor, "/api/residents", body)
    assert again.status_code == 201 and again.get_json()["resident"]["resident_id"] == first["resident_id"]


def test_residents_cannot_register_others(person, demo):
    person.login_resident(demo.demo_resident["phone"])
    resp = register(person)
    assert resp.status_code == 403


def test_registration_page_works_without_script_and_confirms(doctor):
    token = doctor.page_csrf("/team/register")
    html = doctor.client.get("/team/register").get_data(as_text=True)
    assert "vil-twp-01-04" in html and ">vil-" not in html     # villages shown by name
    idno = fresh_id()
    resp = doctor.client.post("/team/register", data={
        "csrf_token": token, "id_number": idno, "name": "赵春生", "phone": "",
        "village_id": "vil-twp-01-04", "relation": "户主", "household_id": ""})
    assert resp.status_code == 303
    page = doctor.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已为赵春生建档" in page and idno not in page       # masked on the page
    dup = doctor.client.post("/team/register", data={
        "csrf_token": token, "id_number": idno, "name": "赵春生", "village_id": "vil-twp-01-04"})
    assert dup.status_code == 409
    assert "该身份证号已登记" in dup.get_data(as_text=True)
