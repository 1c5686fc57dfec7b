"""The ElastiCache collector: pure parsing and metric building, then against moto with the real AWS limits."""

from __future__ import annotations

import boto3
import pytest
from aws_limits import AwsLimits
from helpers import parsed, samples, value

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AwsConfig, CollectorsConfig, Config, ElastiCacheCollectorConfig
from docqet_monitor.core.discovery.elasticache import (
    CacheCluster,
    CacheNode,
    ReplicationGroup,
    parse_cache_cluster,
    parse_replication_group,
)
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import elasticache

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
RAW_GROUP = {
    "ReplicationGroupId": "cache", "CacheNodeType": "cache.r7g.large", "ClusterEnabled": False,
    "AutomaticFailover": "enabled", "MultiAZ": "enabled",
    "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": [
        {"CacheClusterId": "cache-001", "CacheNodeId": "0001", "CurrentRole": "primary",
         "PreferredAvailabilityZone": "eu-west-1a"},
        {"CacheClusterId": "cache-002", "CacheNodeId": "0001", "CurrentRole": "replica",
         "PreferredAvailabilityZone": "eu-west-1b"},
        {"CacheNodeId": "0001"}]}],
}


# --- pure ---------------------------------------------------------------------------------------


def test_parse_replication_group_reads_members_and_roles() -> None:
    group = parse_replication_group(RAW_GROUP)
    assert group == ReplicationGroup("cache", "cache.r7g.large", "disabled", "enabled", "enabled", (
        CacheNode("cache-001", "0001", "primary", "eu-west-1a"), CacheNode("cache-002", "0001", "replica",
                                                                            "eu-west-1b")))
    assert parse_replication_group({"NodeGroups": []}) is None
    assert parse_replication_group({"ReplicationGroupId": "x", "ClusterMode": "compatible"}) == ReplicationGroup(
        "x", cluster_mode="compatible")
    assert parse_cache_cluster({"CacheClusterId": "c", "ReplicationGroupId": "g", "Engine": "redis",
                                "EngineVersion": 7.1}) == CacheCluster("c", "g", "redis", "")


def test_families_convert_units_and_take_roles_from_is_master_when_unstated() -> None:
    shard = CacheNode("cache-0001-001", "0001")  # cluster mode enabled: AWS states no role
    unknown = CacheNode("cache-0002-001", "0001")
    group = ReplicationGroup("cache", "cache.r7g.large", "enabled", "enabled", "enabled", (shard, unknown))
    q = elasticache.node_query
    values = {q(shard, "IsMaster", "Maximum", 60): 1.0, q(shard, "DatabaseMemoryUsagePercentage", "Average", 60): 91.0,
              q(shard, "Evictions", "Sum", 60): 120.0, q(shard, "NetworkBytesOut", "Sum", 60): 6e6,
              q(shard, "ReplicationLag", "Average", 60): 0.5, q(unknown, "CurrConnections", "Average", 60): 7.0}
    clusters = {"cache-0001-001": CacheCluster("cache-0001-001", "cache", "redis", "7.1")}
    fams = elasticache.families(ACCOUNT, REGION, [group], clusters, values, 60)
    node = {"account": ACCOUNT, "region": REGION, "replication_group": "cache", "cache_cluster": "cache-0001-001"}
    assert value(fams, "docqet_elasticache_node_memory_usage_ratio", **node) == 0.91
    assert value(fams, "docqet_elasticache_node_evictions_per_second", **node) == 2.0
    assert value(fams, "docqet_elasticache_node_network_transmit_bytes_per_second", **node) == 1e5
    assert value(fams, "docqet_elasticache_node_replication_lag_seconds", **node) == 0.5
    assert value(fams, "docqet_elasticache_node_connections", cache_cluster="cache-0002-001") == 7
    assert value(fams, "docqet_elasticache_node_cache_hit_ratio", **node) is None  # no datapoint, no series
    assert [dict(k)["role"] for k in samples(fams, "docqet_elasticache_node_info")] == ["primary"]  # unknown: none
    assert value(fams, "docqet_elasticache_replication_group_info", engine="redis", engine_version="7.1",
                 cluster_mode="enabled", automatic_failover="enabled", multi_az="enabled") == 1


