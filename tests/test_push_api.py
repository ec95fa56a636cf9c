"""Subscribing, unsubscribing and resubscribing devices through the JSON API."""
from __future__ import annotations

import itertools

import pytest

from backend.models.push import PushSubscription
from backend.services import push




_phones = itertools.count(40)


def someone_phone(demo) -> str:
    """A different adult per login (login codes are rate-limited per phone)."""
    while True:
        r = demo.residents[next(_phones)]
        if r["phone"]:
            return r["phone"]


def post(client, token, path, body):
    return client.post(path, json=body, headers={"X-CSRF-Token": token})


def test_public_key_is_served_to_the_page(client, receiver):
    r = client.get("/api/push/public-key")
    assert r.status_code == 200
    assert r.get_json() == {"public_key": receiver.vapid_public_key}


def test_resident_subscribes_several_devices(person, client, demo, receiver):
    me = person.login_resident(someone_phone(demo))
    token = person.page_csrf()
    phone, tablet = receiver.device(), receiver.device()
    ids = []
    for device in (phone, tablet):
        r = post(client, token, "/api/push/subscriptions", device.subscription_json())
        assert r.status_code == 201, r.get_json()
        assert len(r.get_json()["token"]) > 30
        ids.append(r.get_json()["device_id"])
    listed = {d["device_id"] for d in client.get("/api/push/subscriptions").get_json()["devices"]}
    assert set(ids) <= listed
    stored = PushSubscription.get(f"res:{me['resident_id']}", ids[0])
    assert stored.recipient == f"res:{me['resident_id']}" and stored.endpoint == phone.endpoint
    assert stored.token_hash != r.get_json()["token"]  # only the hash is kept


@pytest.mark.parametrize("mutate, code", [
    (lambda s: s.pop("keys"), "validation_failed"),
    (lambda s: s["keys"].pop("auth"), "validation_failed"),
    (lambda s: s["keys"].pop("p256dh"), "validation_failed"),
    (lambda s: s.pop("endpoint"), "validation_failed"),
    (lambda s: s.update(extra="x"), "validation_failed"),
    (lambda s: s.update(endpoint="http://push.example.com/send/1"), "invalid_subscription"),
    (lambda s: s["keys"].update(auth="c2hvcnQ"), "invalid_subscription"),
    (lambda s: s["keys"].update(p256dh="BA" + "A" * 85), "invalid_subscription"),
])
def test_bad_subscription_is_refused_and_nothing_stored(person, client, demo, receiver, mutate, code):
    me = person.login_resident(someone_phone(demo))
    token = person.page_csrf()
    device = receiver.device()
    body = device.subscription_json()
    mutate(body)
    r = post(client, token, "/api/push/subscriptions", body)
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == code
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get(f"res:{me['resident_id']}", push.device_id_for(device.endpoint))


def test_plain_http_endpoint_refused_outside_tests_and_local(app, receiver, monkeypatch):
    cfg = app.config["COUNTYCARE"]
    monkeypatch.setattr(cfg, "testing", False)
    monkeypatch.setattr(cfg, "stage", "prod")
    sub = receiver.device().subscription_json()
    with app.app_context(), pytest.raises(Exception) as err:
        push.subscribe("res:x", endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"],
                       auth=sub["keys"]["auth"])
    assert getattr(err.value, "code", None) == "invalid_subscription"


def test_subscribing_needs_a_session_and_csrf(app, receiver):
    fresh = app.test_client()
    r = fresh.post("/api/push/subscriptions", json=receiver.device().subscription_json())
    assert r.status_code in (401, 403)


def test_cannot_unsubscribe_a_device_that_is_not_yours(app, person, client, demo, receiver):
    # Someone else's device ...
    other_device = receiver.device()
    other_phone = someone_phone(demo)
    other = app.test_client()
    from tests.conftest import Browserless
    someone = Browserless(app, other)
    them = someone.login_resident(other_phone)
    r = post(other, someone.page_csrf(), "/api/push/subscriptions", other_device.subscription_json())
    other_id = r.get_json()["device_id"]
    # ... is not found for me, and stays subscribed.
    me = person.login_resident(someone_phone(demo))
    token = person.page_csrf()
    r = client.delete(f"/api/push/subscriptions/{other_id}", headers={"X-CSRF-Token": token})
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "device_not_found"
    assert PushSubscription.get(f"res:{them['resident_id']}", other_id).endpoint == other_device.endpoint
    # Mine goes.
    mine = post(client, token, "/api/push/subscriptions", receiver.device().subscription_json())
    mine_id = mine.get_json()["device_id"]
    r = client.delete(f"/api/push/subscriptions/{mine_id}", headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get(f"res:{me['resident_id']}", mine_id)


def test_service_worker_resubscribes_with_its_device_token(app, person, client, demo, receiver):
    me = person.login_resident(someone_phone(demo))
    old_device, new_device = receiver.device(), receiver.device()
    r = post(client, person.page_csrf(), "/api/push/subscriptions", old_device.subscription_json())
    old = r.get_json()
    worker = app.test_client()  # no session, no CSRF token: the device token is the credential
    body = {"device_id": old["device_id"], "token": "x" * 43,
            "subscription": new_device.subscription_json()}
    r = worker.post("/api/push/resubscribe", json=body)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "invalid_device_token"
    mine = f"res:{me['resident_id']}"
    assert PushSubscription.get(mine, old["device_id"])
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get(mine, push.device_id_for(new_device.endpoint))

    body["token"] = old["token"]
    r = worker.post("/api/push/resubscribe", json=body)
    assert r.status_code == 200, r.get_json()
    new = r.get_json()
    assert new["device_id"] == push.device_id_for(new_device.endpoint) and new["token"] != old["token"]
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get(mine, old["device_id"])
    assert PushSubscription.get(mine, new["device_id"]).endpoint == new_device.endpoint
    # The old token is spent.
    r = worker.post("/api/push/resubscribe", json=body)
    assert r.status_code == 403


def test_shared_phone_is_taken_over_by_who_subscribes_it_last(app, receiver):
    browser = receiver.device()
    sub = browser.subscription_json()
    with app.app_context():
        first = push.subscribe("res:a-shared", endpoint=sub["endpoint"],
                               p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"])
        push.subscribe("res:b-shared", endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"],
                       auth=sub["keys"]["auth"])
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get("res:a-shared", first.device_id)
    assert PushSubscription.get("res:b-shared", first.device_id).endpoint == browser.endpoint
