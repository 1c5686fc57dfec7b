"""The Aurora Global collector: global databases, their members' roles, and the secondaries' lag and RPO.

Discovery: DescribeGlobalClusters (100 a page). Every region answers the same global clusters; each one's info
families come from one watched region only (its primary's, when watched), so shards never export them twice.
A secondary's lag (AWS/RDS AuroraGlobalDBReplicationLag, AuroraGlobalDBRPOLag, dimension DBClusterIdentifier,
milliseconds) is published in the secondary's own region and read there: configure the DR regions in
``regions`` to get it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from prometheus_client.core import Metric

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery import targets
from docqet_monitor.core.discovery.aurora_global import (
    AuroraGlobalApi,
    BotoAuroraGlobalApi,
    GlobalCluster,
    GlobalMember,
    selected,
)
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues, gauge

LAG_LABELS = ("account", "region", "db_cluster")
LAG_METRICS = {  # family -> (CloudWatch metric in ms, read as Maximum, help)
    "docqet_rds_cluster_global_replication_lag_seconds": (
        "AuroraGlobalDBReplicationLag", "How far this secondary cluster is behind the primary region, in seconds."),
    "docqet_rds_cluster_global_rpo_lag_seconds": (
        "AuroraGlobalDBRPOLag", "The data a failover to this secondary would lose now (its RPO), in seconds."),
}
METRIC_NAMES = ("docqet_rds_global_cluster_info", "docqet_rds_global_cluster_member_info", *LAG_METRICS)


# --- CloudWatch queries and metric families (pure) ----------------------------------------------


def lag_query(member: GlobalMember, metric: str, period: int) -> MetricQuery:
    return MetricQuery("AWS/RDS", metric, (("DBClusterIdentifier", member.db_cluster),), "Maximum", period)


def local_secondaries(clusters: Sequence[GlobalCluster], region: str) -> list[GlobalMember]:
    """The secondary members in ``region``: the ones whose lag this region's CloudWatch publishes (pure)."""
    return [m for g in clusters for m in g.members if m.role == "secondary" and m.region == region]


def queries(clusters: Sequence[GlobalCluster], region: str, period: int) -> list[MetricQuery]:
    return [lag_query(m, metric, period) for m in local_secondaries(clusters, region)
            for metric, _ in LAG_METRICS.values()]


def reporting_region(cluster: GlobalCluster, watched: Collection[str]) -> str:
    """The one watched region that reports a global cluster's info (every region answers the same clusters;
    one reporter keeps shards from exporting them twice): the primary's, else a member's, else the first (pure)."""
    members = [m.region for m in cluster.members if m.role == "primary"] + sorted(m.region for m in cluster.members)
    return next((r for r in members if r in watched), min(watched, default=""))


def families(account: str, clusters: Sequence[GlobalCluster], region: str, values: MetricValues,
             period: int, watched: Collection[str] = ()) -> list[Metric]:
    """The Aurora Global families of one account seen from ``region`` (pure): the global clusters this region
    reports (:func:`reporting_region` among the ``watched`` regions; all when none is given) with their members,
    and the lag of the secondaries in ``region``."""
    own = [g for g in clusters if not watched or reporting_region(g, watched) == region]
    info = [((account, g.name, g.engine, g.engine_version), 1.0) for g in own]
    members = [((account, g.name, m.region, m.db_cluster, m.role), 1.0) for g in own for m in g.members]
    lag: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in LAG_METRICS}
    for member in local_secondaries(clusters, region):
        for name, (metric, _) in LAG_METRICS.items():
            value = values.get(lag_query(member, metric, period))
            if value is not None:
                lag[name].append(((account, member.region, member.db_cluster), value / 1000))
    return [
        gauge("docqet_rds_global_cluster_info", "Aurora Global database metadata; always 1.",
              ("account", "global_cluster", "engine", "engine_version"), info),
        gauge("docqet_rds_global_cluster_member_info", "A member cluster of an Aurora Global database and its "
              "role (primary or secondary); always 1.", ("account", "global_cluster", "region", "db_cluster", "role"),
              members),
        *(gauge(name, doc, LAG_LABELS, lag[name]) for name, (_, doc) in LAG_METRICS.items()),
    ]


# --- one region, the collector ------------------------------------------------------------------


def scrape(api: AuroraGlobalApi, read: MetricReader, account: str, region: str, names: Sequence[str],
           period: int, watched: Collection[str] = ()) -> list[Metric]:
    """Discover the global clusters (``names`` restricts them), read this region's secondaries' lag, build."""
    clusters = selected(api.global_clusters(), names)
    if not clusters:
        return []
    return families(account, clusters, region, read(queries(clusters, region, period)), period, watched)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The Aurora Global collector over every configured account and region."""
    settings, period = config.collectors.aurora_global, config.cloudwatch.period_seconds
    watched = frozenset(t.region for t in targets(config))

    def scrape_region(client: Clients, read: MetricReader, account: str, region: str) -> list[Metric]:
        api = BotoAuroraGlobalApi(client("rds"))
        return scrape(api, read, account, region, settings.global_clusters, period, watched)

    return regional.collector("aurora_global", settings, config, aws, scrape_region)
