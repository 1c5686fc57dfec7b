"""The S3 collector: buckets with their versioning, daily storage metrics, and replication progress.

Discovery: ListBuckets with ``BucketRegion`` (no GetBucketLocation), GetBucketVersioning and GetBucketReplication
per bucket, and one CloudWatch ListMetrics for the storage classes that hold data. Storage metrics
(AWS/S3 BucketSizeBytes, NumberOfObjects) come once a day, late: they are read with a daily period a few days
back, and the collector refreshes hourly by default. Replication metrics (per rule: SourceBucket,
DestinationBucket, RuleId) exist only for rules with replication metrics or RTC enabled; without data, no series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery.s3 import BotoS3Api, Bucket, ReplicationRule, S3Api
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import DAY, MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

NAMESPACE = "AWS/S3"
BUCKET_LABELS = ("account", "region", "bucket")
REPLICATION_LABELS = (*BUCKET_LABELS, "destination_bucket", "rule")
REPLICATION_METRICS = {  # family -> (CloudWatch metric, read as Maximum, help)
    "docqet_s3_bucket_replication_latency_seconds": (
        "ReplicationLatency", "How far the destination is behind the source, in seconds (the period's maximum)."),
    "docqet_s3_bucket_replication_pending_bytes": ("BytesPendingReplication", "Bytes waiting to be replicated."),
    "docqet_s3_bucket_replication_pending_operations": (
        "OperationsPendingReplication", "Operations waiting to be replicated."),
}
METRIC_NAMES = ("docqet_s3_bucket_info", "docqet_s3_bucket_size_bytes", "docqet_s3_bucket_objects",
                *REPLICATION_METRICS)


# --- CloudWatch queries and metric families (pure) ----------------------------------------------


def size_query(bucket: str, storage_type: str) -> MetricQuery:
    return MetricQuery(NAMESPACE, "BucketSizeBytes", (("BucketName", bucket), ("StorageType", storage_type)),
                       "Average", DAY)


def objects_query(bucket: str) -> MetricQuery:
    return MetricQuery(NAMESPACE, "NumberOfObjects", (("BucketName", bucket), ("StorageType", "AllStorageTypes")),
                       "Average", DAY)


def replication_query(bucket: str, rule: ReplicationRule, metric: str, period: int) -> MetricQuery:
    dims = (("SourceBucket", bucket), ("DestinationBucket", rule.destination_bucket), ("RuleId", rule.rule))
    return MetricQuery(NAMESPACE, metric, dims, "Maximum", period)


def queries(buckets: Sequence[Bucket], storage: Mapping[str, Sequence[str]], period: int) -> list[MetricQuery]:
    """Every CloudWatch query the buckets need (pure): daily storage ones, per-period replication ones."""
    result = []
    for b in buckets:
        result += [objects_query(b.name), *(size_query(b.name, t) for t in storage.get(b.name, ()))]
        result += [replication_query(b.name, rule, metric, period) for rule in b.rules
                   for metric, _ in REPLICATION_METRICS.values()]
    return result


def families(account: str, buckets: Sequence[Bucket], storage: Mapping[str, Sequence[str]], values: MetricValues,
             period: int) -> list[Rendered]:
    """The S3 families of one region of one account (pure); ``region`` is each bucket's own."""
    info = [((account, b.region, b.name, b.versioning), 1.0) for b in buckets if b.versioning]
    sizes, objects = [], []
    replication: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in REPLICATION_METRICS}
    for b in buckets:
        for storage_type in storage.get(b.name, ()):
            size = values.get(size_query(b.name, storage_type))
            if size is not None:
                sizes.append(((account, b.region, b.name, storage_type), size))
        count = values.get(objects_query(b.name))
        if count is not None:
            objects.append(((account, b.region, b.name), count))
        for rule in b.rules:
            for name, (metric, _) in REPLICATION_METRICS.items():
                value = values.get(replication_query(b.name, rule, metric, period))
                if value is not None:
                    replication[name].append(((account, b.region, b.name, rule.destination_bucket, rule.rule),
                                              value))
    return [
        gauge("docqet_s3_bucket_info", "S3 bucket versioning (enabled, suspended or disabled); always 1.",
              (*BUCKET_LABELS, "versioning"), info),
        gauge("docqet_s3_bucket_size_bytes", "Bytes stored in the bucket per storage class (daily).",
              (*BUCKET_LABELS, "storage_type"), sizes),
        gauge("docqet_s3_bucket_objects", "Objects in the bucket, all storage classes (daily).", BUCKET_LABELS,
              objects),
        *(gauge(name, doc, REPLICATION_LABELS, replication[name]) for name, (_, doc) in REPLICATION_METRICS.items()),
    ]


# --- one region, the collector ------------------------------------------------------------------


def scrape(api: S3Api, read: MetricReader, account: str, region: str, names: Sequence[str],
           period: int) -> list[Rendered]:
    """Discover the region's buckets (``names`` restricts them when non-empty), read, build."""
    buckets = api.buckets(region, names)
    if not buckets:
        return []
    storage = api.storage_types()
    return families(account, buckets, storage, read(queries(buckets, storage, period)), period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The S3 collector over every configured account and region."""
    settings, period = config.collectors.s3, config.cloudwatch.period_seconds

    def scrape_region(client: Clients, read: MetricReader, account: str, region: str) -> list[Rendered]:
        api = BotoS3Api(client("s3"), client("cloudwatch"), config.aws.max_concurrency)
        return scrape(api, read, account, region, settings.buckets, period)

    return regional.collector("s3", settings, config, aws, scrape_region)
