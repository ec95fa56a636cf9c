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


def test_plain_http_endpoint_refused_without_the_tests_loopback_flag(app, receiver, monkeypatch):
    cfg = app.config["COUNTYCARE"]
    monkeypatch.setattr(cfg, "push_allow_loopback", False)
    sub = receiver.device().subscription_json()
    with app.app_context(), pytest.raises(Exception) as err:
        push.subscribe("res:x", endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"],
                       auth=sub["keys"]["auth"])
    assert getattr(err.value, "code", None) == "push_endpoint_not_https"


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


# ---- where a push may go (SSRF) ---------------------------------------------------------

@pytest.fixture()
def no_loopback(app, monkeypatch):
    """The configuration of every stage: the tests' loopback flag off."""
    monkeypatch.setattr(app.config["COUNTYCARE"], "push_allow_loopback", False)


@pytest.fixture()
def dns(monkeypatch):
    """The DNS seam: names resolve to the addresses a test says (no network)."""
    from backend.services import push_destinations
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        if host not in table:
            raise OSError("name not known")
        return table[host]

    monkeypatch.setattr(push_destinations, "_resolve", resolve)
    return table


@pytest.mark.parametrize("endpoint, code", [
    ("https://10.0.0.5/push/1", "push_endpoint_not_allowed"),
    ("https://169.254.169.254/latest/meta-data/", "push_endpoint_not_allowed"),
    ("https://127.0.0.1/push/1", "push_endpoint_private"),     # listed for tests, yet loopback
    ("https://push.example.com/send/1", "push_endpoint_not_allowed"),
    ("http://fcm.googleapis.com/fcm/send/1", "push_endpoint_not_https"),
    ("http://127.0.0.1:9/push/1", "push_endpoint_not_https"),
    ("https://fcm.googleapis.com:8080/fcm/send/1", "push_endpoint_not_allowed"),
])
def test_ssrf_endpoints_are_refused_with_400_and_nothing_stored(person, client, demo, receiver,
                                                                no_loopback, dns, endpoint, code):
    dns.update({"127.0.0.1": ["127.0.0.1"], "fcm.googleapis.com": ["142.250.72.10"]})
    me = person.login_resident(someone_phone(demo))
    token = person.page_csrf()
    body = receiver.device().subscription_json()
    body["endpoint"] = endpoint
    r = post(client, token, "/api/push/subscriptions", body)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["code"] == code and r.get_json()["error"]["message"]
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get(f"res:{me['resident_id']}", push.device_id_for(endpoint))


@pytest.mark.parametrize("addresses, status, code", [
    (["10.20.30.40"], 400, "push_endpoint_private"),
    (["169.254.169.254"], 400, "push_endpoint_private"),
    (["127.0.0.1"], 400, "push_endpoint_private"),
    (["::ffff:192.168.0.10"], 400, "push_endpoint_private"),
    (["142.250.72.10", "10.0.0.1"], 400, "push_endpoint_private"),   # every address counts
    ([], 400, "push_endpoint_private"),
    (None, 400, "push_endpoint_unresolved"),
    (["142.250.72.10"], 201, None),
])
def test_a_listed_host_is_refused_when_it_resolves_inside(person, client, demo, receiver,
                                                          no_loopback, dns, addresses, status, code):
    if addresses is not None:
        dns["fcm.googleapis.com"] = addresses
    person.login_resident(someone_phone(demo))
    token = person.page_csrf()
    body = receiver.device().subscription_json()
    body["endpoint"] = f"https://fcm.googleapis.com/fcm/send/{push.device_id_for(str(addresses))}"
    r = post(client, token, "/api/push/subscriptions", body)
    assert r.status_code == status, r.get_json()
    if code:
        assert r.get_json()["error"]["code"] == code


def test_resubscribe_is_checked_like_subscribe(person, client, demo, receiver, dns, monkeypatch):
    dns["127.0.0.1"] = ["127.0.0.1"]
    person.login_resident(someone_phone(demo))
    token = person.page_csrf()
    device = receiver.device()
    first = post(client, token, "/api/push/subscriptions", device.subscription_json()).get_json()
    monkeypatch.setattr(client.application.config["COUNTYCARE"], "push_allow_loopback", False)
    new = receiver.device().subscription_json()
    new["endpoint"] = "https://169.254.169.254/latest/meta-data/iam/"
    r = client.post("/api/push/resubscribe", json={"device_id": first["device_id"],
                                                   "token": first["token"], "subscription": new})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "push_endpoint_not_allowed"


def test_a_stored_endpoint_no_longer_allowed_is_not_sent_to_and_is_removed(app, person, client, demo,
                                                                          receiver, monkeypatch):
    """At send time too: a subscription stored earlier (or under a wider list) gets nothing."""
    from backend.services import notify
    me = person.login_resident(someone_phone(demo))
    token = person.page_csrf()
    device = receiver.device()
    device_id = post(client, token, "/api/push/subscriptions", device.subscription_json()).get_json()["device_id"]
    monkeypatch.setattr(app.config["COUNTYCARE"], "push_allow_loopback", False)
    monkeypatch.setattr(push.CHANNEL, "clock", lambda: __import__("datetime").datetime(
        2026, 11, 25, 2, 0, tzinfo=__import__("datetime").timezone.utc))
    recipient = f"res:{me['resident_id']}"
    with app.app_context():
        notice = notify.notify(recipient, kind="appointment_reminder", title="提醒", body="明天门诊")
    assert receiver.for_device(device) == []
    with pytest.raises(PushSubscription.DoesNotExist):
        PushSubscription.get(recipient, device_id)
    from backend.models.notices import Notice
    [d] = [d for d in Notice.get(recipient, notice.notice_id).deliveries if d.channel == "webpush"]
    assert d.status == "failed" and "push_endpoint_not_https" in d.detail


def test_every_push_connection_checks_the_address_it_reached(receiver):
    """DNS may change after subscribing (rebinding), and a push service may redirect: the
    sending session refuses a connection to a non-public address whatever the name said."""
    from backend.services import push_destinations
    device = receiver.device()
    before = len(receiver.for_device(device))
    with pytest.raises(push_destinations.RefusedDestination):
        push_destinations.session(allow_loopback=False).post(device.endpoint, data=b"x", timeout=2)
    assert len(receiver.for_device(device)) == before
    r = push_destinations.session(allow_loopback=True).post(device.endpoint, data=b"x", timeout=2)
    assert r.status_code < 500
