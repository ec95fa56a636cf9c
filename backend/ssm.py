"""Secrets from AWS Systems Manager Parameter Store, loaded once per Lambda container.

The stage's `COUNTYCARE_SSM_PATH` (e.g. `/countycare/prod/`) names a parameter path; each
SecureString under it becomes an environment variable before `Config()` reads the
environment: `/countycare/prod/secret-key` → `COUNTYCARE_SECRET_KEY`. Locally and in tests
the path is unset and nothing is fetched. Secrets thus never sit in zappa_settings.json,
the bundle or the Lambda configuration.
"""
from __future__ import annotations

import os

__all__ = ["load_into_environ", "env_name"]

_loaded: set[str] = set()


def env_name(parameter_name: str, path: str) -> str:
    """`/countycare/prod/vapid-private-key` → `COUNTYCARE_VAPID_PRIVATE_KEY`."""
    leaf = parameter_name[len(path):] if parameter_name.startswith(path) else parameter_name
    return "COUNTYCARE_" + leaf.strip("/").replace("/", "_").replace("-", "_").upper()


def load_into_environ(client=None) -> list[str]:
    """Fetch every parameter under the stage's path (decrypted) into os.environ, once."""
    path = os.environ.get("COUNTYCARE_SSM_PATH", "")
    if not path or path in _loaded:
        return []
    if client is None:
        # botocore, not boto3: PynamoDB has already imported it (cold start).
        import botocore.session
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        client = botocore.session.get_session().create_client("ssm", region_name=region)
    names = []
    kwargs = {"Path": path, "Recursive": True, "WithDecryption": True}
    while True:
        page = client.get_parameters_by_path(**kwargs)
        for parameter in page.get("Parameters", []):
            name = env_name(parameter["Name"], path)
            os.environ[name] = parameter["Value"]
            names.append(name)
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    _loaded.add(path)
    return names
