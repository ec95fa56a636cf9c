"""What the benchmarks share: a local DynamoDB (moto over HTTP), an app bound to it, a local
push service, and the `key: value` output.

    with local_app("bench-x", push=True) as bench:   # bench.app, bench.receiver (or None)
        ...
        figures(notices=1000, seconds=1.23)
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["local_app", "Bench", "figures", "DAYTIME"]

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
