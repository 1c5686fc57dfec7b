"""ElastiCache Redis: memory and evictions, engine load, hit ratio, connections, replication, per node."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.REDIS
TITLE = "Docqet / Redis"

_NODE = S.matchers("account", "region", "replication_group", "cache_cluster")
_GROUP = S.matchers("account", "region", "replication_group")
_LEGEND = "{{replication_group}}/{{cache_cluster}} ({{region}})"


def _n(metric: str) -> str:
    return f"docqet_elasticache_node_{metric}{_NODE}"


def build(t: Thresholds) -> G.Dashboard:
    rows = [
        S.Row("Memory", [
            S.stat("Highest memory usage", [f"max({_n('memory_usage_ratio')})"], S.PERCENT_RATIO, w=6, h=8,
                   thresholds=t.above("RedisMemoryUsageCritical"),
                   description="The fullest node's share of maxmemory."),
            S.timeseries("Memory usage", [S.Query(_n("memory_usage_ratio"), _LEGEND)], S.PERCENT_RATIO, w=18,
                         thresholds=t.above("RedisMemoryUsageHigh"),
                         description="Memory used of maxmemory (DatabaseMemoryUsagePercentage). Above 90 % for 5 "
                                     "minutes pages (RedisMemoryUsageCritical, also a CloudWatch alarm)."),
            S.timeseries("Evictions", [S.Query(_n("evictions_per_second"), _LEGEND)], S.PER_SECOND,
                         thresholds=t.above("RedisEvictionsSustained"),
                         description="Keys evicted a second because memory is full; evicted sessions log users "
                                     "out."),
            S.timeseries("Freeable memory", [S.Query(_n("freeable_memory_bytes"), _LEGEND)], S.BYTES,
                         description="Memory left on the host (for forks: snapshots, replica syncs)."),
        ]),
        S.Row("Load", [
            S.timeseries("Engine CPU", [S.Query(_n("engine_cpu_utilization_ratio"), _LEGEND)], S.PERCENT_RATIO,
                         w=8, thresholds=t.above("RedisEngineCpuHigh"),
                         description="CPU of the Redis engine thread, which serves every command."),
            S.timeseries("Host CPU", [S.Query(_n("cpu_utilization_ratio"), _LEGEND)], S.PERCENT_RATIO, w=8,
                         description="CPU of the whole host (background saves, TLS, the OS)."),
            S.timeseries("Connections", [S.Query(_n("connections"), _LEGEND)], S.COUNT, w=8,
                         description="Client connections; a climb without more traffic is a connection leak."),
            S.timeseries("Cache hit ratio", [S.Query(_n("cache_hit_ratio"), _LEGEND)], S.PERCENT_RATIO, w=8,
                         description="Share of lookups that found their key (CacheHitRate)."),
            S.timeseries("Network in", [S.Query(_n("network_receive_bytes_per_second"), _LEGEND)],
                         S.BYTES_PER_SECOND, w=8, description="Bytes received per second."),
            S.timeseries("Network out", [S.Query(_n("network_transmit_bytes_per_second"), _LEGEND)],
                         S.BYTES_PER_SECOND, w=8,
                         description="Bytes sent per second."),
        ]),
        S.Row("Replication", [
            S.timeseries("Replication lag", [S.Query(_n("replication_lag_seconds"), _LEGEND)], S.SECONDS,
                         thresholds=t.above("RedisReplicaLagHigh"),
                         description="How far each replica is behind its primary; a failover loses that much."),
            S.table("Nodes", [S.Query(f"docqet_elasticache_node_info{_NODE}")], w=12,
                    hide=("Time", "Value", "__name__", "job", "instance"),
                    description="Role (primary or replica) and availability zone of each node."),
            S.table("Replication groups", [S.Query(f"docqet_elasticache_replication_group_info{_GROUP}")],
                    hide=("Time", "Value", "__name__", "job", "instance"),
                    description="Engine, version, node type, cluster mode, automatic failover and Multi-AZ. "
                                "Production groups without automatic failover raise "
                                "RedisAutomaticFailoverDisabled."),
        ]),
    ]
    variables = [
        S.query_variable("account", "docqet_elasticache_replication_group_info"),
        S.query_variable("region", "docqet_elasticache_replication_group_info", label_filter='account=~"$account"'),
        S.query_variable("replication_group", "docqet_elasticache_replication_group_info",
                         label_filter='account=~"$account", region=~"$region"', title="Replication group"),
        S.query_variable("cache_cluster", "docqet_elasticache_node_info", title="Node", label_filter=(
            'account=~"$account", region=~"$region", replication_group=~"$replication_group"')),
    ]
    return S.dashboard(UID, TITLE, rows, variables, tags=["redis", "elasticache"])
