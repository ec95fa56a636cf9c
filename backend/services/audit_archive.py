"""The audit table's stream, copied to S3 under Object Lock (compliance mode): tamper-evident.

    archive(config, records)          DynamoDB Streams records (NEW_IMAGE) -> S3 objects
    lambda_handler(event, context)    the archiver function's entry (infra/stack.py)

Every new audit event becomes `audit/<subject>/<event key>.json`, locked until
`Config.audit_retention_days` have passed: not even the account's root user can delete or
overwrite a locked version. Audit events are only ever inserted (a conditional PutItem,
`services.audit.append`), so a MODIFY or REMOVE on the stream means someone went around
the app: it is archived under `tampered/` (also locked) and logged as an error. Replays of a
batch (Lambda retries) write the same bytes again as a new, identical version: harmless.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from backend import blobstore
from backend.config import Config

__all__ = ["archive", "lambda_handler", "object_key"]

log = logging.getLogger(__name__)


def object_key(record: dict) -> str:
    """Where one stream record is kept: by the event's key; rewrites by sequence number."""
    keys = record["dynamodb"]["Keys"]
    subject = quote(keys["subject_id"]["S"], safe="")
    event_key = quote(keys["event_key"]["S"], safe="")
    if record["eventName"] == "INSERT":
        return f"audit/{subject}/{event_key}.json"
    return (f"tampered/{subject}/{event_key}/"
            f"{record['dynamodb'].get('SequenceNumber', '0')}-{record['eventName'].lower()}.json")


def archive(config: Config, records: list[dict], *, now: datetime | None = None) -> dict:
    """Write each record of the audit table's stream to the audit bucket, locked."""
    now = now or datetime.now(timezone.utc)
    until = now + timedelta(days=config.audit_retention_days)
    bucket = config.bucket("audit")
    counts = {"archived": 0, "tampered": 0, "skipped": 0}
    for record in records:
        if record.get("eventSource") != "aws:dynamodb" or "dynamodb" not in record:
            counts["skipped"] += 1
            continue
        body = json.dumps({
            "event": record["eventName"],
            "sequence": record["dynamodb"].get("SequenceNumber"),
            "keys": record["dynamodb"]["Keys"],
            "new_image": record["dynamodb"].get("NewImage"),
            "source": record.get("eventSourceARN"),
        }, ensure_ascii=False, sort_keys=True).encode("utf-8")
        key = object_key(record)
        blobstore.put(config, bucket, key, body, content_type="application/json",
                      ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
        if record["eventName"] == "INSERT":
            counts["archived"] += 1
        else:
            counts["tampered"] += 1
            log.error("audit table %s outside the app: %s", record["eventName"], key)
    return counts


def lambda_handler(event: dict, context=None) -> dict:
    """The archiver function: a batch from the event source mapping. Any failure raises,
    so Lambda retries the batch (and bisects it) until every record is stored."""
    logging.getLogger().setLevel(logging.INFO)
    counts = archive(Config(), event.get("Records") or [])
    log.info("audit archive: %s", counts)
    return counts
