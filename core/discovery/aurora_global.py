"""Aurora Global databases and their member clusters (DescribeGlobalClusters; MaxRecords 20-100, 100 a page).

The API answers the same global clusters from every region; each member's region and cluster identifier come
from its ARN (``arn:aws:rds:<region>:<account>:cluster:<id>``), its role from ``IsWriter``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from docqet_monitor.core.paging import described

PAGE_SIZE = 100  # DescribeGlobalClusters MaxRecords limit (20-100)


@dataclass(frozen=True)
class GlobalMember:
    db_cluster: str
    region: str
    role: str  # primary | secondary


@dataclass(frozen=True)
class GlobalCluster:
    name: str
    engine: str = ""
    engine_version: str = ""
    members: tuple[GlobalMember, ...] = ()


class AuroraGlobalApi(Protocol):
    """What the collector needs from RDS (pagination inside)."""

    def global_clusters(self) -> list[GlobalCluster]: ...


def parse_member(raw: Mapping[str, Any]) -> GlobalMember | None:
    """A member from its cluster ARN and ``IsWriter``; None when either is missing or malformed (pure)."""
    arn, writer = raw.get("DBClusterArn"), raw.get("IsWriter")
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) != 7 or parts[5] != "cluster" or not parts[3] or not parts[6] or not isinstance(writer, bool):
        return None
    return GlobalMember(parts[6], parts[3], "primary" if writer else "secondary")


def parse_global_cluster(raw: Mapping[str, Any]) -> GlobalCluster | None:
    """Our view of a DescribeGlobalClusters entry; None without an identifier (pure)."""
    name = raw.get("GlobalClusterIdentifier")
    if not isinstance(name, str) or not name:
        return None
    members = (parse_member(m) for m in raw.get("GlobalClusterMembers") or () if isinstance(m, dict))
    return GlobalCluster(name, str(raw.get("Engine") or ""), str(raw.get("EngineVersion") or ""),
                         tuple(sorted((m for m in members if m is not None), key=lambda m: (m.region, m.db_cluster))))


class BotoAuroraGlobalApi:
    """:class:`AuroraGlobalApi` over a boto3 RDS client."""

    def __init__(self, rds: Any) -> None:
        self._rds = rds

    def global_clusters(self) -> list[GlobalCluster]:
        return described(self._rds.describe_global_clusters, "GlobalClusters", parse_global_cluster, PAGE_SIZE)


def selected(clusters: Sequence[GlobalCluster], names: Sequence[str]) -> list[GlobalCluster]:
    """The global clusters ``names`` (from config; empty: all) selects (pure)."""
    wanted = set(names)
    return [g for g in clusters if not wanted or g.name in wanted]
