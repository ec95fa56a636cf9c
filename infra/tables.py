"""The one table definition: PynamoDB models → local tables and the AWS template.

    python -m infra.tables create        # create missing tables on the configured endpoint
    python -m infra.tables template      # rewrite infra/cloudformation.json and the dev
                                         # stage's events in zappa_settings.json

The key design and the access pattern each key serves are in infra/ACCESS_PATTERNS.md.
On AWS every table gets point-in-time recovery, server-side encryption (KMS) and its TTL
attribute; the Lambda role may only append to the audit table.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["create_all", "create_buckets", "template", "table_resources", "TEMPLATE_PATH"]

# S3 buckets by purpose (Config.bucket): whether the bucket keeps Object Lock.
BUCKETS = {"exports": False, "audit": True}

TEMPLATE_PATH = Path(__file__).resolve().parent / "cloudformation.json"


def _models():
    from backend.models.base import all_models
    return sorted(all_models(), key=lambda m: m.Meta.table)


def create_all() -> list[str]:
    """Create every missing table (with its indexes and TTL) on the bound endpoint."""
    created = []
    for model in _models():
        if not model.exists():
            model.create_table(wait=False, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
    return created


def create_buckets(config) -> list[str]:
    """Create the app's S3 buckets on a local endpoint (on AWS the template holds them)."""
    from backend import blobstore
    names = []
    for purpose, locked in BUCKETS.items():
        blobstore.ensure_bucket(config, config.bucket(purpose), object_lock=locked)
        names.append(config.bucket(purpose))
    return names


def _logical_id(table: str) -> str:
    return "Table" + "".join(part.capitalize() for part in table.split("-"))


def _key_schema(keys: list[dict]) -> list[dict]:
    # DynamoDB wants the HASH key first; PynamoDB lists them in declaration order.
    ordered = sorted(keys, key=lambda k: k["KeyType"] != "HASH")
    return [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in ordered]


def _projection(projection: dict) -> dict:
    out = {"ProjectionType": projection["ProjectionType"]}
    if projection.get("NonKeyAttributes"):
        out["NonKeyAttributes"] = sorted(projection["NonKeyAttributes"])
    return out


def _indexes(indexes: list[dict]) -> list[dict]:
    return [{"IndexName": i["index_name"], "KeySchema": _key_schema(i["key_schema"]),
             "Projection": _projection(i["projection"])}
            for i in sorted(indexes, key=lambda i: i["index_name"])]


def table_resources() -> dict:
    """One AWS::DynamoDB::Table per model, in a stable order (the template is committed)."""
    resources = {}
    for model in _models():
        schema = model._get_schema()
        attributes = {a["AttributeName"]: a["AttributeType"]
                      for a in schema["attribute_definitions"]}
        props = {
            "TableName": {"Fn::Sub": "${AWS::StackName}-" + model.Meta.table},
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": attributes[name]}
                                     for name in sorted(attributes)],
            "KeySchema": _key_schema(schema["key_schema"]),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "DeletionProtectionEnabled": True,
        }
        if schema.get("global_secondary_indexes"):
            props["GlobalSecondaryIndexes"] = _indexes(schema["global_secondary_indexes"])
        if schema.get("local_secondary_indexes"):
            props["LocalSecondaryIndexes"] = _indexes(schema["local_secondary_indexes"])
        stream = getattr(model.Meta, "stream_view_type", None)
        if stream:
            props["StreamSpecification"] = {"StreamViewType": stream}
        ttl = model._ttl_attribute()
        if ttl is not None:
            props["TimeToLiveSpecification"] = {"AttributeName": ttl.attr_name, "Enabled": True}
        resources[_logical_id(model.Meta.table)] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": props,
        }
    return resources


def template() -> dict:
    """CloudFormation for the tables, the HTTP API, the schedules and the Lambda role.

    Written with ${AWS::Partition} so it deploys to aws-cn (Zappa 0.63 hard-codes arn:aws:).
    """
    from infra import stack
    return stack.build(table_resources())


def write_template() -> Path:
    TEMPLATE_PATH.write_text(json.dumps(template(), indent=2, ensure_ascii=False) + "\n")
    return TEMPLATE_PATH


def write_zappa_events(path: Path = TEMPLATE_PATH.parent.parent / "zappa_settings.json") -> Path:
    """The dev stage's Zappa events, derived from backend.tasks.SCHEDULE (prod has none:
    its schedules are the template's EventBridge rules)."""
    from backend.tasks import SCHEDULE
    settings = json.loads(path.read_text())
    settings["dev"]["events"] = [{"function": f"backend.tasks.{name}", "expression": expression}
                                 for name, (expression, _) in SCHEDULE.items()]
    path.write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str]) -> int:
    from backend import create_app  # binds the models to the configured endpoint
    app = create_app()
    if argv[:1] == ["create"]:
        created = create_all()
        create_buckets(app.config["COUNTYCARE"])
        print(f"tables created: {len(created)}")
        return 0
    if argv[:1] == ["template"]:
        print(f"wrote {write_template()}")
        print(f"wrote {write_zappa_events()}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
