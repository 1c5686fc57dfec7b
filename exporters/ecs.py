"""The ECS collector: service task counts and state, CloudWatch utilisation and the ALB golden signals.

Discovery: ListClusters, ListServices (100 a page), DescribeServices (10 a call, the AWS limit), and
DescribeTargetGroups for the load balancer behind each service's target groups. CloudWatch values come from
one batched GetMetricData read per region. A service missing a field loses that series only; nothing is faked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.regional import (
    AwsCollector,
    Clients,
    MetricReader,
    MetricValues,
    arn_name,
    arn_resource,
    gauge,
)
from prometheus_client.core import Metric

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_SIZE = 100  # ListClusters / ListServices maxResults limit
MAX_SERVICES_PER_DESCRIBE = 10  # DescribeServices limit
MAX_TARGET_GROUPS_PER_DESCRIBE = 20  # DescribeTargetGroups: kept at the ELB API's 20-ARN convention
LABELS = ("region", "cluster", "service")
INFO_LABELS = (*LABELS, "task_definition", "launch_type", "status", "rollout_state")

@dataclass(frozen=True)
class EcsService:
    """One ECS service as we use it (None: AWS did not say)."""

    cluster: str
    name: str
    task_definition: str = ""
    launch_type: str = ""
    status: str = ""
    rollout_state: str = ""
    desired: int | None = None
    running: int | None = None
    pending: int | None = None
    deployments: int | None = None
    target_groups: tuple[str, ...] = ()  # target group ARNs


class EcsApi(Protocol):
    """What the collector needs from ECS and ELBv2 (pagination and batching inside)."""

    def cluster_arns(self) -> list[str]: ...

    def services(self, cluster_arns: Sequence[str]) -> list[EcsService]:
        """Every service of these clusters."""
        ...

    def load_balancers(self, target_group_arns: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Target group ARN -> the ARNs of the load balancers it is attached to."""
        ...


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_service(raw: Mapping[str, Any], cluster: str) -> EcsService | None:
    """Our view of a DescribeServices entry; None without a service name (pure)."""
    name = raw.get("serviceName")
    if not isinstance(name, str) or not name:
        return None
    deployments = raw.get("deployments")
    deployments = deployments if isinstance(deployments, list) else None
    primary = next((d for d in deployments or () if isinstance(d, dict) and d.get("status") == "PRIMARY"), {})
    task_definition = raw.get("taskDefinition")
    strategy = raw.get("capacityProviderStrategy") or [{}]
    launch_type = raw.get("launchType") or (strategy[0] or {}).get("capacityProvider") or ""
    target_groups = tuple(sorted({lb["targetGroupArn"] for lb in raw.get("loadBalancers") or ()
                                  if isinstance(lb, dict) and isinstance(lb.get("targetGroupArn"), str)}))
    return EcsService(
        cluster=arn_name(raw["clusterArn"]) if isinstance(raw.get("clusterArn"), str) else cluster,
        name=name,
        task_definition=arn_name(task_definition) if isinstance(task_definition, str) else "",
        launch_type=str(launch_type),
        status=str(raw.get("status") or ""),
        rollout_state=str(primary.get("rolloutState") or ""),
        desired=_int(raw.get("desiredCount")),
        running=_int(raw.get("runningCount")),
        pending=_int(raw.get("pendingCount")),
        deployments=None if deployments is None else len(deployments),
        target_groups=target_groups,
    )


