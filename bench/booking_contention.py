"""Booking contention: many people at once on one slice; nothing may be overbooked.

    python -m bench.booking_contention [--quick] [--attempts N] [--capacity N]

Starts its own local DynamoDB (moto, atomic like DynamoDB), builds the Flask app, creates one
slice and N residents with sessions, then fires N concurrent booking attempts (one thread
each, released together) through the Flask test client. DynamoDB requests are counted per
attempt with botocore event hooks on every client the app uses.
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from datetime import datetime, timedelta

os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--attempts", type=int, default=None)
    parser.add_argument("--capacity", type=int, default=20)
    args = parser.parse_args(argv)
    attempts = args.attempts or (120 if args.quick else 500)

    from backend import create_app
    from backend.config import Config
    from infra import localdb
    from infra.tables import create_all

    port, server = localdb.start_in_thread()
    config = Config.local(dynamodb_endpoint=f"http://127.0.0.1:{port}",
                          table_prefix=f"bench-{uuid.uuid4().hex[:6]}", secure_cookies=False,
                          testing=True, secret_key="bench")
    app = create_app(config)
    create_all()
    import logging
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # hundreds of threads share one pool

    from backend.models.account import Account
    from backend.models.base import all_models, _connection, utcnow
    from backend.models.booking import Booking, Slot
    from backend.models.facility import Facility
    from backend.models.people import Resident
    from backend.rules.booking import CHINA
    from backend.services.auth import create_session

    Facility("bench-01", kind="township", name="压测卫生院", parent_id="cty-b", county_id="cty-b",
             departments=["全科门诊"]).save()
    day = (datetime.now(CHINA) + timedelta(days=2)).date()
    starts = int(datetime(day.year, day.month, day.day, 8, 0, tzinfo=CHINA).timestamp())
    slot = Slot("bench-01#全科门诊", f"{day.isoformat()}T08:00#bench", facility_id="bench-01",
                department="全科门诊", kind="outpatient", day=day.isoformat(), start="08:00",
                end="09:00", template_id="bench", starts_at=starts, opens_at=0,
                release_at=starts - 86400, capacity=args.capacity, cap_online=args.capacity,
                cap_desk=0, cap_referral=0, left_online=args.capacity, left_desk=0,
                left_referral=0, held=0, booked=0, fee=100, max_per_person=2,
                cancel_notice_minutes=120)
    slot.save()
    now = utcnow()
    people = []
    with Resident.batch_write() as rb, Account.batch_write() as ab:
        for i in range(attempts):
            rid = f"bench-r{i:05d}"
            phone = f"136{i:08d}"
            rb.save(Resident(rid, id_number=f"id{i}", name=f"压测{i}", sex="M", birth_date="1980-01-01",
                             phone=phone, household_id=rid, village_id="v", township_id="bench-01",
                             created_at=now))
            account = Account(f"m:{phone}", role="resident", display_name=f"压测{i}",
                              resident_id=rid, created_at=now)
            ab.save(account)
            people.append(account)
    sessions = [create_session(config, a) for a in people]

    # Count every DynamoDB request per attempt (thread-local), on every client the app uses.
    local = threading.local()
    totals = {"requests": 0}
    lock = threading.Lock()

    def count(**_):
        local.n = getattr(local, "n", 0) + 1
        with lock:
            totals["requests"] += 1

    clients = {id(_connection().client): _connection().client}
    for model in all_models():
        c = model._get_connection().connection.client
        clients[id(c)] = c
    for c in clients.values():
        c.meta.events.register("before-call.dynamodb", count, unique_id="bench-count")

    results: list[dict] = [None] * attempts  # type: ignore[list-item]
    barrier = threading.Barrier(attempts)

    def attempt(i: int) -> None:
        client = app.test_client()
        token, csrf = sessions[i]
        client.set_cookie("cc_session", token)
        local.n = 0
        barrier.wait()
        t0 = time.perf_counter()
        r = client.post("/api/bookings", json={"slot_id": slot.slot_id,
                                               "client_request_id": uuid.uuid4().hex},
                        headers={"X-CSRF-Token": csrf})
        results[i] = {"status": r.status_code, "ms": (time.perf_counter() - t0) * 1000,
                      "code": (r.get_json() or {}).get("error", {}).get("code"),
                      "requests": local.n}

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(attempts)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started

    confirmed = [r for r in results if r["status"] == 201]
    full = [r for r in results if r["code"] == "slot_full"]
    busy = [r for r in results if r["status"] in (429, 503)]
    errors = [r for r in results if r["status"] >= 500 and r["status"] != 503]
    stored = Slot.get(slot.bucket, slot.start_key, consistent_read=True)
    stored_bookings = sum(1 for _ in Booking.by_day.query(f"bench-01#{day.isoformat()}"))
    overbooked = max(0, stored_bookings - args.capacity, len(confirmed) - args.capacity,
                     -int(stored.left_online))
    lat = sorted(r["ms"] for r in results)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    per_booking = (sum(r["requests"] for r in confirmed) / len(confirmed)) if confirmed else 0
    print(f"attempts: {attempts}")
    print(f"capacity: {args.capacity}")
    print(f"confirmed: {len(confirmed)}")
    print(f"told_full: {len(full)}")
    print(f"told_retry_429_503: {len(busy)}")
    print(f"errors_500: {len(errors)}")
    print(f"overbooked: {overbooked}")
    print(f"stored_bookings: {stored_bookings}")
    print(f"slot_left_online: {int(stored.left_online)}")
    print(f"throughput_per_s: {attempts / elapsed:.1f}")
    print(f"p50_ms: {statistics.median(lat):.1f}")
    print(f"p95_ms: {p(0.95):.1f}")
    print(f"p99_ms: {p(0.99):.1f}")
    print(f"ddb_requests_per_booking: {per_booking:.2f}")
    print(f"ddb_requests_per_full_answer: "
          f"{(sum(r['requests'] for r in full) / len(full)) if full else 0:.2f}")
    print(f"ddb_requests_total: {totals['requests']}")
    server.shutdown()
    ok = len(confirmed) == min(args.capacity, attempts) and overbooked == 0 and not errors
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
