"""The alert catalog: every alert of the platform, whatever system evaluates it (Prometheus, CloudWatch, Sentry).

:data:`CATALOG` holds the defaults. :func:`rules` applies an environment's config (threshold overrides,
disabled alerts, the SLO objectives, ``team`` and ``environment`` labels) and is what renderers, sync backends
and dashboards read. Thresholds are written into ``expr`` through ``{name}`` placeholders (see
:meth:`alerts.spec.AlertRule.promql`); ratios are 0-1, durations seconds, sizes bytes, money USD.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping

from docqet_monitor.alerts import runbooks, slo
from docqet_monitor.alerts.spec import AlertRule, CloudWatchAlarm, SentryAlert
from docqet_monitor.core import ids
from docqet_monitor.core.config import Config, config_error, short
from docqet_monitor.core.ids import AURORA, COST, ECS, EDGE, EXPORTER, OVERVIEW, QDRANT, REDIS, STORAGE_DR, panel_id

DEFAULT_GRAFANA_URL = "https://grafana.docqet.internal"

# dashboard uids (fixed; the dashboards build them with these uids)

_WHERE = "({{ $labels.region }}, account {{ $labels.account }})"
_SERVICE = "{{ $labels.cluster }}/{{ $labels.service }} " + _WHERE
_INSTANCE = "{{ $labels.db_instance }} of cluster {{ $labels.db_cluster }} " + _WHERE
_CLUSTER = "Aurora cluster {{ $labels.db_cluster }} " + _WHERE
_COLLECTION = "collection {{ $labels.collection }} on Qdrant {{ $labels.qdrant }}"
_ALB = "load balancer {{ $labels.load_balancer }} " + _WHERE
_JOB = f'job="{ids.EXPORTER_JOB}"'  # the exporter's own series (the process metrics' names are every client's)
_TARGET_GROUP = "target group {{ $labels.target_group }} of load balancer {{ $labels.load_balancer }} " + _WHERE
_REDIS_NODE = "Redis node {{ $labels.cache_cluster }} of {{ $labels.replication_group }} " + _WHERE


def _ecs(metric: str, statistic: str = "Average") -> tuple[str, str, str, str]:
    return ("m", "AWS/ECS", metric, statistic)


def _rds(metric: str, statistic: str) -> tuple[str, str, str, str]:
    return ("m", "AWS/RDS", metric, statistic)


ECS_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="EcsServiceTasksBelowDesired", severity="critical",
        summary="ECS service {{ $labels.service }} runs fewer tasks than desired",
        description=f"{_SERVICE}: {{{{ $value }}}} task(s) short of the desired count; "
                    "ECS cannot start or keep its tasks (crash loop, capacity, image pull).",
        runbook="ecs/tasks-below-desired", dashboard=ECS, panel="Running vs desired tasks",
        expr="docqet_ecs_service_desired_tasks - docqet_ecs_service_running_tasks > {missing_tasks}",
        for_="15m", thresholds={"missing_tasks": 0},
        cloudwatch=CloudWatchAlarm(
            resource="ecs_service", threshold="missing_tasks", comparison="GreaterThanThreshold",
            metrics=(("running", "ECS/ContainerInsights", "RunningTaskCount", "Average"),
                     ("desired", "ECS/ContainerInsights", "DesiredTaskCount", "Average")),
            # missing, not breaching: without Container Insights there is no data, which is not an outage
            expression="desired - running", evaluation_periods=15, datapoints_to_alarm=15,
            treat_missing_data="missing"),
    ),
    AlertRule(
        name="EcsServiceNoRunningTasks", severity="critical",
        summary="ECS service {{ $labels.service }} has no running task",
        description=f"{_SERVICE} wants tasks but none is running: the service is down.",
        runbook="ecs/no-running-tasks", dashboard=ECS, panel="Running vs desired tasks",
        expr="docqet_ecs_service_running_tasks == 0 and docqet_ecs_service_desired_tasks > 0",
        for_="3m",
    ),
    AlertRule(
        name="EcsServiceDeploymentStuck", severity="warning",
        summary="Deployment of ECS service {{ $labels.service }} is not completing",
        description=f"{_SERVICE} has {{{{ $value }}}} deployments side by side; "
                    "the rollout is stuck (failing health checks or no capacity).",
        runbook="ecs/deployment-stuck", dashboard=ECS, panel="Deployments",
        expr="docqet_ecs_service_deployments > {deployments}", for_="30m", thresholds={"deployments": 1},
    ),
    AlertRule(
        name="EcsServiceDeploymentInProgress", severity="info",
        summary="ECS service {{ $labels.service }} is being deployed",
        description=f"{_SERVICE} rolls out a new deployment ({{{{ $value }}}} side by side); "
                    "the resolved notification says it finished.",
        runbook="ecs/deployment-in-progress", dashboard=ECS, panel="Deployments",
        expr="docqet_ecs_service_deployments > 1", for_="1m",
    ),
    AlertRule(
        name="EcsServiceCpuHigh", severity="warning",
        summary="ECS service {{ $labels.service }} CPU is high",
        description=f"{_SERVICE} uses {{{{ $value | humanizePercentage }}}} of its CPU reservation.",
        runbook="ecs/cpu-high", dashboard=ECS, panel="CPU utilization",
        expr="docqet_ecs_service_cpu_utilization_ratio > {threshold}", for_="15m", thresholds={"threshold": 0.9},
        cloudwatch=CloudWatchAlarm(resource="ecs_service", metrics=(_ecs("CPUUtilization"),),
                                   comparison="GreaterThanThreshold", scale=100.0,
                                   evaluation_periods=15, datapoints_to_alarm=15,
                                   treat_missing_data="missing"),  # no tasks, no data: TasksBelowDesired pages
    ),
    AlertRule(
        name="EcsServiceMemoryHigh", severity="warning",
        summary="ECS service {{ $labels.service }} memory is high",
        description=f"{_SERVICE} uses {{{{ $value | humanizePercentage }}}} of its memory reservation; "
                    "tasks get OOM-killed at 100 %.",
        runbook="ecs/memory-high", dashboard=ECS, panel="Memory utilization",
        expr="docqet_ecs_service_memory_utilization_ratio > {threshold}", for_="15m",
        thresholds={"threshold": 0.9},
        cloudwatch=CloudWatchAlarm(resource="ecs_service", metrics=(_ecs("MemoryUtilization"),),
                                   comparison="GreaterThanThreshold", scale=100.0,
                                   evaluation_periods=15, datapoints_to_alarm=15,
                                   treat_missing_data="missing"),  # no tasks, no data: TasksBelowDesired pages
    ),
)

API_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="EcsServiceHttp5xxRatioHigh", severity="critical",
        summary="ECS service {{ $labels.service }} answers too many 5xx",
        description=f"{{{{ $value | humanizePercentage }}}} of the requests to {_SERVICE} fail with a 5xx "
                    "(target responses, ALB).",
        runbook="api/5xx-ratio-high", dashboard=ECS, panel="HTTP 5xx ratio",
        expr="docqet_ecs_service_http_5xx_per_second / docqet_ecs_service_http_requests_per_second > {threshold}"
             " and docqet_ecs_service_http_requests_per_second > {min_requests_per_second}",
        for_="10m", thresholds={"threshold": 0.05, "min_requests_per_second": 0.1},
        cloudwatch=CloudWatchAlarm(
            resource="alb_target_group", comparison="GreaterThanThreshold",
            metrics=(("errors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum"),
                     ("requests", "AWS/ApplicationELB", "RequestCount", "Sum")),
            expression="IF(requests > {min_requests_per_second} * {period}, FILL(errors, 0) / requests, 0)",
            evaluation_periods=10, datapoints_to_alarm=10,
            treat_missing_data="notBreaching"),
    ),
    AlertRule(
        name="EcsServiceHttpLatencyP95High", severity="warning",
        summary="ECS service {{ $labels.service }} is slow (p95)",
        description=f"The 95th percentile target response time of {_SERVICE} is "
                    "{{ $value | humanizeDuration }}.",
        runbook="api/latency-p95-high", dashboard=ECS, panel="p95 response time",
        expr="docqet_ecs_service_http_response_time_p95_seconds > {threshold}", for_="10m",
        thresholds={"threshold": 1.0},
        cloudwatch=CloudWatchAlarm(
            resource="alb_target_group", comparison="GreaterThanThreshold",
            metrics=(("m", "AWS/ApplicationELB", "TargetResponseTime", "p95"),),
            evaluation_periods=10, datapoints_to_alarm=10, treat_missing_data="notBreaching"),
    ),
)

AURORA_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="AuroraWriterCpuHigh", severity="warning",
        summary="Aurora writer {{ $labels.db_instance }} CPU is high",
        description=f"Writer {_INSTANCE} runs at {{{{ $value | humanizePercentage }}}} CPU.",
        runbook="aurora/writer-cpu-high", dashboard=AURORA, panel="CPU utilization",
        expr='docqet_rds_instance_cpu_utilization_ratio{role="writer"} > {threshold}', for_="15m",
        thresholds={"threshold": 0.8},
        cloudwatch=CloudWatchAlarm(resource="rds_writer", metrics=(_rds("CPUUtilization", "Average"),),
                                   comparison="GreaterThanThreshold", scale=100.0,
                                   evaluation_periods=15, datapoints_to_alarm=15,
                                   treat_missing_data="missing"),  # a failover gap keeps the last state
    ),
    AlertRule(
        name="AuroraConnectionsNearLimit", severity="warning",
        summary="Aurora instance {{ $labels.db_instance }} is near its connection limit",
        description=f"{_INSTANCE} holds {{{{ $value }}}} connections. The default threshold is 80 % of "
                    "max_connections of a db.r6g.large (about 1,800); set it per environment for other classes.",
        runbook="aurora/connections-near-limit", dashboard=AURORA, panel="Database connections",
        expr="docqet_rds_instance_database_connections > {threshold}", for_="10m",
        thresholds={"threshold": 1400},
        cloudwatch=CloudWatchAlarm(resource="rds_instance", metrics=(_rds("DatabaseConnections", "Maximum"),),
                                   comparison="GreaterThanThreshold",
                                   evaluation_periods=10, datapoints_to_alarm=10, treat_missing_data="missing"),
    ),
    AlertRule(
        name="AuroraFreeableMemoryLow", severity="warning",
        summary="Aurora instance {{ $labels.db_instance }} is low on memory",
        description=f"{_INSTANCE} has {{{{ $value | humanize1024 }}}}B of freeable memory left.",
        runbook="aurora/freeable-memory-low", dashboard=AURORA, panel="Freeable memory",
        expr="docqet_rds_instance_freeable_memory_bytes < {threshold}", for_="15m",
        thresholds={"threshold": 512 * 1024**2},
        cloudwatch=CloudWatchAlarm(resource="rds_instance", metrics=(_rds("FreeableMemory", "Minimum"),),
                                   comparison="LessThanThreshold",  # no data is not low memory: keep the state
                                   evaluation_periods=15, datapoints_to_alarm=15, treat_missing_data="missing"),
    ),
    AlertRule(
        name="AuroraFreeLocalStorageLow", severity="warning",
        summary="Aurora instance {{ $labels.db_instance }} is low on local storage",
        description=f"{_INSTANCE} has {{{{ $value | humanize1024 }}}}B of local (temporary) storage left; "
                    "large sorts and temp tables fail when it runs out.",
        runbook="aurora/free-local-storage-low", dashboard=AURORA, panel="Free local storage",
        expr="docqet_rds_instance_free_local_storage_bytes < {threshold}", for_="15m",
        thresholds={"threshold": 5 * 1024**3},
        cloudwatch=CloudWatchAlarm(resource="rds_instance", metrics=(_rds("FreeLocalStorage", "Minimum"),),
                                   comparison="LessThanThreshold",  # no data is not low storage: keep the state
                                   evaluation_periods=15, datapoints_to_alarm=15, treat_missing_data="missing"),
    ),
    AlertRule(
        name="AuroraReplicaLagHigh", severity="warning",
        summary="Aurora replica {{ $labels.db_instance }} lags behind the writer",
        description=f"Reader {_INSTANCE} is {{{{ $value | humanizeDuration }}}} behind the writer.",
        runbook="aurora/replica-lag-high", dashboard=AURORA, panel="Replica lag",
        expr='docqet_rds_instance_replica_lag_seconds{role="reader"} > {threshold}', for_="10m",
        thresholds={"threshold": 5.0},
        cloudwatch=CloudWatchAlarm(resource="rds_reader", metrics=(_rds("AuroraReplicaLag", "Maximum"),),
                                   comparison="GreaterThanThreshold", scale=1000.0,  # milliseconds
                                   evaluation_periods=10, datapoints_to_alarm=10,
                                   treat_missing_data="missing"),  # a reader being replaced reports nothing
    ),
    AlertRule(
        name="AuroraRpoBreached", severity="critical",
        summary="Aurora cluster {{ $labels.db_cluster }} cannot be restored within the RPO",
        description=f"The latest restorable time of {_CLUSTER} is {{{{ $value | humanizeDuration }}}} old; "
                    "the disaster-recovery RPO is 1 hour. Data written since is at risk.",
        runbook="aurora/rpo-breached", dashboard=AURORA, panel="Latest restorable time age",
        expr="time() - docqet_rds_cluster_latest_restorable_timestamp_seconds > {threshold}", for_="5m",
        thresholds={"threshold": 3600},
    ),
    AlertRule(
        name="AuroraBackupRetentionBelowPolicy", severity="warning",
        summary="Aurora cluster {{ $labels.db_cluster }} keeps backups too briefly",
        description=f"{_CLUSTER} keeps automated backups for {{{{ $value | humanizeDuration }}}}; "
                    "the policy asks for at least 7 days.",
        runbook="aurora/backup-retention", dashboard=AURORA, panel="Backup retention",
        expr="docqet_rds_cluster_backup_retention_seconds < {threshold}", for_="30m",
        thresholds={"threshold": 7 * 86400},
    ),
)

def _redis(metric: str, statistic: str = "Average") -> tuple[str, str, str, str]:
    return ("m", "AWS/ElastiCache", metric, statistic)


REDIS_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="RedisMemoryUsageHigh", severity="warning",
        summary="Redis node {{ $labels.cache_cluster }} uses most of its memory",
        description=f"{_REDIS_NODE} uses {{{{ $value | humanizePercentage }}}} of maxmemory; at 100 % it "
                    "evicts keys (sessions) or refuses writes.",
        runbook="redis/memory-usage-high", dashboard=REDIS, panel="Memory usage",
        expr="docqet_elasticache_node_memory_usage_ratio > {threshold}", for_="15m", thresholds={"threshold": 0.8},
    ),
    AlertRule(
        name="RedisMemoryUsageCritical", severity="critical",
        summary="Redis node {{ $labels.cache_cluster }} is almost out of memory",
        description=f"{_REDIS_NODE} uses {{{{ $value | humanizePercentage }}}} of maxmemory: keys (sessions, "
                    "cached documents) are being evicted or writes fail.",
        runbook="redis/memory-usage-critical", dashboard=REDIS, panel="Memory usage",
        expr="docqet_elasticache_node_memory_usage_ratio > {threshold}", for_="5m", thresholds={"threshold": 0.9},
        cloudwatch=CloudWatchAlarm(resource="elasticache_node", metrics=(_redis("DatabaseMemoryUsagePercentage"),),
                                   comparison="GreaterThanThreshold", scale=100.0,
                                   evaluation_periods=5, datapoints_to_alarm=5,
                                   treat_missing_data="missing"),  # a node being replaced reports nothing
    ),
    AlertRule(
        name="RedisEngineCpuHigh", severity="warning",
        summary="Redis engine on {{ $labels.cache_cluster }} is saturated",
        description=f"The Redis engine thread of {_REDIS_NODE} runs at {{{{ $value | humanizePercentage }}}}; "
                    "Redis serves commands on one thread, so every call waits.",
        runbook="redis/engine-cpu-high", dashboard=REDIS, panel="Engine CPU",
        expr="docqet_elasticache_node_engine_cpu_utilization_ratio > {threshold}", for_="5m",
        thresholds={"threshold": 0.9},
        cloudwatch=CloudWatchAlarm(resource="elasticache_node", metrics=(_redis("EngineCPUUtilization"),),
                                   comparison="GreaterThanThreshold", scale=100.0,
                                   evaluation_periods=5, datapoints_to_alarm=5, treat_missing_data="missing"),
    ),
    AlertRule(
        name="RedisEvictionsSustained", severity="warning",
        summary="Redis node {{ $labels.cache_cluster }} keeps evicting keys",
        description=f"{_REDIS_NODE} evicts {{{{ $value | humanize }}}} keys a second for lack of memory; "
                    "evicted sessions log users out.",
        runbook="redis/evictions-sustained", dashboard=REDIS, panel="Evictions",
        expr="docqet_elasticache_node_evictions_per_second > {threshold}", for_="15m", thresholds={"threshold": 0},
    ),
    AlertRule(
        name="RedisReplicaLagHigh", severity="warning",
        summary="Redis replica {{ $labels.cache_cluster }} lags behind its primary",
        description=f"{_REDIS_NODE} is {{{{ $value | humanizeDuration }}}} behind its primary; a failover now "
                    "would lose those writes.",
        runbook="redis/replica-lag-high", dashboard=REDIS, panel="Replication lag",
        expr="docqet_elasticache_node_replication_lag_seconds > {threshold}", for_="10m",
        thresholds={"threshold": 5.0},
    ),
    AlertRule(
        name="RedisAutomaticFailoverDisabled", severity="info",
        summary="Redis replication group {{ $labels.replication_group }} has no automatic failover",
        description="Replication group {{ $labels.replication_group }} " + _WHERE + " has automatic "
                    "failover {{ $labels.automatic_failover }}: losing its primary means a cache outage until "
                    "someone promotes a replica. Production only (disabled in the other environments' files).",
        runbook="redis/automatic-failover-disabled", dashboard=REDIS, panel="Replication groups",
        expr='docqet_elasticache_replication_group_info{automatic_failover!="enabled"} == 1', for_="1h",
    ),
)

ALB_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="AlbHttp5xxRatioHigh", severity="critical",
        summary="Load balancer {{ $labels.load_balancer }} answers too many 5xx itself",
        description=f"{{{{ $value | humanizePercentage }}}} of the requests to {_ALB} fail with a 5xx the load "
                    "balancer generates itself (no healthy target, target timeouts, connection errors).",
        runbook="alb/5xx-ratio-high", dashboard=EDGE, panel="ALB 5xx ratio",
        expr="docqet_alb_http_5xx_per_second / docqet_alb_requests_per_second > {threshold}"
             " and docqet_alb_requests_per_second > {min_requests_per_second}",
        for_="10m", thresholds={"threshold": 0.05, "min_requests_per_second": 0.1},
        cloudwatch=CloudWatchAlarm(
            resource="load_balancer", comparison="GreaterThanThreshold",
            metrics=(("errors", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum"),
                     ("requests", "AWS/ApplicationELB", "RequestCount", "Sum")),
            expression="IF(requests > {min_requests_per_second} * {period}, FILL(errors, 0) / requests, 0)",
            evaluation_periods=10, datapoints_to_alarm=10, treat_missing_data="notBreaching"),
    ),
    AlertRule(
        name="AlbRejectedConnections", severity="warning",
        summary="Load balancer {{ $labels.load_balancer }} rejects connections",
        description=f"{_ALB} rejects {{{{ $value | humanize }}}} connections a second: it reached its maximum "
                    "number of connections (or its targets' capacity).",
        runbook="alb/rejected-connections", dashboard=EDGE, panel="ALB rejected connections",
        expr="docqet_alb_rejected_connections_per_second > {threshold}", for_="5m", thresholds={"threshold": 0},
    ),
    AlertRule(
        name="AlbTargetGroupUnhealthyTargets", severity="warning",
        summary="Target group {{ $labels.target_group }} has unhealthy targets",
        description=f"{{{{ $value }}}} target(s) of {_TARGET_GROUP} fail their health checks.",
        runbook="alb/unhealthy-targets", dashboard=EDGE, panel="ALB target health",
        expr="docqet_alb_target_group_unhealthy_targets > {threshold}", for_="10m", thresholds={"threshold": 0},
    ),
    AlertRule(
        name="AlbTargetGroupNoHealthyTargets", severity="critical",
        summary="Target group {{ $labels.target_group }} has no healthy target",
        description=f"Every registered target of {_TARGET_GROUP} fails its health checks: the load balancer "
                    "answers its requests with 503.",
        runbook="alb/no-healthy-targets", dashboard=EDGE, panel="ALB target health",
        expr="docqet_alb_target_group_healthy_targets < {min_healthy}"
             " and docqet_alb_target_group_unhealthy_targets > 0",
        for_="3m", thresholds={"min_healthy": 1},
        cloudwatch=CloudWatchAlarm(
            resource="load_balancer_target_group", threshold="min_healthy", comparison="LessThanThreshold",
            metrics=(("healthy", "AWS/ApplicationELB", "HealthyHostCount", "Minimum"),
                     ("unhealthy", "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum")),
            # an empty target group (the idle half of a blue/green pair) is not an outage: only registered targets
            expression="IF(unhealthy > 0, healthy, {min_healthy})",
            evaluation_periods=3, datapoints_to_alarm=3, treat_missing_data="missing"),
    ),
)

_REPLICATION = ("replication rule {{ $labels.rule }} of bucket {{ $labels.bucket }} to "
                "{{ $labels.destination_bucket }} " + _WHERE)

S3_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="S3ReplicationLatencyHigh", severity="warning",
        summary="S3 replication of {{ $labels.bucket }} is late",
        description=f"The destination of {_REPLICATION} is {{{{ $value | humanizeDuration }}}} behind: new "
                    "documents reach the DR region late.",
        runbook="s3/replication-latency-high", dashboard=STORAGE_DR, panel="S3 replication latency",
        expr="docqet_s3_bucket_replication_latency_seconds > {threshold}", for_="15m", thresholds={"threshold": 900},
    ),
    AlertRule(
        name="S3ReplicationRpoBreached", severity="critical",
        summary="S3 replication of {{ $labels.bucket }} is behind the RPO",
        description=f"The destination of {_REPLICATION} is {{{{ $value | humanizeDuration }}}} behind; the "
                    "disaster-recovery RPO is 1 hour. Documents written since would be lost in a failover.",
        runbook="s3/replication-rpo-breached", dashboard=STORAGE_DR, panel="S3 replication latency",
        expr="docqet_s3_bucket_replication_latency_seconds > {threshold}", for_="5m", thresholds={"threshold": 3600},
    ),
    AlertRule(
        name="S3ReplicationPendingOperationsGrowing", severity="warning",
        summary="S3 replication backlog of {{ $labels.bucket }} keeps growing",
        description=f"{{{{ $value | humanize }}}} operations wait for {_REPLICATION} and the backlog has grown "
                    "over the last 3 hours: replication does not keep up with writes.",
        runbook="s3/replication-pending-growing", dashboard=STORAGE_DR, panel="S3 replication backlog",
        expr="docqet_s3_bucket_replication_pending_operations > {min_operations}"
             " and deriv(docqet_s3_bucket_replication_pending_operations[3h]) > 0",
        for_="1h", thresholds={"min_operations": 1000},
    ),
    AlertRule(
        name="S3BucketVersioningSuspended", severity="warning",
        summary="Versioning of S3 bucket {{ $labels.bucket }} is suspended",
        description="Bucket {{ $labels.bucket }} " + _WHERE + " has versioning suspended: overwritten and "
                    "deleted documents cannot be recovered, and replication stops for new objects. Production only "
                    "(disabled in the other environments' files).",
        runbook="s3/versioning-suspended", dashboard=STORAGE_DR, panel="S3 buckets",
        expr='docqet_s3_bucket_info{versioning="suspended"} == 1', for_="30m",
    ),
)

AURORA_GLOBAL_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="AuroraGlobalRpoLagHigh", severity="critical",
        summary="Aurora Global secondary {{ $labels.db_cluster }} is behind the RPO",
        description="A failover to {{ $labels.db_cluster }} " + _WHERE + " would lose "
                    "{{ $value | humanizeDuration }} of data; the disaster-recovery RPO is 1 hour.",
        runbook="aurora-global/rpo-lag-high", dashboard=STORAGE_DR, panel="Aurora Global RPO lag",
        expr="docqet_rds_cluster_global_rpo_lag_seconds > {threshold}", for_="5m", thresholds={"threshold": 3600},
        cloudwatch=CloudWatchAlarm(resource="rds_global_secondary",
                                   metrics=(_rds("AuroraGlobalDBRPOLag", "Maximum"),),
                                   comparison="GreaterThanThreshold", scale=1000.0,  # milliseconds
                                   evaluation_periods=5, datapoints_to_alarm=5,
                                   # Aurora MySQL secondaries publish no RPO lag: no data is no page
                                   treat_missing_data="missing"),
    ),
    AlertRule(
        name="AuroraGlobalReplicationLagHigh", severity="warning",
        summary="Aurora Global secondary {{ $labels.db_cluster }} lags behind the primary",
        description="{{ $labels.db_cluster }} " + _WHERE + " replays the primary region's changes "
                    "{{ $value | humanizeDuration }} late.",
        runbook="aurora-global/replication-lag-high", dashboard=STORAGE_DR, panel="Aurora Global replication lag",
        expr="docqet_rds_cluster_global_replication_lag_seconds > {threshold}", for_="10m",
        thresholds={"threshold": 300},
    ),
    AlertRule(
        name="AuroraGlobalClusterNoSecondary", severity="warning",
        summary="Aurora Global database {{ $labels.global_cluster }} has no secondary",
        description="Global database {{ $labels.global_cluster }} (account {{ $labels.account }}) has no secondary "
                    "cluster: there is no region to fail over to.",
        runbook="aurora-global/no-secondary", dashboard=STORAGE_DR, panel="Aurora Global members",
        expr='docqet_rds_global_cluster_info unless on(account, global_cluster)'
             ' docqet_rds_global_cluster_member_info{role="secondary"}',
        for_="30m",
    ),
)

QDRANT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="QdrantDown", severity="critical",
        summary="Qdrant {{ $labels.qdrant }} is down",
        description="Qdrant node {{ $labels.qdrant }} does not answer /readyz: vector search is unavailable.",
        runbook="qdrant/down", dashboard=QDRANT, panel="Up",
        expr="docqet_qdrant_up == 0", for_="5m",
    ),
    AlertRule(
        name="QdrantCollectionNotGreen", severity="warning",
        summary="Qdrant collection {{ $labels.collection }} is {{ $labels.status }}",
        description=f"The status of {_COLLECTION} is {{{{ $labels.status }}}} "
                    "(yellow: optimizing, grey: optimizations pending, red: failed).",
        runbook="qdrant/collection-not-green", dashboard=QDRANT, panel="Collection status",
        expr='docqet_qdrant_collection_status{status!="green"} == 1', for_="30m",
    ),
    AlertRule(
        name="QdrantOptimizerError", severity="warning",
        summary="Qdrant optimizer failed on collection {{ $labels.collection }}",
        description=f"The optimizer of {_COLLECTION} reports an error; see GET /collections/"
                    "{{ $labels.collection }} for the message.",
        runbook="qdrant/optimizer-error", dashboard=QDRANT, panel="Optimizer status",
        expr="docqet_qdrant_collection_optimizer_ok == 0", for_="10m",
    ),
)

_DISTRIBUTION = "CloudFront distribution {{ $labels.distribution }} (account {{ $labels.account }})"
_STAGE = "API {{ $labels.api }} stage {{ $labels.stage }} " + _WHERE
_WEB_ACL = "web ACL {{ $labels.web_acl }} " + _WHERE

# CloudFront, Route 53 and WAF for CloudFront are global: their CloudWatch alarms live in us-east-1.
EDGE_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="CloudFront5xxErrorRatioHigh", severity="critical",
        summary="CloudFront distribution {{ $labels.distribution }} answers too many 5xx",
        description=f"{{{{ $value | humanizePercentage }}}} of the viewer requests to {_DISTRIBUTION} fail with a "
                    "5xx (the origin or CloudFront itself): users cannot load the product.",
        runbook="edge/cloudfront-5xx-ratio-high", dashboard=EDGE, panel="CloudFront 5xx error ratio",
        expr="docqet_cloudfront_5xx_error_ratio > {threshold}"
             " and docqet_cloudfront_requests_per_second > {min_requests_per_second}",
        for_="5m", thresholds={"threshold": 0.05, "min_requests_per_second": 1.0},
        cloudwatch=CloudWatchAlarm(
            resource="cloudfront_distribution", comparison="GreaterThanThreshold", scale=100.0,  # percent
            metrics=(("rate", "AWS/CloudFront", "5xxErrorRate", "Average"),
                     ("requests", "AWS/CloudFront", "Requests", "Sum")),
            expression="IF(requests > {min_requests_per_second} * {period}, rate, 0)",
            evaluation_periods=5, datapoints_to_alarm=5, treat_missing_data="notBreaching"),
    ),
    AlertRule(
        name="CloudFront4xxErrorRatioUnusual", severity="warning",
        summary="CloudFront distribution {{ $labels.distribution }} answers unusually many 4xx",
        description=f"{{{{ $value | humanizePercentage }}}} of the viewer requests to {_DISTRIBUTION} get a 4xx, "
                    "well above its average of the last day: broken links after a deploy, a missing object, "
                    "or a client or bot hammering wrong URLs.",
        runbook="edge/cloudfront-4xx-ratio-unusual", dashboard=EDGE, panel="CloudFront 4xx error ratio",
        expr="docqet_cloudfront_4xx_error_ratio > {factor} * avg_over_time(docqet_cloudfront_4xx_error_ratio[1d])"
             " and docqet_cloudfront_4xx_error_ratio > {min_ratio}",
        for_="15m", thresholds={"factor": 2.0, "min_ratio": 0.05},
    ),
    AlertRule(
        name="Route53HealthCheckFailing", severity="critical",
        summary="Route 53 health check {{ $labels.name }} is failing",
        description="Route 53 health check {{ $labels.health_check }} ({{ $labels.name }}, {{ $labels.target }}; "
                    "account {{ $labels.account }}) is unhealthy: seen from the internet, this endpoint of the "
                    "product is down.",
        runbook="edge/route53-health-check-failing", dashboard=EDGE, panel="Route 53 health check status",
        expr="(docqet_route53_health_check_up < {healthy})"
             " * on(account, health_check) group_left(name, target) docqet_route53_health_check_info",
        for_="2m", thresholds={"healthy": 1},
        cloudwatch=CloudWatchAlarm(
            resource="route53_health_check", threshold="healthy", comparison="LessThanThreshold",
            metrics=(("m", "AWS/Route53", "HealthCheckStatus", "Minimum"),),
            # Route 53 publishes the status every minute; a gap is the check being deleted or disabled
            evaluation_periods=2, datapoints_to_alarm=2, treat_missing_data="missing"),
    ),
    AlertRule(
        name="ApiGateway5xxRatioHigh", severity="critical",
        summary="API {{ $labels.api }} ({{ $labels.stage }}) answers too many 5xx",
        description=f"{{{{ $value | humanizePercentage }}}} of the requests to {_STAGE} fail with a 5xx "
                    "(integration errors, timeouts or API Gateway itself).",
        runbook="edge/apigateway-5xx-ratio-high", dashboard=EDGE, panel="API Gateway 5xx ratio",
        expr="docqet_apigateway_5xx_per_second / docqet_apigateway_requests_per_second > {threshold}"
             " and docqet_apigateway_requests_per_second > {min_requests_per_second}",
        for_="5m", thresholds={"threshold": 0.05, "min_requests_per_second": 0.1},
        cloudwatch=CloudWatchAlarm(
            resource="apigateway_stage", comparison="GreaterThanThreshold",
            # REST stages; an HTTP API stage's alarm reads 5xx instead of 5XXError (see alerts.cloudwatch)
            metrics=(("errors", "AWS/ApiGateway", "5XXError", "Sum"), ("requests", "AWS/ApiGateway", "Count", "Sum")),
            expression="IF(requests > {min_requests_per_second} * {period}, FILL(errors, 0) / requests, 0)",
            evaluation_periods=5, datapoints_to_alarm=5, treat_missing_data="notBreaching"),
    ),
    AlertRule(
        name="ApiGatewayLatencyP95High", severity="warning",
        summary="API {{ $labels.api }} ({{ $labels.stage }}) is slow (p95)",
        description=f"The 95th percentile latency of {_STAGE} is {{{{ $value | humanizeDuration }}}}.",
        runbook="edge/apigateway-latency-p95-high", dashboard=EDGE, panel="API Gateway p95 latency",
        expr="docqet_apigateway_latency_p95_seconds > {threshold}", for_="10m", thresholds={"threshold": 1.0},
    ),
    AlertRule(
        name="ApiGateway4xxRatioHigh", severity="warning",
        summary="API {{ $labels.api }} ({{ $labels.stage }}) rejects many requests (4xx)",
        description=f"{{{{ $value | humanizePercentage }}}} of the requests to {_STAGE} get a 4xx: clients are "
                    "throttled (429: rate limits or usage plans), unauthorised (401/403) or send bad requests.",
        runbook="edge/apigateway-4xx-ratio-high", dashboard=EDGE, panel="API Gateway 4xx ratio",
        expr="docqet_apigateway_4xx_per_second / docqet_apigateway_requests_per_second > {threshold}"
             " and docqet_apigateway_requests_per_second > {min_requests_per_second}",
        for_="15m", thresholds={"threshold": 0.1, "min_requests_per_second": 0.1},
    ),
    AlertRule(
        name="WafBlockedRequestsSpike", severity="info",
        summary="WAF {{ $labels.web_acl }} blocks far more requests than usual",
        description=f"{_WEB_ACL} blocks {{{{ $value | humanize }}}} requests a second, several times its "
                    "average of the last day: an attack being stopped, or a rule blocking real users.",
        runbook="edge/waf-blocked-requests-spike", dashboard=EDGE, panel="WAF blocked requests",
        expr='docqet_waf_blocked_requests_per_second{rule="ALL"} > {factor}'
             ' * avg_over_time(docqet_waf_blocked_requests_per_second{rule="ALL"}[1d])'
             ' and docqet_waf_blocked_requests_per_second{rule="ALL"} > {min_per_second}',
        for_="10m", thresholds={"factor": 3.0, "min_per_second": 1.0},
    ),
)

COST_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="CostMonthForecastOverBudget", severity="warning",
        summary="AWS spend is forecast over this month's budget",
        description="Cost Explorer forecasts {{ $value | humanize }} USD above the budget at the end of the month.",
        runbook="cost/forecast-over-budget", dashboard=COST, panel="Month forecast vs budget",
        expr="docqet_cost_month_forecast_usd - docqet_cost_budget_usd * {budget_ratio} > 0", for_="1h",
        thresholds={"budget_ratio": 1.0},
    ),
    AlertRule(
        name="CostDailySpendAnomaly", severity="info",
        summary="Yesterday's AWS spend is unusually high",
        description="The last complete day cost {{ $value | humanize }} USD, well above the daily average of "
                    "the week before (threshold: alerts.thresholds.CostDailySpendAnomaly.factor).",
        runbook="cost/daily-spend-anomaly", dashboard=COST, panel="Daily spend by service",
        expr="sum(docqet_cost_daily_usd) > {factor} * sum(avg_over_time(docqet_cost_daily_usd[7d] offset 1d))"
             " and sum(docqet_cost_daily_usd) > {min_daily_usd}",
        for_="1h", thresholds={"factor": 1.5, "min_daily_usd": 10},
    ),
)

EXPORTER_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="ExporterCollectorFailing", severity="warning",
        summary="Exporter collector {{ $labels.collector }} is failing",
        description="The {{ $labels.collector }} collector of docqet-monitor fails (AWS/Qdrant errors); "
                    "its last good series are served, so its alerts see old data.",
        runbook="exporter/collector-failing", dashboard=EXPORTER, panel="Collector up",
        expr="docqet_exporter_collector_up == 0", for_="15m",
    ),
    AlertRule(
        name="ExporterDataStale", severity="warning",
        summary="Exporter data from {{ $labels.collector }} is stale",
        description="The {{ $labels.collector }} collector last succeeded {{ $value | humanizeDuration }} ago.",
        runbook="exporter/data-stale", dashboard=EXPORTER, panel="Time since last success",
        expr='time() - docqet_exporter_collector_last_success_timestamp_seconds{collector!="cost"} > {threshold}'
             ' or time() - docqet_exporter_collector_last_success_timestamp_seconds{collector="cost"}'
             " > {cost_threshold}",
        for_="5m", thresholds={"threshold": 900, "cost_threshold": 14 * 3600},
    ),
    AlertRule(
        name="ExporterCpuSaturated", severity="warning",
        summary="The docqet-monitor exporter is bound by its own CPU",
        description="The exporter process of {{ $labels.instance }} has used {{ $value | humanizePercentage }} of "
                    "the CPU it can use (one core, or its container's limit when that is less) for 30 minutes: "
                    "its refreshes wait for its CPU, not for AWS. Shard it (exporter serve --shard K/N).",
        runbook="exporter/cpu-saturated", dashboard=EXPORTER, panel="CPU",
        # one core at most (one Python process), less under a known container limit (the build info's 1 without)
        expr="rate(process_cpu_seconds_total{" + _JOB + ', process="exporter"}[5m])'
             " / on (job, instance) group_left ()"
             " (clamp_max(docqet_exporter_cpu_limit_cores{" + _JOB + "}, 1)"
             " or on (job, instance) docqet_exporter_build_info{" + _JOB + "} * 0 + 1)"
             " > {threshold}",
        for_="30m", thresholds={"threshold": 0.9},
    ),
    AlertRule(
        name="ExporterMemoryNearLimit", severity="warning",
        summary="The docqet-monitor exporter is close to its container's memory limit",
        description="The exporter's two processes on {{ $labels.instance }} hold {{ $value | humanizePercentage }} "
                    "of their container's memory limit: above it the container is killed and restarted, and "
                    "every series is missing until the first refresh ends.",
        runbook="exporter/memory-near-limit", dashboard=EXPORTER, panel="Resident memory",
        expr="sum by (job, instance) (process_resident_memory_bytes{" + _JOB + "})"
             " / on (job, instance) docqet_exporter_memory_limit_bytes{" + _JOB + "} > {threshold}",
        for_="15m", thresholds={"threshold": 0.9},
    ),
    AlertRule(
        name="ExporterTargetDown", severity="critical",
        summary="Prometheus cannot scrape the docqet-monitor exporter",
        description="Scrapes of {{ $labels.instance }} fail: no AWS, Qdrant or cost metric arrives and the "
                    "alerts built on them are blind.",
        runbook="exporter/target-down", dashboard=EXPORTER, panel="Scrape up",
        expr="up{" + _JOB + "} == 0", for_="5m",
    ),
    AlertRule(
        name="Watchdog", severity="info",
        summary="The alerting pipeline is alive",
        description="Always firing. Alertmanager sends it to the dead man's switch, which pages when it stops.",
        runbook="meta/watchdog", dashboard=OVERVIEW,
        expr="vector(1)", for_="",
    ),
)

SENTRY_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="SentryErrorSpike", severity="critical",
        summary="Error spike in Sentry project",
        description="More than the threshold of error events within an hour in one issue.",
        runbook="sentry/error-spike", dashboard=OVERVIEW, for_="", thresholds={"threshold": 100},
        sentry=SentryAlert(kind="event_frequency", threshold="threshold", time_window_minutes=60),
    ),
    AlertRule(
        name="SentryNewIssueInProduction", severity="info",
        summary="New issue in production", description="Sentry saw an issue for the first time in production.",
        runbook="sentry/new-issue", dashboard=OVERVIEW, for_="",
        sentry=SentryAlert(kind="new_issue", environment="production"),
    ),
    AlertRule(
        name="SentryIssueRegression", severity="warning",
        summary="A resolved issue came back", description="Sentry saw a resolved issue again (regression).",
        runbook="sentry/regression", dashboard=OVERVIEW, for_="",
        sentry=SentryAlert(kind="regression"),
    ),
    AlertRule(
        name="SentryTransactionP95High", severity="warning",
        summary="Slow transactions (p95)", description="The p95 transaction duration is above the threshold (ms).",
        runbook="sentry/transaction-p95", dashboard=OVERVIEW, for_="", thresholds={"threshold": 1000},
        sentry=SentryAlert(kind="metric", threshold="threshold", aggregate="p95(transaction.duration)",
                           dataset="transactions", time_window_minutes=10),
    ),
    AlertRule(
        name="SentryFailureRateHigh", severity="critical",
        summary="High transaction failure rate", description="The share of failed transactions is above "
                                                             "the threshold.",
        runbook="sentry/failure-rate", dashboard=OVERVIEW, for_="", thresholds={"threshold": 0.05},
        sentry=SentryAlert(kind="metric", threshold="threshold", aggregate="failure_rate()",
                           dataset="transactions", time_window_minutes=10),
    ),
)

CATALOG: tuple[AlertRule, ...] = (
    ECS_RULES + API_RULES + AURORA_RULES + QDRANT_RULES + COST_RULES + EXPORTER_RULES + SENTRY_RULES
    + REDIS_RULES + ALB_RULES + S3_RULES + AURORA_GLOBAL_RULES + EDGE_RULES
)
"""The defaults: every alert except the SLO alerts (built from ``alerts.slo`` by :func:`rules`)."""

# Prometheus rule groups, in file order: (name, evaluation interval or "" for the global one, rules).
# Cost data changes a few times a day: its group is evaluated hourly (cheap 7-day windows).
GROUPS: tuple[tuple[str, str, tuple[AlertRule, ...]], ...] = (
    ("docqet-ecs", "", ECS_RULES), ("docqet-api", "", API_RULES), ("docqet-aurora", "", AURORA_RULES),
    ("docqet-qdrant", "", QDRANT_RULES), ("docqet-cost", "1h", COST_RULES), ("docqet-exporter", "", EXPORTER_RULES),
    ("docqet-redis", "", REDIS_RULES), ("docqet-alb", "", ALB_RULES), ("docqet-s3", "", S3_RULES),
    ("docqet-aurora-global", "", AURORA_GLOBAL_RULES),
    ("docqet-edge", "", EDGE_RULES),
)


def defaults(config: Config | None = None) -> tuple[AlertRule, ...]:
    """The catalog with the default thresholds, plus the SLO alerts for ``config`` (defaults when None)."""
    return CATALOG + slo.alert_rules((config or Config()).alerts.slo)


def rules(config: Config) -> list[AlertRule]:
    """The catalog for one environment: overrides applied, disabled rules dropped, team/environment labelled.

    Unknown alert names or threshold keys in ``alerts.thresholds`` / ``alerts.disabled`` raise
    :class:`ConfigError` naming the key.
    """
    catalog = {rule.name: rule for rule in defaults(config)}
    _check_overrides(config, catalog)
    labels = {"team": config.alerts.team, "environment": config.environment}
    return [
        dataclasses.replace(rule, thresholds={**rule.thresholds, **config.alerts.thresholds.get(rule.name, {})},
                            labels={**labels, **rule.labels})
        for rule in catalog.values() if rule.name not in config.alerts.disabled
    ]


def _expected_alert(name: str, catalog: Mapping[str, AlertRule]) -> str:
    """What an unknown alert name should have been: the closest names, not the whole (long) catalog (pure)."""
    close = difflib.get_close_matches(name, sorted(catalog), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"{hint}expected one of the {len(catalog)} alerts of the catalog (docs/alerts.md lists them)"


def _check_overrides(config: Config, catalog: Mapping[str, AlertRule]) -> None:
    for i, name in enumerate(config.alerts.disabled):
        if name not in catalog:
            raise config_error(config, f"alerts.disabled[{i}]",
                               f"unknown alert {short(name)}; {_expected_alert(name[:100], catalog)}")
    for name, values in config.alerts.thresholds.items():
        if name not in catalog:
            raise config_error(config, f"alerts.thresholds.{name}",
                               f"unknown alert; {_expected_alert(name[:100], catalog)}")
        allowed = catalog[name].thresholds
        for key in values:
            if key not in allowed:
                expected = ", ".join(sorted(allowed)) or "nothing (this alert has no thresholds)"
                raise config_error(config, f"alerts.thresholds.{name}.{key}",
                                   f"unknown threshold; expected one of: {expected}")


def thresholds(config: Config) -> dict[str, tuple[str, Mapping[str, float]]]:
    """Every alert's severity and thresholds in ``config``'s environment (overrides applied; a disabled alert
    keeps its defaults): what dashboards draw as threshold lines."""
    resolved = {rule.name: rule for rule in defaults(config)}
    resolved.update({rule.name: rule for rule in rules(config)})
    return {name: (rule.severity, rule.thresholds) for name, rule in resolved.items()}


def runbook_url(rule: AlertRule, config: Config) -> str:
    """The rule's page: ``alerts.runbook_base_url`` + ``/<runbook>.md`` (``monitoring/runbooks/<runbook>.md``)."""
    return runbooks.url(config.alerts.runbook_base_url, rule.runbook)


