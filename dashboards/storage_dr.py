"""Storage & DR: S3 document storage and its cross-region replication, and the Aurora Global database with
the disaster-recovery promise (RPO 1 hour) drawn on its lag."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.STORAGE_DR
TITLE = "Docqet / Storage & DR"

_BUCKET = S.matchers("account", "region", "bucket")
_GLOBAL = S.matchers("account", "global_cluster")
_LAG = S.matchers("account")
_BUCKET_LEGEND = "{{bucket}} ({{region}})"
_RULE_LEGEND = "{{bucket}} → {{destination_bucket}} ({{rule}})"
_LAG_LEGEND = "{{db_cluster}} ({{region}})"


def s3_rows(t: Thresholds) -> list[S.Row]:
    replication = f"docqet_s3_bucket_replication_latency_seconds{_BUCKET}"
    return [
        S.Row("S3 replication", [
            S.stat("Slowest replication", [f"max({replication})"], S.SECONDS, w=6, h=8,
                   thresholds=t.above("S3ReplicationLatencyHigh"),
                   description="The worst replication rule: how far its destination is behind."),
            S.timeseries("S3 replication latency", [S.Query(replication, _RULE_LEGEND)], S.SECONDS, w=18,
                         thresholds=t.above("S3ReplicationRpoBreached"),
                         description="How far each rule's destination bucket is behind its source (the period's "
                                     "maximum; only rules with replication metrics or RTC enabled report it). "
                                     f"Over {t.value('S3ReplicationLatencyHigh'):.0f} s for 15 minutes warns "
                                     "(S3ReplicationLatencyHigh); the line is the RPO, which pages."),
            S.timeseries("S3 replication backlog", [
                S.Query(f"docqet_s3_bucket_replication_pending_operations{_BUCKET}", f"operations {_RULE_LEGEND}")],
                S.COUNT, thresholds=t.above("S3ReplicationPendingOperationsGrowing", "min_operations"),
                description="Operations waiting to be replicated; a backlog that keeps growing warns."),
            S.timeseries("S3 replication pending bytes", [
                S.Query(f"docqet_s3_bucket_replication_pending_bytes{_BUCKET}", _RULE_LEGEND)], S.BYTES,
                description="Bytes waiting to be replicated."),
        ]),
        S.Row("S3 storage (daily)", [
            S.timeseries("S3 bucket size", [
                S.Query(f"sum by (region, bucket) (docqet_s3_bucket_size_bytes{_BUCKET})", _BUCKET_LEGEND)],
                S.BYTES, w=8, description="Bytes stored, all storage classes (S3 publishes it once a day, late)."),
            S.timeseries("S3 size by storage class", [
                S.Query(f"docqet_s3_bucket_size_bytes{_BUCKET}", "{{bucket}} {{storage_type}}")], S.BYTES, w=8,
                stack=True, description="Bytes per storage class (StorageType)."),
            S.timeseries("S3 objects", [S.Query(f"docqet_s3_bucket_objects{_BUCKET}", _BUCKET_LEGEND)], S.COUNT, w=8,
                         description="Objects in each bucket (daily)."),
            S.table("S3 buckets", [S.Query(f"docqet_s3_bucket_info{_BUCKET}")],
                    hide=("Time", "Value", "__name__", "job", "instance"),
                    description="Versioning of each bucket: enabled, suspended (a production bucket warns) or "
                                "disabled (never enabled)."),
        ]),
    ]


def aurora_global_row(t: Thresholds) -> S.Row:
    return S.Row("Aurora Global database", [
        S.stat("Worst RPO lag", [f"max(docqet_rds_cluster_global_rpo_lag_seconds{_LAG})"], S.SECONDS, w=6, h=8,
               thresholds=t.above("AuroraGlobalRpoLagHigh"),
               description="The data a failover to the worst secondary would lose now."),
        S.timeseries("Aurora Global RPO lag", [
            S.Query(f"docqet_rds_cluster_global_rpo_lag_seconds{_LAG}", _LAG_LEGEND)], S.SECONDS, w=18,
            thresholds=t.above("AuroraGlobalRpoLagHigh"),
            description="The data each secondary would lose in a failover (AuroraGlobalDBRPOLag), against the "
                        "disaster-recovery RPO of 1 hour."),
        S.timeseries("Aurora Global replication lag", [
            S.Query(f"docqet_rds_cluster_global_replication_lag_seconds{_LAG}", _LAG_LEGEND)], S.SECONDS,
            thresholds=t.above("AuroraGlobalReplicationLagHigh"),
            description="How far each secondary replays the primary region's changes behind."),
        S.table("Aurora Global members", [S.Query(f"docqet_rds_global_cluster_member_info{_GLOBAL}")],
                hide=("Time", "Value", "__name__", "job", "instance"),
                description="Member clusters, their regions and roles; a global database with no secondary "
                            "warns (AuroraGlobalClusterNoSecondary)."),
    ])


def build(t: Thresholds) -> G.Dashboard:
    rows = [*s3_rows(t), aurora_global_row(t)]
    variables = [
        S.query_variable("account", "docqet_s3_bucket_info"),
        S.query_variable("region", "docqet_s3_bucket_info", label_filter='account=~"$account"'),
        S.query_variable("bucket", "docqet_s3_bucket_info", label_filter='account=~"$account", region=~"$region"'),
        S.query_variable("global_cluster", "docqet_rds_global_cluster_info", label_filter='account=~"$account"',
                         title="Global database"),
    ]
    return S.dashboard(UID, TITLE, rows, variables, tags=["s3", "aurora", "dr"])
