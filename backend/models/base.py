"""The PynamoDB base: table naming, endpoint binding and transactions.

Every model subclasses `BaseModel` and names its table with `Meta.table = "<name>"`;
the real table name is `<prefix>-<name>` and the endpoint comes from `Config`, so the
same classes talk to moto's server locally and to DynamoDB on AWS.
"""
from __future__ import annotations

import uuid

import os
import time
from datetime import datetime, timezone
from typing import Iterator

from pynamodb.connection import Connection
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

__all__ = ["BaseModel", "all_models", "bind", "transaction", "transact_get", "new_id", "utcnow",
           "epoch", "condition_failed", "failed_items"]

MAX_RETRIES = 1
_registry: list[type["BaseModel"]] = []
_settings: dict = {"host": None, "region": "cn-northwest-1", "prefix": "countycare-local"}


class BaseModel(Model):
    """Abstract parent of every table model; subclasses register themselves."""

    class Meta:
        abstract = True
        table_name = None
        billing_mode = "PAY_PER_REQUEST"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("Meta")
        if meta is not None and getattr(meta, "table", None):
            meta.billing_mode = "PAY_PER_REQUEST"
            _registry.append(cls)
            _apply(cls)


def _apply(model: type[BaseModel]) -> None:
    meta = model.Meta
    meta.table_name = f"{_settings['prefix']}-{meta.table}"
    meta.host = _settings["host"]
    meta.region = _settings["region"]
    # Short timeouts and one retry (botocore standard mode): in a rush a throttled call
    # becomes a quick 503 with Retry-After for the phone to retry, not a 10 s wait.
    meta.connect_timeout_seconds = 3
    meta.read_timeout_seconds = 5
    meta.max_retry_attempts = MAX_RETRIES
    model._connection = None


def bind(*, host: str | None, region: str, prefix: str) -> None:
    """Point every model at one endpoint and table prefix (idempotent)."""
    new = {"host": host or None, "region": region, "prefix": prefix}
    if new == _settings and all(m._connection is not None for m in _registry):
        return
    _settings.update(new)
    for model in _registry:
        _apply(model)


def all_models() -> list[type[BaseModel]]:
    """Every table model, after importing each model module once."""
    import importlib
    import pkgutil

    import backend.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"backend.models.{info.name}")
    return list(_registry)


_connections: dict[tuple, Connection] = {}


def _connection() -> Connection:
    # One Connection (and so one botocore client, which is thread-safe) per endpoint:
    # building a client costs tens of milliseconds, too much for every transaction.
    key = (_settings["region"], _settings["host"])
    conn = _connections.get(key)
    if conn is None:
        conn = _connections[key] = Connection(region=_settings["region"], host=_settings["host"],
                                              connect_timeout_seconds=3, read_timeout_seconds=5,
                                              max_retry_attempts=MAX_RETRIES)
    return conn


def transaction(client_request_token: str | None = None) -> TransactWrite:
    """A TransactWrite on the bound endpoint: all or nothing, up to 100 items.

    Always with a ClientRequestToken: botocore retries a timed-out call with the same
    parameters, and DynamoDB answers a retry of a transaction it already applied as done
    (for 10 minutes) instead of applying it again or cancelling it on its own conditions.
    """
    return TransactWrite(connection=_connection(),
                         client_request_token=client_request_token or uuid.uuid4().hex)


def transact_get() -> TransactGet:
    return TransactGet(connection=_connection())


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, 26 sortable characters.

    Written here rather than imported: python-ulid cost ~75 ms of Lambda cold start.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def condition_failed(err) -> bool:
    """Whether a TransactWriteError was cancelled by one of its conditions."""
    return any(r and r.code == "ConditionalCheckFailed" for r in err.cancellation_reasons or [])


def failed_items(err) -> list[int]:
    """Positions (in PynamoDB's order: checks, deletes, saves, updates) that failed."""
    return [i for i, r in enumerate(err.cancellation_reasons or [])
            if r and r.code == "ConditionalCheckFailed"]
