"""Benchmark: a doctor's offline day through the sync API, and the roster search.

    python -m bench.offline_sync [--quick] [--records N]

Through Flask's test client against moto's DynamoDB server over HTTP (as in tests):
- download: a first sync of a team of 600 residents (every page of /api/sync/changes plus
  the rules data), gzip-compressed as the browser receives it;
- upload: N follow-up records made offline, sent in batches of 50 (`/api/sync/records`),
  then the same records again (a phone that lost the answers): stored, duplicates, requests;
- search: the team grown to 2,000 residents, searched by name, pinyin initials, the last
  digits of a phone and a village name (`/api/residents/search`): p50/p95.
"""
from __future__ import annotations

import argparse
import gzip
import random
import time

from bench._harness import TEAM, figures, local_app, percentile, seed_team, staff_client

BATCH = 50


def download_bytes(client) -> tuple[int, int, int]:
    """(gzip bytes, residents, pages) of a first sync from cursor 0."""
    total, residents, pages, after = 0, 0, 0, 0
    rules = client.get("/rules/followup.json")
    total += len(gzip.compress(rules.get_data()))
    while True:
        r = client.get(f"/api/sync/changes?after={after}")
        assert r.status_code == 200, r.get_json()
        total += len(gzip.compress(r.get_data()))
        page = r.get_json()
        residents += len(page["residents"])
        pages += 1
        after = page["next_after"]
        if not page["more"]:
            return total, residents, pages


def upload(client, token: str, records: list[dict]) -> tuple[dict[str, int], int]:
    statuses: dict[str, int] = {}
    requests = 0
    for i in range(0, len(records), BATCH):
        r = client.post("/api/sync/records", json={"device_id": "bench-phone-0001",
                                                   "records": records[i:i + BATCH]},
                        headers={"X-CSRF-Token": token})
        requests += 1
        assert r.status_code == 200, r.get_json()
        for answer in r.get_json()["results"]:
            statuses[answer["status"]] = statuses.get(answer["status"], 0) + 1
    return statuses, requests


def search_queries(people, rng: random.Random, n: int) -> list[str]:
    from backend.rules import search as rules
    from backend.services import places

    villages = [v.name for v in places.villages_of("twp-bench")]
    out = []
    for i in range(n):
        p = rng.choice(people)
        kind = i % 4
        if kind == 0:
            out.append(p.name[:2])
        elif kind == 1:
            out.append(sorted(rules.name_terms(p.name)["p"], key=len)[-1])
        elif kind == 2:
            out.append(p.phone[-4:])
        else:
            out.append(rng.choice(villages)[:3])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--records", type=int, default=None)
    args = parser.parse_args(argv)
    n_records = args.records or (100 if args.quick else 1000)
    n_search = 40 if args.quick else 200
    rng = random.Random(10)
    with local_app("bench-sync", secret_key="bench") as bench:
        from backend.models.care import FollowUp

        first = seed_team(600)
        client, token = staff_client(bench.app)
        size, residents, pages = download_bytes(client)

        chronic = [p for p in first["residents"] if "hypertension" in (p.conditions or set())]
        from backend.models.base import new_id
        records = [{"id": new_id(), "kind": "followup", "resident_id": rng.choice(chronic).resident_id,
                    "made_at": "2026-11-25T09:00:00+08:00",
                    "data": {"disease": "hypertension", "systolic": rng.randint(110, 170),
                             "diastolic": rng.randint(65, 100)}}
                   for _ in range(n_records)]
        before = sum(1 for p in {r["resident_id"] for r in records} for _ in FollowUp.query(p))
        started = time.perf_counter()
        statuses, requests = upload(client, token, records)
        seconds = time.perf_counter() - started
        again, requests_again = upload(client, token, records)
        after = sum(1 for p in {r["resident_id"] for r in records} for _ in FollowUp.query(p))

        more = seed_team(1400, first=600)
        people = first["residents"] + more["residents"]
        times = []
        hits = 0
        for q in search_queries(people, rng, n_search):
            t0 = time.perf_counter()
            r = client.get("/api/residents/search", query_string={"q": q})
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.get_json()
            hits += bool(r.get_json()["residents"])
        figures(team=TEAM, download_residents=residents, download_pages=pages,
                download_kb_gz=round(size / 1024, 1),
                records=n_records, stored=after - before, stored_answers=statuses.get("stored", 0),
                duplicates=again.get("stored", 0), already_stored=again.get("already_stored", 0),
                requests=requests, requests_per_25_records=round(requests / n_records * 25, 2),
                seconds=round(seconds, 2), search_team=len(people), searches=n_search,
                searches_with_hits=hits, search_p50_ms=round(percentile(times, 0.5), 1),
                search_p95_ms=round(percentile(times, 0.95), 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
