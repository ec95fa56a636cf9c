"""The AWS definition: the committed CloudFormation template and zappa_settings.json.

The template is generated from the models (`python -m infra.tables template`); these tests
keep the committed copy equal to it, valid for cfn-lint in the China regions, and
consistent with the scheduled tasks and the Zappa stages.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.models.base import all_models
from backend.tasks import SCHEDULE
from infra import tables

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_PATH = ROOT / "zappa_settings.json"
AUDIT_APPEND_ACTIONS = {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query",
                        "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem",
                        "dynamodb:BatchGetItem"}
AUDIT_REWRITE_ACTIONS = {"dynamodb:UpdateItem", "dynamodb:DeleteItem",
                         "dynamodb:BatchWriteItem"}


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(tables.TEMPLATE_PATH.read_text())


@pytest.fixture(scope="module")
def settings() -> dict:
    return json.loads(SETTINGS_PATH.read_text())


def stage_config(stage: str) -> dict:
    """The stage as Zappa resolves it (`extends` included)."""
    from zappa.cli import ZappaCLI

    cli = ZappaCLI()
    cli.api_stage = stage
    cli.load_settings_file(str(SETTINGS_PATH))
    return cli.stage_config


def resources_of(template: dict, kind: str) -> dict:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def test_committed_template_is_generated_from_the_models(committed):
    assert committed == tables.template(), (
        "infra/cloudformation.json is stale: run `python -m infra.tables template`")


def test_template_passes_cfn_lint_in_the_china_regions(committed):
    from cfnlint.api import ManualArgs, lint

    matches = lint(tables.TEMPLATE_PATH.read_text(),
                   config=ManualArgs(regions=["cn-northwest-1", "cn-north-1"]))
    errors = [f"{m.rule.id} {m.path}: {m.message}" for m in matches
              if m.rule.id.startswith("E")]
    assert errors == []


def test_every_model_has_a_table_with_pitr_sse_and_its_ttl(committed):
    tables_in_template = resources_of(committed, "AWS::DynamoDB::Table")
    by_name = {r["Properties"]["TableName"]["Fn::Sub"].split("}-", 1)[1]: r["Properties"]
               for r in tables_in_template.values()}
    models = {m.Meta.table: m for m in all_models()}
    assert set(by_name) == set(models)
    for name, props in by_name.items():
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        ttl = models[name]._ttl_attribute()
        if ttl is None:
            assert "TimeToLiveSpecification" not in props, name
        else:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl.attr_name,
                                                        "Enabled": True}, name
    # Items that expire: sessions and login codes at least.
    assert {"sessions", "login-codes"} <= {n for n, p in by_name.items()
                                           if "TimeToLiveSpecification" in p}
    for resource in tables_in_template.values():
        assert resource["DeletionPolicy"] == "Retain"


def test_tables_keep_the_hash_key_first_and_define_every_key_attribute(committed):
    for lid, resource in resources_of(committed, "AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        defined = {a["AttributeName"] for a in props["AttributeDefinitions"]}
        schemas = [props["KeySchema"]] + [i["KeySchema"] for i in
                                          props.get("GlobalSecondaryIndexes", [])]
        used = set()
        for schema in schemas:
            assert schema[0]["KeyType"] == "HASH", lid
            used |= {k["AttributeName"] for k in schema}
        assert defined == used, lid


def test_every_arn_names_its_partition(committed):
    text = json.dumps(committed)
    assert "arn:aws:" not in text
    assert "arn:aws-cn:" not in text
    strings = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            strings.append(node)

    walk(committed)
    arns = [s for s in strings if s.startswith("arn:")]
    assert arns, "the template writes ARNs (role policy, permissions)"
    assert all(s.startswith("arn:${AWS::Partition}:") for s in arns), arns


def _statements(committed) -> list[dict]:
    role = committed["Resources"]["LambdaRole"]["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _names_audit(resource) -> bool:
    return "TableAudit" in json.dumps(resource)


def test_the_lambda_role_may_append_to_the_audit_table_but_not_rewrite_it(committed):
    statements = _statements(committed)
    for s in statements:
        actions = set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if s["Effect"] != "Allow":
            continue
        # Nothing grants DynamoDB on every resource or every DynamoDB action.
        assert not any(a in {"*", "dynamodb:*"} for a in actions), s
        if resources == ["*"]:
            assert not any(a.startswith("dynamodb:") for a in actions), s
        table_level = [r for r in resources if _names_audit(r) and "/index/" not in json.dumps(r)]
        if table_level:
            assert actions <= AUDIT_APPEND_ACTIONS, s
    appends = [s for s in statements if s["Effect"] == "Allow" and any(
        _names_audit(r) and "/index/" not in json.dumps(r) for r in s["Resource"])]
    assert appends and any("dynamodb:PutItem" in s["Action"] for s in appends)
    denies = [s for s in statements if s["Effect"] == "Deny" and any(
        _names_audit(r) for r in s["Resource"])]
    assert denies and AUDIT_REWRITE_ACTIONS <= set(denies[0]["Action"])
    # The role is the one Zappa is told to use in prod.
    assert committed["Outputs"]["LambdaRoleArn"]["Value"] == {"Fn::GetAtt": ["LambdaRole", "Arn"]}


def _schedule_rules(committed) -> dict[str, str]:
    rules = {}
    for r in resources_of(committed, "AWS::Events::Rule").values():
        name = r["Properties"]["Name"]["Fn::Sub"]
        function = name.split("-")[-1]     # what Zappa's handler runs for the rule
        rules[function] = r["Properties"]["ScheduleExpression"]
    return rules


def test_every_scheduled_task_has_exactly_one_rule_in_the_template(committed):
    expected = {f"backend.tasks.{name}": expression for name, (expression, _) in SCHEDULE.items()}
    assert "backend.tasks.heartbeat" in expected
    assert _schedule_rules(committed) == expected
    for r in resources_of(committed, "AWS::Events::Rule").values():
        # EventBridge rule names are at most 64 characters (stack name countycare-prod).
        name = r["Properties"]["Name"]["Fn::Sub"].replace("${AWS::StackName}", "countycare-prod")
        assert len(name) <= 64, name
        assert r["Condition"] == "FunctionReady"


def test_every_scheduled_task_is_a_dev_event_with_the_same_expression(settings):
    events = {e["function"]: e["expression"] for e in settings["dev"]["events"]}
    assert len(events) == len(settings["dev"]["events"]), "a task is listed twice"
    assert events == {f"backend.tasks.{n}": e for n, (e, _) in SCHEDULE.items()}


def test_prod_is_in_a_china_region_without_zappa_managed_aws_resources(committed):
    prod = stage_config("prod")
    assert prod["aws_region"] in {"cn-northwest-1", "cn-north-1"}
    assert prod["apigateway_enabled"] is False
    assert prod["async_source"] == "lambda"
    assert prod["manage_roles"] is False
    assert prod["events"] == []          # schedules come from the template
    assert prod["keep_warm"] is False    # Zappa would schedule it with an arn:aws: rule
    assert prod["role_arn"].startswith("arn:aws-cn:iam::")
    prefix = prod["environment_variables"]["COUNTYCARE_TABLE_PREFIX"]
    function_name = f"{prod['project_name']}-prod"
    # One name ties them together: stack = table prefix = function = role prefix.
    assert prefix == function_name == committed["Parameters"]["FunctionName"]["Default"]
    assert prod["role_arn"].endswith(f":role/{prefix}-lambda")
    assert committed["Resources"]["LambdaRole"]["Properties"]["RoleName"] == {
        "Fn::Sub": "${AWS::StackName}-lambda"}
    assert prod["environment_variables"]["COUNTYCARE_SSM_PATH"].startswith(f"/{prod['project_name']}/")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_runs_the_flask_app_on_python_311_with_quiet_logs(stage):
    config = stage_config(stage)
    assert config["app_function"] == "backend.wsgi.app"
    assert config["runtime"] == "python3.11"
    assert config["log_level"] == "INFO"
    assert config["debug"] is False      # DEBUG logs every raw event (cookies, bodies)
    assert config["keep_warm"] is False
    assert config["use_precompiled_packages"] is False   # offline: no wheel downloads
    assert {"tests", "bench", ".venv", ".venv-*", "build", "boto3", "botocore"} <= set(
        config["exclude"])
    assert config["environment_variables"]["DYNAMODB_ENDPOINT"] == ""
    assert "COUNTYCARE_SECRET_KEY" not in config["environment_variables"]   # SSM, not here


def test_the_lambda_role_cannot_scan():
    """Every request path and task reads by key or index; Scan is not granted at all."""
    import json
    from infra.tables import TEMPLATE_PATH
    template = json.loads(TEMPLATE_PATH.read_text())
    statements = template["Resources"]["LambdaRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    allowed = {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}
    assert "dynamodb:Scan" not in allowed and "dynamodb:Query" in allowed


def _policy_statements(resource: dict) -> list[dict]:
    props = resource["Properties"]
    docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
    if "PolicyDocument" in props:
        docs.append(props["PolicyDocument"])
    return [s for d in docs for s in d["Statement"]]


def _actions(statement: dict) -> set[str]:
    a = statement["Action"]
    return set(a if isinstance(a, list) else [a])


def test_no_role_may_publish_to_sns_or_act_on_every_resource(committed):
    for lid, resource in committed["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy"):
            continue
        for s in _policy_statements(resource):
            assert not any(a.startswith("sns:") for a in _actions(s)), (lid, s)
            if s["Effect"] == "Allow":
                assert s["Resource"] not in ("*", ["*"]), (lid, s)


def test_the_audit_table_streams_to_a_compliance_locked_bucket(committed):
    from backend.config import Config
    res = committed["Resources"]
    assert res["TableAudit"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    bucket = res["AuditArchiveBucket"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["Properties"]["ObjectLockEnabled"] is True
    rule = bucket["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert rule == {"Mode": "COMPLIANCE", "Days": Config().audit_retention_days}
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    mapping = res["AuditArchiverStream"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["TableAudit", "StreamArn"]}
    assert mapping["FunctionName"] == {"Ref": "AuditArchiver"}
    fn = res["AuditArchiver"]["Properties"]
    assert fn["Handler"] == "backend.services.audit_archive.lambda_handler"
    from backend.services import audit_archive
    assert callable(audit_archive.lambda_handler)


def test_the_archiver_may_only_append_and_the_app_may_not_touch_the_archive(committed):
    res = committed["Resources"]
    archiver = _policy_statements(res["AuditArchiverRole"])
    granted = set().union(*(_actions(s) for s in archiver if s["Effect"] == "Allow"))
    assert granted == {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                       "dynamodb:ListStreams", "s3:PutObject", "s3:PutObjectRetention"}
    app_statements = _statements(committed) + [
        s for r in resources_of(committed, "AWS::IAM::Policy").values()
        if {"Ref": "LambdaRole"} in r["Properties"]["Roles"] for s in _policy_statements(r)]
    assert not any("AuditArchiveBucket" in json.dumps(s) for s in app_statements)
    assert not any(a in AUDIT_REWRITE_ACTIONS for s in app_statements if s["Effect"] == "Allow"
                   and any(_names_audit(r) and "/index/" not in json.dumps(r)
                           for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))
                   for a in _actions(s))
