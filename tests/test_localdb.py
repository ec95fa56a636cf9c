"""The local DynamoDB: atomic like the real one, and persistent across `make run` restarts."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from infra import localdb


def _client(endpoint: str):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="cn-northwest-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def test_conditional_counter_never_overshoots_under_concurrency(dynamodb_endpoint):
    """moto alone overbooks about 1 round in 40 here; the serialising wrapper must not."""
    client = _client(dynamodb_endpoint)
    client.create_table(TableName="atomicity-probe", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    for round_no in range(3):
        key = {"k": {"S": f"slot-{round_no}"}}
        client.put_item(TableName="atomicity-probe", Item={**key, "booked": {"N": "0"}})
        wins = []

        def attempt():
            c = _client(dynamodb_endpoint)
            try:
                c.update_item(TableName="atomicity-probe", Key=key,
                              UpdateExpression="SET booked = booked + :one",
                              ConditionExpression="booked < :cap",
                              ExpressionAttributeValues={":one": {"N": "1"}, ":cap": {"N": "5"}})
                wins.append(1)
            except ClientError as err:
                assert err.response["Error"]["Code"] == "ConditionalCheckFailedException"

        threads = [threading.Thread(target=attempt) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        item = client.get_item(TableName="atomicity-probe", Key=key)["Item"]
        assert int(item["booked"]["N"]) == 5
        assert len(wins) == 5


def test_data_survives_a_restart(tmp_path):
    """Start the server as `make run` does, write, stop (SIGTERM), start again, read."""
    data = tmp_path / "dynamodb.json"
    port = localdb.free_port()
    cmd = [sys.executable, "-m", "infra.localdb", "--port", str(port), "--data", str(data)]
    proc = subprocess.Popen(cmd)
    try:
        localdb.wait_until_up(port)
        client = _client(f"http://127.0.0.1:{port}")
        client.create_table(
            TableName="restart-probe", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{"IndexName": "by-g",
                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}])
        client.update_time_to_live(TableName="restart-probe", TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires_at"})
        client.put_item(TableName="restart-probe",
                        Item={"pk": {"S": "booking-1"}, "g": {"S": "slot-A"},
                              "who": {"S": "王芳"}, "n": {"N": "3"}})
        # The snapshot is written within about a second of a write.
        deadline = time.time() + 10
        while time.time() < deadline and not (data.exists() and "booking-1" in data.read_text()):
            time.sleep(0.2)
        client.put_item(TableName="restart-probe",
                        Item={"pk": {"S": "booking-2"}, "g": {"S": "slot-A"}, "who": {"S": "李强"}})
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    saved = json.loads(data.read_text())
    assert {t["name"] for t in saved["tables"]} >= {"restart-probe"}

    port = localdb.free_port()
    proc = subprocess.Popen([*cmd[:4], str(port), *cmd[5:]])
    try:
        localdb.wait_until_up(port)
        client = _client(f"http://127.0.0.1:{port}")
        # The port opens only after the restore: the first read already finds the data.
        item = client.get_item(TableName="restart-probe", Key={"pk": {"S": "booking-2"}})
        assert item["Item"]["who"]["S"] == "李强"  # written just before the stop
        hits = client.query(TableName="restart-probe", IndexName="by-g",
                            KeyConditionExpression="g = :g",
                            ExpressionAttributeValues={":g": {"S": "slot-A"}})["Items"]
        assert sorted(h["pk"]["S"] for h in hits) == ["booking-1", "booking-2"]
        ttl = client.describe_time_to_live(TableName="restart-probe")["TimeToLiveDescription"]
        assert ttl["AttributeName"] == "expires_at"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_tables_are_created_once_and_described_from_the_models(app):
    from backend.models.base import all_models
    from infra.tables import create_all
    assert create_all() == []  # all exist already: nothing created twice
    names = {m.Meta.table_name for m in all_models()}
    assert {"test-residents", "test-sessions", "test-audit"} <= names
    from backend.models.account import Session
    desc = Session.describe_table()
    assert desc["TableName"] == "test-sessions"


def test_seed_runs_once(app):
    from infra.seed import seed
    from backend.models.ops import TaskRun
    runs_before = TaskRun.get("seed:240:20231008").runs
    assert seed(240) is None  # the marker of the session's seed is found: nothing rewritten
    assert TaskRun.get("seed:240:20231008").runs == runs_before
