"""Finding residents through HTTP: name, pinyin initials, last digits, village name; the
team's people only (or the centre's uncontracted people, to sign them)."""
from __future__ import annotations

from backend.models.facility import Facility
from backend.models.people import Resident
from tests.test_care_http import doctor, post, sign_desk  # noqa: F401  (module fixture)
from tests.test_registry import fresh_id, register


def search(person, q, **params):
    resp = person.client.get("/api/residents/search", query_string={"q": q, **params})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def registered(person, **body) -> str:
    resp = register(person, **body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["resident"]["resident_id"]


def ids(body):
    return [r["resident_id"] for r in body["residents"]]


def test_a_team_resident_is_found_by_name_initials_pinyin_and_last_digits(doctor):
    idno = fresh_id()
    rid = registered(doctor, name="钟静宝", id_number=idno, phone="13912345678")
    assert sign_desk(doctor, rid).status_code == 201
    for q in ("钟静宝", "钟静", "静宝", "zjb", "ZJB", "ｚｊｂ", "zhongjing", idno[-4:], idno[-6:], "5678",
              "１２３４５６７８"):
        assert rid in ids(search(doctor, q)), q
    hit = next(r for r in search(doctor, "zjb")["residents"] if r["resident_id"] == rid)
    assert hit["village"] == Facility.get("vil-twp-01-04").name and hit["contracted_to_team"]
    assert hit["id_number"] != idno and hit["id_number"].endswith(idno[-4:])   # masked
    assert hit["url"] == f"/team/patients/{rid}"


def test_people_of_other_teams_are_not_found_and_uncontracted_only_on_request(doctor, person):
    idno = fresh_id()
    rid = registered(doctor, name="钟静宝", id_number=idno)
    assert rid not in ids(search(doctor, idno[-6:]))                      # not on the team yet
    assert rid in ids(search(doctor, idno[-6:], uncontracted=1))          # to sign them
    person.login_staff("doctor02")                                        # team-02, same centre
    assert sign_desk(person, rid).status_code == 201
    assert rid in ids(search(person, idno[-6:]))
    assert rid not in ids(search(doctor, idno[-6:])) and rid not in ids(search(doctor, idno[-6:], uncontracted=1))


def test_too_few_digits_ask_for_more_and_find_no_one(doctor):
    body = search(doctor, "12")
    assert body["residents"] == [] and "4" in body["message"]


def test_a_village_name_finds_the_team_residents_of_that_village(doctor):
    village = Facility.get("vil-twp-01-04")
    rid = registered(doctor, village_id=village.facility_id)
    assert sign_desk(doctor, rid).status_code == 201
    found = search(doctor, village.name, limit=50)
    assert found["residents"] and all(r["village_id"] == village.facility_id for r in found["residents"]
                                      if r["village"] == village.name)
    assert all(Resident.get(i).team_id == "team-01" for i in ids(found))


def test_search_page_without_script_shows_names_and_villages(doctor):
    rid = registered(doctor, name="钟静宝")
    assert sign_desk(doctor, rid).status_code == 201
    html = doctor.client.get("/team/search?q=zjb").get_data(as_text=True)
    assert f"/team/patients/{rid}" in html and "钟静宝" in html
    assert Facility.get("vil-twp-01-04").name in html and "vil-twp" not in html


def test_residents_may_not_search(person, demo):
    person.login_resident(demo.demo_resident["phone"])
    assert person.client.get("/api/residents/search?q=zjb").status_code == 403
