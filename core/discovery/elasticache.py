"""ElastiCache (Redis OSS / Valkey) replication groups and their nodes.

DescribeReplicationGroups and DescribeCacheClusters (MaxRecords 20-100; 100 a page). A node is a cache cluster
of one cache node: CloudWatch publishes its metrics with the dimensions ``CacheClusterId`` and ``CacheNodeId``.
A node's role comes from its node group's member list (``CurrentRole``, published for cluster mode disabled
only); engine and engine version come from the cache clusters, which the replication group lacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from docqet_monitor.core.paging import described

PAGE_SIZE = 100  # DescribeReplicationGroups / DescribeCacheClusters MaxRecords limit (20-100)


@dataclass(frozen=True)
class CacheNode:
    """One member of a node group: a cache cluster of one node ("" role: AWS did not say)."""

    cache_cluster: str
    node_id: str
    role: str = ""  # primary | replica | ""
    availability_zone: str = ""


@dataclass(frozen=True)
class ReplicationGroup:
    name: str
    node_type: str = ""
    cluster_mode: str = ""  # enabled | disabled | compatible
    automatic_failover: str = ""  # enabled | disabled | enabling | disabling
    multi_az: str = ""  # enabled | disabled
    nodes: tuple[CacheNode, ...] = ()


@dataclass(frozen=True)
class CacheCluster:
    name: str
    replication_group: str = ""
    engine: str = ""
    engine_version: str = ""


class ElastiCacheApi(Protocol):
    """What the collector needs from ElastiCache (pagination inside)."""

    def replication_groups(self) -> list[ReplicationGroup]: ...

    def cache_clusters(self) -> list[CacheCluster]: ...


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def parse_replication_group(raw: Mapping[str, Any]) -> ReplicationGroup | None:
    """Our view of a DescribeReplicationGroups entry; None without an id (pure)."""
    name = raw.get("ReplicationGroupId")
    if not isinstance(name, str) or not name:
        return None
    nodes = []
    for group in raw.get("NodeGroups") or ():
        for member in (group.get("NodeGroupMembers") or ()) if isinstance(group, dict) else ():
            if isinstance(member, dict) and _str(member, "CacheClusterId") and _str(member, "CacheNodeId"):
                role = _str(member, "CurrentRole")
                nodes.append(CacheNode(member["CacheClusterId"], member["CacheNodeId"],
                                       role if role in ("primary", "replica") else "",
                                       _str(member, "PreferredAvailabilityZone")))
    mode = _str(raw, "ClusterMode") or {True: "enabled", False: "disabled"}.get(raw.get("ClusterEnabled"), "")
    return ReplicationGroup(name=name, node_type=_str(raw, "CacheNodeType"), cluster_mode=mode,
                            automatic_failover=_str(raw, "AutomaticFailover"), multi_az=_str(raw, "MultiAZ"),
                            nodes=tuple(sorted(nodes, key=lambda n: (n.cache_cluster, n.node_id))))


def parse_cache_cluster(raw: Mapping[str, Any]) -> CacheCluster | None:
    """Our view of a DescribeCacheClusters entry; None without an id (pure)."""
    name = raw.get("CacheClusterId")
    if not isinstance(name, str) or not name:
        return None
    return CacheCluster(name, _str(raw, "ReplicationGroupId"), _str(raw, "Engine"), _str(raw, "EngineVersion"))


class BotoElastiCacheApi:
    """:class:`ElastiCacheApi` over a boto3 ElastiCache client."""

    def __init__(self, elasticache: Any) -> None:
        self._client = elasticache

    def replication_groups(self) -> list[ReplicationGroup]:
        return described(self._client.describe_replication_groups, "ReplicationGroups", parse_replication_group,
                         PAGE_SIZE)

    def cache_clusters(self) -> list[CacheCluster]:
        return described(self._client.describe_cache_clusters, "CacheClusters", parse_cache_cluster, PAGE_SIZE)


def selected(groups: Sequence[ReplicationGroup], names: Sequence[str]) -> list[ReplicationGroup]:
    """The replication groups ``names`` (from config; empty: all) selects (pure)."""
    wanted = set(names)
    return [g for g in groups if not wanted or g.name in wanted]
