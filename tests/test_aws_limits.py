"""The test layer enforcing AWS limits on moto: its checks and its pagination emulation."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from aws_limits import AwsLimitExceeded, AwsLimits


def _all_pages(call: Callable[..., Any], key: str, token_in: str, token_out: str, **params: Any) -> list[list[Any]]:
    pages = []
    while True:
        page = call(**params)
        pages.append(page[key])
        if not page.get(token_out):
            return pages
        params[token_in] = page[token_out]


def test_list_calls_are_paginated_like_aws(moto_endpoint: str) -> None:
    limits = AwsLimits()
    ecs = limits.client("ecs")
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="t", containerDefinitions=[{"name": "t", "image": "t", "memory": 64}])
    names = [f"s{i:02}" for i in range(23)]
    for name in names:
        ecs.create_service(cluster="c", serviceName=name, taskDefinition="t", desiredCount=0)
    default = _all_pages(ecs.list_services, "serviceArns", "nextToken", "nextToken", cluster="c")
    assert [len(p) for p in default] == [10, 10, 3]  # AWS's default page size, 10
    asked = _all_pages(ecs.list_services, "serviceArns", "nextToken", "nextToken", cluster="c", maxResults=20)
    assert [len(p) for p in asked] == [20, 3]
    assert [arn.rsplit("/", 1)[1] for page in asked for arn in page] == names  # each once, in order
    limits.assert_clean()


def test_forced_page_size_applies_to_rds_and_alarms(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=2)
    rds = limits.client("rds")
    for i in range(5):
        rds.create_db_cluster(DBClusterIdentifier=f"c{i}", Engine="aurora-postgresql", MasterUsername="u",
                              MasterUserPassword="password-123")
    pages = _all_pages(rds.describe_db_clusters, "DBClusters", "Marker", "Marker", MaxRecords=100)
    assert [len(p) for p in pages] == [2, 2, 1]
    cloudwatch = limits.client("cloudwatch")
    for i in range(3):
        cloudwatch.put_metric_alarm(AlarmName=f"a{i}", MetricName="m", Namespace="n", Statistic="Average", Period=60,
                                    EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    pages = _all_pages(cloudwatch.describe_alarms, "MetricAlarms", "NextToken", "NextToken")
    assert [[a["AlarmName"] for a in p] for p in pages] == [["a0", "a1"], ["a2"]]
    assert limits.calls["rds.DescribeDBClusters"] == 3
    limits.assert_clean()


def test_a_broken_limit_raises_and_stays_recorded_when_caught(moto_endpoint: str) -> None:
    limits = AwsLimits()
    rds = limits.client("rds")
    with pytest.raises(AwsLimitExceeded, match="MaxRecords is 20-100"):
        rds.describe_db_instances(MaxRecords=10)  # botocore accepts it; AWS does not
    cloudwatch = limits.client("cloudwatch")
    with contextlib.suppress(AwsLimitExceeded):  # code under test swallowing the error must not hide it
        cloudwatch.delete_alarms(AlarmNames=[f"a{i}" for i in range(101)])
    with pytest.raises(AwsLimitExceeded, match="DeleteAlarms takes at most 100 names"):
        limits.assert_clean()
    assert len(limits.violations) == 2


def test_keep_params_false_counts_calls_without_keeping_their_parameters(moto_endpoint: str) -> None:
    limits, counting = AwsLimits(), AwsLimits(keep_params=False)
    for each in (limits, counting):
        each.client("rds").describe_db_clusters(MaxRecords=20)
    assert limits.params["rds.DescribeDBClusters"] == [{"MaxRecords": 20}]
    assert counting.calls["rds.DescribeDBClusters"] == 1 and counting.params["rds.DescribeDBClusters"] == []
    with pytest.raises(AwsLimitExceeded, match="MaxRecords is 20-100"):  # the limits still hold
        counting.client("rds").describe_db_instances(MaxRecords=10)
