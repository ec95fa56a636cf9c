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


def test_a_retried_transaction_is_answered_as_done_not_applied_again(dynamodb_endpoint):
    """DynamoDB keeps a TransactWriteItems' ClientRequestToken for 10 minutes: a retry after
    a timeout gets the first answer. moto alone applied it again (here: cancelled it)."""
    client = _client(dynamodb_endpoint)
    client.create_table(TableName="idempotency-probe", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    put = {"Put": {"TableName": "idempotency-probe", "Item": {"k": {"S": "claim"}},
                   "ConditionExpression": "attribute_not_exists(k)"}}
    add = {"Update": {"TableName": "idempotency-probe", "Key": {"k": {"S": "count"}},
                      "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    for _ in range(3):  # the first call and two retries of it
        client.transact_write_items(TransactItems=[put, add], ClientRequestToken="token-0001")
    item = client.get_item(TableName="idempotency-probe", Key={"k": {"S": "count"}})["Item"]
    assert item["n"]["N"] == "1"
    with pytest.raises(ClientError) as err:  # a new transaction is judged on its conditions
        client.transact_write_items(TransactItems=[put, add], ClientRequestToken="token-0002")
    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    with pytest.raises(ClientError) as err:  # the token reused for other items
        client.transact_write_items(TransactItems=[add], ClientRequestToken="token-0001")
    assert err.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"


def test_every_transaction_carries_a_token():
    from backend.models.base import transaction
    assert transaction()._client_request_token != transaction()._client_request_token


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


def _start_db(data, *extra):
    port = localdb.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "infra.localdb", "--port", str(port),
                             "--data", str(data), *extra])
    localdb.wait_until_up(port)
    return port, proc


def _probe_table(client, name):
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


def test_kill_9_loses_no_acknowledged_write(tmp_path):
    """Old: the snapshot came up to a second after the answer; kill -9 lost the write."""
    data = tmp_path / "dynamodb.json"
    port, proc = _start_db(data)
    try:
        client = _client(f"http://127.0.0.1:{port}")
        _probe_table(client, "kill-probe")
        client.put_item(TableName="kill-probe", Item={"pk": {"S": "booking-1"}, "n": {"N": "0"}})
        for _ in range(3):  # not idempotent: a replay applied twice would show
            client.update_item(TableName="kill-probe", Key={"pk": {"S": "booking-1"}},
                               UpdateExpression="ADD n :one",
                               ExpressionAttributeValues={":one": {"N": "1"}})
        with pytest.raises(ClientError):  # refused, so not journalled
            client.put_item(TableName="kill-probe", Item={"pk": {"S": "booking-1"}},
                            ConditionExpression="attribute_not_exists(pk)")
        # Through the app's own data layer too: a confirmed write, then the kill at once.
        from pynamodb.attributes import UnicodeAttribute
        from pynamodb.models import Model

        class Probe(Model):
            class Meta:
                table_name, host, region = "kill-probe", f"http://127.0.0.1:{port}", "cn-northwest-1"
                aws_access_key_id, aws_secret_access_key = "local", "local"
            pk = UnicodeAttribute(hash_key=True)
            who = UnicodeAttribute()

        Probe("booking-2", who="王芳").save()
    finally:
        proc.kill()  # SIGKILL: no chance to save anything
        proc.wait(timeout=20)
    port, proc = _start_db(data)
    try:
        client = _client(f"http://127.0.0.1:{port}")
        item = client.get_item(TableName="kill-probe", Key={"pk": {"S": "booking-1"}})["Item"]
        assert item["n"]["N"] == "3"
        item = client.get_item(TableName="kill-probe", Key={"pk": {"S": "booking-2"}})["Item"]
        assert item["who"]["S"] == "王芳"
    finally:
        proc.kill()  # again, right after the journal was folded at start
        proc.wait(timeout=20)
    port, proc = _start_db(data)
    try:
        client = _client(f"http://127.0.0.1:{port}")
        item = client.get_item(TableName="kill-probe", Key={"pk": {"S": "booking-1"}})["Item"]
        assert item["n"]["N"] == "3"  # folded once, replayed never twice
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert data.stat().st_mode & 0o777 == 0o600
    assert localdb.journal_path(data).stat().st_mode & 0o777 == 0o600


def test_the_local_server_serves_no_browser_and_no_test_hooks(tmp_path):
    """Old: any origin was answered (CORS *), and /moto-api/ and /_faults were open."""
    import requests

    port, proc = _start_db(tmp_path / "dynamodb.json")
    base = f"http://127.0.0.1:{port}"
    try:
        _probe_table(_client(base), "origin-probe")
        body = json.dumps({"TableName": "origin-probe"})
        headers = {"X-Amz-Target": "DynamoDB_20120810.DescribeTable",
                   "Content-Type": "application/x-amz-json-1.0",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=local/20240101/cn-northwest-1/"
                                    "dynamodb/aws4_request, SignedHeaders=host, Signature=x"}
        assert requests.post(base, data=body, headers=headers).status_code == 200  # an SDK
        page = requests.post(base, data=body, headers={**headers, "Origin": "https://evil.example"})
        preflight = requests.options(base, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,authorization,content-type"})
        for r in (page, preflight):
            assert r.status_code == 403
            assert not [h for h in r.headers if h.lower().startswith("access-control-")]
        assert requests.post(f"{base}/_faults", json={"operation": "GetItem"}).status_code == 404
        assert requests.get(f"{base}/moto-api/").status_code == 404
        assert requests.post(f"{base}/moto-api/reset").status_code == 404
        assert "origin-probe" in _client(base).list_tables()["TableNames"]  # not reset
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_sigterm_to_make_run_stops_the_database(tmp_path):
    """Old: SIGTERM ended `infra.run` without its `finally`; the database kept its port."""
    import signal
    import socket

    app_port, ddb_port = localdb.free_port(), localdb.free_port()
    run = subprocess.Popen([sys.executable, "-m", "infra.run", "--port", str(app_port),
                            "--ddb-port", str(ddb_port), "--data", str(tmp_path / "d.json"),
                            "--residents", "12"], stdout=subprocess.DEVNULL)
    try:
        localdb.wait_until_up(app_port, timeout=240)
        localdb.wait_until_up(ddb_port)
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", ddb_port)) != 0:
                break
        time.sleep(0.2)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", ddb_port)) != 0  # nobody holds the port
    assert (tmp_path / "d.json").stat().st_mode & 0o777 == 0o600
    assert tmp_path.stat().st_mode & 0o777 == 0o700


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
