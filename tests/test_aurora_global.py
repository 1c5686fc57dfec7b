"""The Aurora Global collector: pure parsing and metric building, then against moto with the real AWS limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import boto3
from aws_limits import AwsLimits
from helpers import parsed, samples, value

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import (
    AccountConfig,
    AuroraGlobalCollectorConfig,
    AwsConfig,
    CollectorsConfig,
    Config,
    ExporterConfig,
)
from docqet_monitor.core.discovery import Target
from docqet_monitor.core.discovery.aurora_global import GlobalCluster, GlobalMember, parse_global_cluster
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import aurora_global, collectors
from docqet_monitor.exporters.cloudwatch import MetricQuery

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
    fams = aurora_global.families(ACCOUNT, [cluster], {DR: values}, 60)
    assert value(fams, "docqet_rds_cluster_global_rpo_lag_seconds", region=DR, db_cluster="main-dr") == 4200
    assert samples(fams, "docqet_rds_cluster_global_replication_lag_seconds") == {}
    assert value(fams, "docqet_rds_global_cluster_member_info", global_cluster="g", region=REGION,
                 db_cluster="main", role="primary") == 1
    assert value(fams, "docqet_rds_global_cluster_info", account=ACCOUNT, global_cluster="g",
                 engine_version="15.4") == 1


def test_one_target_per_account_in_its_first_region_lists_the_accounts_regions() -> None:
    role = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet", regions=("ap-south-1", DR))
    config = Config(regions=(REGION, DR), accounts=(role,))
    assert aurora_global.account_targets(config) == {Target(REGION): (REGION, DR),
                                                     Target("ap-south-1", role): ("ap-south-1", DR)}


class _Api:
    def __init__(self, clusters: list[GlobalCluster]) -> None:
        self.clusters, self.calls = clusters, 0

    def global_clusters(self) -> list[GlobalCluster]:
        self.calls += 1
        return self.clusters


def test_global_clusters_are_listed_once_and_lag_read_in_each_secondarys_region() -> None:
    cluster = parse_global_cluster(RAW)
    assert cluster is not None
    asia = GlobalCluster("h", "aurora-postgresql", "15.4", (GlobalMember("h-main", REGION, "primary"),
                                                            GlobalMember("h-dr", "ap-south-1", "secondary")))
    api, reads = _Api([cluster, asia]), []

    def read(region: str, queries: Sequence[MetricQuery]) -> dict[MetricQuery, float]:
        reads.append((region, len(queries)))
        return {q: 60_000.0 for q in queries}

    fams = aurora_global.scrape(api, read, ACCOUNT, (REGION, DR, "ap-south-1"), (), 60)
    assert api.calls == 1  # once per account, whatever the regions
    assert reads == [(DR, 2), ("ap-south-1", 2)]  # only where a secondary is; both lag metrics in one batch
    assert value(fams, "docqet_rds_cluster_global_rpo_lag_seconds", region="ap-south-1", db_cluster="h-dr") == 60
    assert len(samples(fams, "docqet_rds_global_cluster_info")) == 2
    assert aurora_global.scrape(_Api([cluster]), read, ACCOUNT, (REGION,), ("other",), 60) == []


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
    assert {s.name for f in parsed(fams) for s in f.samples} == set(aurora_global.METRIC_NAMES)
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 1  # the DR region only: the primary's has no lag
    assert aws_limits.calls["rds.DescribeGlobalClusters"] == 1  # once for the account, not once per region


def test_only_shard_1_reads_global_databases() -> None:
    config = dataclasses.replace(_config(), exporter=ExporterConfig(shard="2/2"))
    assert aurora_global.collector(_config(), Aws()).global_data
    assert "aurora_global" not in {c.name for c in collectors.build(config, Aws())}
    assert "aurora_global" in {c.name for c in collectors.build(dataclasses.replace(
        config, exporter=ExporterConfig(shard="1/2")), Aws())}


def test_pages_of_one_and_the_filter(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=1)
    demo.seed_staging(moto_endpoint, ahead_minutes=5, dr_region=DR)
    boto3.client("rds", region_name=REGION).create_global_cluster(GlobalClusterIdentifier="lonely",
                                                                  Engine="aurora-postgresql")
    result = aurora_global.collector(_config(), Aws(session_factory=limits.session)).collect()
    limits.assert_clean()
    assert result.errors == ()
    assert limits.calls["rds.DescribeGlobalClusters"] == 2  # once for the account, one global cluster a page
    assert len(samples(result.families, "docqet_rds_global_cluster_info")) == 2
    only = aurora_global.collector(_config(("lonely",)), Aws()).collect()
    assert samples(only.families, "docqet_rds_global_cluster_member_info") == {}
