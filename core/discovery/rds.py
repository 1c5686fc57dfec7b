"""Aurora/RDS clusters and instances (DescribeDBClusters, DescribeDBInstances; 100 records a page)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from docqet_monitor.core.paging import described

PAGE_SIZE = 100  # DescribeDBClusters / DescribeDBInstances MaxRecords limit (20-100)


@dataclass(frozen=True)
class DbCluster:
    name: str
    engine: str = ""
    engine_version: str = ""
    status: str = ""
    backup_retention_days: int | None = None
    latest_restorable: float | None = None  # Unix time
    writers: frozenset[str] = frozenset()
    readers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DbInstance:
    name: str
    cluster: str
    instance_class: str = ""
    status: str = ""


class RdsApi(Protocol):
    """What the collector needs from RDS (pagination inside)."""

    def clusters(self) -> list[DbCluster]: ...

    def instances(self) -> list[DbInstance]: ...


def parse_cluster(raw: Mapping[str, Any]) -> DbCluster | None:
    """Our view of a DescribeDBClusters entry; None without an identifier (pure)."""
    name = raw.get("DBClusterIdentifier")
    if not isinstance(name, str) or not name:
        return None
    members = [m for m in raw.get("DBClusterMembers") or () if isinstance(m, dict)
               and isinstance(m.get("DBInstanceIdentifier"), str) and isinstance(m.get("IsClusterWriter"), bool)]
    restorable = raw.get("LatestRestorableTime")
    retention = raw.get("BackupRetentionPeriod")
    return DbCluster(
        name=name,
        engine=str(raw.get("Engine") or ""),
        engine_version=str(raw.get("EngineVersion") or ""),
        status=str(raw.get("Status") or ""),
        backup_retention_days=retention if isinstance(retention, int) and not isinstance(retention, bool) else None,
        latest_restorable=restorable.timestamp() if isinstance(restorable, datetime) else None,
        writers=frozenset(m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]),
        readers=frozenset(m["DBInstanceIdentifier"] for m in members if not m["IsClusterWriter"]),
    )


def parse_instance(raw: Mapping[str, Any]) -> DbInstance | None:
    """Our view of a DescribeDBInstances entry; None without an identifier or a cluster (pure)."""
    name, cluster = raw.get("DBInstanceIdentifier"), raw.get("DBClusterIdentifier")
    if not (isinstance(name, str) and name and isinstance(cluster, str) and cluster):
        return None
    return DbInstance(name, cluster, str(raw.get("DBInstanceClass") or ""), str(raw.get("DBInstanceStatus") or ""))


class BotoRdsApi:
    """:class:`RdsApi` over a boto3 RDS client."""

    def __init__(self, rds: Any) -> None:
        self._rds = rds

    def clusters(self) -> list[DbCluster]:
        return described(self._rds.describe_db_clusters, "DBClusters", parse_cluster, PAGE_SIZE)

    def instances(self) -> list[DbInstance]:
        return described(self._rds.describe_db_instances, "DBInstances", parse_instance, PAGE_SIZE)