class BotoEcsApi:
    """:class:`EcsApi` over boto3 ECS and ELBv2 clients; independent calls run ``workers`` at a time."""

    def __init__(self, ecs: Any, elbv2: Any, workers: int = 5) -> None:
        self._ecs, self._elbv2, self._workers = ecs, elbv2, workers

    def cluster_arns(self) -> list[str]:
        return self._list("list_clusters", "clusterArns", {})

    def services(self, cluster_arns: Sequence[str]) -> list[EcsService]:
        listed = self._parallel(lambda c: self._list("list_services", "serviceArns", {"cluster": c}), cluster_arns)
        chunks = [(cluster, chunk) for cluster, arns in zip(cluster_arns, listed, strict=True)
                  for chunk in _chunks(arns, MAX_SERVICES_PER_DESCRIBE)]
        return [s for found in self._parallel(lambda job: self._describe(*job), chunks) for s in found]

    def load_balancers(self, target_group_arns: Sequence[str]) -> dict[str, tuple[str, ...]]:
        chunks = list(_chunks(sorted(set(target_group_arns)), MAX_TARGET_GROUPS_PER_DESCRIBE))
        return {arn: lbs for part in self._parallel(self._target_groups, chunks) for arn, lbs in part.items()}

    def _describe(self, cluster_arn: str, service_arns: Sequence[str]) -> list[EcsService]:
        response = self._ecs.describe_services(cluster=cluster_arn, services=list(service_arns))
        found = []
        for raw in response.get("services", []):
            service = parse_service(raw, arn_name(cluster_arn)) if isinstance(raw, dict) else None
            if service is None:
                log.warning("skipping a service without a name", extra={"cluster": cluster_arn})
            else:
                found.append(service)
        return found

    def _target_groups(self, arns: Sequence[str]) -> dict[str, tuple[str, ...]]:
        result: dict[str, tuple[str, ...]] = {}
        params: dict[str, Any] = {"TargetGroupArns": list(arns), "PageSize": len(arns)}
        while True:
            page = self._elbv2.describe_target_groups(**params)
            for group in page.get("TargetGroups", []):
                arn, lbs = group.get("TargetGroupArn"), group.get("LoadBalancerArns")
                if isinstance(arn, str) and isinstance(lbs, list):
                    result[arn] = tuple(sorted(lb for lb in lbs if isinstance(lb, str)))
            if not page.get("NextMarker"):
                return result
            params["Marker"] = page["NextMarker"]

    def _parallel(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def _list(self, operation: str, key: str, params: dict[str, Any]) -> list[str]:
        params = {**params, "maxResults": PAGE_SIZE}
        items: list[str] = []
        while True:
            page = getattr(self._ecs, operation)(**params)
            items.extend(page.get(key, []))
            if not page.get("nextToken"):
                return items
            params["nextToken"] = page["nextToken"]


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


def families(region: str, services: Iterable[EcsService], load_balancers: Mapping[str, Sequence[str]],
             values: MetricValues, period: int) -> list[Metric]:
    """The ECS metric families of one region (pure). Unknown values produce no series."""
    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in FAMILIES}
    info = []
    for s in services:
        labels = (region, s.cluster, s.name)
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


def selected_clusters(arns: Iterable[str], clusters: Sequence[str]) -> list[str]:
    """The cluster ARNs that ``clusters`` (names or ARNs, from config; empty: all) selects (pure)."""
    wanted = set(clusters)
    return [arn for arn in arns if not wanted or arn in wanted or arn_name(arn) in wanted]


def scrape(api: EcsApi, read: MetricReader, region: str,
           clusters: Sequence[str], period: int) -> list[Metric]:
    """Discover the region's services, read their CloudWatch values, build the families.

    ``read(queries) -> {query: value}``; ``clusters`` (names or ARNs) restricts discovery when non-empty.
    """
    arns = selected_clusters(api.cluster_arns(), clusters)
    services = list({(s.cluster, s.name): s for s in api.services(arns)}.values())
    target_groups = sorted({tg for s in services for tg in s.target_groups})
    load_balancers = api.load_balancers(target_groups) if target_groups else {}
    values = read(queries(services, load_balancers, period))
    return families(region, services, load_balancers, values, period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The ECS collector over every configured account and region."""
    settings, period = config.collectors.ecs, config.cloudwatch.period_seconds

    def scrape_region(client: Clients, read: MetricReader, region: str) -> list[Metric]:
        api = BotoEcsApi(client("ecs"), client("elbv2"), config.aws.max_concurrency)
        return scrape(api, read, region, settings.clusters, period)

    return regional.collector("ecs", settings, config, aws, scrape_region)
