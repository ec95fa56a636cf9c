"""Who may open whose health record, and the audit trail of every look."""
from __future__ import annotations

import pytest

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
    # The actor is the account id, never the mobile number that is the resident's login.
    assert (newest.actor, newest.action, newest.what) == (f"res:{me['resident_id']}", "read", "resident.record")
    assert me["phone"] not in newest.actor


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
    refused = _events(stranger["resident_id"])
    assert len(refused) == before + 1  # a refused look shows nothing and is recorded as refused
    assert (refused[0].outcome, refused[0].reason, refused[0].actor) == (
        "refused", "not_found_or_not_permitted", f"res:{demo.demo_resident['resident_id']}")
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


def test_county_needs_a_reason_from_the_list_and_a_reason_in_the_url_counts_for_nothing(person, client, demo):
    me = person.login_staff("county")
    rid = demo.residents[3]["resident_id"]
    before = len(_events(rid))
    r = client.get(f"/api/residents/{rid}")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "reason_required"
    # The old way (any four characters in the query string) opens nothing.
    r = client.get(f"/api/residents/{rid}", query_string={"reason": "医疗纠纷调查核实"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "reason_required"
    assert all(e.outcome == "refused" for e in _events(rid)[:len(_events(rid)) - before])
    r = client.post(f"/api/residents/{rid}/county-view", json={"reason": "complaint", "note": "12345热线转办"},
                    headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code == 200 and "*" in r.get_json()["id_number"]
    newest = _events(rid)[0]
    assert (newest.reason, newest.reason_note, newest.outcome, newest.actor) == (
        "complaint", "12345热线转办", "ok", "s:county")


@pytest.mark.parametrize("body, code", [
    ({"reason": "abcd"}, "invalid_reason"),            # four characters are not a reason
    ({"reason": "other"}, "reason_note_required"),     # 其他 needs words
    ({"reason": "other", "note": " "}, "reason_note_required"),
    ({"reason": "quality_check", "note": "长" * 201}, "validation_failed"),
])
def test_county_reason_must_be_one_of_the_list(person, client, demo, body, code):
    me = person.login_staff("county")
    rid = demo.residents[4]["resident_id"]
    reads = [e.event_key for e in _events(rid) if e.outcome != "refused"]
    r = client.post(f"/api/residents/{rid}/county-view", json=body,
                    headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code in (400, 422) and r.get_json()["error"]["code"] == code
    assert "理由" in r.get_json()["error"]["message"] or code == "validation_failed"
    assert [e.event_key for e in _events(rid) if e.outcome != "refused"] == reads


def test_county_record_page_asks_for_a_reason_and_keeps_it_out_of_urls_and_logs(person, client, demo, caplog):
    import logging
    me = person.login_staff("county")
    rid = demo.residents[5]["resident_id"]
    page = client.get(f"/residents/{rid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "质控抽查" in html and "投诉核查" in html and "数据核对" in html
    bad = client.post(f"/residents/{rid}", data={"csrf_token": me["csrf_token"], "reason": "xyz"})
    assert bad.status_code == 400 and "请从列表中选择查看理由" in bad.get_data(as_text=True)
    note = "核对家庭医生签约数据-唯一标记"
    with caplog.at_level(logging.DEBUG):
        ok = client.post(f"/residents/{rid}", data={"csrf_token": me["csrf_token"],
                                                    "reason": "data_check", "note": note})
    assert ok.status_code == 200 and "的健康档案" in ok.get_data(as_text=True)
    assert "数据核对" in ok.get_data(as_text=True)
    assert note not in caplog.text and "data_check" not in caplog.text
    newest = _events(rid)[0]
    assert (newest.reason, newest.reason_note) == ("data_check", note)


def test_unknown_resident_and_anonymous_access(person, client, demo):
    assert client.get(f"/api/residents/{demo.residents[0]['resident_id']}").status_code == 401
    person.login_staff("doctor01")
    r = client.get("/api/residents/res-999999")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found_or_not_permitted"


def test_audit_events_cannot_be_overwritten(demo):
    event = audit.record(None, subject_id="res-audit-test", action="read", what="resident.record")
    from pynamodb.exceptions import PutError
    forged = AuditEvent(event.subject_id, event.event_key, actor="s:someone-else",
                        actor_role="doctor", action="read", what="resident.record", at=event.at)
    with pytest.raises(PutError):
        audit.append(forged)  # the one write path: conditional on a new key
    assert AuditEvent.get(event.subject_id, event.event_key).actor == "system"


def test_logs_never_contain_phone_or_identity_numbers(person, client, demo, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    me = demo.demo_resident
    person.login_resident(me["phone"])
    client.get(f"/api/residents/{me['resident_id']}")
    client.get("/residents/" + me["resident_id"])
    text = caplog.text
    assert me["phone"] not in text and me["id_number"] not in text
