"""Application Load Balancers and their target groups.

DescribeLoadBalancers and DescribeTargetGroups, both unfiltered and 400 a page (the PageSize limit): one call
lists the target groups of every load balancer of the region with their ``LoadBalancerArns``, where asking per
load balancer would cost a call each. Network and gateway load balancers are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from docqet_monitor.core.discovery import arn_resource
from docqet_monitor.core.paging import pages

PAGE_SIZE = 400  # DescribeLoadBalancers / DescribeTargetGroups PageSize limit (1-400)


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    name: str
    scheme: str = ""  # internet-facing | internal

    @property
    def dimension(self) -> str:
        """CloudWatch's ``LoadBalancer`` dimension: ``app/<name>/<id>``."""
        return arn_resource(self.arn).removeprefix("loadbalancer/")


@dataclass(frozen=True)
class TargetGroup:
    arn: str
    name: str
    load_balancers: tuple[str, ...] = ()  # ARNs

    @property
    def dimension(self) -> str:
        """CloudWatch's ``TargetGroup`` dimension: ``targetgroup/<name>/<id>``."""
        return arn_resource(self.arn)


class AlbApi(Protocol):
    """What the collector needs from ELBv2 (pagination inside)."""

    def load_balancers(self) -> list[LoadBalancer]:
        """The application load balancers."""
        ...

    def target_groups(self) -> list[TargetGroup]: ...


def parse_load_balancer(raw: Mapping[str, Any]) -> LoadBalancer | None:
    """Our view of an application load balancer; None for other types or without ARN and name (pure)."""
    arn, name = raw.get("LoadBalancerArn"), raw.get("LoadBalancerName")
    if raw.get("Type") != "application" or not (isinstance(arn, str) and isinstance(name, str) and name):
        return None
    return LoadBalancer(arn, name, str(raw.get("Scheme") or ""))


def parse_target_group(raw: Mapping[str, Any]) -> TargetGroup | None:
    """Our view of a DescribeTargetGroups entry; None without ARN and name (pure)."""
    arn, name = raw.get("TargetGroupArn"), raw.get("TargetGroupName")
    if not (isinstance(arn, str) and isinstance(name, str) and name):
        return None
    lbs = raw.get("LoadBalancerArns") if isinstance(raw.get("LoadBalancerArns"), list) else []
    return TargetGroup(arn, name, tuple(sorted(lb for lb in lbs if isinstance(lb, str))))


class BotoAlbApi:
    """:class:`AlbApi` over a boto3 ELBv2 client."""

    def __init__(self, elbv2: Any) -> None:
        self._elbv2 = elbv2

    def load_balancers(self) -> list[LoadBalancer]:
        found = (parse_load_balancer(raw) for page in self._pages("describe_load_balancers")
                 for raw in page.get("LoadBalancers", []) if isinstance(raw, dict))
        return [lb for lb in found if lb is not None]

    def target_groups(self) -> list[TargetGroup]:
        found = (parse_target_group(raw) for page in self._pages("describe_target_groups")
                 for raw in page.get("TargetGroups", []) if isinstance(raw, dict))
        return [tg for tg in found if tg is not None]

    def _pages(self, operation: str) -> Any:
        return pages(getattr(self._elbv2, operation), {"PageSize": PAGE_SIZE}, "Marker", "NextMarker")


def selected(load_balancers: Sequence[LoadBalancer], names: Sequence[str]) -> list[LoadBalancer]:
    """The load balancers ``names`` (names or ARNs, from config; empty: all) selects (pure)."""
    wanted = set(names)
    return [lb for lb in load_balancers if not wanted or lb.name in wanted or lb.arn in wanted]
