"""The local DynamoDB: moto's server on 127.0.0.1, atomic and (optionally) persistent.

    python -m infra.localdb --port 8765 [--data .localdata/dynamodb.json]

moto 5.2.5 serves requests on several threads and its conditional writes are not atomic
across them (real DynamoDB is, per item and per transaction), so every DynamoDB request
runs under one lock here. moto keeps nothing on disk: with `--data`, a snapshot of every
table (definition, TTL and items) is written after writes (at most once a second, and on
shutdown) and loaded at start, so local data survives `make run` restarts.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

__all__ = ["serve", "free_port", "wait_until_up", "start_in_thread"]

READ_ONLY = {"GetItem", "Query", "Scan", "BatchGetItem", "DescribeTable", "ListTables",
             "TransactGetItems", "DescribeTimeToLive", "DescribeContinuousBackups",
             "ListTagsOfResource", "DescribeEndpoints"}



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


class SerialApp:
    """WSGI wrapper: one DynamoDB request at a time; tracks whether anything changed.

    Tests can inject DynamoDB errors (throttling) with
    `POST /_faults {"operation": "GetItem", "code": "ThrottlingException", "count": 50}`
    and clear them with `DELETE /_faults`.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.dirty = threading.Event()
        self.requests = 0
        self.faults: dict[str, list] = {}  # operation -> [error code, remaining count]

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
        if path.startswith("/moto-api/"):
            return self.inner(environ, start_response)
        if path == "/_faults":
            return self._faults(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        fault = self.faults.get(target)
        if fault and fault[1] > 0:
            fault[1] -= 1
            body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{fault[0]}",
                               "message": "injected by a test"}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        with self.lock:
            self.requests += 1
            result = self.inner(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            if target and target not in READ_ONLY:
                self.dirty.set()
        return [body]


def _backends():
    from moto.dynamodb.models import dynamodb_backends
    for account_id in list(dynamodb_backends.keys()):
        for region in list(dynamodb_backends[account_id].keys()):
            yield region, dynamodb_backends[account_id][region]


def snapshot(app: SerialApp, path: Path) -> int:
    """Write every table to `path` atomically; returns the number of items."""
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
    tmp.write_text(json.dumps({"version": 1, "tables": data}, ensure_ascii=False))
    os.replace(tmp, path)
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


def _make_app() -> SerialApp:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from infra import localdb_query
    localdb_query.install()
    return SerialApp(DomainDispatcherApplication(create_backend_app))


def _quiet_handler():
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # one line per DynamoDB call is noise
            pass

    return Quiet


def start_in_thread(port: int | None = None):
    """Start the server in this process (tests, benchmarks); returns (port, server)."""
    from werkzeug.serving import make_server

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    port = port or free_port()
    server = make_server("127.0.0.1", port, _make_app(), threaded=True,
                         request_handler=_quiet_handler())
    threading.Thread(target=server.serve_forever, daemon=True, name="local-dynamodb").start()
    wait_until_up(port)
    return port, server


def serve(port: int, data: Path | None) -> None:
    from werkzeug.serving import make_server

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    app = _make_app()
    if data and data.exists():
        # Restore on a private port first: the public port opens only when the data is
        # back, so nobody (make run's table creation) races the restore.
        private = make_server("127.0.0.1", free_port(), app, threaded=True,
                              request_handler=_quiet_handler())
        threading.Thread(target=private.serve_forever, daemon=True).start()
        count = restore(private.server_port, data)
        private.shutdown()
        print(f"local DynamoDB: restored {count} items from {data}", flush=True)
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
    while not stopping.is_set():
        stopping.wait(1.0)
        if data and app.dirty.is_set():
            snapshot(app, data)
    if data:
        n = snapshot(app, data)
        print(f"local DynamoDB: saved {n} items to {data}", flush=True)
    server.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data", type=Path, default=None, help="snapshot file (keeps data)")
    args = parser.parse_args(argv)
    serve(args.port, args.data)


if __name__ == "__main__":
    sys.exit(main())
