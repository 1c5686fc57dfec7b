"""The ElastiCache collector: replication groups, their nodes' roles, and per-node CloudWatch health.

Discovery: DescribeReplicationGroups and DescribeCacheClusters (100 a page). CloudWatch values (namespace
AWS/ElastiCache, dimensions CacheClusterId + CacheNodeId) come from one batched GetMetricData read per region.
A node's role comes from ``CurrentRole`` (cluster mode disabled), else from CloudWatch's ``IsMaster``; a node
whose role nobody states has no info series. No datapoint, no series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery.elasticache import (
    BotoElastiCacheApi,
    CacheCluster,
    CacheNode,
    ElastiCacheApi,
    ReplicationGroup,
    selected,
)
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

NAMESPACE = "AWS/ElastiCache"
GROUP_LABELS = ("account", "region", "replication_group")
INFO_LABELS = (*GROUP_LABELS, "engine", "engine_version", "node_type", "cluster_mode", "automatic_failover",
               "multi_az")
NODE_LABELS = ("account", "region", "replication_group", "cache_cluster")
NODE_INFO_LABELS = (*NODE_LABELS, "role", "availability_zone")

# family -> (CloudWatch metric, statistic, conversion: "ratio" (percent / 100), "rate" (Sum / period) or "", help)
NODE_METRICS = {
    "docqet_elasticache_node_engine_cpu_utilization_ratio": (
        "EngineCPUUtilization", "Average", "ratio", "CPU used by the Redis engine thread (0-1)."),
    "docqet_elasticache_node_cpu_utilization_ratio": (
        "CPUUtilization", "Average", "ratio", "CPU used by the whole host (0-1)."),
    "docqet_elasticache_node_memory_usage_ratio": (
        "DatabaseMemoryUsagePercentage", "Average", "ratio", "Memory used of maxmemory (0-1); evictions at 1."),
    "docqet_elasticache_node_cache_hit_ratio": (
        "CacheHitRate", "Average", "ratio", "Share of key lookups that hit (0-1)."),
    "docqet_elasticache_node_freeable_memory_bytes": (
        "FreeableMemory", "Average", "", "Memory left on the host in bytes."),
    "docqet_elasticache_node_connections": ("CurrConnections", "Average", "", "Client connections."),
    "docqet_elasticache_node_evictions_per_second": (
        "Evictions", "Sum", "rate", "Keys evicted for lack of memory per second."),
    "docqet_elasticache_node_replication_lag_seconds": (
        "ReplicationLag", "Average", "", "How far a replica is behind its primary in seconds (replicas only)."),
    "docqet_elasticache_node_network_receive_bytes_per_second": (
        "NetworkBytesIn", "Sum", "rate", "Bytes received per second."),
    "docqet_elasticache_node_network_transmit_bytes_per_second": (
        "NetworkBytesOut", "Sum", "rate", "Bytes sent per second."),
}
METRIC_NAMES = ("docqet_elasticache_replication_group_info", "docqet_elasticache_node_info", *NODE_METRICS)


# --- CloudWatch queries and metric families (pure) ----------------------------------------------


def _dims(node: CacheNode) -> tuple[tuple[str, str], ...]:
    return (("CacheClusterId", node.cache_cluster), ("CacheNodeId", node.node_id))


def node_query(node: CacheNode, metric: str, statistic: str, period: int) -> MetricQuery:
    return MetricQuery(NAMESPACE, metric, _dims(node), statistic, period)


def _is_master(node: CacheNode, period: int) -> MetricQuery:
    return node_query(node, "IsMaster", "Maximum", period)


def queries(groups: Iterable[ReplicationGroup], period: int) -> list[MetricQuery]:
    """Every CloudWatch query the groups' nodes need (pure); ``IsMaster`` only where the role is unknown."""
    result = []
    for group in groups:
        for node in group.nodes:
            result += [node_query(node, metric, stat, period) for metric, stat, _, _ in NODE_METRICS.values()]
            if not node.role:
                result.append(_is_master(node, period))
    return result


def _convert(value: float, conversion: str, period: int) -> float:
    return value / 100 if conversion == "ratio" else value / period if conversion == "rate" else value


def role(node: CacheNode, values: MetricValues, period: int) -> str:
    """``CurrentRole``, else CloudWatch's IsMaster (1 primary, 0 replica), else "" (pure)."""
    if node.role:
        return node.role
    master = values.get(_is_master(node, period))
    return "" if master is None else "primary" if master >= 1 else "replica"


def families(account: str, region: str, groups: Sequence[ReplicationGroup], clusters: Mapping[str, CacheCluster],
             values: MetricValues, period: int) -> list[Rendered]:
    """The ElastiCache families of one region of one account (pure); ``clusters`` by cache cluster id."""
    info, node_info = [], []
    node_samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in NODE_METRICS}
    for g in groups:
        member = next((clusters[n.cache_cluster] for n in g.nodes if n.cache_cluster in clusters), CacheCluster(""))
        info.append(((account, region, g.name, member.engine, member.engine_version, g.node_type, g.cluster_mode,
                      g.automatic_failover, g.multi_az), 1.0))
        for node in g.nodes:
            labels = (account, region, g.name, node.cache_cluster)
            node_role = role(node, values, period)
            if node_role:
                node_info.append(((*labels, node_role, node.availability_zone), 1.0))
            for name, (metric, stat, conversion, _) in NODE_METRICS.items():
                value = values.get(node_query(node, metric, stat, period))
                if value is not None:
                    node_samples[name].append((labels, _convert(value, conversion, period)))
    return [
        gauge("docqet_elasticache_replication_group_info", "ElastiCache replication group metadata; always 1.",
              INFO_LABELS, info),
        gauge("docqet_elasticache_node_info", "ElastiCache node (cache cluster) role and zone; always 1.",
              NODE_INFO_LABELS, node_info),
        *(gauge(name, doc, NODE_LABELS, node_samples[name]) for name, (_, _, _, doc) in NODE_METRICS.items()),
    ]


# --- one region, the collector ------------------------------------------------------------------


def scrape(api: ElastiCacheApi, read: MetricReader, account: str, region: str, names: Sequence[str],
           period: int) -> list[Rendered]:
    """Discover the region's replication groups (``names`` restricts them when non-empty), read, build."""
    groups = selected(api.replication_groups(), names)
    if not groups:
        return []
    clusters = {c.name: c for c in api.cache_clusters()}
    values = read(queries(groups, period))
    return families(account, region, groups, clusters, values, period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The ElastiCache collector over every configured account and region."""
    settings, period = config.collectors.elasticache, config.cloudwatch.period_seconds

    def scrape_region(client: Clients, read: MetricReader, account: str, region: str) -> list[Rendered]:
        api = BotoElastiCacheApi(client("elasticache"))
        return scrape(api, read, account, region, settings.replication_groups, period)

    return regional.collector("elasticache", settings, config, aws, scrape_region)