# (dashboard variable, alert label) per dashboard: the link selects the alert's resource.
DASHBOARD_VARIABLES: dict[str, tuple[tuple[str, str], ...]] = {
    ECS: (("account", "account"), ("region", "region"), ("cluster", "cluster"), ("service", "service")),
    AURORA: (("account", "account"), ("region", "region"), ("db_cluster", "db_cluster"),
             ("db_instance", "db_instance")),
    QDRANT: (("qdrant", "qdrant"), ("collection", "collection")),
    REDIS: (("account", "account"), ("region", "region"), ("replication_group", "replication_group"),
            ("cache_cluster", "cache_cluster")),
    EDGE: (("account", "account"), ("region", "region"), ("load_balancer", "load_balancer"),
           ("target_group", "target_group"), ("distribution", "distribution"), ("health_check", "health_check"),
           ("api", "api"), ("stage", "stage"), ("web_acl", "web_acl")),
    STORAGE_DR: (("account", "account"), ("region", "region"), ("bucket", "bucket"),
                 ("global_cluster", "global_cluster")),
}


def dashboard_url(rule: AlertRule, config: Config) -> str:
    """The Grafana dashboard of the rule (``grafana.url``, else the internal Grafana), opened on its panel with
    the dashboard's variables set from the alert's labels (Prometheus template text; a missing label is left out).
    """
    url = f"{(config.grafana.url or DEFAULT_GRAFANA_URL).rstrip('/')}/d/{rule.dashboard}"
    if not rule.panel:
        return url
    variables = "".join(f"{{{{ with $labels.{label} }}}}&var-{name}={{{{ . | urlquery }}}}{{{{ end }}}}"
                        for name, label in DASHBOARD_VARIABLES.get(rule.dashboard, ()))
    return f"{url}?viewPanel={panel_id(rule.panel)}{variables}"
