"""S3 buckets of one region: versioning and replication rules.

ListBuckets with ``BucketRegion`` (only the region's buckets, each with its region: no GetBucketLocation per
bucket) and ``MaxBuckets`` (up to 10,000 a page, ContinuationToken), then GetBucketVersioning and
GetBucketReplication per bucket, ``workers`` at a time. A bucket without a replication configuration has no
rules (the error AWS answers with is no error here). Which storage classes hold data comes from CloudWatch's
ListMetrics (one listing of AWS/S3 BucketSizeBytes for the region), so only those are read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from docqet_monitor.core.paging import pages

T = TypeVar("T")
PAGE_SIZE = 10_000  # ListBuckets MaxBuckets limit (1-10,000)
NO_REPLICATION = "ReplicationConfigurationNotFoundError"
VERSIONING = {"Enabled": "enabled", "Suspended": "suspended"}  # no Status: never enabled


@dataclass(frozen=True)
class ReplicationRule:
    rule: str  # the rule's ID (CloudWatch's RuleId dimension)
    destination_bucket: str  # name (from the destination ARN)


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    versioning: str = ""  # enabled | suspended | disabled; "" unknown
    rules: tuple[ReplicationRule, ...] = ()  # enabled rules only


class S3Api(Protocol):
    """What the collector needs from S3 and CloudWatch's metric list (pagination inside)."""

    def buckets(self, region: str, names: Sequence[str] = ()) -> list[Bucket]:
        """The buckets of ``region`` (``names``: only those; empty: all) with versioning and replication rules."""
        ...

    def storage_types(self) -> dict[str, tuple[str, ...]]:
        """Bucket -> the ``StorageType`` values CloudWatch has BucketSizeBytes for (ListMetrics, 500 a page)."""
        ...


def versioning(raw: Mapping[str, Any]) -> str:
    """``enabled`` / ``suspended`` / ``disabled`` from a GetBucketVersioning answer (pure)."""
    return VERSIONING.get(str(raw.get("Status") or ""), "disabled")


def replication_rules(raw: Mapping[str, Any]) -> tuple[ReplicationRule, ...]:
    """The enabled rules of a GetBucketReplication answer's ``ReplicationConfiguration`` (pure)."""
    rules = []
    for rule in raw.get("Rules") or ():
        if not isinstance(rule, dict) or rule.get("Status") != "Enabled":
            continue
        rule_id, destination = rule.get("ID"), (rule.get("Destination") or {}).get("Bucket")
        if isinstance(rule_id, str) and rule_id and isinstance(destination, str) and destination:
            rules.append(ReplicationRule(rule_id, destination.removeprefix("arn:aws:s3:::").split(":::")[-1]))
    return tuple(rules)


class BotoS3Api:
    """:class:`S3Api` over boto3 S3 and CloudWatch clients of the region; per-bucket calls run ``workers`` at a
    time."""

    def __init__(self, s3: Any, cloudwatch: Any, workers: int = 5) -> None:
        self._s3, self._cloudwatch, self._workers = s3, cloudwatch, workers

    def storage_types(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, set[str]] = {}
        params = {"Namespace": "AWS/S3", "MetricName": "BucketSizeBytes"}
        for page in pages(self._cloudwatch.list_metrics, params, "NextToken"):
            for metric in page.get("Metrics", []):
                dims = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions") or () if isinstance(d, dict)}
                if isinstance(dims.get("BucketName"), str) and isinstance(dims.get("StorageType"), str):
                    found.setdefault(dims["BucketName"], set()).add(dims["StorageType"])
        return {bucket: tuple(sorted(types)) for bucket, types in found.items()}

    def buckets(self, region: str, names: Sequence[str] = ()) -> list[Bucket]:
        wanted = set(names)
        listed = [(raw["Name"], str(raw.get("BucketRegion") or region))
                  for page in pages(self._s3.list_buckets, {"BucketRegion": region, "MaxBuckets": PAGE_SIZE},
                                    "ContinuationToken")
                  for raw in page.get("Buckets", []) if isinstance(raw, dict) and isinstance(raw.get("Name"), str)]
        listed = [(name, where) for name, where in listed if where == region and (not wanted or name in wanted)]
        return self._parallel(lambda item: self._describe(*item), listed)

    def _describe(self, name: str, region: str) -> Bucket:
        status = versioning(self._s3.get_bucket_versioning(Bucket=name))
        try:
            config = self._s3.get_bucket_replication(Bucket=name).get("ReplicationConfiguration") or {}
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != NO_REPLICATION:
                raise
            config = {}
        return Bucket(name, region, status, replication_rules(config))

    def _parallel(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            return list(pool.map(fn, items))
