"""The audit trail: every view of health data (lists included) and every refused attempt,
each naming who by account id, never by mobile number."""
from __future__ import annotations

import pytest

from backend.services import audit


def _list_events(scope: str) -> list:
    return audit.events_for(f"list#{scope}", limit=200)


def _ids_in(body: dict, key: str) -> list[str]:
    return [row["resident_id"] for row in body[key]]


# (path, key of the rows in the JSON answer, what the event says)
LIST_APIS = [
    ("/api/care/due", "due", "care.due"),
    ("/api/care/overdue", "overdue", "care.overdue"),
    ("/api/care/calls", "patients", "care.calls"),
    ("/api/care/ledger", "residents", "care.ledger"),
    ("/api/care/not-contacted", "residents", "care.not_contacted"),
]


@pytest.mark.parametrize("path, key, what", LIST_APIS)
def test_each_list_view_is_one_audit_event_naming_the_residents_shown(person, client, path, key, what):
    me = person.login_staff("doctor01")
    team = me["team_id"]
    before = {e.event_key for e in _list_events(team)}
    r = client.get(path)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    shown = list(dict.fromkeys(_ids_in(body, key)))
    new = [e for e in _list_events(team) if e.event_key not in before]
    if not shown:
        assert new == []   # a list that showed no one read no one's data
        return
    assert len(new) == 1, [e.what for e in new]
    event = new[0]
    assert (event.what, event.action, event.outcome, event.actor) == (what, "read", "ok", "s:doctor01")
    assert event.shown == shown


def test_the_lists_the_seeded_team_sees_are_not_all_empty(person, client):
    """Guards the test above: at least the ledger and call list show someone."""
    person.login_staff("doctor01")
    assert client.get("/api/care/ledger").get_json()["residents"]
    assert client.get("/api/care/calls").get_json()["patients"] or \
        client.get("/api/care/overdue").get_json()["overdue"]


@pytest.mark.parametrize("path", ["/team", "/team/overdue", "/team/calls", "/team/ledger",
                                  "/team/uncontacted"])
def test_list_pages_are_audited_too(person, client, path):
    me = person.login_staff("doctor01")
    before = {e.event_key for e in _list_events(me["team_id"])}
    r = client.get(path)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    new = [e for e in _list_events(me["team_id"]) if e.event_key not in before]
    assert len(new) <= 1
    for event in new:
        assert event.actor == "s:doctor01" and event.shown
        assert all(rid in html for rid in event.shown)
    if path in ("/team/ledger", "/team/calls"):
        assert len(new) == 1


def test_a_refused_look_at_another_teams_patient_is_recorded(person, client, demo):
    person.login_staff("doctor01")
    other = next(r for r in demo.residents if r["team_id"] not in ("team-01", None))
    before = {e.event_key for e in audit.events_for(other["resident_id"])}
    r = client.get(f"/api/care/residents/{other['resident_id']}/followups")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found_or_not_permitted"
    new = [e for e in audit.events_for(other["resident_id"]) if e.event_key not in before]
    assert len(new) == 1
    assert (new[0].outcome, new[0].actor, new[0].reason, new[0].what) == (
        "refused", "s:doctor01", "not_found_or_not_permitted", "care.api_history")


def test_a_resident_refused_a_doctors_list_is_recorded_by_account_id(person, client, demo):
    me = demo.demo_resident
    person.login_resident(me["phone"])
    before = {e.event_key for e in audit.events_for("route#care.api_due")}
    r = client.get("/api/care/due")
    assert r.status_code == 403
    new = [e for e in audit.events_for("route#care.api_due") if e.event_key not in before]
    assert len(new) == 1
    assert new[0].actor == f"res:{me['resident_id']}" and new[0].outcome == "refused"
    assert me["phone"] not in new[0].actor


def test_anonymous_requests_are_not_audit_events(client, demo):
    rid = demo.residents[0]["resident_id"]
    before = len(audit.events_for(rid))
    assert client.get(f"/api/care/residents/{rid}/followups").status_code == 401
    assert len(audit.events_for(rid)) == before


def test_no_audit_event_is_stored_under_a_mobile_number(person, client, demo):
    me = demo.demo_resident
    person.login_resident(me["phone"])
    client.get(f"/api/contracts/{me['resident_id']}")
    client.get(f"/api/residents/{me['resident_id']}")
    for event in audit.events_for(me["resident_id"]):
        assert me["phone"] not in event.actor, (event.what, event.actor)
    assert list(audit.AuditEvent.by_actor.query(f"m:{me['phone']}", limit=5)) == []
    assert audit.actor_id(type("U", (), {"role": "resident", "resident_id": None,
                                         "login": "m:13900000000"})()) == "res:unknown"
