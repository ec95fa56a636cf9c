"""The local DynamoDB: moto's server on 127.0.0.1, atomic and (optionally) durable.

    python -m infra.localdb --port 8765 [--data .localdata/dynamodb.json] [--test-hooks]

moto 5.2.5 serves requests on several threads and its conditional writes are not atomic
across them (real DynamoDB is, per item and per transaction), so every DynamoDB request
runs under one lock here. moto keeps nothing on disk: with `--data`, every write that
succeeded is appended to a journal (`<data>.journal`, flushed and fsynced) *before* its
answer is sent, so no acknowledged write is lost even to `kill -9`. The journal is folded
into the snapshot (every table's definition, TTL and items) at start, every half minute
of writing and at shutdown; a start loads the snapshot, then replays the journal entries
the snapshot does not hold yet. Both files are readable by their owner only.

The server answers SDK clients on 127.0.0.1 only: a request from a browser page (any
`Origin` header, any CORS preflight) is refused, and no CORS header is ever sent. moto's
`/moto-api/` and the fault hook (`/_faults`) exist only with test hooks on (the tests'
in-process server); `make run` has neither.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

__all__ = ["serve", "free_port", "wait_until_up", "start_in_thread", "Journal", "SerialApp"]

READ_ONLY = {"GetItem", "Query", "Scan", "BatchGetItem", "DescribeTable", "ListTables",
             "TransactGetItems", "DescribeTimeToLive", "DescribeContinuousBackups",
             "ListTagsOfResource", "DescribeEndpoints"}
# What a replayed request needs to reach the same backend (region, service) and operation.
_JOURNALED_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_X_AMZ_TARGET", "CONTENT_TYPE", "HTTP_HOST")
FOLD_EVERY_SECONDS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port: int, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"local DynamoDB did not start on port {port}")


def _private_file(path: Path, mode: str):
    """Open `path` for writing, readable and writable by its owner only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC),
                 0o600)
    os.fchmod(fd, 0o600)  # an older file made with a looser mode
    return os.fdopen(fd, mode)


