"""The least-privilege IAM policy: what the exporter and sync call, nothing more.

A test records every AWS operation the code makes across the whole test suite and fails when one is missing
here (``tests/test_iam_policy.py``), and checks each action names a real operation.
"""

from __future__ import annotations

from typing import Any

# botocore service names whose IAM prefix differs
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "resourcegroupstaggingapi": "tag"}
# operations whose IAM action is not named after them
IAM_ACTIONS = {("s3", "ListBuckets"): "s3:ListAllMyBuckets",
               ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration"}

# read-only discovery shared by both: ECS services and their ALB target groups, Aurora clusters and instances
DISCOVERY = (
    "ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices",
    "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeLoadBalancers",
    "rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:DescribeGlobalClusters",
    "elasticache:DescribeReplicationGroups", "elasticache:DescribeCacheClusters",
)
EXPORTER = (
    *DISCOVERY,
    "cloudwatch:GetMetricData", "cloudwatch:ListMetrics",
    "s3:ListAllMyBuckets", "s3:GetBucketVersioning", "s3:GetReplicationConfiguration",
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
    """``elbv2``, ``DescribeTargetGroups`` -> ``elasticloadbalancing:DescribeTargetGroups``; ``s3``,
    ``ListBuckets`` -> ``s3:ListAllMyBuckets`` (pure)."""
    return IAM_ACTIONS.get((service, operation)) or f"{IAM_PREFIX.get(service, service)}:{operation}"


ROLES = {"exporter": ("Exporter", EXPORTER), "sync": ("Sync", SYNC)}


def policy(role: str | None = None) -> dict[str, Any]:
    """The IAM policy document: one statement per role (``exporter``, ``sync``), or only ``role``'s."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": sid, "Effect": "Allow", "Action": sorted(set(granted)), "Resource": "*"}
                      for name, (sid, granted) in ROLES.items() if role in (None, name)],
    }


def actions() -> set[str]:
    return {a for statement in policy()["Statement"] for a in statement["Action"]}
