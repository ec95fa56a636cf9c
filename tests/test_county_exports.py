"""County HTTP: the drill-down refuses individual records; exports are .xlsx files in S3."""
from __future__ import annotations

import io
import time
import urllib.request

import pytest


@pytest.fixture()
def county(person):
    person.login_staff("county")
    return person


def test_county_user_asking_for_an_individual_record_is_refused(county):
    r = county.client.get("/api/county/indicators?facility=res-000001")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "individual_record_refused"


def test_an_export_of_a_future_quarter_is_refused(county):
    token = county.page_csrf("/county")
    r = county.client.post("/api/exports", json={"kind": "activity", "scope": "cty-01", "period": "2099Q1"},
                           headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "quarter_in_future"


def test_an_empty_quarter_exports_a_valid_file_that_says_so(county):
    import openpyxl
    token = county.page_csrf("/county")
    r = county.client.post("/api/exports", json={"kind": "activity", "scope": "cty-01", "period": "2025Q4"},
                           headers={"X-CSRF-Token": token})
    assert r.status_code == 202, r.get_json()
    job = r.get_json()["job_id"]
    for _ in range(100):
        body = county.client.get(f"/api/exports/{job}").get_json()
        if body["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert body["status"] == "done"
    link = county.client.get(body["download"])
    assert link.status_code == 303
    data = urllib.request.urlopen(link.headers["Location"]).read()
    sheet = openpyxl.load_workbook(io.BytesIO(data))["统计表"]
    assert sheet["A1"].value == "2025年第4季度累计开展巡回坐诊活动情况统计表"
    assert [c.value for c in sheet[3]][:5] == ["序号", "乡镇卫生院", "村卫生室", "坐诊医生", "应坐诊（半天）"]
    assert "本季度无坐诊记录" in sheet["A4"].value
