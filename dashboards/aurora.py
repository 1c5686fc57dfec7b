"""Aurora PostgreSQL: per cluster and instance load, memory, storage, replication, latency and recoverability."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.AURORA
TITLE = "Docqet / Aurora PostgreSQL"

# `db_cluster` / `db_instance`, as the labels: ECS has its own `cluster`, Prometheus its own `instance`.
_CLUSTER = S.matchers("account", "region", "db_cluster")
_INSTANCE = S.matchers("account", "region", "db_cluster", "db_instance")
_LEGEND = "{{db_cluster}}/{{db_instance}} {{role}}"
_CLUSTER_LEGEND = "{{db_cluster}} ({{region}} {{account}})"


def _i(metric: str, extra: str = "") -> str:
    return f"docqet_rds_instance_{metric}{S.matchers('account', 'region', 'db_cluster', 'db_instance', extra=extra)}"


def _c(metric: str) -> str:
    return f"docqet_rds_cluster_{metric}{_CLUSTER}"


def build(t: Thresholds) -> G.Dashboard:
    rows = [
        S.Row("Recoverability (per cluster)", [
            S.timeseries("Latest restorable time age", [
                S.Query(f"time() - {_c('latest_restorable_timestamp_seconds')}", _CLUSTER_LEGEND)],
                S.SECONDS, w=8, thresholds=t.above("AuroraRpoBreached"),
                description="How much data a point-in-time restore would lose now (RPO; the policy is 1 hour)."),
            S.timeseries("Backup retention", [S.Query(_c("backup_retention_seconds"), _CLUSTER_LEGEND)],
                         S.SECONDS, w=8, thresholds=t.below("AuroraBackupRetentionBelowPolicy"),
                         description="How long automated backups are kept."),
            S.timeseries("Volume used", [S.Query(_c("volume_bytes_used"), _CLUSTER_LEGEND)], S.BYTES,
                         w=8, description="Cluster storage volume in use (billed)."),
        ]),
        S.Row("Load (per instance)", [
            S.timeseries("CPU utilization", [S.Query(_i("cpu_utilization_ratio"), _LEGEND)], S.PERCENT_RATIO,
                         thresholds=t.above("AuroraWriterCpuHigh"),
                         description="CPU used by each instance; the alert watches the writer."),
            S.timeseries("Database connections", [S.Query(_i("database_connections"), _LEGEND)], S.COUNT,
                         thresholds=t.above("AuroraConnectionsNearLimit"),
                         description="Open client connections."),
            S.timeseries("Freeable memory", [S.Query(_i("freeable_memory_bytes"), _LEGEND)], S.BYTES,
                         thresholds=t.below("AuroraFreeableMemoryLow"), description="RAM left for the OS and cache."),
            S.timeseries("Free local storage", [S.Query(_i("free_local_storage_bytes"), _LEGEND)], S.BYTES,
                         thresholds=t.below("AuroraFreeLocalStorageLow"),
                         description="Local (temporary) storage left for sorts and temporary tables."),
        ]),
        S.Row("Replication and latency (per instance)", [
            S.timeseries("Replica lag", [S.Query(_i("replica_lag_seconds", 'role="reader"'), _LEGEND)], S.SECONDS,
                         thresholds=t.above("AuroraReplicaLagHigh"), description="How far each reader is behind."),
            S.timeseries("Deadlocks", [S.Query(_i("deadlocks_per_second"), _LEGEND)], S.PER_SECOND,
                         description="Deadlocks per second."),
            S.timeseries("Read latency", [S.Query(_i("read_latency_seconds"), _LEGEND)], S.SECONDS,
                         description="Average time of a disk read I/O."),
            S.timeseries("Write latency", [S.Query(_i("write_latency_seconds"), _LEGEND)], S.SECONDS,
                         description="Average time of a disk write I/O."),
        ]),
        S.Row("Clusters and instances", [
            S.table("Clusters", [S.Query(f"docqet_rds_cluster_info{_CLUSTER}")], w=12,
                    hide=("Time", "Value", "__name__", "job", "instance"),
                    description="Engine, engine version and status of each cluster."),
            S.table("Instances", [S.Query(f"docqet_rds_instance_info{_INSTANCE}")], w=12,
                    hide=("Time", "Value", "__name__", "job", "instance"),
                    description="Class, role and status of each instance."),
        ]),
    ]
    variables = [
        S.query_variable("account", "docqet_rds_cluster_info"),
        S.query_variable("region", "docqet_rds_cluster_info", label_filter='account=~"$account"'),
        S.query_variable("db_cluster", "docqet_rds_cluster_info", label_filter='account=~"$account", region=~"$region"',
                         title="DB cluster"),
        S.query_variable("db_instance", "docqet_rds_instance_info",
                         label_filter='account=~"$account", region=~"$region", db_cluster=~"$db_cluster"',
                         title="DB instance"),
    ]
    return S.dashboard(UID, TITLE, rows, variables, tags=["aurora", "rds"])
