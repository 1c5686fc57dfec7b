"""The S3 collector: pure parsing and metric building, then against moto with the real AWS limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_limits import AwsLimits
from helpers import parsed, samples, value

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AwsConfig, CollectorsConfig, Config, S3CollectorConfig
from docqet_monitor.core.discovery.s3 import Bucket, ReplicationRule, replication_rules, versioning
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import cloudwatch, s3

REGION, DR = "eu-west-1", "us-east-1"
ACCOUNT = "123456789012"  # moto's


# --- pure ---------------------------------------------------------------------------------------


def test_versioning_and_enabled_replication_rules() -> None:
    assert [versioning(r) for r in ({"Status": "Enabled"}, {"Status": "Suspended"}, {})] == [
        "enabled", "suspended", "disabled"]
    rules = replication_rules({"Rules": [
        {"ID": "a", "Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::dr-bucket"}},
        {"ID": "b", "Status": "Disabled", "Destination": {"Bucket": "arn:aws:s3:::other"}},
        {"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::no-id"}}]})
    assert rules == (ReplicationRule("a", "dr-bucket"),)


def test_families_take_storage_classes_from_the_listing_and_leave_out_what_has_no_data() -> None:
    rule = ReplicationRule("r", "dr")
    docs, empty = Bucket("docs", REGION, "enabled", (rule,)), Bucket("empty", REGION, "disabled")
    storage = {"docs": ("StandardIAStorage", "StandardStorage")}
    values = {s3.size_query("docs", "StandardStorage"): 1e9, s3.objects_query("docs"): 12.0,
              s3.replication_query("docs", rule, "ReplicationLatency", 60): 30.0}
    fams = s3.families(ACCOUNT, [docs, empty], storage, values, 60)
    assert value(fams, "docqet_s3_bucket_size_bytes", bucket="docs", storage_type="StandardStorage") == 1e9
    assert value(fams, "docqet_s3_bucket_size_bytes", storage_type="StandardIAStorage") is None
    assert value(fams, "docqet_s3_bucket_objects", bucket="empty") is None
    assert value(fams, "docqet_s3_bucket_replication_latency_seconds", destination_bucket="dr", rule="r") == 30
    assert samples(fams, "docqet_s3_bucket_replication_pending_bytes") == {}
    assert value(fams, "docqet_s3_bucket_info", account=ACCOUNT, bucket="empty", versioning="disabled") == 1
    periods = {q.metric: q.period for q in s3.queries([docs, empty], storage, 60)}
    assert periods["BucketSizeBytes"] == periods["NumberOfObjects"] == 86400 and periods["ReplicationLatency"] == 60


def test_daily_metrics_are_read_a_few_days_back_whatever_the_lookback() -> None:
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()
    minutely, daily = cloudwatch.plan([s3.objects_query("docs"), s3.replication_query(
        "docs", ReplicationRule("r", "dr"), "ReplicationLatency", 60)], now, delay=120, lookback_periods=2)
    assert (daily.period, daily.start, daily.end) == (86400, datetime(2026, 11, 27, tzinfo=UTC),
                                                      datetime(2026, 11, 30, tzinfo=UTC))
    assert (minutely.period, minutely.end - minutely.start) == (60, timedelta(minutes=2))


def test_hourly_by_default() -> None:
    assert Config().collectors.s3.interval_seconds == 3600


# --- against moto -------------------------------------------------------------------------------


def _config(buckets: tuple[str, ...] = ()) -> Config:
    return Config(regions=(REGION, DR), aws=AwsConfig(max_attempts=1),
                  collectors=CollectorsConfig(s3=S3CollectorConfig(buckets=buckets)))


def test_seeded_staging_values(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, ahead_minutes=5, session=aws_limits.session(), dr_region=DR)
    result = s3.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    fams = result.families
    source, replica = demo.documents_bucket(REGION), demo.replica_bucket(REGION)
    assert value(fams, "docqet_s3_bucket_info", region=REGION, bucket=source, versioning="enabled") == 1
    assert value(fams, "docqet_s3_bucket_info", region=DR, bucket=replica, versioning="enabled") == 1
    for storage_type, size in demo.S3_STORAGE_BYTES.items():
        assert value(fams, "docqet_s3_bucket_size_bytes", bucket=source, storage_type=storage_type) == size
    assert value(fams, "docqet_s3_bucket_objects", region=REGION, bucket=source) == demo.S3_OBJECTS
    rule = {"account": ACCOUNT, "region": REGION, "bucket": source, "destination_bucket": replica,
            "rule": demo.S3_REPLICATION_RULE}
    assert value(fams, "docqet_s3_bucket_replication_latency_seconds", **rule) == 42
    assert value(fams, "docqet_s3_bucket_replication_pending_operations", **rule) == 12
    assert {s.name for f in parsed(fams) for s in f.samples} == set(s3.METRIC_NAMES)
    assert sorted(p["BucketRegion"] for p in aws_limits.params["s3.ListBuckets"]) == [REGION, DR]  # one a region
    assert "s3.GetBucketLocation" not in aws_limits.calls
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 3  # daily + per-minute in the source, daily in the DR


def test_pages_of_one_and_the_bucket_filter(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=1)
    demo.seed_staging(moto_endpoint, ahead_minutes=5, dr_region=DR)
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="scratch-eu", CreateBucketConfiguration={"LocationConstraint": REGION})
    result = s3.collector(_config(), Aws(session_factory=limits.session)).collect()
    limits.assert_clean()
    assert result.errors == ()
    assert limits.calls["s3.ListBuckets"] == 2 + 1  # two buckets in eu-west-1 one a page, one in us-east-1
    assert value(result.families, "docqet_s3_bucket_info", bucket="scratch-eu", versioning="disabled") == 1
    only = s3.collector(_config(("scratch-eu",)), Aws()).collect()
    assert [dict(k)["bucket"] for k in samples(only.families, "docqet_s3_bucket_info")] == ["scratch-eu"]


def test_the_limits_layer_rejects_pages_aws_rejects(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    with pytest.raises(AssertionError, match="MaxBuckets is 1-10,000"):
        aws_limits.client("s3").list_buckets(MaxBuckets=10001)
    aws_limits.violations.clear()
