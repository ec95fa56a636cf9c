"""A doctor's access follows their current team membership, on every request and in sessions
already open; residents see their own team's service phones only (HTTP → Flask → moto)."""
from __future__ import annotations

import json

import pytest

from backend.models.account import Account
from backend.models.base import new_id, utcnow
from backend.models.facility import Team, TeamMembership
from backend.models.people import ProxyGrant
from backend.services.auth import hash_password
from infra.seed import DEMO_PASSWORD
from tests.test_care_http import DESK_CONSENT, make_resident, post, sign_desk


@pytest.fixture(scope="module")
def admin(app):
    from tests.conftest import Browserless
    a = Browserless(app, app.test_client())
    a.login_staff("admin-twp-01")
    return a


@pytest.fixture(scope="module")
def doctor(app):
    from tests.conftest import Browserless
    d = Browserless(app, app.test_client())
    d.login_staff("doctor01")
    return d


def members_of(team_id: str) -> list[dict]:
    return [{"login": m.login, "name": m.name, "role": m.role, "phone": m.phone, "title": m.title}
            for m in Team.get(team_id).members]


def put_members(admin, team_id: str, members: list[dict]):
    return admin.client.put(f"/api/teams/{team_id}/members", json={"members": members},
                            headers={"X-CSRF-Token": admin.page_csrf()})


@pytest.fixture()
def new_doctor(app):
    """A doctor account of centre twp-01 in no team yet, signed in (the session stays open)."""
    from tests.conftest import Browserless
    username = f"tdoc{new_id()[-8:].lower()}"
    Account(f"s:{username}", role="doctor", display_name="轮岗医生", facility_id="twp-01",
            password_hash=hash_password(DEMO_PASSWORD), created_at=utcnow()).save()
    d = Browserless(app, app.test_client())
    d.login_staff(username)
    d.login = f"s:{username}"
    d.member = {"login": d.login, "name": "轮岗医生", "role": "gp", "phone": "13900000077",
                "title": "医师"}
    return d


def test_removal_from_a_team_ends_access_in_the_open_session_and_a_move_follows(
        admin, doctor, new_doctor):
    patient01 = make_resident()
    assert sign_desk(doctor, patient01.resident_id).status_code == 201   # team-01
    before = members_of("team-02")
    assert put_members(admin, "team-02", before + [new_doctor.member]).status_code == 200
    patient02 = make_resident()
    assert sign_desk(new_doctor, patient02.resident_id).status_code == 201
    assert TeamMembership.get(new_doctor.login).team_id == "team-02"
    history = f"/api/care/residents/{patient02.resident_id}/followups"
    assert new_doctor.client.get(history).status_code == 200

    assert put_members(admin, "team-02", before).status_code == 200
    # The same session, the very next request: the team's records are gone.
    gone = new_doctor.client.get(history)
    assert gone.status_code in (403, 404) and "error" in gone.get_json()
    due = new_doctor.client.get("/api/care/due")
    assert due.status_code == 403 and due.get_json()["error"]["code"] == "no_team"
    with pytest.raises(TeamMembership.DoesNotExist):
        TeamMembership.get(new_doctor.login)

    team01 = members_of("team-01")
    try:
        assert put_members(admin, "team-01", team01 + [new_doctor.member]).status_code == 200
        assert new_doctor.client.get(
            f"/api/care/residents/{patient01.resident_id}/followups").status_code == 200
        assert new_doctor.client.get(history).status_code in (403, 404)
        # One team per person: adding them to team-02 as well is refused, nothing written.
        clash = put_members(admin, "team-02", before + [new_doctor.member])
        assert clash.status_code == 409
        assert clash.get_json()["error"]["code"] == "member_of_another_team"
        assert new_doctor.login not in {m["login"] for m in members_of("team-02")}
        assert TeamMembership.get(new_doctor.login).team_id == "team-01"
    finally:
        put_members(admin, "team-01", team01)


@pytest.fixture()
def resident_of_team01(person, demo, doctor):
    """The demo resident acting for a relative contracted to team-01."""
    me = person.login_resident(demo.demo_resident["phone"])
    relative = make_resident()
    ProxyGrant(me["resident_id"], relative.resident_id, relation="子女", granted_at=utcnow()).save()
    assert sign_desk(doctor, relative.resident_id).status_code == 201
    return relative


def test_residents_see_only_their_own_teams_service_phones(person, resident_of_team01):
    mobiles = [m["phone"] for m in members_of("team-01")]
    resp = person.client.get("/api/teams/team-01")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["service_phones"] and all(p["number"].startswith("0478-")
                                          for p in body["service_phones"])
    assert all("phone" not in m for m in body["members"])
    text = json.dumps(body)
    assert not any(mobile in text for mobile in mobiles)
    card = person.client.get(f"/card/{resident_of_team01.resident_id}").get_data(as_text=True)
    assert body["service_phones"][0]["number"] in card
    assert not any(mobile in card for mobile in mobiles)
    # Another team and a team that does not exist get the same answer.
    from backend.models.people import Resident
    me = person.client.get("/api/me").get_json()["resident_id"]
    mine = {r.team_id for r in Resident.batch_get(
        [me] + [g.subject_id for g in ProxyGrant.query(me)])}
    stranger_team = next(t.team_id for t in Team.scan() if t.team_id not in mine)
    other = person.client.get(f"/api/teams/{stranger_team}")
    unknown = person.client.get("/api/teams/team-99")
    assert other.status_code == unknown.status_code == 404
    assert other.get_json() == unknown.get_json()


def test_staff_see_members_phones_of_their_own_team_only(doctor, admin):
    own = doctor.client.get("/api/teams/team-01").get_json()
    assert all(m["phone"] for m in own["members"])
    assert doctor.client.get("/api/teams/team-03").status_code == 404
    assert all(m["phone"] for m in admin.client.get("/api/teams/team-02").get_json()["members"])
