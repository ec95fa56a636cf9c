"""Registering yourself: the request, the township centre's queue, match or decline, the text."""
from __future__ import annotations

import random
import re

import pytest

from backend.models.account import Account
from backend.models.people import Resident
from backend.models.registration import RegistrationRequest


def _fresh_phone() -> str:
    return f"137{random.randrange(10**8):08d}"


@pytest.fixture()
def minor(demo):
    """A seeded resident with a health record but no phone (under 18)."""
    used = getattr(minor, "used", set())
    for r in demo.residents:
        if r["phone"] is None and r["resident_id"] not in used:
            used.add(r["resident_id"])
            minor.used = used
            return r
    pytest.skip("no resident without a phone in the seed")


def _village_name(app, village_id: str) -> str:
    from backend.models.facility import Facility
    return Facility.get(village_id).name


def _submit(client, person, r, phone, **over) -> object:
    data = {"name": r["name"], "id_number": r["id_number"], "phone": phone,
            "village_id": r["village_id"], "csrf_token": person.csrf(), **over}
    return client.post("/register", data=data,
                       environ_base={"REMOTE_ADDR": f"10.88.{random.randrange(250)}.1"})


def test_the_form_lists_villages_by_name_under_their_township(client, app, minor):
    html = client.get("/register").get_data(as_text=True)
    assert "<optgroup" in html and _village_name(app, minor["village_id"]).replace("卫生室", "") in html
    assert minor["village_id"] in html  # the value; the label is the name
    assert "申请登记" in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("field,value,message", [
    ("name", "A1", "姓名"),
    ("id_number", "110101199001011234", "校验位"),
    ("phone", "12345", "11位手机号"),
    ("village_id", "twp-01", "请选择所在的村"),
    ("village_id", "no-such-village", "请选择所在的村"),
])
def test_bad_input_is_refused_in_chinese_and_nothing_is_stored(client, person, minor, field, value, message):
    phone = value if field == "phone" else _fresh_phone()
    r = _submit(client, person, minor, phone, **({} if field == "phone" else {field: value}))
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert list(RegistrationRequest.query(minor["township_id"],
                                          filter_condition=RegistrationRequest.phone == phone)) == []


def test_staff_match_the_request_and_the_resident_is_told_and_can_log_in(app, client, person, minor):
    phone = _fresh_phone()
    assert "申请已提交" in _submit(client, person, minor, phone).get_data(as_text=True)
    assert "申请已提交" in _submit(client, person, minor, phone).get_data(as_text=True)  # repeat
    stored = list(RegistrationRequest.query(minor["township_id"],
                                            filter_condition=RegistrationRequest.phone == phone))
    assert len(stored) == 1 and stored[0].status == "pending"

    person.login_staff(f"admin-{minor['township_id']}")
    queue = client.get("/api/registration-requests").get_json()["requests"]
    [item] = [q for q in queue if q["request_id"] == stored[0].request_id]
    assert item["candidate"]["resident_id"] == minor["resident_id"]
    assert item["id_number"].count("*") == 8 and "*" in item["phone"]   # masked in the list
    page = client.get("/registrations").get_data(as_text=True)
    assert minor["name"] in page and "匹配此档案并短信通知" in page

    texts = app.extensions["code_sender"].provider.messages
    before = len(texts)
    token = person.page_csrf("/registrations")
    r = client.post(f"/registrations/{stored[0].request_id}/match",
                    data={"resident_id": minor["resident_id"], "csrf_token": token})
    assert r.status_code == 303 and "done=matched" in r.location
    assert Account.get(f"m:{phone}").resident_id == minor["resident_id"]
    assert Resident.get(minor["resident_id"]).phone == phone
    [told] = [t for t in texts[before:] if t["phone"] == phone]
    assert told["params"] == {"name": minor["name"]} and told["template"] == "local-registration_done"
    assert RegistrationRequest.get(minor["township_id"], stored[0].request_id).told == "sent"

    again = client.post(f"/api/registration-requests/{stored[0].request_id}/match",
                        json={"resident_id": minor["resident_id"]}, headers={"X-CSRF-Token": token})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "request_handled"

    client.post("/logout", data={"csrf_token": token})
    me = person.login_resident(phone)
    assert me["resident_id"] == minor["resident_id"]


