"""What the benchmarks share: a local DynamoDB (moto over HTTP), an app bound to it, a local
push service, and the `key: value` output.

    with local_app("bench-x", push=True) as bench:   # bench.app, bench.receiver (or None)
        ...
        figures(notices=1000, seconds=1.23)
"""
from __future__ import annotations

import os
import random
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = ["local_app", "Bench", "figures", "DAYTIME", "seed_team", "count_requests", "staff_client",
           "percentile", "TEAM", "TOWNSHIP"]

# A fixed daytime clock (10:00 in Shanghai): benchmarks measure sending, not quiet hours.
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)


@dataclass
class Bench:
    app: object
    server: object
    receiver: object | None


@contextmanager
def local_app(prefix: str, *, push: bool = False, **config):
    """moto's DynamoDB on a free port, the tables, an app (testing config), and optionally a
    push service on 127.0.0.1 that checks VAPID and decrypts; all stopped afterwards."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    from backend import create_app
    from backend.config import Config
    from infra import localdb
    from infra.tables import create_all

    port, server = localdb.start_in_thread()
    receiver = None
    if push:
        from backend.config import DEFAULT_PUSH_HOSTS
        from backend.services import push as push_service
        private, public = push_service.generate_vapid_keys()
        # The local push service is on 127.0.0.1: listed, and loopback allowed (bench only).
        config.update(vapid_private_key=private, vapid_public_key=public,
                      push_allowed_hosts=DEFAULT_PUSH_HOSTS + ("127.0.0.1",),
                      push_allow_loopback=True)
    config.setdefault("s3_endpoint", f"http://127.0.0.1:{port}")  # the same server serves S3
    app = create_app(Config.local(dynamodb_endpoint=f"http://127.0.0.1:{port}", table_prefix=prefix,
                                  secure_cookies=False, testing=True, **config))
    create_all()
    if push:
        from backend.services import push as push_service
        from tests.push_receiver import PushReceiver
        receiver = PushReceiver(app.config["COUNTYCARE"].vapid_public_key,
                                app.config["COUNTYCARE"].vapid_subject).start()
        push_service.CHANNEL.clock = lambda: DAYTIME
    try:
        yield Bench(app, server, receiver)
    finally:
        if receiver is not None:
            receiver.stop()
        server.shutdown()


def figures(**values) -> None:
    for key, value in values.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")


TEAM = "team-bench"
TOWNSHIP = "twp-bench"


def seed_team(residents: int, *, villages: int = 12, first: int = 0) -> dict:
    from backend.models.account import Account
    from backend.models.base import utcnow
    from backend.models.care import ChronicCase, Contract
    from backend.models.facility import Facility, Team, TeamMember, TeamMembership
    from backend.models.people import Resident
    from backend.services.auth import hash_password
    from backend.services.care_common import local_today
    from infra.seed import make_id_number

    """A township, its villages, one team with one doctor (benchdoc / Bench-2026-pass) and
    `residents` contracted residents with realistic names, about half with a chronic case,
    their search terms and the team's change log: what a real centre's tables hold."""
    from backend.models.facility import Facility as Place
    from backend.services import search, sync_log
    from infra.seed import GIVEN, SURNAMES, VILLAGE_SUFFIX, VILLAGE_WORDS

    rng = random.Random(6 + first)
    today = local_today()
    now = utcnow()
    Facility(TOWNSHIP, kind="township", name="基准镇卫生院", parent_id="cty-bench",
             county_id="cty-bench").save()
    Team(TEAM, facility_id=TOWNSHIP, name="基准家庭医生队", members=[
        TeamMember(login="s:benchdoc", name="基准医生", role="gp", phone="13800000000")]).save()
    Account("s:benchdoc", role="doctor", display_name="基准医生", facility_id=TOWNSHIP,
            password_hash=hash_password("Bench-2026-pass"), created_at=now).save()
    TeamMembership("s:benchdoc", team_id=TEAM, facility_id=TOWNSHIP).save()
    for v in range(villages):
        Place(f"vil-bench-{v:02d}", kind="village", parent_id=TOWNSHIP, county_id="cty-bench",
              name=VILLAGE_WORDS[v % len(VILLAGE_WORDS)] + VILLAGE_WORDS[(v * 7 + 3) % len(VILLAGE_WORDS)]
              + VILLAGE_SUFFIX[v % 2] + "卫生室").save()
    cases = 0
    people = []
    with Resident.batch_write() as rb, Contract.batch_write() as cb, ChronicCase.batch_write() as kb:
        for i in range(first, first + residents):
            rid = f"bench-{i:06d}"
            age = rng.randint(35, 90)
            born = today - timedelta(days=age * 365 + rng.randint(0, 364))
            village = f"vil-bench-{i % villages:02d}"
            conditions = set()
            if rng.random() < 0.45:
                conditions.add("hypertension")
            if rng.random() < 0.15:
                conditions.add("diabetes")
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            person = Resident(rid, id_number=make_id_number(born, i, i % 2 == 1), name=name,
                             sex="M" if i % 2 else "F", birth_date=born.isoformat(),
                             household_id=f"hh-bench-{i // 3}", village_id=village,
                             township_id=TOWNSHIP, team_id=TEAM, conditions=conditions,
                             phone=f"139{rng.randint(0, 99_999_999):08d}", created_at=now)
            rb.save(person)
            people.append(person)
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
    search.reindex(people)
    sync_log.backfill(TEAM, [p.resident_id for p in people])
    return {"cases": cases, "residents": people}


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


def staff_client(app, username: str = "benchdoc", password: str = "Bench-2026-pass"):
    """A test client logged in as a staff account; returns (client, csrf token)."""
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = client.post("/api/auth/staff-login", json={"username": username, "password": password},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.get_json()
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    return client, token


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(share * len(ordered))) - 1)]