def test_is_master_is_asked_only_for_nodes_without_a_stated_role() -> None:
    group = parse_replication_group(RAW_GROUP)
    assert group is not None
    metrics = {query.metric for query in elasticache.queries([group], 60)}
    assert "IsMaster" not in metrics and "ReplicationLag" in metrics


# --- against moto -------------------------------------------------------------------------------


def _config(groups: tuple[str, ...] = ()) -> Config:
    return Config(regions=(REGION,), aws=AwsConfig(max_attempts=1),
                  collectors=CollectorsConfig(elasticache=ElastiCacheCollectorConfig(replication_groups=groups)))


def test_seeded_staging_values(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, ahead_minutes=5, session=aws_limits.session())
    result = elasticache.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    fams = result.families
    primary = {"account": ACCOUNT, "region": REGION, "replication_group": demo.REDIS_GROUP,
               "cache_cluster": f"{demo.REDIS_GROUP}-001"}
    replica = {**primary, "cache_cluster": f"{demo.REDIS_GROUP}-002"}
    assert value(fams, "docqet_elasticache_replication_group_info", engine="redis", engine_version="7.1",
                 node_type="cache.r7g.large", cluster_mode="disabled", automatic_failover="enabled",
                 multi_az="enabled") == 1
    assert value(fams, "docqet_elasticache_node_info", **primary, role="primary", availability_zone="eu-west-1a") == 1
    assert value(fams, "docqet_elasticache_node_info", **replica, role="replica") == 1
    assert value(fams, "docqet_elasticache_node_memory_usage_ratio", **primary) == pytest.approx(0.42)
    assert value(fams, "docqet_elasticache_node_cache_hit_ratio", **primary) == pytest.approx(0.965)
    assert value(fams, "docqet_elasticache_node_network_receive_bytes_per_second", **primary) == 1.2e6 / 60
    assert value(fams, "docqet_elasticache_node_replication_lag_seconds", **replica) == pytest.approx(0.02)
    assert value(fams, "docqet_elasticache_node_replication_lag_seconds", **primary) is None
    assert {s.name for f in parsed(fams) for s in f.samples} == set(elasticache.METRIC_NAMES)
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 1
    assert [p["MaxRecords"] for p in aws_limits.params["elasticache.DescribeReplicationGroups"]] == [100]


def test_pagination_is_followed_and_groups_are_filtered(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=1)
    demo.seed_staging(moto_endpoint, ahead_minutes=5)
    boto3.client("elasticache").create_replication_group(
        ReplicationGroupId="scratch", ReplicationGroupDescription="x", Engine="redis")
    result = elasticache.collector(_config(), Aws(session_factory=limits.session)).collect()
    limits.assert_clean()
    assert result.errors == ()
    assert limits.calls["elasticache.DescribeReplicationGroups"] == 2
    assert limits.calls["elasticache.DescribeCacheClusters"] == 2  # the two seeded members
    assert len(samples(result.families, "docqet_elasticache_replication_group_info")) == 2
    only = elasticache.collector(_config(("scratch",)), Aws()).collect()
    assert [dict(k)["replication_group"] for k in samples(only.families, "docqet_elasticache_replication_group_info")
            ] == ["scratch"]


def test_nothing_found_means_no_series_and_no_further_calls(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    result = elasticache.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == () and result.families == []
    assert set(aws_limits.calls) == {"elasticache.DescribeReplicationGroups", "sts.GetCallerIdentity"}  # account


def test_the_limits_layer_rejects_pages_aws_rejects(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    with pytest.raises(AssertionError, match="MaxRecords is 20-100"):
        aws_limits.client("elasticache").describe_cache_clusters(MaxRecords=10)
    aws_limits.violations.clear()