def test_a_number_already_in_use_is_not_taken_over(app, client, person, demo, minor):
    taken = demo.demo_resident["phone"]
    _submit(client, person, minor, taken)
    [req] = list(RegistrationRequest.query(minor["township_id"],
                                           filter_condition=RegistrationRequest.phone == taken))
    person.login_staff(f"admin-{minor['township_id']}")
    r = client.post(f"/api/registration-requests/{req.request_id}/match",
                    json={"resident_id": minor["resident_id"]},
                    headers={"X-CSRF-Token": person.page_csrf("/registrations")})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "phone_in_use"
    assert Account.get(f"m:{taken}").resident_id == demo.demo_resident["resident_id"]
    assert RegistrationRequest.get(req.township_id, req.request_id).status == "pending"


def test_decline_tells_the_resident_to_come_in_and_allows_a_new_request(app, client, person, minor):
    phone = _fresh_phone()
    _submit(client, person, minor, phone)
    [req] = list(RegistrationRequest.query(minor["township_id"],
                                           filter_condition=RegistrationRequest.phone == phone))
    person.login_staff(f"admin-{minor['township_id']}")
    token = person.page_csrf("/registrations")
    texts = app.extensions["code_sender"].provider.messages
    before = len(texts)
    r = client.post(f"/api/registration-requests/{req.request_id}/decline", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json()["status"] == "declined"
    assert [t["params"] for t in texts[before:] if t["phone"] == phone] == [{"name": minor["name"]}]
    client.post("/logout", data={"csrf_token": token})
    _submit(client, person, minor, phone)
    assert len(list(RegistrationRequest.query(minor["township_id"],
                                              filter_condition=RegistrationRequest.phone == phone))) == 2


def test_only_the_villages_own_centre_handles_it(client, person, demo, minor):
    phone = _fresh_phone()
    _submit(client, person, minor, phone)
    [req] = list(RegistrationRequest.query(minor["township_id"],
                                           filter_condition=RegistrationRequest.phone == phone))
    other = next(s["username"] for s in demo.staff if s["role"] == "township_admin"
                 and s["facility_id"] != minor["township_id"])
    person.login_staff(other)
    token = person.page_csrf("/")
    r = client.post(f"/api/registration-requests/{req.request_id}/match",
                    json={"resident_id": minor["resident_id"]}, headers={"X-CSRF-Token": token})
    assert r.status_code == 404
    assert req.request_id not in client.get("/registrations").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token})
    person.login_resident(demo.demo_resident["phone"])
    assert client.get("/api/registration-requests").status_code == 403


def test_no_record_yet_staff_create_one_and_the_resident_is_told(app, client, person, demo):
    from infra.seed import make_id_number
    from datetime import date
    id_number = make_id_number(date(1988, 3, 4), random.randrange(500, 999), True)
    village = next(f for f in demo.facilities if f["kind"] == "village")
    phone = _fresh_phone()
    newcomer = {"name": "王建国", "id_number": id_number, "village_id": village["facility_id"]}
    assert "申请已提交" in _submit(client, person, newcomer, phone).get_data(as_text=True)
    [req] = list(RegistrationRequest.query(village["parent_id"],
                                           filter_condition=RegistrationRequest.phone == phone))
    person.login_staff(f"admin-{village['parent_id']}")
    token = person.page_csrf("/registrations")
    page = client.get("/registrations").get_data(as_text=True)
    assert "为其建档并短信通知" in page and "未找到身份证号相同的健康档案" in page
    texts = app.extensions["code_sender"].provider.messages
    before = len(texts)
    r = client.post(f"/registrations/{req.request_id}/create", data={"csrf_token": token})
    assert r.status_code == 303 and "done=created" in r.location
    account = Account.get(f"m:{phone}")
    created = Resident.get(account.resident_id)
    assert (created.id_number, created.name, created.phone, created.village_id) == \
        (id_number, "王建国", phone, village["facility_id"])
    assert [t["params"] for t in texts[before:] if t["phone"] == phone] == [{"name": "王建国"}]
    again = client.post(f"/api/registration-requests/{req.request_id}/create", headers={"X-CSRF-Token": token})
    assert again.status_code == 409
