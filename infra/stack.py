"""The AWS stack around the Lambda function Zappa builds: tables, HTTP API, schedules, role.

Every ARN is written with ${AWS::Partition}, so the same template deploys to the China
regions (partition aws-cn), where Zappa 0.63's own API Gateway/SNS ARNs (arn:aws:) fail.
Deploy in two steps (README): first with FunctionReady=false (tables and role), then
`zappa update/deploy prod`, then again with FunctionReady=true (API and schedules).
"""
from __future__ import annotations

__all__ = ["build"]

AUDIT_TABLE_LOGICAL_ID = "TableAudit"


def _function_arn() -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
                       ":function:${FunctionName}"}


def build(tables: dict) -> dict:
    from backend.tasks import SCHEDULE

    table_arns = [{"Fn::GetAtt": [lid, "Arn"]} for lid in tables if lid != AUDIT_TABLE_LOGICAL_ID]
    index_arns = [{"Fn::Sub": "${" + lid + ".Arn}/index/*"} for lid in tables]
    resources: dict = dict(tables)
    resources["LambdaRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": {"Fn::Sub": "${AWS::StackName}-lambda"},
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/"
                                              "service-role/AWSLambdaBasicExecutionRole"}],
            "Policies": [{
                "PolicyName": "countycare-data",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "Tables", "Effect": "Allow", "Action": [
                        "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                        "dynamodb:DescribeTable"],  # no Scan: every path uses keys
                     "Resource": table_arns + index_arns},
                    # The audit trail: append and read, never rewrite or delete.
                    {"Sid": "AuditAppendOnly", "Effect": "Allow", "Action": [
                        "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query",
                        "dynamodb:DescribeTable"],
                     "Resource": [{"Fn::GetAtt": [AUDIT_TABLE_LOGICAL_ID, "Arn"]}]},
                    {"Sid": "AuditNoRewrite", "Effect": "Deny", "Action": [
                        "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
                     "Resource": [{"Fn::GetAtt": [AUDIT_TABLE_LOGICAL_ID, "Arn"]}]},
                    {"Sid": "Secrets", "Effect": "Allow", "Action": ["ssm:GetParameter",
                                                                     "ssm:GetParameters",
                                                                     "ssm:GetParametersByPath"],
                     "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:"
                                             "${AWS::AccountId}:parameter/countycare/*"}},
                ]},
            }],
        },
    }
    resources["HttpApi"] = {
        "Type": "AWS::ApiGatewayV2::Api", "Condition": "FunctionReady",
        "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-http"}, "ProtocolType": "HTTP"},
    }
    resources["HttpIntegration"] = {
        "Type": "AWS::ApiGatewayV2::Integration", "Condition": "FunctionReady",
        "Properties": {"ApiId": {"Ref": "HttpApi"}, "IntegrationType": "AWS_PROXY",
                       "IntegrationUri": _function_arn(), "PayloadFormatVersion": "2.0",
                       "TimeoutInMillis": 29000},
    }
    resources["HttpRoute"] = {
        "Type": "AWS::ApiGatewayV2::Route", "Condition": "FunctionReady",
        "Properties": {"ApiId": {"Ref": "HttpApi"}, "RouteKey": "$default",
                       "Target": {"Fn::Sub": "integrations/${HttpIntegration}"}},
    }
    resources["HttpStage"] = {
        "Type": "AWS::ApiGatewayV2::Stage", "Condition": "FunctionReady",
        "Properties": {"ApiId": {"Ref": "HttpApi"}, "StageName": "$default", "AutoDeploy": True,
                       "DefaultRouteSettings": {"ThrottlingBurstLimit": 500,
                                                "ThrottlingRateLimit": 200}},
    }
    resources["HttpInvokePermission"] = {
        "Type": "AWS::Lambda::Permission", "Condition": "FunctionReady",
        "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "FunctionName"},
                       "Principal": "apigateway.amazonaws.com",
                       "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:"
                                                "${AWS::AccountId}:${HttpApi}/*"}},
    }
    resources.update(exports_resources())
    resources.update(audit_archive_resources())
    for name, (expression, description) in sorted(SCHEDULE.items()):
        lid = "Schedule" + "".join(p.capitalize() for p in name.split("_"))
        # Zappa's handler runs the function named after the rule's last "-": module.function.
        resources[lid] = {
            "Type": "AWS::Events::Rule", "Condition": "FunctionReady",
            "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-backend.tasks." + name},
                           "Description": description, "ScheduleExpression": expression,
                           "State": "ENABLED",
                           "Targets": [{"Id": "lambda", "Arn": _function_arn()}]},
        }
        resources[lid + "Permission"] = {
            "Type": "AWS::Lambda::Permission", "Condition": "FunctionReady",
            "Properties": {"Action": "lambda:InvokeFunction",
                           "FunctionName": {"Ref": "FunctionName"},
                           "Principal": "events.amazonaws.com",
                           "SourceArn": {"Fn::GetAtt": [lid, "Arn"]}},
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "CountyCare 县域基层健康服务: DynamoDB tables (PITR, SSE, TTL), HTTP API, "
                       "schedules and the Lambda role. Generated by `python -m infra.tables "
                       "template`; do not edit by hand.",
        "Parameters": {
            "FunctionName": {"Type": "String", "Default": "countycare-prod",
                             "Description": "The Lambda function Zappa deploys (project-stage)."},
            "BundleBucket": {"Type": "String", "Default": "countycare-prod-deploy",
                             "Description": "S3 bucket holding the bundle `make package` built "
                                            "(the audit archiver runs from the same code)."},
            "BundleKey": {"Type": "String", "Default": "countycare-prod.zip",
                          "Description": "Key of that bundle in BundleBucket."},
            "FunctionReady": {"Type": "String", "AllowedValues": ["true", "false"],
                              "Default": "false",
                              "Description": "true once `zappa deploy prod` created the function."},
        },
        "Conditions": {"FunctionReady": {"Fn::Equals": [{"Ref": "FunctionReady"}, "true"]}},
        "Resources": resources,
        "Outputs": {
            "LambdaRoleArn": {"Value": {"Fn::GetAtt": ["LambdaRole", "Arn"]},
                              "Description": "role_arn for zappa_settings.json (prod)"},
            "ApiUrl": {"Condition": "FunctionReady",
                       "Value": {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}},
        },
    }


