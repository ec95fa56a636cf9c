"""Schemathesis against /api/openapi.json on a local app, signed in as a resident and a doctor.

    python -m bench.api_fuzz [--quick] [--examples N] [--show N]

Every operation of the document gets N generated requests per role (positive data from
the schemas, with the session cookie and CSRF token of that role) over real HTTP to the
app on a local port (moto's DynamoDB/S3 behind it). Counts what the issue asks for:

    requests: ...             requests sent
    server_errors: ...        5xx answers (target 0)
    schema_violations: ...    answers that do not match the document (target 0)
"""
from __future__ import annotations

import argparse
import threading
from collections import Counter

from bench._harness import figures, local_app

SKIP = {("POST", "/api/auth/logout")}   # would end the session the rest of the run uses


def _serve(app):
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # thousands of fuzzed URLs are noise
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="fuzz-app").start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _signed_in(app, base: str, role: str, demo):
    """A requests.Session with a role's session cookie, and its CSRF token."""
    import re

    import requests
    from infra.seed import DEMO_PASSWORD
    s = requests.Session()
    s.trust_env = False
    html = s.get(f"{base}/login").text
    anon = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    if role == "resident":
        phone = demo.demo_resident["phone"]
        assert s.post(f"{base}/api/auth/code", json={"phone": phone},
                      headers={"X-CSRF-Token": anon}).status_code == 200
        code = app.extensions["code_sender"].last_code(phone)
        assert s.post(f"{base}/api/auth/login", json={"phone": phone, "code": code},
                      headers={"X-CSRF-Token": anon}).status_code == 200
    else:
        assert s.post(f"{base}/api/auth/staff-login",
                      json={"username": "doctor01", "password": DEMO_PASSWORD},
                      headers={"X-CSRF-Token": anon}).status_code == 200
    token = s.get(f"{base}/api/me").json()["csrf_token"]
    if role == "resident":
        from backend.rules.privacy import PRIVACY_VERSION
        s.post(f"{base}/api/privacy/consent", json={"version": PRIVACY_VERSION, "notice_read": True,
                                                    "health_data": True},
               headers={"X-CSRF-Token": token})
    return s, token


def run(examples: int, show: int) -> dict:
    import hypothesis
    import schemathesis
    from schemathesis.core.failures import Failure, FailureGroup, ServerError
    from schemathesis.openapi.checks import JsonSchemaError
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from schemathesis.checks import not_a_server_error

    with local_app("bench-fuzz", code_requests_per_phone=(10_000, 3600),
                   logins_per_account=(10_000, 900), code_requests_per_address=(10_000, 3600),
                   logins_per_address=(10_000, 900)) as bench:
        from infra.seed import seed
        from infra.tables import create_buckets
        create_buckets(bench.app.config["COUNTYCARE"])
        demo = seed(60, force=True)
        server, base = _serve(bench.app)
        counts: Counter = Counter()
        seen: dict[str, str] = {}
        try:
            doc = bench.app.test_client().get("/api/openapi.json").get_json()
            schema = schemathesis.openapi.from_dict(doc)
            for role in ("resident", "doctor"):
                session, token = _signed_in(bench.app, base, role, demo)
                for result in schema.get_all_operations():
                    operation = result.ok()
                    if (operation.method.upper(), operation.path) in SKIP:
                        continue
                    headers = {} if operation.method.upper() == "GET" else {"X-CSRF-Token": token}
                    strategy = operation.as_strategy(headers=headers or None)

                    @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                                         derandomize=True, phases=[hypothesis.Phase.generate],
                                         suppress_health_check=list(hypothesis.HealthCheck))
                    @hypothesis.given(case=strategy)
                    def probe(case):
                        response = case.call(base_url=base, session=session, headers=headers,
                                             timeout=30)
                        counts["requests"] += 1
                        try:
                            case.validate_response(response, checks=[not_a_server_error,
                                                                     response_schema_conformance])
                        except (FailureGroup, Failure) as err:
                            failures = list(err.exceptions) if isinstance(err, FailureGroup) else [err]
                            for f in failures:
                                kind = ("server_errors" if isinstance(f, ServerError) else
                                        "schema_violations" if isinstance(f, JsonSchemaError) else
                                        "other_failures")
                                counts[kind] += 1
                                label = f"{kind} {role} {operation.method.upper()} {operation.path} -> {response.status_code}"
                                seen.setdefault(label, (getattr(f, "message", "") or str(f))[:300])

                    probe()
        finally:
            server.shutdown()
    for label, message in list(seen.items())[:show]:
        print(f"# {label}: {message.splitlines()[0] if message else ''}")
    return {"requests": counts["requests"], "server_errors": counts["server_errors"],
            "schema_violations": counts["schema_violations"],
            "other_failures": counts["other_failures"], "examples_per_operation": examples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 requests per operation and role")
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--show", type=int, default=20, help="distinct failures to print")
    args = parser.parse_args(argv)
    figures(**run(3 if args.quick else args.examples, args.show))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
