"""The Aurora Global collector: pure parsing and metric building, then against moto with the real AWS limits."""

from __future__ import annotations

import boto3
from aws_limits import AwsLimits
from helpers import samples, value

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AuroraGlobalCollectorConfig, AwsConfig, CollectorsConfig, Config
from docqet_monitor.core.discovery.aurora_global import GlobalCluster, GlobalMember, parse_global_cluster
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import aurora_global

REGION, DR = "eu-west-1", "us-east-1"
ACCOUNT = "123456789012"  # moto's
RAW = {"GlobalClusterIdentifier": "g", "Engine": "aurora-postgresql", "EngineVersion": "15.4",
       "GlobalClusterMembers": [
           {"DBClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:main", "IsWriter": True},
           {"DBClusterArn": "arn:aws:rds:us-east-1:123456789012:cluster:main-dr", "IsWriter": False},
           {"DBClusterArn": "not-an-arn", "IsWriter": False}, {"IsWriter": True}]}


# --- pure ---------------------------------------------------------------------------------------


def test_parse_takes_region_and_cluster_from_member_arns() -> None:
    assert parse_global_cluster(RAW) == GlobalCluster("g", "aurora-postgresql", "15.4", (
        GlobalMember("main", "eu-west-1", "primary"), GlobalMember("main-dr", "us-east-1", "secondary")))
    assert parse_global_cluster({"Engine": "aurora-postgresql"}) is None


def test_lag_is_read_in_the_secondarys_region_only_and_converted_to_seconds() -> None:
    cluster = parse_global_cluster(RAW)
    assert cluster is not None
    assert aurora_global.queries([cluster], REGION, 60) == []  # the primary's region publishes no lag
    secondary = cluster.members[1]
    values = {aurora_global.lag_query(secondary, "AuroraGlobalDBRPOLag", 60): 4_200_000.0}
    fams = aurora_global.families(ACCOUNT, [cluster], DR, values, 60)
    assert value(fams, "docqet_rds_cluster_global_rpo_lag_seconds", region=DR, db_cluster="main-dr") == 4200
    assert samples(fams, "docqet_rds_cluster_global_replication_lag_seconds") == {}
    assert value(fams, "docqet_rds_global_cluster_member_info", global_cluster="g", region=REGION,
                 db_cluster="main", role="primary") == 1
    assert value(fams, "docqet_rds_global_cluster_info", account=ACCOUNT, global_cluster="g",
                 engine_version="15.4") == 1


def test_one_watched_region_reports_each_global_cluster() -> None:
    cluster = parse_global_cluster(RAW)
    assert cluster is not None
    assert aurora_global.reporting_region(cluster, {REGION, DR}) == REGION  # the primary's
    assert aurora_global.reporting_region(cluster, {DR, "ap-south-1"}) == DR  # else a watched member's
    assert aurora_global.reporting_region(cluster, {"sa-east-1", "ap-south-1"}) == "ap-south-1"  # else the first
    assert samples(aurora_global.families(ACCOUNT, [cluster], DR, {}, 60, {REGION, DR}),
                   "docqet_rds_global_cluster_info") == {}


# --- against moto -------------------------------------------------------------------------------


def _config(names: tuple[str, ...] = ()) -> Config:
    return Config(regions=(REGION, DR), aws=AwsConfig(max_attempts=1), collectors=CollectorsConfig(
        aurora_global=AuroraGlobalCollectorConfig(global_clusters=names)))


def test_seeded_staging_values_from_both_regions(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, ahead_minutes=5, session=aws_limits.session(), dr_region=DR)
    result = aurora_global.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    fams = result.families
    assert len(samples(fams, "docqet_rds_global_cluster_info")) == 1  # reported by the primary's region only
    assert value(fams, "docqet_rds_global_cluster_info", global_cluster=demo.GLOBAL_CLUSTER,
                 engine="aurora-postgresql") == 1
    assert sorted((dict(k)["region"], dict(k)["db_cluster"], dict(k)["role"])
                  for k in samples(fams, "docqet_rds_global_cluster_member_info")) == [
        (REGION, demo.CLUSTER, "primary"), (DR, demo.DR_CLUSTER, "secondary")]
    lag = {"account": ACCOUNT, "region": DR, "db_cluster": demo.DR_CLUSTER}
    assert value(fams, "docqet_rds_cluster_global_rpo_lag_seconds", **lag) == 1.9
    assert value(fams, "docqet_rds_cluster_global_replication_lag_seconds", **lag) == 0.85
    assert {s.name for f in fams for s in f.samples} == set(aurora_global.METRIC_NAMES)
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 1  # the DR region only: the primary's has no lag


def test_pages_of_one_and_the_filter(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=1)
    demo.seed_staging(moto_endpoint, ahead_minutes=5, dr_region=DR)
    boto3.client("rds", region_name=REGION).create_global_cluster(GlobalClusterIdentifier="lonely",
                                                                  Engine="aurora-postgresql")
    result = aurora_global.collector(_config(), Aws(session_factory=limits.session)).collect()
    limits.assert_clean()
    assert result.errors == ()
    assert limits.calls["rds.DescribeGlobalClusters"] == 2 * 2  # two a region, one a page
    assert len(samples(result.families, "docqet_rds_global_cluster_info")) == 2
    only = aurora_global.collector(_config(("lonely",)), Aws()).collect()
    assert samples(only.families, "docqet_rds_global_cluster_member_info") == {}