def exports_resources() -> dict:
    """The county's .xlsx exports: an encrypted private bucket whose files expire after a
    day, and the role's right to write them and to start the export task (Zappa's
    asynchronous self-invocation)."""
    return {
        "ExportsBucket": {
            "Type": "AWS::S3::Bucket", "DeletionPolicy": "Delete",
            "Properties": {
                # Config.bucket("exports") = <table prefix = stack name>-exports
                "BucketName": {"Fn::Sub": "${AWS::StackName}-exports"},
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                    "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True, "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                "LifecycleConfiguration": {"Rules": [{
                    "Id": "exports-expire", "Status": "Enabled", "Prefix": "exports/",
                    "ExpirationInDays": 1,
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]},
            },
        },
        "ExportsPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "countycare-exports",
                "Roles": [{"Ref": "LambdaRole"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "ExportFiles", "Effect": "Allow",
                     "Action": ["s3:PutObject", "s3:GetObject"],
                     "Resource": {"Fn::Sub": "${ExportsBucket.Arn}/exports/*"}},
                    {"Sid": "ExportTask", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                     "Resource": _function_arn()},
                ]},
            },
        },
    }


def audit_archive_resources() -> dict:
    """Tamper evidence for the audit trail: the audit table's stream (new images) copied by
    a small function of its own to a bucket under Object Lock in compliance mode, where no
    one (not the app's role, not the account's root) can delete or overwrite a version
    before its retention ends. The archiver's role may read the stream and put objects;
    it has no delete. The app's role has no right on this bucket at all."""
    from backend.config import Config
    retention_days = Config.__dataclass_fields__["audit_retention_days"].default
    stream_arn = {"Fn::GetAtt": [AUDIT_TABLE_LOGICAL_ID, "StreamArn"]}
    return {
        "AuditArchiveBucket": {
            "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {
                # Config.bucket("audit") = <table prefix = stack name>-audit
                "BucketName": {"Fn::Sub": "${AWS::StackName}-audit"},
                "ObjectLockEnabled": True,
                "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": {
                    "DefaultRetention": {"Mode": "COMPLIANCE", "Days": retention_days}}},
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                    "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True, "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            },
        },
        "AuditArchiverRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": {"Fn::Sub": "${AWS::StackName}-audit-archiver"},
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]},
                "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/"
                                                  "service-role/AWSLambdaBasicExecutionRole"}],
                "Policies": [{"PolicyName": "countycare-audit-archive", "PolicyDocument": {
                    "Version": "2012-10-17", "Statement": [
                        {"Sid": "ReadAuditStream", "Effect": "Allow", "Action": [
                            "dynamodb:DescribeStream", "dynamodb:GetRecords",
                            "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
                         "Resource": [stream_arn]},
                        {"Sid": "AppendToArchive", "Effect": "Allow", "Action": [
                            "s3:PutObject", "s3:PutObjectRetention"],
                         "Resource": [{"Fn::Sub": "${AuditArchiveBucket.Arn}/*"}]},
                    ]}}],
            },
        },
        "AuditArchiver": {
            "Type": "AWS::Lambda::Function", "Condition": "FunctionReady",
            "Properties": {
                "FunctionName": {"Fn::Sub": "${FunctionName}-audit-archive"},
                "Description": "Copies the audit table's stream to the Object Lock bucket",
                "Runtime": "python3.11", "Architectures": ["x86_64"],
                "Handler": "backend.services.audit_archive.lambda_handler",
                "Code": {"S3Bucket": {"Ref": "BundleBucket"}, "S3Key": {"Ref": "BundleKey"}},
                "Role": {"Fn::GetAtt": ["AuditArchiverRole", "Arn"]},
                "MemorySize": 256, "Timeout": 60,
                "Environment": {"Variables": {
                    "COUNTYCARE_TABLE_PREFIX": {"Ref": "AWS::StackName"},
                    "COUNTYCARE_AUDIT_BUCKET": {"Ref": "AuditArchiveBucket"},
                    "COUNTYCARE_STAGE": "prod", "S3_ENDPOINT": "", "DYNAMODB_ENDPOINT": ""}},
            },
        },
        "AuditArchiverStream": {
            "Type": "AWS::Lambda::EventSourceMapping", "Condition": "FunctionReady",
            "Properties": {
                "EventSourceArn": stream_arn, "FunctionName": {"Ref": "AuditArchiver"},
                "StartingPosition": "TRIM_HORIZON", "BatchSize": 100,
                # A failing batch is split and retried until stored (the stream keeps 24 h).
                "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": -1,
                "MaximumRecordAgeInSeconds": -1,
            },
        },
    }
