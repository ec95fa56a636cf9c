"""Benchmark: the due-list page (/team) of a team of 2,000 contracted residents.

    python -m bench.due_list [--quick] [--residents N] [--requests N]

Through Flask's test client against moto's DynamoDB server (over HTTP, as in tests).
The page is one Query on the by-team-due index (team_id, due_key between today and
today+7, Limit 31) plus the session GetItem and the team GetItem; prints the rows shown,
the DynamoDB requests per page and the latency figures.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import time

os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")

from bench._harness import count_requests, seed_team  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=None)
    args = parser.parse_args(argv)
    n_requests = args.requests or (20 if args.quick else 100)

    from backend import create_app
    from backend.config import Config
    from infra import localdb
    from infra.tables import create_all

    port, server = localdb.start_in_thread()
    try:
        app = create_app(Config.local(dynamodb_endpoint=f"http://127.0.0.1:{port}",
                                      table_prefix="bench-due", secure_cookies=False,
                                      testing=True, secret_key="bench"))
        create_all()
        started = time.perf_counter()
        info = seed_team(args.residents)
        seed_s = time.perf_counter() - started
        client = app.test_client()
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        r = client.post("/api/auth/staff-login", json={"username": "benchdoc",
                                                       "password": "Bench-2026-pass"},
                        headers={"X-CSRF-Token": token})
        assert r.status_code == 200, r.get_json()
        first = client.get("/team")
        assert first.status_code == 200, first.status_code
        page = first.get_data(as_text=True)
        rows = int(re.search(r'id="row-count">(\d+)<', page).group(1))
        more = 'id="more"' in page
        counter, restore = count_requests()
        client.get("/team")
        per_page = counter["n"]
        restore()
        times = []
        for _ in range(n_requests):
            t0 = time.perf_counter()
            resp = client.get("/team")
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200
        times.sort()
        p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
        print(f"residents: {args.residents}")
        print(f"chronic_cases: {info['cases']}")
        print(f"rows_on_page: {rows}")
        print(f"next_page_link: {more}")
        print(f"dynamodb_requests_per_page: {per_page}")
        print(f"page_bytes: {len(page.encode())}")
        print(f"requests: {n_requests}")
        print(f"p50_ms: {statistics.median(times):.1f}")
        print(f"p95_ms: {p95:.1f}")
        print(f"max_ms: {times[-1]:.1f}")
        print(f"seed_s: {seed_s:.1f}")
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
