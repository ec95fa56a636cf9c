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
import random
import re
import statistics
import time
from datetime import timedelta

os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")

TEAM = "team-bench"
TOWNSHIP = "twp-bench"


def seed(residents: int) -> dict:
    from backend.models.account import Account
    from backend.models.base import utcnow
    from backend.models.care import ChronicCase, Contract
    from backend.models.facility import Facility, Team, TeamMember, TeamMembership
    from backend.models.people import Resident
    from backend.services.auth import hash_password
    from backend.services.care_common import local_today
    from infra.seed import make_id_number

    rng = random.Random(6)
    today = local_today()
    now = utcnow()
    Facility(TOWNSHIP, kind="township", name="基准镇卫生院", parent_id="cty-bench",
             county_id="cty-bench").save()
    Team(TEAM, facility_id=TOWNSHIP, name="基准家庭医生队", members=[
        TeamMember(login="s:benchdoc", name="基准医生", role="gp", phone="13800000000")]).save()
    Account("s:benchdoc", role="doctor", display_name="基准医生", facility_id=TOWNSHIP,
            password_hash=hash_password("Bench-2026-pass"), created_at=now).save()
    TeamMembership("s:benchdoc", team_id=TEAM, facility_id=TOWNSHIP).save()
    cases = 0
    with Resident.batch_write() as rb, Contract.batch_write() as cb, ChronicCase.batch_write() as kb:
        for i in range(residents):
            rid = f"bench-{i:06d}"
            age = rng.randint(35, 90)
            born = today - timedelta(days=age * 365 + rng.randint(0, 364))
            village = f"vil-bench-{i % 12:02d}"
            conditions = set()
            if rng.random() < 0.45:
                conditions.add("hypertension")
            if rng.random() < 0.15:
                conditions.add("diabetes")
            name = f"居民{i:04d}"
            rb.save(Resident(rid, id_number=make_id_number(born, i, i % 2 == 1), name=name,
                             sex="M" if i % 2 else "F", birth_date=born.isoformat(),
                             household_id=f"hh-bench-{i // 3}", village_id=village,
                             township_id=TOWNSHIP, team_id=TEAM, conditions=conditions,
                             created_at=now))
            cb.save(Contract(rid, f"ctr-bench-{i:06d}", group_id=f"grp-{i}", team_id=TEAM,
                             kind="individual", years=1, start=today.isoformat(),
                             end=(today + timedelta(days=364)).isoformat(), status="active",
                             channel="desk", signed_by="s:benchdoc", signed_at=now, name=name,
                             village_id=village, active_team=TEAM,
                             contact_key=f"0000-00-00#{rid}"))
            for disease in sorted(conditions):
                due = today + timedelta(days=rng.randint(-30, 90))
                high = rng.random() < 0.1
                kb.save(ChronicCase(rid, disease, team_id=TEAM, next_due=due.isoformat(),
                                    due_key=f"{due.isoformat()}#{rid}#{disease}", name=name,
                                    village_id=village, birth_date=born.isoformat(),
                                    last_visit=(due - timedelta(days=90)).isoformat(),
                                    last_outcome="urgent_referral" if high else "controlled",
                                    last_systolic=186 if high else 132,
                                    last_diastolic=100 if high else 82,
                                    visits_year=str(today.year), visits_count=rng.randint(0, 3),
                                    revision=1))
                cases += 1
    return {"cases": cases}


def count_requests():
    """Count DynamoDB calls made by botocore (all clients) during a block."""
    import botocore.client
    counter = {"n": 0}
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        counter["n"] += 1
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting
    return counter, lambda: setattr(botocore.client.BaseClient, "_make_api_call", original)


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
        info = seed(args.residents)
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
