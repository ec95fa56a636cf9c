"""Who may open whose health record, and the audit trail of every look."""
from __future__ import annotations

from backend.models.audit import AuditEvent
from backend.services import audit


def _events(subject_id: str) -> list[AuditEvent]:
    return audit.events_for(subject_id)


def test_resident_reads_own_record_masked_and_audited(person, client, demo):
    me = demo.demo_resident
    person.login_resident(me["phone"])
    before = len(_events(me["resident_id"]))
    r = client.get(f"/api/residents/{me['resident_id']}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["name"] == me["name"]
    assert body["id_number"] == me["id_number"][:6] + "********" + me["id_number"][-4:]
    events = _events(me["resident_id"])
    assert len(events) == before + 1
    newest = events[0]
    assert (newest.actor, newest.action, newest.what) == (f"m:{me['phone']}", "read", "resident.record")


def test_resident_reads_authorised_parent_but_not_a_stranger(person, client, demo):
    person.login_resident(demo.demo_resident["phone"])
    parent = next(g["subject_id"] for g in demo.grants if g["proxy_id"] == demo.demo_resident["resident_id"])
    assert client.get(f"/api/residents/{parent}").status_code == 200
    granted = {g["subject_id"] for g in demo.grants if g["proxy_id"] == demo.demo_resident["resident_id"]}
    stranger = next(r for r in demo.residents
                    if r["resident_id"] not in granted | {demo.demo_resident["resident_id"]})
    before = len(_events(stranger["resident_id"]))
    r = client.get(f"/api/residents/{stranger['resident_id']}")
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "not_found_or_not_permitted"
    assert "无权" in r.get_json()["error"]["message"]
    assert len(_events(stranger["resident_id"])) == before  # a refused look reads nothing
    page = client.get(f"/residents/{stranger['resident_id']}")
    assert page.status_code == 404 and "无权查看" in page.get_data(as_text=True)


def test_doctor_sees_own_team_residents_in_full_but_not_others(person, client, demo):
    person.login_staff("doctor01")
    mine = next(r for r in demo.residents if r["team_id"] == "team-01")
    other = next(r for r in demo.residents if r["team_id"] not in ("team-01", None))
    r = client.get(f"/api/residents/{mine['resident_id']}")
    assert r.status_code == 200 and r.get_json()["id_number"] == mine["id_number"]
    assert client.get(f"/api/residents/{other['resident_id']}").status_code == 404
    newest = _events(mine["resident_id"])[0]
    assert newest.actor == "s:doctor01" and newest.actor_role == "doctor"


def test_township_admin_sees_only_own_centre(person, client, demo):
    person.login_staff("admin-twp-02")
    mine = next(r for r in demo.residents if r["township_id"] == "twp-02")
    other = next(r for r in demo.residents if r["township_id"] != "twp-02")
    assert client.get(f"/api/residents/{mine['resident_id']}").status_code == 200
    assert client.get(f"/api/residents/{other['resident_id']}").status_code == 404


def test_county_needs_a_reason_and_the_reason_is_recorded(person, client, demo):
    person.login_staff("county")
    rid = demo.residents[3]["resident_id"]
    r = client.get(f"/api/residents/{rid}")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "reason_required"
    r = client.get(f"/api/residents/{rid}", query_string={"reason": "医疗纠纷调查核实"})
    assert r.status_code == 200
    assert "*" in r.get_json()["id_number"]
    assert _events(rid)[0].reason == "医疗纠纷调查核实"


def test_unknown_resident_and_anonymous_access(person, client, demo):
    assert client.get(f"/api/residents/{demo.residents[0]['resident_id']}").status_code == 401
    person.login_staff("doctor01")
    r = client.get("/api/residents/res-999999")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found_or_not_permitted"


def test_audit_events_cannot_be_overwritten(demo):
    event = audit.record(actor="s:test", actor_role="doctor", subject_id="res-audit-test",
                         action="read", what="resident.record")
    from pynamodb.exceptions import PutError
    import pytest
    forged = AuditEvent(event.subject_id, event.event_key, actor="s:someone-else",
                        actor_role="doctor", action="read", what="resident.record", at=event.at)
    with pytest.raises(PutError):
        forged.save(condition=AuditEvent.event_key.does_not_exist())
    assert AuditEvent.get(event.subject_id, event.event_key).actor == "s:test"


def test_logs_never_contain_phone_or_identity_numbers(person, client, demo, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    me = demo.demo_resident
    person.login_resident(me["phone"])
    client.get(f"/api/residents/{me['resident_id']}")
    client.get("/residents/" + me["resident_id"])
    text = caplog.text
    assert me["phone"] not in text and me["id_number"] not in text
