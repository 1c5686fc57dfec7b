"""The RDS/Aurora collector: pure parsing and metric building, then against moto with the real AWS limits."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from aws_limits import AwsLimits
from helpers import parsed, samples, value

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AwsCollectorConfig, AwsConfig, CollectorsConfig, Config
from docqet_monitor.core.discovery.rds import DbCluster, DbInstance, parse_cluster, parse_instance
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import rds

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account of the default credentials
RESTORABLE = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RAW_CLUSTER = {
    "DBClusterIdentifier": "main", "Engine": "aurora-postgresql", "EngineVersion": "15.4", "Status": "available",
    "BackupRetentionPeriod": 7, "LatestRestorableTime": RESTORABLE,
    "DBClusterMembers": [{"DBInstanceIdentifier": "main-1", "IsClusterWriter": True},
                         {"DBInstanceIdentifier": "main-2", "IsClusterWriter": False},
                         {"IsClusterWriter": False}],
}


# --- pure ---------------------------------------------------------------------------------------


def test_parse_cluster_reads_members_and_backups() -> None:
    cluster = parse_cluster(RAW_CLUSTER)
    assert cluster == DbCluster("main", "aurora-postgresql", "15.4", "available", 7, RESTORABLE.timestamp(),
                                    writers=frozenset({"main-1"}), readers=frozenset({"main-2"}))


def test_parse_tolerates_missing_fields() -> None:
    assert parse_cluster({"Engine": "aurora-postgresql"}) is None
    assert parse_cluster({"DBClusterIdentifier": "x", "LatestRestorableTime": "yesterday"}) == DbCluster("x")
    assert parse_instance({"DBInstanceIdentifier": "standalone"}) is None  # not in a cluster
    assert parse_instance({"DBInstanceIdentifier": "i", "DBClusterIdentifier": "c"}) == DbInstance("i", "c")


def test_families_convert_units_and_label_roles() -> None:
    cluster = parse_cluster(RAW_CLUSTER)
    assert cluster is not None
    writer, reader = DbInstance("main-1", "main", "db.r6g.large", "available"), DbInstance("main-2", "main")
    stray = DbInstance("main-9", "main")  # not (yet) a cluster member: its role is unknown
    values = {rds._instance_query("main-1", "CPUUtilization", 60): 35.0,
              rds._instance_query("main-2", "AuroraReplicaLag", 60): 18.0,
              rds._instance_query("main-1", "FreeableMemory", 60): 1024.0,
              rds._instance_query("main-9", "CPUUtilization", 60): 99.0,
              rds._volume("main", 60): 5e9}
    fams = rds.families(ACCOUNT, REGION, [cluster], [writer, reader, stray], values, 60)
    assert value(fams, "docqet_rds_instance_cpu_utilization_ratio", db_instance="main-1", role="writer") == 0.35
    assert value(fams, "docqet_rds_instance_replica_lag_seconds", db_instance="main-2", role="reader") == 0.018
    assert value(fams, "docqet_rds_instance_freeable_memory_bytes", db_instance="main-1") == 1024
    assert value(fams, "docqet_rds_instance_replica_lag_seconds", db_instance="main-1") is None  # writers have none
    assert value(fams, "docqet_rds_cluster_volume_bytes_used", db_cluster="main") == 5e9
    assert value(fams, "docqet_rds_cluster_backup_retention_seconds", db_cluster="main") == 7 * 86400
    assert value(fams, "docqet_rds_cluster_latest_restorable_timestamp_seconds") == RESTORABLE.timestamp()
    assert {dict(k)["db_instance"] for k in samples(fams, "docqet_rds_instance_info")} == {"main-1", "main-2"}
    assert value(fams, "docqet_rds_instance_info", db_instance="main-1", instance_class="db.r6g.large",
                 status="available", region=REGION, db_cluster="main") == 1


def test_missing_cluster_fields_give_no_series() -> None:
    fams = rds.families(ACCOUNT, REGION, [DbCluster("bare")], [], {}, 60)
    assert samples(fams, "docqet_rds_cluster_latest_restorable_timestamp_seconds") == {}
    assert samples(fams, "docqet_rds_cluster_backup_retention_seconds") == {}
    assert value(fams, "docqet_rds_cluster_info", db_cluster="bare", engine="", status="") == 1


# --- against moto -------------------------------------------------------------------------------


def _config(regions: tuple[str, ...] = (REGION,), clusters: tuple[str, ...] = ()) -> Config:
    return Config(regions=regions, aws=AwsConfig(max_attempts=1),
                  collectors=CollectorsConfig(rds=AwsCollectorConfig(clusters=clusters)))


def test_seeded_staging_values(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, ahead_minutes=5, session=aws_limits.session())
    result = rds.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    fams = result.families
    writer = {"account": ACCOUNT, "region": REGION, "db_cluster": "docqet-staging", "db_instance": "docqet-staging-1",
              "role": "writer"}
    reader = {**writer, "db_instance": "docqet-staging-2", "role": "reader"}
    assert value(fams, "docqet_rds_cluster_info", engine="aurora-postgresql", engine_version="15.4") == 1
    assert value(fams, "docqet_rds_cluster_backup_retention_seconds") == demo.BACKUP_RETENTION_DAYS * 86400
    assert value(fams, "docqet_rds_cluster_volume_bytes_used") == demo.AURORA_VOLUME_BYTES
    restorable = value(fams, "docqet_rds_cluster_latest_restorable_timestamp_seconds")
    assert restorable is not None and abs(restorable - datetime.now(UTC).timestamp()) < 3600
    assert value(fams, "docqet_rds_instance_cpu_utilization_ratio", **writer) == pytest.approx(0.35)
    assert value(fams, "docqet_rds_instance_database_connections", **reader) == 20
    assert value(fams, "docqet_rds_instance_replica_lag_seconds", **reader) == pytest.approx(0.018)
    assert value(fams, "docqet_rds_instance_write_latency_seconds", **writer) == pytest.approx(0.0021)
    assert value(fams, "docqet_rds_instance_free_local_storage_bytes", **writer) == 30 * demo.GIB
    assert value(fams, "docqet_rds_instance_deadlocks_per_second", **reader) == 0
    assert {s.name for f in parsed(fams) for s in f.samples} == set(rds.METRIC_NAMES)
    assert [p["MaxRecords"] for p in aws_limits.params["rds.DescribeDBInstances"]] == [100]


def test_pagination_is_followed(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=1)
    demo.seed_staging(moto_endpoint, ahead_minutes=5)
    client = boto3.client("rds")
    client.create_db_cluster(DBClusterIdentifier="analytics", Engine="aurora-postgresql",
                             MasterUsername="u", MasterUserPassword="password-123")
    client.create_db_instance(DBInstanceIdentifier="analytics-1", DBClusterIdentifier="analytics",
                              Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    result = rds.collector(_config(), Aws(session_factory=limits.session)).collect()
    limits.assert_clean()
    assert result.errors == ()
    assert limits.calls["rds.DescribeDBClusters"] == 2
    assert limits.calls["rds.DescribeDBInstances"] == 3
    assert len(samples(result.families, "docqet_rds_instance_info")) == 3


def test_configured_clusters_and_two_regions(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, REGION, ahead_minutes=5)
    demo.seed_staging(moto_endpoint, "us-east-1", ahead_minutes=5)
    boto3.client("rds", region_name="us-east-1").create_db_cluster(
        DBClusterIdentifier="scratch", Engine="aurora-postgresql", MasterUsername="u",
        MasterUserPassword="password-123")
    result = rds.collector(_config((REGION, "us-east-1"), clusters=("docqet-staging",)),
                           Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    info = [dict(k) for k in samples(result.families, "docqet_rds_cluster_info")]
    assert sorted((i["region"], i["db_cluster"]) for i in info) == [("eu-west-1", "docqet-staging"),
                                                                 ("us-east-1", "docqet-staging")]
    lag = samples(result.families, "docqet_rds_instance_replica_lag_seconds")
    assert {dict(k)["region"] for k in lag} == {REGION, "us-east-1"}
