"""ECS services and the load balancers behind their target groups.

ListClusters, ListServices (100 a page), DescribeServices (10 a call, the AWS limit), DescribeTargetGroups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from docqet_monitor.core.discovery import arn_name
from docqet_monitor.core.paging import pages

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_SIZE = 100  # ListClusters / ListServices maxResults limit
MAX_SERVICES_PER_DESCRIBE = 10  # DescribeServices limit
# DescribeTargetGroups: botocore's model caps no ARN list, PageSize caps a page at 400: 400 ARNs are one call
MAX_TARGET_GROUPS_PER_DESCRIBE = 400


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
        params = {"TargetGroupArns": list(arns), "PageSize": len(arns)}
        for page in pages(self._elbv2.describe_target_groups, params, "Marker", "NextMarker"):
            for group in page.get("TargetGroups", []):
                arn, lbs = group.get("TargetGroupArn"), group.get("LoadBalancerArns")
                if isinstance(arn, str) and isinstance(lbs, list):
                    result[arn] = tuple(sorted(lb for lb in lbs if isinstance(lb, str)))
        return result

    def _parallel(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def _list(self, operation: str, key: str, params: dict[str, Any]) -> list[str]:
        call = getattr(self._ecs, operation)
        return [item for page in pages(call, {**params, "maxResults": PAGE_SIZE}, "nextToken")
                for item in page.get(key, [])]


def selected_clusters(arns: Iterable[str], clusters: Sequence[str]) -> list[str]:
    """The cluster ARNs that ``clusters`` (names or ARNs, from config; empty: all) selects (pure)."""
    wanted = set(clusters)
    return [arn for arn in arns if not wanted or arn in wanted or arn_name(arn) in wanted]
