"""The one table definition: PynamoDB models → local tables and the AWS template.

    python -m infra.tables create        # create missing tables on the configured endpoint
    python -m infra.tables template      # rewrite infra/cloudformation.json

The key design and the access pattern each key serves are in infra/ACCESS_PATTERNS.md.
On AWS every table gets point-in-time recovery, server-side encryption (KMS) and its TTL
attribute; the Lambda role may only append to the audit table.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["create_all", "template", "table_resources", "TEMPLATE_PATH"]

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


def _logical_id(table: str) -> str:
    return "Table" + "".join(part.capitalize() for part in table.split("-"))


def table_resources() -> dict:
    resources = {}
    for model in _models():
        schema = model._get_schema()
        props = {
            "TableName": {"Fn::Sub": "${AWS::StackName}-" + model.Meta.table},
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": a["attribute_name"],
                                      "AttributeType": a["attribute_type"]}
                                     for a in schema["attribute_definitions"]],
            "KeySchema": [{"AttributeName": k["attribute_name"], "KeyType": k["key_type"]}
                          for k in schema["key_schema"]],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "DeletionProtectionEnabled": True,
        }
        if schema["global_secondary_indexes"]:
            props["GlobalSecondaryIndexes"] = [{
                "IndexName": g["index_name"],
                "KeySchema": [{"AttributeName": k["attribute_name"], "KeyType": k["key_type"]}
                              for k in g["key_schema"]],
                "Projection": {"ProjectionType": g["projection"]["ProjectionType"],
                               **({"NonKeyAttributes": g["projection"]["NonKeyAttributes"]}
                                  if g["projection"].get("NonKeyAttributes") else {})},
            } for g in schema["global_secondary_indexes"]]
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


def main(argv: list[str]) -> int:
    from backend import create_app  # binds the models to the configured endpoint
    create_app()
    if argv[:1] == ["create"]:
        created = create_all()
        print(f"tables created: {len(created)}")
        return 0
    if argv[:1] == ["template"]:
        print(f"wrote {write_template()}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
