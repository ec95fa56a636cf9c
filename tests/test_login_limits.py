"""Login limits: guesses capped per number per day, no lock-out of the owner, no texts to
unregistered numbers, staff slowed by address, one session per account, the platform's
address. Through HTTP -> Flask -> PynamoDB -> the local server."""
from __future__ import annotations

import re
import uuid

import pytest

from backend import create_app
from backend.models.account import Account
from backend.models.base import utcnow
from backend.rules.login_limits import FailurePolicy, wait_before_next
from backend.services import guesses
from backend.services.auth import DEVICE_COOKIE, hash_password, resident_login_name
from tests.conftest import make_config

DAY = 24 * 3600


def _csrf(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _addr() -> dict:
    return {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"}


def _fresh_resident() -> str:
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    Account(resident_login_name(phone), role="resident", display_name="测试居民",
            created_at=utcnow()).save()
    return phone


def _wrong(code: str, i: int = 1) -> str:
    return f"{(int(code) + i) % 1_000_000:06d}"


class Phone:
    """One browser (its own cookies) asking for codes and logging in."""

    def __init__(self, app, address: str | None = None):
        self.app, self.client = app, app.test_client()
        self.token = _csrf(self.client)
        self.address = address

    def _env(self):
        return {"REMOTE_ADDR": self.address} if self.address else _addr()

    def ask(self, phone: str):
        return self.client.post("/api/auth/code", json={"phone": phone},
                                headers={"X-CSRF-Token": self.token}, environ_base=self._env())

    def login(self, phone: str, code: str):
        r = self.client.post("/api/auth/login", json={"phone": phone, "code": code},
                             headers={"X-CSRF-Token": self.token}, environ_base=self._env())
        if r.status_code == 200:  # signed in: writes now carry the session's token
            self.token = self.client.get("/api/me").get_json()["csrf_token"]
        return r

    def code(self, phone: str) -> str:
        return self.app.extensions["code_sender"].last_code(phone)


@pytest.fixture()
def clock(monkeypatch):
    """The login limits' clock, moved by hand (never asserted on)."""
    import time
    now = [time.time()]
    monkeypatch.setattr(guesses, "clock", lambda: now[0])
    return now


@pytest.fixture(autouse=True)
def _tables(app):
    """The session's app creates the tables and the demo county."""


def _app(dynamodb_endpoint, **overrides):
    return create_app(make_config(dynamodb_endpoint, **overrides))


# ---- the rule ------------------------------------------------------------------------

POLICY = FailurePolicy(cap=10, window=DAY, free=3, base_wait=30)


@pytest.mark.parametrize("ages,wait", [
    ([], 0),                                   # nothing failed
    ([100, 90], 0),                            # within the free failures
    ([30, 20, 10], 30 - 10),                   # three: 30 s after the last, 10 s gone
    ([40, 30, 20, 10], 60 - 10),               # four: 60 s after the last
    ([900, 800, 700, 600, 500], 0),            # fifth waited out (120 s)
    ([DAY + 5, DAY + 4, DAY + 3], 0),          # older than a day: forgotten
    ([9000 - i for i in range(10)], DAY - 9000),   # ten in a day: until the oldest leaves
])
def test_waits_grow_with_failures_and_ten_a_day_is_the_cap(ages, wait):
    now = 1_700_000_000.0
    assert wait_before_next([now - a for a in ages], now, POLICY) == wait


def test_the_cap_holds_whatever_the_waits():
    """An attacker guessing at every allowed moment for a day gets the cap, no more."""
    now, failures, start = 1_700_000_000.0, [], 1_700_000_000.0
    while now < start + DAY:
        wait = wait_before_next(failures, now, POLICY)
        if wait:
            now += wait
            continue
        failures.append(now)
        now += 1
    assert len([t for t in failures if t < start + DAY]) == 10


# ---- item 1: guesses per number per day ----------------------------------------------

def test_wrong_guesses_are_capped_per_number_whatever_the_codes_issued(dynamodb_endpoint):
    """Old: 5 guesses per code and a fresh code reset the count (about 25 an hour)."""
    app = _app(dynamodb_endpoint, code_failures=FailurePolicy(cap=10, window=DAY, free=10))
    phone = _fresh_resident()
    attacker = Phone(app)  # a new address for every request
    outcomes = []
    for i in range(11):
        assert attacker.ask(phone).status_code == 200  # a fresh code before every guess
        r = attacker.login(phone, "000000" if i % 2 else "999999")
        outcomes.append(r.get_json()["error"]["code"])
    assert outcomes[:10] == ["wrong_code"] * 10
    assert outcomes[10] == "rate_limited"
    # The right code of a fresh request is refused as well: the guess is not checked.
    owner = Phone(app)
    owner.ask(phone)
    r = owner.login(phone, owner.code(phone))
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "rate_limited"
    assert "次数太多" in r.get_json()["error"]["message"] and int(r.headers["Retry-After"]) > 0
    assert guesses.failures_of("code", _subject(app, phone), DAY) == 10


def _subject(app, phone):
    from backend.services.ratelimit import subject_key
    return subject_key(app.config["COUNTYCARE"].secret_key, phone)


def test_an_attacker_gets_at_most_ten_wrong_guesses_a_day(dynamodb_endpoint, clock):
    """The figure: guess at every allowed moment for 24 h (default policy), count checks."""
    app = _app(dynamodb_endpoint, code_failures=FailurePolicy())
    phone = _fresh_resident()
    attacker, start, checked, refused = Phone(app), clock[0], 0, 0
    while clock[0] < start + DAY:
        attacker.ask(phone)
        r = attacker.login(phone, "123456")
        if r.status_code == 429:
            refused += 1
            clock[0] += int(r.headers["Retry-After"])
            continue
        assert r.get_json()["error"]["code"] in {"wrong_code", "code_expired"}
        checked += 1
        clock[0] += 1
        if checked > 10:
            break
    print(f"\nwrong guesses checked for one number in 24 h: {checked} (refused: {refused})")
    assert checked == 10


def test_a_right_code_is_not_counted_as_a_failure(dynamodb_endpoint):
    app = _app(dynamodb_endpoint, code_failures=FailurePolicy(cap=3, window=DAY, free=3))
    phone = _fresh_resident()
    for _ in range(4):
        p = Phone(app)
        p.ask(phone)
        assert p.login(phone, p.code(phone)).status_code == 200
    assert guesses.failures_of("code", _subject(app, phone), DAY) == 0


# ---- item 2: the owner cannot be locked out ------------------------------------------

def test_a_code_stays_valid_when_others_are_requested(dynamodb_endpoint):
    """Old: each request replaced the number's code, so an attacker's request voided it."""
    app = _app(dynamodb_endpoint)
    phone = _fresh_resident()
    owner, attacker = Phone(app), Phone(app)
    assert owner.ask(phone).status_code == 200
    sent = owner.code(phone)
    for _ in range(5):  # as many as the one-a-minute limit allows in a code's 5 minutes
        assert attacker.ask(phone).status_code == 200
    r = owner.login(phone, sent)
    assert r.status_code == 200, r.get_json()


def test_request_limits_stop_sending_never_verifying(dynamodb_endpoint):
    """The daily number of texts is used up by an attacker: the code sent still works."""
    app = _app(dynamodb_endpoint, code_requests_per_phone=(3, DAY))
    phone = _fresh_resident()
    owner, attacker = Phone(app), Phone(app)
    assert owner.ask(phone).status_code == 200
    sent = owner.code(phone)
    statuses = [attacker.ask(phone).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = owner.ask(phone)
    assert refused.status_code == 429 and "仍可使用" in refused.get_json()["error"]["message"]
    assert owner.login(phone, sent).status_code == 200


def test_one_code_request_a_minute_per_number(dynamodb_endpoint):
    app = _app(dynamodb_endpoint, code_request_interval=(1, 60))
    phone = _fresh_resident()
    p = Phone(app)
    first, second = p.ask(phone), p.ask(phone)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.get_json()["error"]["code"] == "rate_limited"


def test_the_owners_known_phone_logs_in_while_the_number_is_locked(dynamodb_endpoint):
    """Guesses from elsewhere use up the number's day; the phone its owner logged in from
    before (login-device cookie) has its own limits and still gets in."""
    app = _app(dynamodb_endpoint, code_failures=FailurePolicy(cap=10, window=DAY, free=10),
               code_requests_per_phone=(12, DAY))
    phone = _fresh_resident()
    owner = Phone(app)
    owner.ask(phone)
    assert owner.login(phone, owner.code(phone)).status_code == 200
    assert owner.client.get_cookie(DEVICE_COOKIE) is not None
    attacker = Phone(app)
    for _ in range(12):
        attacker.ask(phone)
        attacker.login(phone, "000000")
    assert attacker.ask(phone).status_code == 429          # the number's texts are used up
    stranger = Phone(app)                                   # a browser never logged in
    assert stranger.ask(phone).status_code == 429
    assert owner.ask(phone).status_code == 200              # the owner's phone: its own limits
    r = owner.login(phone, owner.code(phone))
    assert r.status_code == 200, r.get_json()
    # The cookie is bound to its number: it gives nothing for another one.
    other = _fresh_resident()
    for _ in range(10):
        attacker.login(other, "000000")
    owner.ask(other)
    assert owner.login(other, owner.code(other)).status_code == 429


# ---- item 3: unregistered numbers ----------------------------------------------------

def _normalise(body: str, phone: str) -> str:
    body = re.sub(r'content="[^"]+"|value="[^"]*"', "", body)
    return body.replace(phone, "PHONE")


def test_unregistered_numbers_get_no_text_and_the_same_answer(app, client, person):
    registered, unregistered = _fresh_resident(), f"137{uuid.uuid4().int % 10**8:08d}"
    console = app.extensions["code_sender"].provider
    token = person.csrf()
    answers = {}
    for phone in (registered, unregistered):
        before = len(console.messages)
        api = client.post("/api/auth/code", json={"phone": phone},
                          headers={"X-CSRF-Token": token}, environ_base=_addr())
        form = client.post("/login/code", data={"phone": phone, "csrf_token": token},
                           environ_base=_addr())
        sent = [m for m in console.messages[before:] if m["phone"] == phone]
        answers[phone] = (api.status_code, api.get_json(), form.status_code,
                          _normalise(form.get_data(as_text=True), phone), len(sent))
    assert answers[registered][-1] == 2 and answers[unregistered][-1] == 0  # no text
    assert answers[registered][:-1] == answers[unregistered][:-1]           # identical
    status, body, _, page, _ = answers[unregistered]
    assert status == 200 and body["ok"] is True
    assert "登记" in body["message"] and body["register_url"] == "/register"
    assert "申请登记" in page and 'href="/register"' in page
    # Guessing behaves the same: a wrong code is just that, for either number.
    for phone in (registered, unregistered):
        r = client.post("/api/auth/login", json={"phone": phone, "code": "000000"},
                        headers={"X-CSRF-Token": token}, environ_base=_addr())
        assert r.get_json()["error"]["code"] == "wrong_code"


# ---- item 4: staff passwords ---------------------------------------------------------

def _staff(username: str, password: str) -> None:
    from backend.services.auth import staff_login_name
    Account(staff_login_name(username), role="doctor", display_name="测试医生",
            facility_id="twp-01", password_hash=hash_password(password), created_at=utcnow()).save()


def _staff_login(client, token, username, password, address):
    return client.post("/api/auth/staff-login", json={"username": username, "password": password},
                       headers={"X-CSRF-Token": token}, environ_base={"REMOTE_ADDR": address})


def test_wrong_passwords_slow_the_attackers_address_not_the_owner(dynamodb_endpoint):
    """Old: ten wrong passwords from anywhere locked the account for 15 minutes."""
    app = _app(dynamodb_endpoint, password_failures=FailurePolicy(cap=10, window=DAY, free=5))
    username, password = f"nurse_{uuid.uuid4().hex[:8]}", "Correct-horse-9"
    _staff(username, password)
    client = app.test_client()
    token = _csrf(client)
    attacker = "198.51.100.7"
    statuses = [_staff_login(client, token, username, "guess", attacker).status_code
                for _ in range(12)]
    assert statuses[:5] == [400] * 5 and set(statuses[5:]) == {429}
    for address in ("198.51.100.8", "198.51.100.9"):   # more of the attacker's addresses
        for _ in range(5):
            _staff_login(client, token, username, "guess", address)
    owner = app.test_client()
    r = _staff_login(owner, _csrf(owner), username, password, "10.20.30.40")
    assert r.status_code == 200, r.get_json()
    # The attacker's address stays slowed even with the right password.
    assert _staff_login(client, token, username, password, attacker).status_code == 429


# ---- item 5: one session per account -------------------------------------------------

@pytest.mark.parametrize("kind", ["resident", "staff"])
def test_logging_in_again_ends_the_earlier_session(app, kind):
    first, second = Phone(app), Phone(app)
    if kind == "resident":
        phone = _fresh_resident()
        for p in (first, second):
            p.ask(phone)
            assert p.login(phone, p.code(phone)).status_code == 200
    else:
        username = f"doc_{uuid.uuid4().hex[:8]}"
        _staff(username, "Pass-word-77")
        for p in (first, second):
            assert _staff_login(p.client, p.token, username, "Pass-word-77",
                                "10.1.2.3").status_code == 200
    assert first.client.get("/api/me").status_code == 401
    assert "您好" not in first.client.get("/").get_data(as_text=True)
    assert second.client.get("/api/me").status_code == 200


# ---- the client's address ------------------------------------------------------------

def test_forwarded_for_headers_do_not_escape_the_address_limit(dynamodb_endpoint):
    """Old: the last X-Forwarded-For entry keyed the limit; a client sets it at will."""
    app = _app(dynamodb_endpoint, code_requests_per_address=(2, 3600))
    client = app.test_client()
    token = _csrf(client)
    statuses = [client.post("/api/auth/code", json={"phone": f"135{uuid.uuid4().int % 10**8:08d}"},
                            headers={"X-CSRF-Token": token, "X-Forwarded-For": f"203.0.113.{i}"},
                            environ_base={"REMOTE_ADDR": "10.66.0.1"}).status_code
                for i in range(3)]
    assert statuses == [200, 200, 429]


def _gateway_event(version: str, body: str, forwarded: str, source_ip: str) -> dict:
    token = "t" * 43
    headers = {"Content-Type": "application/json", "Host": "cc.example.cn",
               "X-Forwarded-For": forwarded, "X-CSRF-Token": token}
    if version == "1.0":  # REST API
        return {"httpMethod": "POST", "path": "/api/auth/code", "body": body,
                "headers": {**headers, "Cookie": f"cc_csrf={token}"},
                "queryStringParameters": None, "isBase64Encoded": False,
                "requestContext": {"identity": {"sourceIp": source_ip}}}
    return {"version": "2.0", "rawPath": "/api/auth/code", "rawQueryString": "", "body": body,
            "headers": {k.lower(): v for k, v in headers.items()}, "cookies": [f"cc_csrf={token}"],
            "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST", "sourceIp": source_ip}}}


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_on_lambda_the_address_is_api_gateways_source_ip(dynamodb_endpoint, version):
    """Build the environ as Zappa does from an API Gateway event; its REMOTE_ADDR comes
    from X-Forwarded-For (client-written), the event's sourceIp from API Gateway."""
    import json

    from zappa.wsgi import create_wsgi_request

    app = _app(dynamodb_endpoint, code_requests_per_address=(2, 3600))
    source_ip = f"203.0.113.{uuid.uuid4().int % 250}"
    statuses = []
    for i in range(3):
        body = json.dumps({"phone": f"135{uuid.uuid4().int % 10**8:08d}"})
        event = _gateway_event(version, body, f"192.0.2.{i}", source_ip)
        environ = create_wsgi_request(event)
        environ["lambda.event"] = event  # what zappa.handler adds
        assert environ["REMOTE_ADDR"] == f"192.0.2.{i}"  # Zappa's, from the header
        out = {}
        app(environ, lambda status, headers, exc=None: out.update(status=status))
        statuses.append(int(out["status"].split()[0]))
    assert statuses == [200, 200, 429]
