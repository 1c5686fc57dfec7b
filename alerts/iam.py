"""The least-privilege IAM policy: what the exporter and sync call, nothing more.

A test records every AWS operation the code makes across the whole test suite and fails when one is missing
here (``tests/test_iam_policy.py``), and checks each action names a real operation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session

# botocore service names whose IAM prefix differs
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "resourcegroupstaggingapi": "tag"}
# API Gateway (v1 and v2) authorises by HTTP method on resource paths: apigateway:GET on .../restapis etc.
HTTP_METHOD_ACTIONS = ("apigateway", "apigatewayv2")
API_GATEWAY_READS = ("arn:aws:apigateway:*::/restapis", "arn:aws:apigateway:*::/restapis/*/stages",
                     "arn:aws:apigateway:*::/apis", "arn:aws:apigateway:*::/apis/*/stages")

# read-only discovery shared by both: ECS services and their ALB target groups, Aurora clusters and instances,
# Route 53 health checks and CloudFront distributions (global), API Gateway stages (apigateway:GET, see below)
DISCOVERY = (
    "ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices",
    "elasticloadbalancing:DescribeTargetGroups",
    "rds:DescribeDBClusters", "rds:DescribeDBInstances",
    "route53:ListHealthChecks", "route53:ListTagsForResources", "cloudfront:ListDistributions",
)
EXPORTER = (
    *DISCOVERY,
    "wafv2:ListWebACLs", "wafv2:GetWebACL",
    "cloudwatch:GetMetricData",
    "ce:GetCostAndUsage", "ce:GetCostForecast",
    "sts:AssumeRole",  # only with `accounts:` in the config (role per account)
    "sts:GetCallerIdentity",  # the default credentials' account id (the `account` label), once per process
)
SYNC = (
    *DISCOVERY,
    "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource",
    "cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm", "cloudwatch:TagResource",
    "cloudwatch:DeleteAlarms",
    "sts:AssumeRole",
)


def iam_action(service: str, operation: str) -> str:
    """``elbv2``, ``DescribeTargetGroups`` -> ``elasticloadbalancing:DescribeTargetGroups``; API Gateway
    operations -> ``apigateway:<HTTP method>`` (``GetRestApis`` -> ``apigateway:GET``)."""
    if service in HTTP_METHOD_ACTIONS:
        return f"apigateway:{_http_method(service, operation)}"
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


@cache
def _http_method(service: str, operation: str) -> str:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    return str(model.http["method"])


def policy() -> dict[str, Any]:
    """The IAM policy document: one statement for the exporter, one for sync, and the API Gateway reads both
    make (``apigateway:GET`` limited to the API and stage lists: it would otherwise read API keys too)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Exporter", "Effect": "Allow", "Action": sorted(set(EXPORTER)), "Resource": "*"},
            {"Sid": "Sync", "Effect": "Allow", "Action": sorted(set(SYNC)), "Resource": "*"},
            {"Sid": "ApiGatewayRead", "Effect": "Allow", "Action": ["apigateway:GET"],
             "Resource": list(API_GATEWAY_READS)},
        ],
    }


def actions() -> set[str]:
    return {a for statement in policy()["Statement"] for a in statement["Action"]}