class Journal:
    """Acknowledged writes, one JSON line each, on disk before their answer is sent."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path, self.fsync = path, fsync
        self.seq = 0
        self._file = None

    def entries(self) -> list[dict]:
        """Whole entries in order; a torn last line (killed mid-write) was never answered."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_bytes().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                break
        return out

    def append(self, entry: dict) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = _private_file(self.path, "ab")
        self.seq += 1
        self._file.write(json.dumps({"seq": self.seq, **entry}, ensure_ascii=False).encode() + b"\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def truncate(self) -> None:
        """Empty the journal (its entries are in the snapshot now)."""
        if self._file is not None:
            self._file.close()
        self._file = _private_file(self.path, "wb")
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _refuse(start_response, status: str, message: str):
    body = json.dumps({"message": message}).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


class SerialApp:
    """WSGI wrapper: one DynamoDB request at a time; journals writes; no browsers.

    With `test_hooks`, tests can inject DynamoDB errors (throttling) with
    `POST /_faults {"operation": "GetItem", "code": "ThrottlingException", "count": 50}`
    and clear them with `DELETE /_faults`, and moto's `/moto-api/` is reachable.
    """

    def __init__(self, inner, *, test_hooks: bool = False, journal: Journal | None = None) -> None:
        self.inner = inner
        self.test_hooks = test_hooks
        self.journal = journal
        self.lock = threading.Lock()
        self.dirty = threading.Event()
        self.requests = 0
        self.faults: dict[str, list] = {}  # operation -> [error code, remaining count]
        # TransactWriteItems by ClientRequestToken, as DynamoDB keeps them for 10 minutes:
        # token -> (time, request body, status, headers, answer). moto ignores the token, so
        # a transaction the client retried after a timeout was applied again (or cancelled
        # by its own conditions) instead of answered as done.
        self.transactions: dict[str, tuple] = {}

    def _faults(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "DELETE":
            self.faults.clear()
        else:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            spec = json.loads(environ["wsgi.input"].read(size) or b"{}")
            self.faults[spec["operation"]] = [spec.get("code", "ThrottlingException"),
                                              int(spec.get("count", 1))]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        # SDKs never send Origin; a browser page always does on a cross-site request.
        if environ.get("HTTP_ORIGIN") is not None or environ["REQUEST_METHOD"] == "OPTIONS":
            return _refuse(start_response, "403 Forbidden", "browsers are not served here")
        if path.startswith("/moto-api/") or path == "/_faults":
            if not self.test_hooks:
                return _refuse(start_response, "404 Not Found", "not found")
            if path == "/_faults":
                return self._faults(environ, start_response)
            return self._answer(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        fault = self.faults.get(target)
        if fault and fault[1] > 0:
            fault[1] -= 1
            body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{fault[0]}",
                               "message": "injected by a test"}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        return self._answer(environ, start_response, target)

    def _answer(self, environ, start_response, target: str = ""):
        writes = bool(target) and target not in READ_ONLY
        request_body = b""
        if writes and (self.journal is not None or target == "TransactWriteItems"):
            size = int(environ.get("CONTENT_LENGTH") or 0)
            request_body = environ["wsgi.input"].read(size)
            environ["wsgi.input"] = io.BytesIO(request_body)
        seen: dict = {}

        def capture(status, headers, exc_info=None):
            # No CORS header leaves this server, whatever moto adds.
            seen["status"] = status
            seen["headers"] = [(k, v) for k, v in headers
                               if not k.lower().startswith("access-control-")]
            seen["exc_info"] = exc_info

        token = None
        if target == "TransactWriteItems":
            try:
                token = json.loads(request_body or b"{}").get("ClientRequestToken")
            except ValueError:
                token = None
        with self.lock:
            self.requests += 1
            done = self._idempotent(token, request_body)
            if done is not None:
                start_response(done[0], done[1])
                return [done[2]]
            result = self.inner(environ, capture)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            if writes and seen["status"].startswith("2"):
                if self.journal is not None:
                    # On disk before the answer: what the client was told happened, did.
                    self.journal.append({"headers": {h: environ[h] for h in _JOURNALED_HEADERS
                                                     if h in environ},
                                         "body": request_body.decode("utf-8")})
                self.dirty.set()
                if token:
                    self.transactions[token] = (time.monotonic(), request_body, seen["status"],
                                                seen["headers"], body)
        start_response(seen["status"], seen["headers"], seen["exc_info"])
        return [body]

    def _idempotent(self, token: str | None, request_body: bytes):
        """The stored answer to a transaction already applied under `token` (status,
        headers, body), a mismatch error for the token reused with other items, or None."""
        if not token:
            return None
        now = time.monotonic()
        if len(self.transactions) > 10_000:
            self.transactions = {k: v for k, v in self.transactions.items() if now - v[0] < 600}
        hit = self.transactions.get(token)
        if hit is None or now - hit[0] >= 600:
            return None
        if hit[1] != request_body:
            body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                               "message": "the token was used with other items"}).encode()
            return ("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                                        ("Content-Length", str(len(body)))], body)
        return hit[2], hit[3], hit[4]

    def replay(self, entry: dict) -> str:
        """Apply one journal entry again (at start); returns the status it got."""
        from werkzeug.test import EnvironBuilder

        headers = entry["headers"]
        builder = EnvironBuilder(method="POST", path="/", data=entry["body"].encode("utf-8"),
                                 content_type=headers.get("CONTENT_TYPE"))
        environ = builder.get_environ()
        environ.update(headers)
        seen = {}
        result = self.inner(environ, lambda status, h, exc=None: seen.update(status=status))
        b"".join(result)
        if hasattr(result, "close"):
            result.close()
        return seen.get("status", "")


def _backends():
    from moto.dynamodb.models import dynamodb_backends
    for account_id in list(dynamodb_backends.keys()):
        for region in list(dynamodb_backends[account_id].keys()):
            yield region, dynamodb_backends[account_id][region]


def snapshot(app: SerialApp, path: Path) -> int:
    """Fold everything into `path` atomically (0600), then empty the journal; returns the
    number of items. Under the lock: no write lands between the two."""
    data, count = [], 0
    with app.lock:
        app.dirty.clear()
        for region, backend in _backends():
            for name, table in backend.tables.items():
                desc = table.describe()["TableDescription"]
                items = [item.to_json()["Attributes"] for item in table.all_items()]
                count += len(items)
                data.append({"region": region, "name": name, "ttl": table.ttl,
                             "key_schema": desc["KeySchema"],
                             "attributes": desc["AttributeDefinitions"],
                             "gsis": [{"IndexName": g["IndexName"], "KeySchema": g["KeySchema"],
                                       "Projection": g["Projection"]}
                                      for g in desc.get("GlobalSecondaryIndexes", [])],
                             "items": items})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        seq = app.journal.seq if app.journal is not None else 0
        with _private_file(tmp, "w") as f:
            # `journal_seq`: the last journal entry this snapshot holds (replays skip it), so
            # a crash between the rename and the truncation replays nothing twice.
            f.write(json.dumps({"version": 2, "journal_seq": seq, "tables": data},
                               ensure_ascii=False))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        os.chmod(path, 0o600)
        if app.journal is not None:
            app.journal.truncate()
    return count


def restore(port: int, path: Path) -> int:
    """Load a snapshot through the server's own API; returns the number of items."""
    import boto3

    doc = json.loads(path.read_text())
    count = 0
    for t in doc["tables"]:
        client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name=t["region"], aws_access_key_id="local",
                              aws_secret_access_key="local")
        kwargs = dict(TableName=t["name"], KeySchema=t["key_schema"],
                      AttributeDefinitions=t["attributes"], BillingMode="PAY_PER_REQUEST")
        if t["gsis"]:
            kwargs["GlobalSecondaryIndexes"] = t["gsis"]
        client.create_table(**kwargs)
        ttl = t.get("ttl") or {}
        if ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName"):
            client.update_time_to_live(TableName=t["name"], TimeToLiveSpecification={
                "Enabled": True, "AttributeName": ttl["AttributeName"]})
        items = t["items"]
        for i in range(0, len(items), 25):
            client.batch_write_item(RequestItems={t["name"]: [
                {"PutRequest": {"Item": item}} for item in items[i:i + 25]]})
        count += len(items)
    return count


