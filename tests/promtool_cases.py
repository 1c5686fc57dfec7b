"""``promtool test rules`` unit tests for every Prometheus alert of the catalog, generated from cases in code.

Each :class:`Case` is input series (promtool's expanding notation), an evaluation time and the label sets that
must be firing then (none: the alert must stay quiet, e.g. below the threshold or before ``for`` elapsed).
The tests run against the rule files rendered for a config (without annotations, which promtool would
compare verbatim; ``promtool check rules`` and the end-to-end test cover the templates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docqet_monitor.alerts import prometheus
from docqet_monitor.core.config import Config

EVALUATION_INTERVAL = "1m"


@dataclass(frozen=True)
class Case:
    series: Mapping[str, str]
    at: str
    fires: Sequence[Mapping[str, str]] = ()
    interval: str = "1m"
    note: str = ""


@dataclass(frozen=True)
class _Labels:
    """Label sets of the sample resources, as selector text and as dicts."""

    values: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, metric: str, **extra: str) -> str:
        labels = {**self.values, **extra}
        return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"

    def out(self, **extra: str) -> dict[str, str]:
        return {**self.values, **extra}


ACCOUNT = "123456789012"
SVC = _Labels({"account": ACCOUNT, "region": "eu-west-1", "cluster": "docqet-staging", "service": "api"})
# the same cluster and service name in another account: a series (and an alert) of its own
SVC_OTHER = _Labels({**SVC.values, "account": "210987654321"})
WRITER = _Labels({"account": ACCOUNT, "region": "eu-west-1", "db_cluster": "docqet-aurora",
                  "db_instance": "docqet-aurora-1", "role": "writer"})
READER = _Labels({**WRITER.values, "db_instance": "docqet-aurora-2", "role": "reader"})
AURORA = _Labels({"account": ACCOUNT, "region": "eu-west-1", "db_cluster": "docqet-aurora"})
COLLECTION = _Labels({"qdrant": "default", "collection": "documents"})
_EU = {"account": ACCOUNT, "region": "eu-west-1"}
ALB = _Labels({**_EU, "load_balancer": "docqet-front"})
ALB_TG = _Labels({**ALB.values, "target_group": "docqet-api"})
BUCKET = _Labels({**_EU, "bucket": "docqet-documents"})
REPLICATION = _Labels({**BUCKET.values, "destination_bucket": "docqet-documents-dr", "rule": "documents-to-dr"})
SECONDARY = _Labels({"account": ACCOUNT, "region": "us-east-1", "db_cluster": "docqet-aurora-dr"})
GLOBAL = _Labels({"account": ACCOUNT, "global_cluster": "docqet-global", "engine": "aurora-postgresql",
                  "engine_version": "15.4"})
REDIS_PRIMARY = _Labels({**_EU, "replication_group": "docqet-cache", "cache_cluster": "docqet-cache-001"})
REDIS_REPLICA = _Labels({**REDIS_PRIMARY.values, "cache_cluster": "docqet-cache-002"})
REDIS_GROUP = _Labels({**_EU, "replication_group": "docqet-cache", "engine": "redis", "engine_version": "7.1",
                       "node_type": "cache.r7g.large", "cluster_mode": "disabled", "multi_az": "enabled"})
NONE = _Labels()
DIST = _Labels({"account": ACCOUNT, "distribution": "E2QWRUHEXAMPLE"})
CHECK = _Labels({"account": ACCOUNT, "health_check": "hc-1"})
STAGE = _Labels({"account": ACCOUNT, "region": "eu-west-1", "api": "docqet-public", "stage": "prod"})
ACL = _Labels({"account": ACCOUNT, "region": "global", "web_acl": "docqet-edge", "rule": "ALL"})
EXPORTER_CPU = 'process_cpu_seconds_total{job="docqet-monitor",instance="exporter:19842",process="exporter"}'
EXPORTER_BUILD = 'docqet_exporter_build_info{job="docqet-monitor",instance="exporter:19842",version="0.2.0"}'
EXPORTER_LIMIT = 'docqet_exporter_cpu_limit_cores{job="docqet-monitor",instance="exporter:19842"}'
EXPORTER_RSS = 'process_resident_memory_bytes{job="docqet-monitor",instance="exporter:19842",process="%s"}'
EXPORTER_MEMORY_LIMIT = 'docqet_exporter_memory_limit_bytes{job="docqet-monitor",instance="exporter:19842"}'
EXPORTER_CPU_ALERT = {"job": "docqet-monitor", "instance": "exporter:19842", "process": "exporter"}
_CHECK_INFO = {"name": "docqet-app", "target": "https://app.docqet.example:443/healthz"}


def _threshold_cases(series: str, bad: str, good: str, for_minutes: int, out: Mapping[str, str]) -> list[Case]:
    """Fires once ``for`` has elapsed above the threshold; quiet a minute earlier and when below it."""
    n = f"x{for_minutes + 10}"
    return [
        Case({series: bad + n}, f"{for_minutes}m", [out], note="fires after 'for'"),
        Case({series: bad + n}, f"{for_minutes - 1}m", note="pending before 'for' elapsed"),
        Case({series: good + n}, f"{for_minutes + 5}m", note="healthy value"),
    ]


def _pattern(bad: float, good: float, every: int, count: int) -> str:
    """``count`` samples, one ``bad`` in every ``every``, the rest ``good``."""
    return " ".join(str(bad if i % every == 0 else good) for i in range(count))


def _tasks(desired: int, running: int) -> dict[str, str]:
    return {SVC("docqet_ecs_service_desired_tasks"): f"{desired}x30",
            SVC("docqet_ecs_service_running_tasks"): f"{running}x30"}


def _ratio(labels: _Labels, errors: str, requests: str, errors_per_second: str, requests_per_second: str,
           samples: int) -> dict[str, str]:
    return {labels(errors): f"{errors_per_second}x{samples}", labels(requests): f"{requests_per_second}x{samples}"}


def _day_then(before: str, after: str, minutes: int = 30) -> str:
    """A day of ``before`` a minute, then ``after`` for ``minutes``: a change against the last day's average."""
    return f"{before}x1440 {after}x{minutes}"


