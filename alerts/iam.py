"""The least-privilege IAM policy: what the exporter and sync call, nothing more.

A test records every AWS operation the code makes across the whole test suite and fails when one is missing
here (``tests/test_iam_policy.py``), and checks each action names a real operation.
"""

from __future__ import annotations

from typing import Any

# botocore service names whose IAM prefix differs
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "resourcegroupstaggingapi": "tag"}

# read-only discovery shared by both: ECS services and their ALB target groups, Aurora clusters and instances
DISCOVERY = (
    "ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices",
    "elasticloadbalancing:DescribeTargetGroups",
    "rds:DescribeDBClusters", "rds:DescribeDBInstances",
)
EXPORTER = (
    *DISCOVERY,
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
    """``elbv2``, ``DescribeTargetGroups`` -> ``elasticloadbalancing:DescribeTargetGroups`` (pure)."""
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


def policy() -> dict[str, Any]:
    """The IAM policy document: one statement for the exporter, one for sync."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Exporter", "Effect": "Allow", "Action": sorted(set(EXPORTER)), "Resource": "*"},
            {"Sid": "Sync", "Effect": "Allow", "Action": sorted(set(SYNC)), "Resource": "*"},
        ],
    }


def actions() -> set[str]:
    return {a for statement in policy()["Statement"] for a in statement["Action"]}
