"""The Aurora Global collector: global databases, their members' roles, and the secondaries' lag and RPO.

Discovery: DescribeGlobalClusters (100 a page). Global databases are account-wide (every region answers the
same ones), so the collector asks once per account, in the account's first watched region, and runs on shard 1
only (``global_data``). A secondary's lag (AWS/RDS AuroraGlobalDBReplicationLag, AuroraGlobalDBRPOLag, dimension
DBClusterIdentifier, milliseconds) is published in the secondary's own region and read there, one batched
GetMetricData per watched region that holds a secondary: configure the DR regions in ``regions`` to get it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AccountConfig, Config
from docqet_monitor.core.discovery import Target, targets
from docqet_monitor.core.discovery.aurora_global import (
    AuroraGlobalApi,
    BotoAuroraGlobalApi,
    GlobalCluster,
    GlobalMember,
    selected,
)
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricValues

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


def families(account: str, clusters: Sequence[GlobalCluster], values: Mapping[str, MetricValues],
             period: int) -> list[Rendered]:
    """The Aurora Global families of one account (pure): its global clusters with their members, and the lag of
    each secondary from ``values`` read in the secondary's region (region -> values)."""
    info = [((account, g.name, g.engine, g.engine_version), 1.0) for g in clusters]
    members = [((account, g.name, m.region, m.db_cluster, m.role), 1.0) for g in clusters for m in g.members]
    lag: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in LAG_METRICS}
    for member in (m for g in clusters for m in g.members if m.role == "secondary"):
        for name, (metric, _) in LAG_METRICS.items():
            value = values.get(member.region, {}).get(lag_query(member, metric, period))
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


# --- one account, the collector -----------------------------------------------------------------

RegionReader = Callable[[str, Sequence[MetricQuery]], MetricValues]  # (region, queries) -> values


def scrape(api: AuroraGlobalApi, read: RegionReader, account: str, watched: Sequence[str], names: Sequence[str],
           period: int) -> list[Rendered]:
    """Discover the account's global clusters once (``names`` restricts them), read the lag of the secondaries
    in each ``watched`` region there, build."""
    clusters = selected(api.global_clusters(), names)
    if not clusters:
        return []
    values = {region: read(region, wanted) for region in watched if (wanted := queries(clusters, region, period))}
    return families(account, clusters, values, period)


def account_targets(config: Config) -> dict[Target, tuple[str, ...]]:
    """One target per account, in its first watched region (where DescribeGlobalClusters is asked) -> the
    account's watched regions (pure)."""
    by_account: dict[AccountConfig | None, list[Target]] = {}
    for t in targets(config):
        by_account.setdefault(t.account, []).append(t)
    return {found[0]: tuple(t.region for t in found) for found in by_account.values()}


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The Aurora Global collector: once per account (shard 1 only), the lag from every watched region."""
    settings, period = config.collectors.aurora_global, config.cloudwatch.period_seconds
    accounts = account_targets(config)

    def scrape_account(target: Target, client: Clients) -> list[Rendered]:
        def read(region: str, wanted: Sequence[MetricQuery]) -> MetricValues:
            def clients(service: str) -> Any:
                return aws.client(service, region, target.account)
            return regional.reader(clients, config)(wanted)

        account = aws.account_id(target.account, target.region)
        api = BotoAuroraGlobalApi(client("rds"))
        return scrape(api, read, account, accounts[target], settings.global_clusters, period)

    regional.name_accounts(config, aws)
    return AwsCollector("aurora_global", settings.interval_seconds, aws, tuple(accounts), scrape_account,
                        global_data=True)