_SLOW_LATENCY = _pattern(2, 0.2, 20, 200)  # 5 % of periods over 0.5 s: a slow burn, not a fast one

CASES: dict[str, list[Case]] = {
    "EcsServiceTasksBelowDesired": [
        Case(_tasks(desired=3, running=1), "15m", [SVC.out()]),
        Case(_tasks(desired=3, running=1), "14m", note="pending"),
        Case(_tasks(desired=3, running=3), "20m", note="all tasks running"),
        Case({**_tasks(desired=3, running=3), SVC_OTHER("docqet_ecs_service_desired_tasks"): "3x30",
              SVC_OTHER("docqet_ecs_service_running_tasks"): "1x30"}, "15m", [SVC_OTHER.out()],
             note="same names in another account: only that account's service"),
    ],
    "EcsServiceNoRunningTasks": [
        Case(_tasks(desired=2, running=0), "3m", [SVC.out()]),
        Case(_tasks(desired=2, running=0), "2m", note="pending"),
        Case(_tasks(desired=0, running=0), "5m", note="scaled to zero on purpose"),
        Case(_tasks(desired=2, running=1), "5m", note="one task still runs"),
    ],
    "EcsServiceDeploymentStuck": _threshold_cases(SVC("docqet_ecs_service_deployments"), "2", "1", 30, SVC.out()),
    "EcsServiceDeploymentInProgress": _threshold_cases(SVC("docqet_ecs_service_deployments"), "2", "1", 1,
                                                       SVC.out()),
    "EcsServiceCpuHigh": _threshold_cases(SVC("docqet_ecs_service_cpu_utilization_ratio"), "0.95", "0.5", 15,
                                          SVC.out()),
    "EcsServiceMemoryHigh": _threshold_cases(SVC("docqet_ecs_service_memory_utilization_ratio"), "0.97", "0.6", 15,
                                             SVC.out()),
    "EcsServiceHttp5xxRatioHigh": [
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "1x20",
              SVC("docqet_ecs_service_http_requests_per_second"): "10x20"}, "10m", [SVC.out()]),
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "1x20",
              SVC("docqet_ecs_service_http_requests_per_second"): "10x20"}, "9m", note="pending"),
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "0.01x20",
              SVC("docqet_ecs_service_http_requests_per_second"): "10x20"}, "15m", note="0.1 % errors"),
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "0.05x20",
              SVC("docqet_ecs_service_http_requests_per_second"): "0.05x20"}, "15m", note="too little traffic"),
    ],
    "EcsServiceHttpLatencyP95High": _threshold_cases(
        SVC("docqet_ecs_service_http_response_time_p95_seconds"), "2", "0.3", 10, SVC.out()),
    "AuroraWriterCpuHigh": [
        *_threshold_cases(WRITER("docqet_rds_instance_cpu_utilization_ratio"), "0.9", "0.4", 15, WRITER.out()),
        Case({READER("docqet_rds_instance_cpu_utilization_ratio"): "0.95x30"}, "20m", note="readers are not paged"),
    ],
    "AuroraConnectionsNearLimit": _threshold_cases(
        WRITER("docqet_rds_instance_database_connections"), "1500", "100", 10, WRITER.out()),
    "AuroraFreeableMemoryLow": _threshold_cases(
        READER("docqet_rds_instance_freeable_memory_bytes"), "100000000", "4000000000", 15, READER.out()),
    "AuroraFreeLocalStorageLow": _threshold_cases(
        WRITER("docqet_rds_instance_free_local_storage_bytes"), "1000000000", "50000000000", 15, WRITER.out()),
    "AuroraReplicaLagHigh": [
        *_threshold_cases(READER("docqet_rds_instance_replica_lag_seconds"), "10", "0.02", 10, READER.out()),
        Case({WRITER("docqet_rds_instance_replica_lag_seconds"): "30x20"}, "15m", note="the writer does not lag"),
    ],
    "AuroraRpoBreached": [
        # restorable time stuck at t=0: older than 1 h from 61m on, firing 5m later
        Case({AURORA("docqet_rds_cluster_latest_restorable_timestamp_seconds"): "0x80"}, "66m", [AURORA.out()]),
        Case({AURORA("docqet_rds_cluster_latest_restorable_timestamp_seconds"): "0x80"}, "64m", note="pending"),
        Case({AURORA("docqet_rds_cluster_latest_restorable_timestamp_seconds"): "-300+60x80"}, "75m",
             note="restorable 5 minutes ago, advancing"),
    ],
    "AuroraBackupRetentionBelowPolicy": _threshold_cases(
        AURORA("docqet_rds_cluster_backup_retention_seconds"), "86400", "604800", 30, AURORA.out()),
    "RedisMemoryUsageHigh": _threshold_cases(
        REDIS_PRIMARY("docqet_elasticache_node_memory_usage_ratio"), "0.85", "0.5", 15, REDIS_PRIMARY.out()),
    "RedisMemoryUsageCritical": _threshold_cases(
        REDIS_PRIMARY("docqet_elasticache_node_memory_usage_ratio"), "0.95", "0.85", 5, REDIS_PRIMARY.out()),
    "RedisEngineCpuHigh": _threshold_cases(
        REDIS_PRIMARY("docqet_elasticache_node_engine_cpu_utilization_ratio"), "0.97", "0.4", 5, REDIS_PRIMARY.out()),
    "RedisEvictionsSustained": [
        *_threshold_cases(REDIS_PRIMARY("docqet_elasticache_node_evictions_per_second"), "12", "0", 15,
                          REDIS_PRIMARY.out()),
        Case({REDIS_PRIMARY("docqet_elasticache_node_evictions_per_second"): "0x4 40 0x14"},
             "15m", note="one burst of evictions is not sustained"),
    ],
    "RedisReplicaLagHigh": _threshold_cases(
        REDIS_REPLICA("docqet_elasticache_node_replication_lag_seconds"), "12", "0.02", 10, REDIS_REPLICA.out()),
    "RedisAutomaticFailoverDisabled": [
        Case({REDIS_GROUP("docqet_elasticache_replication_group_info", automatic_failover="disabled"): "1x70"},
             "60m", [REDIS_GROUP.out(automatic_failover="disabled")]),
        Case({REDIS_GROUP("docqet_elasticache_replication_group_info", automatic_failover="disabled"): "1x70"},
             "59m", note="pending"),
        Case({REDIS_GROUP("docqet_elasticache_replication_group_info", automatic_failover="enabled"): "1x70"},
             "65m", note="failover enabled"),
    ],
    "AlbHttp5xxRatioHigh": [
        Case({ALB("docqet_alb_http_5xx_per_second"): "2x20", ALB("docqet_alb_requests_per_second"): "20x20"}, "10m",
             [ALB.out()]),
        Case({ALB("docqet_alb_http_5xx_per_second"): "2x20", ALB("docqet_alb_requests_per_second"): "20x20"}, "9m",
             note="pending"),
        Case({ALB("docqet_alb_http_5xx_per_second"): "0.02x20", ALB("docqet_alb_requests_per_second"): "20x20"},
             "15m", note="0.1 % errors"),
        Case({ALB("docqet_alb_http_5xx_per_second"): "0.05x20", ALB("docqet_alb_requests_per_second"): "0.05x20"},
             "15m", note="too little traffic"),
    ],
    "AlbRejectedConnections": _threshold_cases(ALB("docqet_alb_rejected_connections_per_second"), "3", "0", 5,
                                               ALB.out()),
    "AlbTargetGroupUnhealthyTargets": _threshold_cases(
        ALB_TG("docqet_alb_target_group_unhealthy_targets"), "1", "0", 10, ALB_TG.out()),
    "AlbTargetGroupNoHealthyTargets": [
        Case({ALB_TG("docqet_alb_target_group_healthy_targets"): "0x10",
              ALB_TG("docqet_alb_target_group_unhealthy_targets"): "3x10"}, "3m", [ALB_TG.out()]),
        Case({ALB_TG("docqet_alb_target_group_healthy_targets"): "0x10",
              ALB_TG("docqet_alb_target_group_unhealthy_targets"): "3x10"}, "2m", note="pending"),
        Case({ALB_TG("docqet_alb_target_group_healthy_targets"): "1x10",
              ALB_TG("docqet_alb_target_group_unhealthy_targets"): "2x10"}, "5m", note="one target still healthy"),
        Case({ALB_TG("docqet_alb_target_group_healthy_targets"): "0x10",
              ALB_TG("docqet_alb_target_group_unhealthy_targets"): "0x10"}, "5m",
             note="an empty target group (the idle half of blue/green)"),
    ],
    "S3ReplicationLatencyHigh": _threshold_cases(
        REPLICATION("docqet_s3_bucket_replication_latency_seconds"), "1200", "60", 15, REPLICATION.out()),
    "S3ReplicationRpoBreached": _threshold_cases(
        REPLICATION("docqet_s3_bucket_replication_latency_seconds"), "4000", "1200", 5, REPLICATION.out()),
    "S3ReplicationPendingOperationsGrowing": [
        Case({REPLICATION("docqet_s3_bucket_replication_pending_operations"): "1200+50x200"}, "62m",
             [REPLICATION.out()]),
        Case({REPLICATION("docqet_s3_bucket_replication_pending_operations"): "1200+50x200"}, "59m", note="pending"),
        Case({REPLICATION("docqet_s3_bucket_replication_pending_operations"): "9000-20x200"}, "120m",
             note="a large backlog that drains"),
        Case({REPLICATION("docqet_s3_bucket_replication_pending_operations"): "10+1x200"}, "120m",
             note="growing but small"),
    ],
    "S3BucketVersioningSuspended": [
        Case({BUCKET("docqet_s3_bucket_info", versioning="suspended"): "1x40"}, "30m",
             [BUCKET.out(versioning="suspended")]),
        Case({BUCKET("docqet_s3_bucket_info", versioning="suspended"): "1x40"}, "29m", note="pending"),
        Case({BUCKET("docqet_s3_bucket_info", versioning="enabled"): "1x40"}, "35m", note="versioned"),
    ],
    "AuroraGlobalRpoLagHigh": _threshold_cases(
        SECONDARY("docqet_rds_cluster_global_rpo_lag_seconds"), "4000", "2", 5, SECONDARY.out()),
    "AuroraGlobalReplicationLagHigh": _threshold_cases(
        SECONDARY("docqet_rds_cluster_global_replication_lag_seconds"), "400", "1", 10, SECONDARY.out()),
    "AuroraGlobalClusterNoSecondary": [
        Case({GLOBAL("docqet_rds_global_cluster_info"): "1x40",
              f'docqet_rds_global_cluster_member_info{{account="{ACCOUNT}",global_cluster="docqet-global",'
              'region="eu-west-1",db_cluster="docqet-aurora",role="primary"}': "1x40"}, "30m", [GLOBAL.out()]),
        Case({GLOBAL("docqet_rds_global_cluster_info"): "1x40"}, "29m", note="pending"),
        Case({GLOBAL("docqet_rds_global_cluster_info"): "1x40",
              f'docqet_rds_global_cluster_member_info{{account="{ACCOUNT}",global_cluster="docqet-global",'
              'region="us-east-1",db_cluster="docqet-aurora-dr",role="secondary"}': "1x40"}, "35m",
             note="a secondary exists"),
    ],
    "QdrantDown": _threshold_cases('docqet_qdrant_up{qdrant="default"}', "0", "1", 5, {"qdrant": "default"}),
    "QdrantCollectionNotGreen": [
        Case({COLLECTION("docqet_qdrant_collection_status", status="green"): "0x40",
              COLLECTION("docqet_qdrant_collection_status", status="yellow"): "1x40"},
             "30m", [COLLECTION.out(status="yellow")]),
        Case({COLLECTION("docqet_qdrant_collection_status", status="green"): "0x40",
              COLLECTION("docqet_qdrant_collection_status", status="yellow"): "1x40"}, "29m", note="pending"),
        Case({COLLECTION("docqet_qdrant_collection_status", status="green"): "0x40",
              COLLECTION("docqet_qdrant_collection_status", status="red"): "1x40"},
             "30m", [COLLECTION.out(status="red")]),
        Case({COLLECTION("docqet_qdrant_collection_status", status="green"): "1x40",
              COLLECTION("docqet_qdrant_collection_status", status="yellow"): "0x40"}, "35m", note="green"),
    ],
    "QdrantOptimizerError": _threshold_cases(
        COLLECTION("docqet_qdrant_collection_optimizer_ok"), "0", "1", 10, COLLECTION.out()),
    "CostMonthForecastOverBudget": [
        Case({"docqet_cost_month_forecast_usd": "5000x70", "docqet_cost_budget_usd": "4000x70"}, "60m", [{}]),
        Case({"docqet_cost_month_forecast_usd": "5000x70", "docqet_cost_budget_usd": "4000x70"}, "59m",
             note="pending"),
        Case({"docqet_cost_month_forecast_usd": "3900x70", "docqet_cost_budget_usd": "4000x70"}, "65m",
             note="under budget"),
    ],
    "CostDailySpendAnomaly": [
        # eight days of 100 USD days, then 400: over 1.5x the week before; the group runs hourly, fires an hour later
        Case({'docqet_cost_daily_usd{service="Amazon ECS"}': "100x192 400x5"}, "194h", [{}], interval="1h"),
        Case({'docqet_cost_daily_usd{service="Amazon ECS"}': "100x192 400x5"}, "193h", interval="1h",
             note="pending"),
        Case({'docqet_cost_daily_usd{service="Amazon ECS"}': "100x192 120x5"}, "194h", interval="1h", note="+20 %"),
        Case({'docqet_cost_daily_usd{service="Amazon ECS"}': "1x192 5x5"}, "194h", interval="1h",
             note="under min_daily_usd"),
    ],
    "ExporterCollectorFailing": _threshold_cases(
        'docqet_exporter_collector_up{collector="ecs"}', "0", "1", 15, {"collector": "ecs"}),
    "ExporterDataStale": [
        # last success at t=0: stale after 15m for ecs (fires 5m later), not for cost (14 h)
        Case({'docqet_exporter_collector_last_success_timestamp_seconds{collector="ecs"}': "0x30",
              'docqet_exporter_collector_last_success_timestamp_seconds{collector="cost"}': "0x30"},
             "21m", [{"collector": "ecs"}]),
        Case({'docqet_exporter_collector_last_success_timestamp_seconds{collector="ecs"}': "0x30",
              'docqet_exporter_collector_last_success_timestamp_seconds{collector="cost"}': "0x30"},
             "19m", note="pending"),
        Case({'docqet_exporter_collector_last_success_timestamp_seconds{collector="ecs"}': "0+60x30"}, "25m",
             note="refreshing every minute"),
    ],
    "ExporterCpuSaturated": [
        Case({EXPORTER_CPU: "0+57x60", EXPORTER_BUILD: "1x60"}, "40m", [EXPORTER_CPU_ALERT],
             note="0.95 of a core for over 30m, no limit known"),
        Case({EXPORTER_CPU: "0+57x60", EXPORTER_BUILD: "1x60"}, "30m", note="pending: the rate needs two samples"),
        Case({EXPORTER_CPU: "0+48x60", EXPORTER_BUILD: "1x60"}, "40m", note="0.8 of a core"),
        Case({EXPORTER_CPU: "0+14.4x60", EXPORTER_BUILD: "1x60", EXPORTER_LIMIT: "0.25x60"}, "40m",
             [EXPORTER_CPU_ALERT], note="0.24 of a core under a limit of 0.25: 96 %"),
        Case({EXPORTER_CPU: "0+12x60", EXPORTER_BUILD: "1x60", EXPORTER_LIMIT: "0.25x60"}, "40m",
             note="0.2 of a core under a limit of 0.25: 80 %"),
        Case({EXPORTER_CPU: "0+57x60", EXPORTER_BUILD: "1x60", EXPORTER_LIMIT: "4x60"}, "40m",
             [EXPORTER_CPU_ALERT], note="a limit above one core: one process still has one"),
        Case({EXPORTER_CPU.replace('process="exporter"', 'process="front"'): "0+60x60", EXPORTER_BUILD: "1x60",
              'process_cpu_seconds_total{job="prometheus",instance="prometheus:9090"}': "0+60x60"}, "40m",
             note="the HTTP front, another job's process"),
    ],
    "ExporterMemoryNearLimit": [
        Case({EXPORTER_RSS % "exporter": "440e6x30", EXPORTER_RSS % "front": "30e6x30", EXPORTER_MEMORY_LIMIT:
              "512e6x30"}, "15m", [{"job": "docqet-monitor", "instance": "exporter:19842"}],
             note="both processes together: 470 of 512 MB, 92 %"),
        Case({EXPORTER_RSS % "exporter": "440e6x30", EXPORTER_RSS % "front": "30e6x30", EXPORTER_MEMORY_LIMIT:
              "512e6x30"}, "14m", note="pending"),
        Case({EXPORTER_RSS % "exporter": "440e6x30", EXPORTER_MEMORY_LIMIT: "1024e6x30"}, "20m",
             note="43 % of a larger limit"),
        Case({EXPORTER_RSS % "exporter": "440e6x30", EXPORTER_RSS % "front": "30e6x30"}, "20m",
             note="no limit known"),
    ],
    "ExporterTargetDown": [
        Case({'up{job="docqet-monitor",instance="exporter:19842"}': "0x10"}, "5m",
             [{"job": "docqet-monitor", "instance": "exporter:19842"}]),
        Case({'up{job="docqet-monitor",instance="exporter:19842"}': "0x10"}, "4m", note="pending"),
        Case({'up{job="docqet-monitor",instance="exporter:19842"}': "1x10",
              'up{job="qdrant",instance="qdrant:6333"}': "0x10"}, "8m", note="another job's target"),
    ],
    "Watchdog": [Case({}, "1m", [{}], note="always firing, never quiet")],
    "ApiAvailabilityErrorBudgetBurnFast": [
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "5x70",
              SVC("docqet_ecs_service_http_requests_per_second"): "100x70"}, "2m", [SVC.out(slo="availability")],
             note="5 % errors: 50x the 0.1 % budget"),
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "5x70",
              SVC("docqet_ecs_service_http_requests_per_second"): "100x70"}, "1m", note="pending (for 2m)"),
        Case({SVC("docqet_ecs_service_http_requests_per_second"): "100x70"}, "60m",
             note="no 5xx series (ALB publishes no zero): no errors"),
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "0.5x70",
              SVC("docqet_ecs_service_http_requests_per_second"): "100x70"}, "60m", note="0.5 %: a slow burn"),
    ],
    "ApiAvailabilityErrorBudgetBurnSlow": [
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "0.5x70",
              SVC("docqet_ecs_service_http_requests_per_second"): "100x70"}, "30m", [SVC.out(slo="availability")]),
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "0.5x70",
              SVC("docqet_ecs_service_http_requests_per_second"): "100x70"}, "10m", note="pending (for 15m)"),
        Case({SVC("docqet_ecs_service_http_5xx_per_second"): "0.05x70",
              SVC("docqet_ecs_service_http_requests_per_second"): "100x70"}, "60m", note="0.05 %: within budget"),
    ],
    "ApiLatencyErrorBudgetBurnFast": [
        Case({SVC("docqet_ecs_service_http_response_time_p95_seconds"): "2x70"}, "2m", [SVC.out(slo="latency")]),
        Case({SVC("docqet_ecs_service_http_response_time_p95_seconds"): "2x70"}, "1m", note="pending (for 2m)"),
        Case({SVC("docqet_ecs_service_http_response_time_p95_seconds"): _SLOW_LATENCY}, "150m",
             note="5 % slow periods: a slow burn"),
        Case({SVC("docqet_ecs_service_http_response_time_p95_seconds"): "0.2x70"}, "60m", note="fast"),
    ],
    "ApiLatencyErrorBudgetBurnSlow": [
        Case({SVC("docqet_ecs_service_http_response_time_p95_seconds"): _SLOW_LATENCY}, "150m",
             [SVC.out(slo="latency")]),
        Case({SVC("docqet_ecs_service_http_response_time_p95_seconds"): _SLOW_LATENCY}, "14m",
             note="pending (for 15m)"),
        Case({SVC("docqet_ecs_service_http_response_time_p95_seconds"): "0.2x70"}, "60m", note="fast"),
    ],
    "CloudFront5xxErrorRatioHigh": [
        Case(_ratio(DIST, "docqet_cloudfront_5xx_error_ratio", "docqet_cloudfront_requests_per_second", "0.1", "20",
                    20), "5m", [DIST.out()]),
        Case(_ratio(DIST, "docqet_cloudfront_5xx_error_ratio", "docqet_cloudfront_requests_per_second", "0.1", "20",
                    20), "4m", note="pending"),
        Case(_ratio(DIST, "docqet_cloudfront_5xx_error_ratio", "docqet_cloudfront_requests_per_second", "0.01", "20",
                    20), "10m", note="1 % errors"),
        Case(_ratio(DIST, "docqet_cloudfront_5xx_error_ratio", "docqet_cloudfront_requests_per_second", "0.5", "0.2",
                    20), "10m", note="too little traffic"),
    ],
    "CloudFront4xxErrorRatioUnusual": [
        Case({DIST("docqet_cloudfront_4xx_error_ratio"): _day_then("0.02", "0.3")}, "1456m", [DIST.out()],
             note="from 2 % to 30 %"),
        Case({DIST("docqet_cloudfront_4xx_error_ratio"): _day_then("0.02", "0.3")}, "1455m", note="pending"),
        Case({DIST("docqet_cloudfront_4xx_error_ratio"): "0.2x1470"}, "1460m", note="always that high: usual"),
        Case({DIST("docqet_cloudfront_4xx_error_ratio"): _day_then("0.005", "0.04")}, "1465m",
             note="8x more, but under min_ratio"),
    ],
    "Route53HealthCheckFailing": [
        Case({CHECK("docqet_route53_health_check_up"): "0x10",
              CHECK("docqet_route53_health_check_info", type="HTTPS", **_CHECK_INFO): "1x10"}, "2m",
             [CHECK.out(**_CHECK_INFO)]),
        Case({CHECK("docqet_route53_health_check_up"): "0x10",
              CHECK("docqet_route53_health_check_info", type="HTTPS", **_CHECK_INFO): "1x10"}, "1m", note="pending"),
        Case({CHECK("docqet_route53_health_check_up"): "1x10",
              CHECK("docqet_route53_health_check_info", type="HTTPS", **_CHECK_INFO): "1x10"}, "5m", note="healthy"),
    ],
    "ApiGateway5xxRatioHigh": [
        Case(_ratio(STAGE, "docqet_apigateway_5xx_per_second", "docqet_apigateway_requests_per_second", "1", "10",
                    20), "5m", [STAGE.out()]),
        Case(_ratio(STAGE, "docqet_apigateway_5xx_per_second", "docqet_apigateway_requests_per_second", "1", "10",
                    20), "4m", note="pending"),
        Case(_ratio(STAGE, "docqet_apigateway_5xx_per_second", "docqet_apigateway_requests_per_second", "0.01", "10",
                    20), "10m", note="0.1 % errors"),
        Case(_ratio(STAGE, "docqet_apigateway_5xx_per_second", "docqet_apigateway_requests_per_second", "0.05", "0.05",
                    20), "10m", note="too little traffic"),
    ],
    "ApiGatewayLatencyP95High": _threshold_cases(STAGE("docqet_apigateway_latency_p95_seconds"), "2", "0.3", 10,
                                                 STAGE.out()),
    "ApiGateway4xxRatioHigh": [
        Case(_ratio(STAGE, "docqet_apigateway_4xx_per_second", "docqet_apigateway_requests_per_second", "3", "10",
                    30), "15m", [STAGE.out()]),
        Case(_ratio(STAGE, "docqet_apigateway_4xx_per_second", "docqet_apigateway_requests_per_second", "3", "10",
                    30), "14m", note="pending"),
        Case(_ratio(STAGE, "docqet_apigateway_4xx_per_second", "docqet_apigateway_requests_per_second", "0.5", "10",
                    30), "20m", note="5 % client errors"),
    ],
    "WafBlockedRequestsSpike": [
        Case({ACL("docqet_waf_blocked_requests_per_second"): _day_then("2", "50")}, "1451m", [ACL.out()]),
        Case({ACL("docqet_waf_blocked_requests_per_second"): _day_then("2", "50")}, "1450m", note="pending"),
        Case({ACL("docqet_waf_blocked_requests_per_second"): "50x1470"}, "1460m", note="always that many"),
        Case({ACL("docqet_waf_blocked_requests_per_second"): _day_then("0.1", "0.9")}, "1460m",
             note="under min_per_second"),
        Case({ACL("docqet_waf_blocked_requests_per_second", rule="rate-limit"): _day_then("2", "50")}, "1460m",
             note="one rule: the whole ACL is what alerts"),
    ],
}


