"""The notice ladder under load: 1,000 must-arrive notices, half the people with no working push.

    python -m bench.notice_ladder [--quick]

Half the recipients have a phone with a working push subscription (a local push service that
checks VAPID and decrypts); of the other half, one in two has no subscription and one in two
a dead one (the push service answers 410). Every recipient has a mobile number. One
`notify_many` (slot offers, 停诊 and referral bookings), then the people whose push arrived
click it (the service worker marks the notice read), then the every-minute ladder task runs
after every kind's confirmation time. Texts go through the real Alibaba Cloud SDK to a local
stand-in that checks the ACS3 signature. Targets: undelivered 0, texts_per_notice_max 1,
texts only where push could not deliver (texts_where_push_delivered 0).
"""
from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from datetime import timedelta

from bench._harness import DAYTIME, figures, local_app

KINDS = (("slot_offer", True), ("day_closed", True), ("referral_booked", False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 notices")
    parser.add_argument("--notices", type=int, default=None)
    args = parser.parse_args(argv)
    count = args.notices or (200 if args.quick else 1000)

    with local_app("bench-ladder", push=True, push_concurrency=16, sms_provider="console") as bench:
        from backend.models.base import new_id, utcnow
        from backend.models.notices import Notice
        from backend.models.people import Resident
        from backend.models.push import PushSubscription
        from backend.models.texts import CountyTextBudget
        from backend.services import ladder, notify, push, sms
        from backend.services.sms_alibaba import AlibabaProvider
        from tests.push_receiver import Reply
        from tests.sms_fakes import FakeAlibabaSms

        fake = FakeAlibabaSms("LTAI-bench", "bench-secret").start()
        settings = sms.SmsSettings(provider="alibaba", templates={"notice": "SMS_BENCH_1"},
                                   endpoint=fake.endpoint, key_id="LTAI-bench",
                                   key_secret="bench-secret", backoff_seconds=0.05)
        bench.app.extensions["code_sender"] = sms.Texter(AlibabaProvider(settings), settings)
        notify.utcnow = lambda: DAYTIME   # the notices' clock: daytime (quiet hours aside)
        run = new_id()
        rng = random.Random(11)
        people = [f"bench{run}-{i:05d}" for i in range(count)]
        pushable = set(people[: count // 2])
        with bench.app.app_context():   # set-up, not measured
            from backend.models.facility import Facility
            Facility("twp-01", kind="township", name="乌兰镇卫生院", parent_id="cty-01",
                     county_id="cty-01").save()
            CountyTextBudget("cty-01", daily_limit=100_000, per_person=5, set_by="bench",
                             set_at=utcnow()).save()
            with Resident.batch_write() as batch:
                for i, rid in enumerate(people):
                    batch.save(Resident(rid, id_number="-", name="居民", sex="F", birth_date="1950-01-01",
                                        phone=f"13{rng.randrange(10**9):09d}", household_id="hh",
                                        village_id="vil-twp-01-01", township_id="twp-01",
                                        created_at=utcnow()))
            with PushSubscription.batch_write() as batch:
                for i, rid in enumerate(people):
                    if rid in pushable or i % 2 == 0:
                        dev = bench.receiver.device() if rid in pushable else bench.receiver.device(Reply(410))
                        batch.save(PushSubscription(f"res:{rid}", push.device_id_for(dev.endpoint),
                                                    endpoint=dev.endpoint, p256dh=dev.p256dh, auth=dev.auth,
                                                    token_hash="-", label="bench", created_at=utcnow()))
            requests = []
            for i, rid in enumerate(people):
                kind, urgent = KINDS[i % len(KINDS)]
                requests.append(notify.NoticeRequest(
                    f"res:{rid}", kind, "候补号源已为您保留" if kind == "slot_offer" else "停诊通知",
                    "12月3日 周四 09:30 全科门诊，请在10:05前确认。", url="/booking", urgent=urgent))

            started = time.perf_counter()
            notices = notify.notify_many(requests)
            first_seconds = time.perf_counter() - started
            pushed = {n.notice_id for n in Notice.batch_get([(n.recipient, n.notice_id) for n in notices])
                      if any(d.channel == "webpush" and d.status == "delivered" for d in n.deliveries)}
            for n in notices:            # the people whose push arrived click it
                if n.notice_id in pushed:
                    notify.mark_read(n.recipient, n.notice_id)
            started = time.perf_counter()
            due = ladder.run_due(DAYTIME + timedelta(days=1, minutes=-1))
            ladder_seconds = time.perf_counter() - started

            final = list(Notice.batch_get([(n.recipient, n.notice_id) for n in notices]))
        texts = Counter(r["out_id"] for r in fake.accepted())
        texted = {n.notice_id for n in final if n.text_state == "sent"}
        undelivered = [n for n in final if n.notice_id not in pushed and n.notice_id not in texted]
        figures(notices=len(final), push_delivered=len(pushed), texts_sent=sum(texts.values()),
                texts_per_notice_max=max(texts.values(), default=0),
                texts_where_push_delivered=sum(1 for nid in texts if nid in pushed),
                undelivered=len(undelivered), seconds=first_seconds + ladder_seconds,
                notify_seconds=first_seconds, ladder_task_seconds=ladder_seconds,
                ladder_task_due=due.get("due", 0))
        fake.stop()
        ok = not undelivered and max(texts.values(), default=0) <= 1 and not (set(texts) & pushed)
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