def _make_app(*, test_hooks: bool = False, journal: Journal | None = None) -> SerialApp:
    os.environ.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")  # read when moto is imported
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from infra import localdb_query
    localdb_query.install()
    return SerialApp(DomainDispatcherApplication(create_backend_app), test_hooks=test_hooks,
                     journal=journal)


def _quiet_handler():
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # one line per DynamoDB call is noise
            pass

    return Quiet


def start_in_thread(port: int | None = None, *, test_hooks: bool = False):
    """Start the server in this process (tests, benchmarks); returns (port, server).
    In memory only; `test_hooks` opens `/_faults` and `/moto-api/` (the tests' server)."""
    from werkzeug.serving import make_server

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    port = port or free_port()
    server = make_server("127.0.0.1", port, _make_app(test_hooks=test_hooks), threaded=True,
                         request_handler=_quiet_handler())
    threading.Thread(target=server.serve_forever, daemon=True, name="local-dynamodb").start()
    wait_until_up(port)
    return port, server


def journal_path(data: Path) -> Path:
    return data.with_name(data.name + ".journal")


def _recover(app: SerialApp, data: Path) -> tuple[int, int]:
    """Snapshot, then the journal's newer entries; returns (items restored, replayed)."""
    from werkzeug.serving import make_server

    journal, entries = app.journal, app.journal.entries()
    app.journal = None  # the restore's own writes are not journalled again
    restored, done, replayed = 0, 0, 0
    try:
        if data.exists():
            done = json.loads(data.read_text()).get("journal_seq", 0)
            # Restored on a private port: the public port opens only when the data is back.
            private = make_server("127.0.0.1", free_port(), app, threaded=True,
                                  request_handler=_quiet_handler())
            threading.Thread(target=private.serve_forever, daemon=True).start()
            try:
                restored = restore(private.server_port, data)
            finally:
                private.shutdown()
        for entry in entries:
            if entry["seq"] > done:
                app.replay(entry)
                replayed += 1
    finally:
        app.journal = journal
    journal.seq = max([done, *(e["seq"] for e in entries)])
    return restored, replayed


def serve(port: int, data: Path | None, *, test_hooks: bool = False, fsync: bool = True) -> None:
    from werkzeug.serving import make_server

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    journal = Journal(journal_path(data), fsync=fsync) if data else None
    app = _make_app(test_hooks=test_hooks, journal=journal)
    if data:
        restored, replayed = _recover(app, data)
        snapshot(app, data)  # fold: the journal starts empty
        print(f"local DynamoDB: restored {restored} items and {replayed} journalled writes "
              f"from {data}", flush=True)
    server = make_server("127.0.0.1", port, app, threaded=True,
                         request_handler=_quiet_handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.dirty.clear()
    print(f"local DynamoDB: http://127.0.0.1:{port}", flush=True)

    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping.wait(FOLD_EVERY_SECONDS):
        if data and app.dirty.is_set():
            snapshot(app, data)
    server.shutdown()
    if data:
        n = snapshot(app, data)
        journal.close()
        print(f"local DynamoDB: saved {n} items to {data}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data", type=Path, default=None,
                        help="snapshot file (keeps data; its journal sits beside it)")
    parser.add_argument("--test-hooks", action="store_true",
                        help="serve /_faults and /moto-api/ (tests only)")
    parser.add_argument("--no-fsync", action="store_true",
                        help="flush the journal without fsync (survives kill -9, not power loss)")
    args = parser.parse_args(argv)
    serve(args.port, args.data, test_hooks=args.test_hooks, fsync=not args.no_fsync)


if __name__ == "__main__":
    sys.exit(main())
