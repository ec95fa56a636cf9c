"""The audit table's stream archived to S3 under Object Lock: an HTTP read makes an audit
event, the local server's DynamoDB stream carries it, the archiver stores it locked in the
local server's S3; a rewrite of the table behind the app's back is kept as evidence."""
from __future__ import annotations

import json

import botocore.session
import pytest

from backend import blobstore
from backend.models.audit import AuditEvent
from backend.services import audit, audit_archive


@pytest.fixture()
def aws(app):
    cfg = app.config["COUNTYCARE"]
    session = botocore.session.get_session()
    kw = dict(region_name=cfg.aws_region, endpoint_url=cfg.dynamodb_endpoint)
    return cfg, session.create_client("dynamodb", **kw), session.create_client("dynamodbstreams", **kw)


def _stream_records(ddb, streams, cfg) -> list[dict]:
    """Every record on the audit table's stream so far, as Lambda would get them."""
    table = AuditEvent.Meta.table_name
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    out = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it, Limit=1000)
            out.extend(dict(r, eventSourceARN=arn) for r in page["Records"])
            it = page.get("NextShardIterator") if page["Records"] else None
    return out


def _mine(records: list[dict], subject: str) -> list[dict]:
    return [r for r in records if r["dynamodb"]["Keys"]["subject_id"]["S"] == subject]


def test_the_audit_table_streams_new_images(aws):
    cfg, ddb, _ = aws
    spec = ddb.describe_table(TableName=AuditEvent.Meta.table_name)["Table"]["StreamSpecification"]
    assert spec == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def test_a_record_read_over_http_is_archived_locked_in_compliance_mode(person, client, demo, aws):
    cfg, ddb, streams = aws
    person.login_staff("doctor01")
    rid = next(r["resident_id"] for r in demo.residents if r["team_id"] == "team-01")
    assert client.get(f"/api/residents/{rid}").status_code == 200
    newest = audit.events_for(rid)[0]
    records = [r for r in _mine(_stream_records(ddb, streams, cfg), rid)
               if r["dynamodb"]["Keys"]["event_key"]["S"] == newest.event_key]
    assert [r["eventName"] for r in records] == ["INSERT"]
    counts = audit_archive.archive(cfg, records)
    assert counts == {"archived": 1, "tampered": 0, "skipped": 0}
    key = audit_archive.object_key(records[0])
    stored = json.loads(blobstore.get(cfg, cfg.bucket("audit"), key))
    assert stored["new_image"]["actor"] == {"S": "s:doctor01"}
    assert stored["new_image"]["what"] == {"S": "resident.record"}
    s3 = blobstore.client(cfg)
    head = s3.head_object(Bucket=cfg.bucket("audit"), Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert (head["ObjectLockRetainUntilDate"] - head["LastModified"]).days >= cfg.audit_retention_days - 1
    # A locked version cannot be deleted, in compliance mode not even with a bypass.
    with pytest.raises(s3.exceptions.ClientError):
        s3.delete_object(Bucket=cfg.bucket("audit"), Key=key, VersionId=head["VersionId"],
                         BypassGovernanceRetention=True)
    assert json.loads(blobstore.get(cfg, cfg.bucket("audit"), key))["keys"] == records[0]["dynamodb"]["Keys"]


def test_a_rewrite_behind_the_apps_back_is_kept_as_evidence(aws):
    """Someone with PutItem but without the app's condition overwrites a known key: the
    original stays in the archive and the rewrite lands under tampered/."""
    cfg, ddb, streams = aws
    event = audit.record(None, subject_id=f"res-tamper-{audit.new_id()}", action="read",
                         what="resident.record")
    ddb.put_item(TableName=AuditEvent.Meta.table_name, Item={
        "subject_id": {"S": event.subject_id}, "event_key": {"S": event.event_key},
        "actor": {"S": "s:nobody"}, "actor_role": {"S": "doctor"}, "action": {"S": "read"},
        "what": {"S": "resident.record"}, "at": {"S": "2026-01-01T00:00:00.000000+0000"}})
    records = _mine(_stream_records(ddb, streams, cfg), event.subject_id)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    counts = audit_archive.archive(cfg, records)
    assert counts == {"archived": 1, "tampered": 1, "skipped": 0}
    original = json.loads(blobstore.get(cfg, cfg.bucket("audit"), audit_archive.object_key(records[0])))
    assert original["new_image"]["actor"] == {"S": "system"}
    rewrite = audit_archive.object_key(records[1])
    assert rewrite.startswith("tampered/")
    assert json.loads(blobstore.get(cfg, cfg.bucket("audit"), rewrite))["new_image"]["actor"] == {"S": "s:nobody"}


def test_the_archivers_lambda_entry_reads_its_configuration_from_the_environment(aws, monkeypatch):
    cfg, ddb, streams = aws
    event = audit.record(None, subject_id=f"res-lambda-{audit.new_id()}", action="read", what="x")
    records = _mine(_stream_records(ddb, streams, cfg), event.subject_id)
    for name, value in {"S3_ENDPOINT": cfg.s3_endpoint, "COUNTYCARE_TABLE_PREFIX": cfg.table_prefix,
                        "AWS_REGION": cfg.aws_region}.items():
        monkeypatch.setenv(name, value)
    assert audit_archive.lambda_handler({"Records": records}) == {"archived": 1, "tampered": 0,
                                                                  "skipped": 0}
    assert blobstore.get(cfg, cfg.bucket("audit"), audit_archive.object_key(records[0]))
