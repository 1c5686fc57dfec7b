"""The least-privilege IAM policies, one per role: the exporter only reads; sync reads and writes only the
CloudWatch alarms named with our prefix.

A test records every AWS operation the code makes across the whole test suite and fails when one is missing
from the role that made it (``tests/test_iam_policy.py``), and checks each action names a real operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import botocore.session

from docqet_monitor.core import partitions

# botocore service names whose IAM prefix differs
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "resourcegroupstaggingapi": "tag"}
# operations whose IAM action is not named after them
IAM_ACTIONS = {("s3", "ListBuckets"): "s3:ListAllMyBuckets",
               ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration"}
ROLES = ("exporter", "sync")
ASSUME_ROLE = "sts:AssumeRole"  # only with `accounts:` in the config (role per account)
ALARM_PREFIX = "docqet-"  # every alarm name starts with it (core.ids.alarm_prefix: docqet-<env>-)
# API Gateway (v1 and v2) authorises by HTTP method on resource paths: apigateway:GET on .../restapis etc.
HTTP_METHOD_ACTIONS = ("apigateway", "apigatewayv2")
API_GATEWAY_READS = ("/restapis", "/restapis/*/stages", "/apis", "/apis/*/stages")  # arn:<partition>:apigateway:*::

# read-only discovery shared by both: ECS services and their ALB target groups, Aurora clusters and instances,
# Redis, load balancers, Aurora Global, Route 53 health checks and CloudFront distributions (global), and API
# Gateway stages (apigateway:GET in a statement of its own, see API_GATEWAY_READS)
DISCOVERY = (
    "ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices",
    "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeLoadBalancers",
    "rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:DescribeGlobalClusters",
    "elasticache:DescribeReplicationGroups", "elasticache:DescribeCacheClusters",
    "route53:ListHealthChecks", "route53:ListTagsForResources", "cloudfront:ListDistributions",
)
EXPORTER = (
    *DISCOVERY,
    "cloudwatch:GetMetricData", "cloudwatch:ListMetrics",
    "s3:ListAllMyBuckets", "s3:GetBucketVersioning", "s3:GetReplicationConfiguration",
    "wafv2:ListWebACLs", "wafv2:GetWebACL",
    "ce:GetCostAndUsage", "ce:GetCostForecast",
    "sts:GetCallerIdentity",  # the default credentials' account id (the `account` label), once per process
)
SYNC_READ = (
    *DISCOVERY,
    "cloudwatch:DescribeAlarms",  # no resource-level permissions: "*"
    "tag:GetResources",  # the tags of our alarms, in bulk; no resource-level permissions: "*"
)
SYNC_WRITE = ("cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm", "cloudwatch:TagResource",
              "cloudwatch:DeleteAlarms")


def iam_action(service: str, operation: str) -> str:
    """``elbv2``, ``DescribeTargetGroups`` -> ``elasticloadbalancing:DescribeTargetGroups``; ``s3``,
    ``ListBuckets`` -> ``s3:ListAllMyBuckets``; API Gateway (v1 and v2) operations -> ``apigateway:<HTTP
    method>`` (``GetRestApis`` -> ``apigateway:GET``)."""
    if service in HTTP_METHOD_ACTIONS:
        return f"apigateway:{_http_method(service, operation)}"
    return IAM_ACTIONS.get((service, operation)) or f"{IAM_PREFIX.get(service, service)}:{operation}"


@cache
def _http_method(service: str, operation: str) -> str:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    return str(model.http["method"])


def alarm_arn(prefix: str = ALARM_PREFIX, partition: str = "aws") -> str:
    """The ARN pattern of the alarms named ``<prefix>...``, in any region and account (pure)."""
    return f"arn:{partition}:cloudwatch:*:*:alarm:{prefix}*"


def partition(regions: Sequence[str]) -> str:
    """The AWS partition of ``regions`` (``aws``, ``aws-cn``, ``aws-us-gov``...), by botocore's partition data;
    ValueError when they are in several or in none that botocore knows."""
    found = {partitions.of_region(r) or f"unknown ({r})" for r in regions}
    if len(found) != 1 or next(iter(found)).startswith("unknown"):
        raise ValueError(f"the regions {', '.join(regions)} are in the partitions {', '.join(sorted(found))}: a policy "
                         "is for one partition")
    return found.pop()


def policy(role: str, role_arns: Sequence[str] = (), prefix: str = ALARM_PREFIX, partition: str = "aws",
           ) -> dict[str, Any]:
    """The IAM policy document of one role (pure). ``role_arns``: the roles of ``accounts:`` to assume (none: no
    ``sts:AssumeRole`` statement at all); ``prefix``: the alarm names sync may write (``docqet-<env>-`` for one
    environment); ``partition``: of the ARNs. Both roles list API Gateway stages: ``apigateway:GET`` limited to
    the API and stage lists (on ``*`` it would read API keys too)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if role == "exporter":
        statements = [{"Sid": "ExporterRead", "Effect": "Allow", "Action": sorted(set(EXPORTER)), "Resource": "*"}]
    else:
        statements = [
            {"Sid": "SyncRead", "Effect": "Allow", "Action": sorted(set(SYNC_READ)), "Resource": "*"},
            {"Sid": "SyncWriteOurAlarms", "Effect": "Allow", "Action": sorted(SYNC_WRITE),
             "Resource": alarm_arn(prefix, partition)},
        ]
    statements.append({"Sid": "ApiGatewayRead", "Effect": "Allow", "Action": ["apigateway:GET"],
                       "Resource": [f"arn:{partition}:apigateway:*::{path}" for path in API_GATEWAY_READS]})
    if role_arns:
        statements.append({"Sid": "AssumeAccountRoles", "Effect": "Allow", "Action": [ASSUME_ROLE],
                           "Resource": sorted(set(role_arns))})
    return {"Version": "2012-10-17", "Statement": statements}


def actions(role: str | None = None) -> set[str]:
    """Every action a role (default: either) may be granted, AssumeRole included."""
    roles = ROLES if role is None else (role,)
    return {a for r in roles for s in policy(r, ("arn:",))["Statement"] for a in s["Action"]}
