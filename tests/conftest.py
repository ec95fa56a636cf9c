"""Fixtures: one moto DynamoDB server per test session, reached over HTTP by PynamoDB."""
from __future__ import annotations

import os
import re
import uuid

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")

from backend import create_app  # noqa: E402
from backend.config import DEFAULT_PUSH_HOSTS, Config  # noqa: E402
from infra import localdb  # noqa: E402

SEED_RESIDENTS = 240


@pytest.fixture(scope="session")
def dynamodb_endpoint():
    """moto's server on a free 127.0.0.1 port, atomic like DynamoDB (infra.localdb)."""
    port, server = localdb.start_in_thread(test_hooks=True)  # the fault hook
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def make_config(endpoint: str, **overrides) -> Config:
    from backend.rules.login_limits import FailurePolicy
    generous = FailurePolicy(cap=10_000, free=10_000)
    base = dict(dynamodb_endpoint=endpoint, s3_endpoint=endpoint, aws_region="cn-northwest-1",
                table_prefix="test", secure_cookies=False, code_sender="console",
                secret_key="test-secret", testing=True,
                # Many tests log in as the demo resident; the limits have their own tests.
                code_request_interval=(10_000, 60), code_requests_per_phone=(10_000, 3600),
                code_failures=generous, password_failures=generous,
                # The local push service (tests/push_receiver.py) is on 127.0.0.1: listed
                # explicitly, and loopback allowed in tests only (tests/test_push_api.py
                # turns the flag off to check that it is refused everywhere else).
                push_allowed_hosts=DEFAULT_PUSH_HOSTS + ("127.0.0.1",), push_allow_loopback=True)
    base.update(overrides)
    return Config.local(**base)


@pytest.fixture(scope="session")
def app(dynamodb_endpoint):
    from infra.seed import seed
    from infra.tables import create_all, create_buckets

    app = create_app(make_config(dynamodb_endpoint))
    create_all()
    create_buckets(app.config["COUNTYCARE"])
    app.config["DEMO"] = seed(SEED_RESIDENTS, force=True)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def demo(app):
    return app.config["DEMO"]


class Browserless:
    """Helpers to act as a person through the test client (login, CSRF)."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def csrf(self) -> str:
        html = self.client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def page_csrf(self, path: str = "/") -> str:
        html = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def login_resident(self, phone: str, address: str | None = None, *, consent: bool = True) -> dict:
        address = address or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.1"
        env = {"REMOTE_ADDR": address}
        token = self.csrf()
        r = self.client.post("/api/auth/code", json={"phone": phone},
                             headers={"X-CSRF-Token": token}, environ_base=env)
        assert r.status_code == 200, r.get_json()
        code = self.app.extensions["code_sender"].last_code(phone)
        r = self.client.post("/api/auth/login", json={"phone": phone, "code": code},
                             headers={"X-CSRF-Token": token}, environ_base=env)
        assert r.status_code == 200, r.get_json()
        me = self.client.get("/api/me").get_json()
        if consent:  # what a resident does at first login (the privacy notice, separate consent)
            from backend.rules.privacy import PRIVACY_VERSION
            state = self.client.get("/api/privacy/consent").get_json()["state"]
            if state != "granted":
                r = self.client.post("/api/privacy/consent", json={
                    "version": PRIVACY_VERSION, "notice_read": True, "health_data": True},
                    headers={"X-CSRF-Token": me["csrf_token"]})
                assert r.status_code == 200, r.get_json()
        return me

    def login_staff(self, username: str, password: str | None = None) -> dict:
        from infra.seed import DEMO_PASSWORD
        token = self.csrf()
        r = self.client.post("/api/auth/staff-login",
                             json={"username": username, "password": password or DEMO_PASSWORD},
                             headers={"X-CSRF-Token": token},
                             environ_base={"REMOTE_ADDR": f"10.9.{uuid.uuid4().int % 250}.1"})
        assert r.status_code == 200, r.get_json()
        return self.client.get("/api/me").get_json()


@pytest.fixture()
def person(app, client):
    return Browserless(app, client)


@pytest.fixture()
def receiver(app, monkeypatch):
    """A local push service (127.0.0.1) that checks VAPID and decrypts, with fresh app keys."""
    from backend.services import push
    from tests.push_receiver import PushReceiver
    cfg = app.config["COUNTYCARE"]
    private, public = push.generate_vapid_keys()
    monkeypatch.setattr(cfg, "vapid_private_key", private)
    monkeypatch.setattr(cfg, "vapid_public_key", "")
    r = PushReceiver(public, cfg.vapid_subject).start()
    yield r
    r.stop()
