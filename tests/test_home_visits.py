"""Home services (上门治疗, 上门护理, 康复指导, 家庭病床查床) as visits of their kind, counted
per team per month in the visit's transaction; and the patient page's views (HTTP -> moto)."""
from __future__ import annotations

import html as _html
import re
from datetime import timedelta

from backend.models.care import HomeVisit
from backend.models.people import ProxyGrant, Resident
from backend.models.base import utcnow
from backend.services.care_common import local_today
from backend.services.indicators import month_of
from backend.web import cn_day
from tests.test_care_http import audits, contracted, doctor, make_resident, post  # noqa: F401


def _monthly(doctor):  # noqa: F811
    resp = doctor.client.get("/api/care/home-visits/monthly")
    assert resp.status_code == 200
    return resp.get_json()


def test_home_visit_is_stored_counted_and_shown_on_the_visits_view(doctor):  # noqa: F811
    r = contracted(doctor, conditions=("hypertension",), age=80)
    before = _monthly(doctor)
    today = local_today()
    nxt = today + timedelta(days=14)
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/home-visits",
                {"kind": "family_bed", "done": "查床，压疮换药", "next_visit": nxt.isoformat()})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["message"] == "已保存：家庭病床查床"
    [v] = list(HomeVisit.query(r.resident_id))
    assert (v.kind, v.visit_date, v.next_visit, v.team_id) == ("family_bed", today.isoformat(),
                                                               nxt.isoformat(), "team-01")
    after = _monthly(doctor)
    assert after["month"] == month_of(today)
    assert after["total"] == before["total"] + 1
    assert after["by_kind"]["family_bed"] == before["by_kind"]["family_bed"] + 1
    assert after["by_kind"]["nursing"] == before["by_kind"]["nursing"]
    # The page form: a 303 to the visits view, a Chinese confirmation there.
    token = doctor.page_csrf(f"/team/patients/{r.resident_id}/visits")
    ok = doctor.client.post(f"/team/patients/{r.resident_id}/forms/home-visit",
                            data={"kind": "rehab", "done": "指导下肢功能训练",
                                  "visit_date": today.isoformat(), "csrf_token": token})
    assert ok.status_code == 303
    assert ok.headers["Location"].endswith(
        f"/team/patients/{r.resident_id}/visits?done=home-visit#form-home-visit")
    text = _html.unescape(doctor.client.get(ok.headers["Location"]).get_data(as_text=True))
    assert 'id="done-home-visit">已保存上门服务记录<' in text
    assert "康复指导" in text and "指导下肢功能训练" in text and f"下次上门 {cn_day(nxt)}" in text
    assert _monthly(doctor)["total"] == before["total"] + 2
    assert audits(r.resident_id, "home_visit.list")
    team = _html.unescape(doctor.client.get("/team").get_data(as_text=True))
    assert re.search(r'id="home-total">(\d+)<', team).group(1) == str(before["total"] + 2)


def test_bad_home_visits_are_refused_in_chinese_and_not_counted(doctor):  # noqa: F811
    r = contracted(doctor, conditions=("hypertension",))
    before = _monthly(doctor)["total"]
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    cases = [({"kind": "nursing", "done": "换药", "visit_date": tomorrow}, "visit_in_future"),
             ({"kind": "nursing", "done": "换药", "next_visit": local_today().isoformat()},
              "invalid_next_visit")]
    for body, code in cases:
        resp = post(doctor, f"/api/care/residents/{r.resident_id}/home-visits", body)
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == code, body
    bad_kind = post(doctor, f"/api/care/residents/{r.resident_id}/home-visits",
                    {"kind": "massage", "done": "按摩"})
    assert bad_kind.status_code in (400, 422) and bad_kind.get_json()["error"]["code"]
    token = doctor.page_csrf(f"/team/patients/{r.resident_id}/visits")
    page = doctor.client.post(f"/team/patients/{r.resident_id}/forms/home-visit",
                              data={"kind": "nursing", "done": "换药", "visit_date": tomorrow,
                                    "csrf_token": token})
    assert page.status_code == 422
    text = _html.unescape(page.get_data(as_text=True))
    assert 'id="error-home-visit">服务日期不能晚于今天<' in text and "换药" in text
    assert list(HomeVisit.query(r.resident_id)) == []
    assert _monthly(doctor)["total"] == before


def test_only_the_residents_own_team_records_or_reads_home_visits(doctor, person):  # noqa: F811
    r = contracted(doctor, conditions=("hypertension",))
    person.login_staff("doctor02")
    refused = post(person, f"/api/care/residents/{r.resident_id}/home-visits",
                   {"kind": "treatment", "done": "输液"})
    assert refused.status_code == 404
    assert person.client.get(f"/api/care/residents/{r.resident_id}/home-visits").status_code == 404
    assert person.client.get(f"/team/patients/{r.resident_id}/visits").status_code == 404
    assert list(HomeVisit.query(r.resident_id)) == []


def test_summary_shows_village_call_links_readings_and_due_with_weekday(doctor):  # noqa: F811
    r = contracted(doctor, conditions=("hypertension",), phone=None)
    relative = make_resident(phone="13900001234")
    ProxyGrant(relative.resident_id, r.resident_id, relation="子女", granted_at=utcnow()).save()
    resp = post(doctor, f"/api/care/residents/{r.resident_id}/followups",
                {"disease": "hypertension", "systolic": 150, "diastolic": 95})
    assert resp.status_code == 201, resp.get_json()
    text = _html.unescape(doctor.client.get(f"/team/patients/{r.resident_id}").get_data(as_text=True))
    assert "vil-twp-01-05" not in text.split('id="summary"')[1].split("</section>")[0]
    assert 'href="tel:13900001234"' in text and "（子女）" in text
    today = local_today()
    assert f"<strong>150/95</strong> mmHg（{cn_day(today)}）" in text
    due = Resident.get(r.resident_id)  # the due date comes from the rules
    from backend.models.care import ChronicCase
    case = ChronicCase.get(due.resident_id, "hypertension")
    assert f"高血压随访 <strong>{cn_day(case.next_due)}</strong>" in text
    for label in ("概况", "随访", "用药", "转诊", "签约", "上门"):
        assert f">{label}</a>" in text
    assert audits(r.resident_id, "followup.history")
    own = contracted(doctor, conditions=("diabetes",), phone="13800005678")
    mine = doctor.client.get(f"/team/patients/{own.resident_id}").get_data(as_text=True)
    assert 'id="call-phone" href="tel:13800005678"' in mine
