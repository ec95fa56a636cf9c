"""The call list keeps "call later" patients visible with their return day; high-risk
patients never leave it by a call outcome (HTTP -> PynamoDB -> moto)."""
from __future__ import annotations

import html as _html
from datetime import timedelta

from backend.models.care import ChronicCase
from backend.services.care_common import local_today
from backend.web import cn_day
from tests.test_care_http import _make_overdue, contracted, doctor, post  # noqa: F401


def _ids(rows):
    return [p["resident_id"] for p in rows]


def _call(doctor, r, outcome):  # noqa: F811
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/calls",
                {"disease": "hypertension", "outcome": outcome})
    assert resp.status_code == 201, resp.get_json()
    return resp


def test_call_later_is_listed_apart_with_the_day_they_come_back(doctor):  # noqa: F811
    calm = contracted(doctor, conditions=("hypertension",))
    _make_overdue(calm, "hypertension", 20)
    _call(doctor, calm, "later")
    back = local_today() + timedelta(days=30)
    data = doctor.client.get("/api/care/calls").get_json()
    assert calm.resident_id not in _ids(data["patients"])
    [row] = [p for p in data["later"] if p["resident_id"] == calm.resident_id]
    assert row["hidden_until"] == back.isoformat() and row["call_outcome"] == "later"
    page = _html.unescape(doctor.client.get("/team/calls").get_data(as_text=True))
    later = page[page.index('id="calls-later"'):]
    assert calm.name in later and f"{cn_day(back)}再联系" in later
    assert "周" in cn_day(back)


def test_high_risk_patients_stay_on_the_list_marked(doctor):  # noqa: F811
    high_bp = contracted(doctor, conditions=("hypertension",))
    _make_overdue(high_bp, "hypertension", 5, bp=(190, 112))
    urgent = contracted(doctor, conditions=("hypertension",))
    _make_overdue(urgent, "hypertension", 5)
    twice = contracted(doctor, conditions=("hypertension",))
    _make_overdue(twice, "hypertension", 5)
    for r, outcome in ((urgent, "urgent_referral"), (twice, "not_controlled_refer")):
        ChronicCase(r.resident_id, "hypertension").update(actions=[
            ChronicCase.last_outcome.set(outcome), ChronicCase.revision.add(1)])
    _call(doctor, high_bp, "later")
    _call(doctor, urgent, "agreed")
    _call(doctor, twice, "later")
    data = doctor.client.get("/api/care/calls").get_json()
    rows = {p["resident_id"]: p for p in data["patients"]}
    for r in (high_bp, urgent, twice):
        assert rows[r.resident_id]["high_risk"] is True, r.resident_id
        assert r.resident_id not in _ids(data["later"])
    page = _html.unescape(doctor.client.get("/team/calls").get_data(as_text=True))
    main = page[page.index('id="calls"'):page.index('id="calls-later"')]
    for r in (high_bp, urgent, twice):
        start = main.index(f'data-resident="{r.resident_id}"')
        row = main[start:main.index("</li>", start)]
        assert 'data-high-risk="1"' in row and "高危" in row and "高危仍保留在名单" in row


def test_agreed_low_risk_patient_waits_off_the_list(doctor):  # noqa: F811
    calm = contracted(doctor, conditions=("hypertension",))
    _make_overdue(calm, "hypertension", 9)
    before = doctor.client.get("/api/care/calls").get_json()["agreed_waiting"]
    _call(doctor, calm, "agreed")
    data = doctor.client.get("/api/care/calls").get_json()
    assert calm.resident_id not in _ids(data["patients"]) + _ids(data["later"])
    assert data["agreed_waiting"] == before + 1
