"""Docqet overview: one panel per environment-level signal, each linking to its detailed dashboard."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import aurora, cost, ecs, edge, exporter, qdrant, redis, storage_dr
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.OVERVIEW
TITLE = "Docqet / Overview"


def _sli(name: str) -> list[S.Query]:
    """The SLI (share of good requests / periods) over the last hour and day, from the SLO recording rules."""
    return [S.Query(f'1 - max({ids.SLO_ERROR_RATIO}:rate{window}{{slo="{name}"}})', f"last {span}")
            for window, span in (("1h", "hour"), ("1d", "day"))]


def _edge_rows(t: Thresholds) -> list[S.Row]:
    """One row per edge system with its worst signal, each linking to the Edge dashboard."""
    to_edge = [S.link_to(edge.UID, edge.TITLE)]
    return [
        S.Row("CloudFront", [
            S.stat("CloudFront 5xx ratio (worst distribution)", ["max(docqet_cloudfront_5xx_error_ratio)"],
                   S.PERCENT_RATIO, thresholds=t.above("CloudFront5xxErrorRatioHigh"), w=12, links=to_edge),
            S.stat("CloudFront requests", ["sum(docqet_cloudfront_requests_per_second)"], S.REQUESTS_PER_SECOND,
                   w=12, links=to_edge),
        ]),
        S.Row("Route 53", [
            S.stat("Route 53 health checks failing", ["count(docqet_route53_health_check_up == 0) or vector(0)"],
                   S.COUNT, thresholds=S.above(1), w=24, links=to_edge,
                   description="Health checks Route 53 sees unhealthy from the internet: the product's outside view."),
        ]),
        S.Row("API Gateway", [
            S.stat("API Gateway 5xx ratio (worst stage)", [
                "max(docqet_apigateway_5xx_per_second / docqet_apigateway_requests_per_second)"], S.PERCENT_RATIO,
                thresholds=t.above("ApiGateway5xxRatioHigh"), w=12, links=to_edge),
            S.stat("API Gateway p95 latency (slowest stage)", ["max(docqet_apigateway_latency_p95_seconds)"],
                   S.SECONDS, thresholds=t.above("ApiGatewayLatencyP95High"), w=12, links=to_edge),
        ]),
        S.Row("WAF", [
            S.stat("WAF blocked share", [
                'sum(docqet_waf_blocked_requests_per_second{rule="ALL"}) / (sum(docqet_waf_blocked_requests_per_second'
                '{rule="ALL"}) + sum(docqet_waf_allowed_requests_per_second{rule="ALL"}))'], S.PERCENT_RATIO, w=24,
                links=to_edge, description="Share of the requests reaching the web ACLs that they block."),
        ]),
    ]


def build(t: Thresholds) -> G.Dashboard:
    to_ecs, to_aurora = [S.link_to(ecs.UID, ecs.TITLE)], [S.link_to(aurora.UID, aurora.TITLE)]
    to_qdrant, to_cost = [S.link_to(qdrant.UID, qdrant.TITLE)], [S.link_to(cost.UID, cost.TITLE)]
    to_exporter = [S.link_to(exporter.UID, exporter.TITLE)]
    rows = [
        S.Row("Application (ECS services behind the ALB)", [
            S.stat("ECS services healthy", [
                "(count(docqet_ecs_service_running_tasks >= docqet_ecs_service_desired_tasks) or vector(0))"
                " / count(docqet_ecs_service_desired_tasks)"], S.PERCENT_RATIO, thresholds=S.below(1), w=4,
                description="Share of services running at least their desired number of tasks.", links=to_ecs),
            S.stat("API request rate", ["sum(docqet_ecs_service_http_requests_per_second)"], S.REQUESTS_PER_SECOND,
                   w=4, links=to_ecs),
            S.stat("API 5xx ratio", ["(sum(docqet_ecs_service_http_5xx_per_second) or vector(0))"
                                     " / sum(docqet_ecs_service_http_requests_per_second)"], S.PERCENT_RATIO,
                   thresholds=t.above("EcsServiceHttp5xxRatioHigh"), w=4, links=to_ecs),
            S.stat("API p95 latency (slowest service)", ["max(docqet_ecs_service_http_response_time_p95_seconds)"],
                   S.SECONDS, thresholds=t.above("EcsServiceHttpLatencyP95High"), w=4, links=to_ecs),
            S.stat("Availability SLO", _sli("availability"), S.PERCENT_RATIO, thresholds=t.slo("availability"),
                   w=4, links=to_ecs, description="Share of requests answered without a 5xx (SLO recording rules; "
                                                  "burning the error budget too fast pages)."),
            S.stat("Latency SLO", _sli("latency"), S.PERCENT_RATIO, thresholds=t.slo("latency"), w=4,
                   links=to_ecs, description="Share of minutes whose p95 response time met the latency objective."),
        ]),
        S.Row("Data (Aurora PostgreSQL, Qdrant)", [
            S.stat("Aurora writer CPU", ['max(docqet_rds_instance_cpu_utilization_ratio{role="writer"})'],
                   S.PERCENT_RATIO, thresholds=t.above("AuroraWriterCpuHigh"), links=to_aurora),
            S.stat("Aurora replica lag", ['max(docqet_rds_instance_replica_lag_seconds{role="reader"})'], S.SECONDS,
                   thresholds=t.above("AuroraReplicaLagHigh"), links=to_aurora),
            S.stat("RPO (latest restorable time age)", [
                "max(time() - docqet_rds_cluster_latest_restorable_timestamp_seconds)"], S.SECONDS,
                thresholds=t.above("AuroraRpoBreached"), links=to_aurora),
            S.stat("Qdrant collections not green", [
                'count(docqet_qdrant_collection_status{status="green"} == 0) or vector(0)'], S.COUNT,
                thresholds=S.above(1, S.ORANGE), links=to_qdrant),
        ]),
        S.Row("Load balancers (ALB)", [
            S.stat("ALB 5xx ratio (worst load balancer)", [
                "max(docqet_alb_http_5xx_per_second / docqet_alb_requests_per_second)"], S.PERCENT_RATIO,
                thresholds=t.above("AlbHttp5xxRatioHigh"), w=24,
                description="The worst ALB signal: the highest share of requests a load balancer answered with a "
                            "5xx of its own.", links=[S.link_to(edge.UID, edge.TITLE)]),
        ]),
        *_edge_rows(t),
        S.Row("Redis (ElastiCache)", [
            S.stat("Redis memory usage (fullest node)", ["max(docqet_elasticache_node_memory_usage_ratio)"],
                   S.PERCENT_RATIO, thresholds=t.above("RedisMemoryUsageCritical"), w=24,
                   description="The worst Redis signal: the fullest node's share of maxmemory (evictions at 100 %).",
                   links=[S.link_to(redis.UID, redis.TITLE)]),
        ]),
        S.Row("S3 (documents and their replication)", [
            S.stat("S3 replication latency (slowest rule)", ["max(docqet_s3_bucket_replication_latency_seconds)"],
                   S.SECONDS, thresholds=t.above("S3ReplicationRpoBreached"), w=24,
                   description="The worst S3 signal: how far the most delayed replica bucket is behind its source.",
                   links=[S.link_to(storage_dr.UID, storage_dr.TITLE)]),
        ]),
        S.Row("Aurora Global database (disaster recovery)", [
            S.stat("Aurora Global RPO lag (worst secondary)", ["max(docqet_rds_cluster_global_rpo_lag_seconds)"],
                   S.SECONDS, thresholds=t.above("AuroraGlobalRpoLagHigh"), w=24,
                   description="The worst Aurora Global signal: the data a failover would lose now (RPO 1 hour).",
                   links=[S.link_to(storage_dr.UID, storage_dr.TITLE)]),
        ]),
        S.Row("Cost and monitoring", [
            S.stat("Month to date vs budget", [
                S.Query("max(docqet_cost_month_to_date_usd)", "month to date"),
                S.Query("max(docqet_cost_month_forecast_usd)", "forecast"),
                S.Query("max(docqet_cost_budget_usd)", "budget")], S.USD, w=12, links=to_cost),
            S.stat("Exporter collectors failing", [
                "count(docqet_exporter_collector_up == 0) or vector(0)"], S.COUNT, thresholds=S.above(1),
                description="Collectors whose last refresh failed (their panels show old data).", links=to_exporter),
            S.stat("Exporter scrape up", [f'min(up{{job="{ids.EXPORTER_JOB}"}})'], S.NONE, mappings=S.UP_DOWN,
                   thresholds=S.below(1), links=to_exporter),
        ]),
    ]
    return S.dashboard(UID, TITLE, rows)
