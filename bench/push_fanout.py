"""Fan-out benchmark: 1,000 notices, one device each, pushed to a local push service.

    python -m bench.push_fanout [--quick] [--concurrency N]

One `notify_many` call (what a scheduled task does): the notices are stored in the inbox,
every recipient's devices looked up, each push signed (VAPID) and encrypted (aes128gcm)
by pywebpush and POSTed to a push service on 127.0.0.1 that verifies the JWT and
decrypts every body, and each notice's delivery recorded. Local DynamoDB is moto.
"""
from __future__ import annotations

import argparse
import os
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 notices (under 30 s)")
    parser.add_argument("--notices", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--dedupe", action="store_true",
                        help="give each notice a dedupe key (one transaction each; moto copies "
                             "every table per transaction, so this measures moto, not push)")
    args = parser.parse_args(argv)
    count = args.notices or (200 if args.quick else 1000)

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    from backend import create_app
    from backend.config import DEFAULT_PUSH_HOSTS, Config
    from backend.models.base import new_id, utcnow
    from backend.models.push import PushSubscription
    from backend.services import notify, push
    from infra import localdb
    from infra.tables import create_all
    from tests.push_receiver import PushReceiver

    port, server = localdb.start_in_thread()
    private, public = push.generate_vapid_keys()
    app = create_app(Config.local(dynamodb_endpoint=f"http://127.0.0.1:{port}",
                                  table_prefix="bench-push", secure_cookies=False, testing=True,
                                  vapid_private_key=private, vapid_public_key=public,
                                  push_concurrency=args.concurrency,
                                  # the local push service is on 127.0.0.1 (bench only)
                                  push_allowed_hosts=DEFAULT_PUSH_HOSTS + ("127.0.0.1",),
                                  push_allow_loopback=True))
    create_all()
    receiver = PushReceiver(public, app.config["COUNTYCARE"].vapid_subject, decrypt=os.environ.get("BENCH_DECRYPT", "1") == "1").start()
    # A fixed daytime clock: the benchmark measures sending, not quiet hours.
    from datetime import datetime, timezone
    push.CHANNEL.clock = lambda: datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)

    run = new_id()
    recipients = [f"res:bench-{run}-{i:05d}" for i in range(count)]
    with PushSubscription.batch_write() as batch:  # set-up, not measured
        for r in recipients:
            dev = receiver.device()
            batch.save(PushSubscription(r, push.device_id_for(dev.endpoint),
                                        endpoint=dev.endpoint, p256dh=dev.p256dh, auth=dev.auth,
                                        token_hash="-", label="bench", created_at=utcnow()))
    requests = [notify.NoticeRequest(r, "appointment_reminder", "明天09:30门诊提醒",
                                     "您预约了明天（11月26日）09:30 在乌兰镇卫生院全科门诊就诊，"
                                     "请带好身份证，提前15分钟到达。", url="/booking/b-001",
                                     dedupe_key=f"bench-{run}" if args.dedupe else None)
                for r in recipients]
    ddb_before = getattr(server.app, "requests", None)
    with app.app_context():
        started = time.perf_counter()
        notices = notify.notify_many(requests)
        seconds = time.perf_counter() - started
        ddb_after = server.app.requests if ddb_before is not None else None
        # The same notices again through the channel alone: device look-ups and pushes,
        # without storing notices or recording deliveries (moto serialises those writes).
        stored = [n for n in notices if n is not None]
        started = time.perf_counter()
        again = push.CHANNEL.deliver_many(stored)
        fanout_seconds = time.perf_counter() - started

    delivered = sum(1 for n in notices if n is not None and any(
        d.channel == "webpush" and d.status == "delivered"
        for d in type(n).get(n.recipient, n.notice_id).deliveries))
    decrypted = sum(1 for r in receiver.received
                    if r.plaintext and "门诊提醒" in r.plaintext.decode("utf-8"))
    print(f"notices: {count}")
    print(f"delivered: {delivered}")
    print(f"seconds: {seconds:.2f}")
    print(f"concurrency: {args.concurrency}")
    print(f"dedupe_keys: {'yes' if args.dedupe else 'no'}")
    print(f"notices_per_second: {count / seconds:.0f}")
    print(f"fanout_only_seconds: {fanout_seconds:.2f}")
    print(f"fanout_only_delivered: {sum(1 for d in again.values() if d.status == 'delivered')}")
    print(f"pushes_received: {len(receiver.received)}")
    print(f"pushes_decrypted: {decrypted}  # by the local push service, after checking the VAPID JWT")
    print(f"vapid_or_decrypt_errors: {len(receiver.errors)}")
    if ddb_after is not None:
        print(f"dynamodb_requests: {ddb_after - ddb_before}")
    receiver.stop()
    server.shutdown()
    return 0 if delivered == count and not receiver.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