def test_files(config: Config) -> dict[str, dict[str, Any]]:
    """``{file name: document}``: per rule group a rule file and a promtool test file (evaluated at the group's
    interval), so each test evaluates only the rules it is about. ``config`` must keep the default thresholds.
    """
    rendered = prometheus.rule_files(config, annotations=False)
    static = {rule["alert"]: rule["labels"] for doc in rendered.values() for group in doc["groups"]
              for rule in group["rules"] if "alert" in rule}
    units = [(group["name"], {"groups": [group]}) for group in rendered["alerts.yml"]["groups"]]
    units.append(("docqet-slo", rendered["slo.yml"]))
    files: dict[str, dict[str, Any]] = {}
    for unit, doc in units:
        alerts = [rule["alert"] for group in doc["groups"] for rule in group["rules"] if "alert" in rule]
        files[f"{unit}.rules.yml"] = doc
        files[f"{unit}.test.yml"] = {
            "rule_files": [f"{unit}.rules.yml"],
            "evaluation_interval": doc["groups"][0].get("interval", EVALUATION_INTERVAL),
            "group_eval_order": [group["name"] for group in doc["groups"]],
            "tests": [_test(name, case, static[name]) for name in alerts for case in CASES.get(name, ())],
        }
    return files


def _test(name: str, case: Case, static_labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": f"{name}: {case.note or ('fires' if case.fires else 'quiet')} at {case.at}",
        "interval": case.interval,
        "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
        "alert_rule_test": [{"eval_time": case.at, "alertname": name, "exp_alerts": [
            {"exp_labels": {**labels, **static_labels}} for labels in case.fires]}],
    }


def write(config: Config, out: Path) -> list[Path]:
    """The rule and test files under ``out``; returns the test files' paths."""
    for name, doc in test_files(config).items():
        (out / name).write_text(prometheus.dump(doc, "promtool unit tests"), encoding="utf-8")
    return sorted(out.glob("*.test.yml"))
