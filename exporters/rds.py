"""The RDS/Aurora collector: cluster state, backups and volume; instance roles and CloudWatch health.

Discovery: DescribeDBClusters and DescribeDBInstances (100 records a page). An instance's role comes from its
cluster's member list (IsClusterWriter). Instances outside a cluster, or missing fields, lose their series
only; nothing is faked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery.rds import BotoRdsApi, DbCluster, DbInstance, RdsApi
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

log = logging.getLogger(__name__)

DAY = 86400
# db_cluster / db_instance: `instance` is Prometheus's own target label, `cluster` the ECS cluster's
CLUSTER_LABELS = ("account", "region", "db_cluster")
INSTANCE_LABELS = ("account", "region", "db_cluster", "db_instance", "role")


# --- CloudWatch queries and metric families (pure) ----------------------------------------------

# family -> (CloudWatch AWS/RDS metric read as Average, divisor to base units, help)
INSTANCE_METRICS = {
    "docqet_rds_instance_cpu_utilization_ratio": ("CPUUtilization", 100, "CPU utilisation (0-1)."),
    "docqet_rds_instance_database_connections": ("DatabaseConnections", 1, "Open database connections."),
    "docqet_rds_instance_freeable_memory_bytes": ("FreeableMemory", 1, "Freeable memory in bytes."),
    "docqet_rds_instance_free_local_storage_bytes": ("FreeLocalStorage", 1,
                                                     "Free local (temporary) storage in bytes."),
    "docqet_rds_instance_replica_lag_seconds": ("AuroraReplicaLag", 1000,
                                                "Aurora replica lag behind the writer in seconds."),
    "docqet_rds_instance_read_latency_seconds": ("ReadLatency", 1, "Average read I/O latency in seconds."),
    "docqet_rds_instance_write_latency_seconds": ("WriteLatency", 1, "Average write I/O latency in seconds."),
    "docqet_rds_instance_deadlocks_per_second": ("Deadlocks", 1, "Deadlocks per second."),
}
CLUSTER_FAMILIES = {
    "docqet_rds_cluster_backup_retention_seconds": "Automated backup retention in seconds.",
    "docqet_rds_cluster_latest_restorable_timestamp_seconds":
        "Unix time of the latest point-in-time restore target (compare with time() for the RPO).",
    "docqet_rds_cluster_volume_bytes_used": "Aurora cluster volume used in bytes.",
}
METRIC_NAMES = ("docqet_rds_cluster_info", *CLUSTER_FAMILIES, "docqet_rds_instance_info", *INSTANCE_METRICS)


def _volume(cluster: str, period: int) -> MetricQuery:
    return MetricQuery("AWS/RDS", "VolumeBytesUsed", (("DBClusterIdentifier", cluster),), "Average", period)


def _instance_query(instance: str, metric: str, period: int) -> MetricQuery:
    return MetricQuery("AWS/RDS", metric, (("DBInstanceIdentifier", instance),), "Average", period)


def roles(clusters: Iterable[DbCluster]) -> dict[tuple[str, str], str]:
    """(cluster, instance) -> writer | reader, from the clusters' member lists (pure)."""
    result = {}
    for cluster in clusters:
        result.update({(cluster.name, i): "reader" for i in cluster.readers})
        result.update({(cluster.name, i): "writer" for i in cluster.writers})
    return result


def queries(clusters: Iterable[DbCluster], instances: Iterable[DbInstance], period: int) -> list[MetricQuery]:
    """Every CloudWatch query the clusters and instances need (pure)."""
    result = [_volume(c.name, period) for c in clusters]
    for instance in instances:
        result += [_instance_query(instance.name, metric, period) for metric, _, _ in INSTANCE_METRICS.values()]
    return result


def families(account: str, region: str, clusters: Sequence[DbCluster], instances: Iterable[DbInstance],
             values: MetricValues, period: int) -> list[Rendered]:
    """The RDS metric families of one region of one account (pure). Instances with no known role are left out."""
    cluster_info, cluster_samples = [], {name: [] for name in CLUSTER_FAMILIES}
    for c in clusters:
        labels = (account, region, c.name)
        cluster_info.append(((*labels, c.engine, c.engine_version, c.status), 1.0))
        candidates = {
            "docqet_rds_cluster_backup_retention_seconds":
                None if c.backup_retention_days is None else c.backup_retention_days * DAY,
            "docqet_rds_cluster_latest_restorable_timestamp_seconds": c.latest_restorable,
            "docqet_rds_cluster_volume_bytes_used": values.get(_volume(c.name, period)),
        }
        for name, value in candidates.items():
            if value is not None:
                cluster_samples[name].append((labels, float(value)))
    role_of = roles(clusters)
    instance_info, instance_samples = [], {name: [] for name in INSTANCE_METRICS}
    for i in instances:
        role = role_of.get((i.cluster, i.name))
        if role is None:
            continue
        labels = (account, region, i.cluster, i.name, role)
        instance_info.append(((*labels, i.instance_class, i.status), 1.0))
        for name, (metric, divisor, _) in INSTANCE_METRICS.items():
            value = values.get(_instance_query(i.name, metric, period))
            if value is not None:
                instance_samples[name].append((labels, value / divisor))
    return [
        gauge("docqet_rds_cluster_info", "RDS/Aurora cluster metadata; always 1.",
              (*CLUSTER_LABELS, "engine", "engine_version", "status"), cluster_info),
        *(gauge(name, doc, CLUSTER_LABELS, cluster_samples[name]) for name, doc in CLUSTER_FAMILIES.items()),
        gauge("docqet_rds_instance_info", "RDS/Aurora instance metadata; always 1.",
              (*INSTANCE_LABELS, "instance_class", "status"), instance_info),
        *(gauge(name, doc, INSTANCE_LABELS, instance_samples[name])
          for name, (_, _, doc) in INSTANCE_METRICS.items()),
    ]


# --- one region, the collector ------------------------------------------------------------------


def scrape(api: RdsApi, read: MetricReader, account: str, region: str,
           clusters: Sequence[str], period: int, owns: Callable[[str], bool] = lambda cluster: True) -> list[Rendered]:
    """Discover the region's clusters and instances, read their CloudWatch values, build the families.

    ``clusters`` (identifiers) restricts discovery when non-empty; ``owns(cluster)`` keeps this shard's clusters
    (with their instances).
    """
    wanted = set(clusters)
    found = [c for c in api.clusters() if (not wanted or c.name in wanted) and owns(c.name)]
    names = {c.name for c in found}
    instances = [i for i in api.instances() if i.cluster in names]
    values = read(queries(found, instances, period))
    return families(account, region, found, instances, values, period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The RDS/Aurora collector over every configured account and region."""
    settings, period = config.collectors.rds, config.cloudwatch.period_seconds

    owns = regional.owner(config, "rds")

    def scrape_region(client: Clients, read: MetricReader, account: str, region: str) -> list[Rendered]:
        return scrape(BotoRdsApi(client("rds")), read, account, region, settings.clusters, period,
                      lambda cluster: owns(account, region, cluster))

    return regional.collector("rds", settings, config, aws, scrape_region, per_resource=True)
