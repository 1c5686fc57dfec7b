"""The ECS collector: service task counts and state, CloudWatch utilisation and the ALB golden signals.

Discovery: ListClusters, ListServices (100 a page), DescribeServices (10 a call, the AWS limit), and
DescribeTargetGroups for the load balancer behind each service's target groups. CloudWatch values come from
one batched GetMetricData read per region. A service missing a field loses that series only; nothing is faked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery import arn_name, arn_resource
from docqet_monitor.core.discovery.ecs import BotoEcsApi, EcsApi, EcsService, selected_clusters
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import (
    AwsCollector,
    Clients,
    MetricReader,
    MetricValues,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

LABELS = ("account", "region", "cluster", "service")
INFO_LABELS = (*LABELS, "task_definition", "launch_type", "status", "rollout_state")

# --- CloudWatch queries and metric families (pure) ----------------------------------------------


def _cpu(service: EcsService, period: int) -> MetricQuery:
    return MetricQuery("AWS/ECS", "CPUUtilization", (("ClusterName", service.cluster),
                                                      ("ServiceName", service.name)), "Average", period)


def _memory(service: EcsService, period: int) -> MetricQuery:
    return MetricQuery("AWS/ECS", "MemoryUtilization", (("ClusterName", service.cluster),
                                                         ("ServiceName", service.name)), "Average", period)


HTTP_METRICS = (("RequestCount", "Sum"), ("HTTPCode_Target_5XX_Count", "Sum"), ("TargetResponseTime", "p95"))


def _http(target_group: str, load_balancer: str, period: int) -> dict[str, MetricQuery]:
    dims = (("LoadBalancer", arn_resource(load_balancer).removeprefix("loadbalancer/")),
            ("TargetGroup", arn_resource(target_group)))
    return {metric: MetricQuery("AWS/ApplicationELB", metric, dims, stat, period) for metric, stat in HTTP_METRICS}


def _http_queries(service: EcsService, load_balancers: Mapping[str, Sequence[str]],
                  period: int) -> list[dict[str, MetricQuery]]:
    return [_http(tg, lb, period) for tg in service.target_groups for lb in load_balancers.get(tg, ())]


def queries(services: Iterable[EcsService], load_balancers: Mapping[str, Sequence[str]],
            period: int) -> list[MetricQuery]:
    """Every CloudWatch query the services need (pure)."""
    result = []
    for service in services:
        result += [_cpu(service, period), _memory(service, period)]
        for group in _http_queries(service, load_balancers, period):
            result += group.values()
    return result


def _http_values(service: EcsService, load_balancers: Mapping[str, Sequence[str]], values: MetricValues,
                 period: int) -> dict[str, float]:
    """Request and 5xx rates summed over the service's target groups, the worst p95 (pure).

    ALB publishes RequestCount and HTTPCode_Target_5XX_Count only when non-zero: with requests seen and no
    5xx datapoint the 5xx rate is a real 0.
    """
    found: dict[str, list[float]] = {metric: [] for metric, _ in HTTP_METRICS}
    for group in _http_queries(service, load_balancers, period):
        for metric, query in group.items():
            if query in values:
                found[metric].append(values[query])
    result = {}
    if found["RequestCount"]:
        result["requests"] = sum(found["RequestCount"]) / period
        result["5xx"] = sum(found["HTTPCode_Target_5XX_Count"]) / period
    if found["TargetResponseTime"]:
        result["p95"] = max(found["TargetResponseTime"])
    return result


FAMILIES = {  # name -> help
    "docqet_ecs_service_desired_tasks": "Tasks the ECS service wants running.",
    "docqet_ecs_service_running_tasks": "Tasks of the ECS service in the RUNNING state.",
    "docqet_ecs_service_pending_tasks": "Tasks of the ECS service in the PENDING state.",
    "docqet_ecs_service_deployments": "Deployments of the ECS service (more than 1 while rolling out).",
    "docqet_ecs_service_cpu_utilization_ratio": "Average CPU utilisation of the service's tasks (0-1).",
    "docqet_ecs_service_memory_utilization_ratio": "Average memory utilisation of the service's tasks (0-1).",
    "docqet_ecs_service_http_requests_per_second": "Requests per second to the service's ALB target groups.",
    "docqet_ecs_service_http_5xx_per_second": "HTTP 5xx responses per second from the service's targets.",
    "docqet_ecs_service_http_response_time_p95_seconds": "95th percentile target response time (seconds).",
}
METRIC_NAMES = ("docqet_ecs_service_info", *FAMILIES)


def families(account: str, region: str, services: Iterable[EcsService], load_balancers: Mapping[str, Sequence[str]],
             values: MetricValues, period: int) -> list[Rendered]:
    """The ECS metric families of one region of one account (pure). Unknown values produce no series."""
    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in FAMILIES}
    info = []
    for s in services:
        labels = (account, region, s.cluster, s.name)
        info.append(((*labels, s.task_definition, s.launch_type, s.status, s.rollout_state), 1.0))
        http = _http_values(s, load_balancers, values, period)
        candidates = {
            "docqet_ecs_service_desired_tasks": s.desired,
            "docqet_ecs_service_running_tasks": s.running,
            "docqet_ecs_service_pending_tasks": s.pending,
            "docqet_ecs_service_deployments": s.deployments,
            "docqet_ecs_service_cpu_utilization_ratio": _ratio(values.get(_cpu(s, period))),
            "docqet_ecs_service_memory_utilization_ratio": _ratio(values.get(_memory(s, period))),
            "docqet_ecs_service_http_requests_per_second": http.get("requests"),
            "docqet_ecs_service_http_5xx_per_second": http.get("5xx"),
            "docqet_ecs_service_http_response_time_p95_seconds": http.get("p95"),
        }
        for name, value in candidates.items():
            if value is not None:
                samples[name].append((labels, float(value)))
    result = [gauge("docqet_ecs_service_info", "ECS service metadata; always 1.", INFO_LABELS, info)]
    return result + [gauge(name, doc, LABELS, samples[name]) for name, doc in FAMILIES.items()]


def _ratio(percent: float | None) -> float | None:
    return None if percent is None else percent / 100


# --- one region, the collector ------------------------------------------------------------------


def scrape(api: EcsApi, read: MetricReader, account: str, region: str,
           clusters: Sequence[str], period: int, owns: Callable[[str], bool] = lambda cluster: True) -> list[Rendered]:
    """Discover the region's services, read their CloudWatch values, build the families.

    ``read(queries) -> {query: value}``; ``clusters`` (names or ARNs) restricts discovery when non-empty;
    ``owns(cluster name)`` keeps this shard's clusters (their services are not even listed otherwise).
    """
    arns = [arn for arn in selected_clusters(api.cluster_arns(), clusters) if owns(arn_name(arn))]
    services = list({(s.cluster, s.name): s for s in api.services(arns)}.values())
    target_groups = sorted({tg for s in services for tg in s.target_groups})
    load_balancers = api.load_balancers(target_groups) if target_groups else {}
    values = read(queries(services, load_balancers, period))
    return families(account, region, services, load_balancers, values, period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The ECS collector over every configured account and region."""
    settings, period = config.collectors.ecs, config.cloudwatch.period_seconds

    owns = regional.owner(config, "ecs")

    def scrape_region(client: Clients, read: MetricReader, account: str, region: str) -> list[Rendered]:
        api = BotoEcsApi(client("ecs"), client("elbv2"), config.aws.max_concurrency)
        return scrape(api, read, account, region, settings.clusters, period,
                      lambda cluster: owns(account, region, cluster))

    return regional.collector("ecs", settings, config, aws, scrape_region, per_resource=True)
