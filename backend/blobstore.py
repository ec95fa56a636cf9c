"""Files in S3: one lazily created client per process, endpoint and buckets from Config.

    from backend import blobstore
    blobstore.put(config, config.exports_bucket, "exports/2026-12/ledger.xlsx", data,
                  content_type=XLSX)
    url = blobstore.download_url(config, config.exports_bucket, key, filename="台账.xlsx")

Locally and in tests the endpoint is the local database server (`infra/localdb.py`),
which serves moto's S3 on the same port as its DynamoDB; on AWS `S3_ENDPOINT` is empty and
the region's own endpoint is used. The client is built on first use (botocore only:
PynamoDB has imported it already, boto3 would add to the cold start) and reused by every
warm invocation of the Lambda container.
"""
from __future__ import annotations

import threading
from typing import Any

from backend.config import Config

__all__ = ["client", "put", "get", "download_url", "ensure_bucket", "NotStored"]

_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


class NotStored(LookupError):
    """The bucket holds no object under that key."""


def client(config: Config):
    """The S3 client for the configured endpoint and region (one per process)."""
    key = (config.s3_endpoint or "", config.aws_region)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            import botocore.config
            import botocore.session
            session = botocore.session.get_session()
            _clients[key] = session.create_client(
                "s3", region_name=config.aws_region, endpoint_url=config.s3_endpoint or None,
                # Path-style: a local endpoint is an IP address, which has no bucket subdomains.
                config=botocore.config.Config(
                    s3={"addressing_style": "path" if config.s3_endpoint else "auto"},
                    connect_timeout=3, read_timeout=10, retries={"max_attempts": 2,
                                                                 "mode": "standard"}))
        return _clients[key]


def put(config: Config, bucket: str, key: str, body: bytes, *,
        content_type: str = "application/octet-stream", **extra: Any) -> str:
    """Store `body` under `key`; returns the object's version id (or "" if unversioned).

    `extra` goes to PutObject as is (e.g. ObjectLockMode / ObjectLockRetainUntilDate).
    """
    answer = client(config).put_object(Bucket=bucket, Key=key, Body=body,
                                       ContentType=content_type, **extra)
    return answer.get("VersionId") or ""


def get(config: Config, bucket: str, key: str) -> bytes:
    """The object's bytes, or NotStored."""
    s3 = client(config)
    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        raise NotStored(key) from None
    return answer["Body"].read()


def download_url(config: Config, bucket: str, key: str, *, filename: str | None = None,
                 expires_seconds: int = 300) -> str:
    """A short-lived signed GET link (the browser fetches the file from S3, not Lambda,
    which answers at most 6 MB)."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if filename:
        from urllib.parse import quote
        params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return client(config).generate_presigned_url("get_object", Params=params,
                                                 ExpiresIn=expires_seconds)


def ensure_bucket(config: Config, bucket: str, *, object_lock: bool = False) -> None:
    """Create `bucket` if missing (local server and tests; on AWS the template does it)."""
    s3 = client(config)
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if config.aws_region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": config.aws_region}
    if object_lock:
        kwargs["ObjectLockEnabledForBucket"] = True
    try:
        s3.create_bucket(**kwargs)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        return
    if object_lock:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE",
                                          "Days": config.audit_retention_days}}})
