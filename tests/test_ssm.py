"""Secrets of a deployed stage: SSM parameters → environment, and no start without a key."""
from __future__ import annotations

import pytest

from backend import create_app, ssm
from backend.config import Config


class FakeSsm:
    """The two pages GetParametersByPath returns for a stage's path."""

    def __init__(self, pages: list[dict]):
        self.pages, self.calls = pages, []

    def get_parameters_by_path(self, **kwargs):
        self.calls.append(kwargs)
        return self.pages[len(self.calls) - 1]


@pytest.mark.parametrize("name, env", [
    ("/countycare/prod/secret-key", "COUNTYCARE_SECRET_KEY"),
    ("/countycare/prod/vapid-private-key", "COUNTYCARE_VAPID_PRIVATE_KEY"),
    ("/countycare/prod/sms/sign-name", "COUNTYCARE_SMS_SIGN_NAME"),
])
def test_parameter_name_becomes_a_countycare_variable(name, env):
    assert ssm.env_name(name, "/countycare/prod/") == env


def test_every_page_under_the_path_is_loaded_once_and_decrypted(monkeypatch):
    path = "/countycare/test-ssm/"
    monkeypatch.setenv("COUNTYCARE_SSM_PATH", path)
    monkeypatch.delenv("COUNTYCARE_SECRET_KEY", raising=False)
    monkeypatch.delenv("COUNTYCARE_VAPID_PRIVATE_KEY", raising=False)
    monkeypatch.setattr(ssm, "_loaded", set())
    client = FakeSsm([
        {"Parameters": [{"Name": path + "secret-key", "Value": "s3cret"}], "NextToken": "t1"},
        {"Parameters": [{"Name": path + "vapid-private-key", "Value": "vapid"}]},
    ])
    assert ssm.load_into_environ(client) == ["COUNTYCARE_SECRET_KEY",
                                             "COUNTYCARE_VAPID_PRIVATE_KEY"]
    import os
    assert os.environ["COUNTYCARE_SECRET_KEY"] == "s3cret"
    assert all(c["WithDecryption"] and c["Path"] == path for c in client.calls)
    assert client.calls[1]["NextToken"] == "t1"
    # A warm container does not ask again.
    assert ssm.load_into_environ(client) == [] and len(client.calls) == 2


def test_nothing_is_fetched_without_a_path(monkeypatch):
    monkeypatch.delenv("COUNTYCARE_SSM_PATH", raising=False)
    assert ssm.load_into_environ(FakeSsm([])) == []


def test_a_deployed_stage_refuses_to_start_with_the_local_secret(app):
    config = Config.local(stage="prod", secret_key="local-development-only", testing=False,
                          dynamodb_endpoint=app.config["COUNTYCARE"].dynamodb_endpoint,
                          table_prefix="test", aws_region="cn-northwest-1")
    with pytest.raises(RuntimeError, match="COUNTYCARE_SECRET_KEY"):
        create_app(config)
