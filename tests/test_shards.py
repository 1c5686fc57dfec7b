"""Shards: N exporters split the work with no coordination. The union of their expositions is the unsharded
exposition (same series, same values, none twice), each makes about 1/N of the AWS calls, global collectors
run on shard 1 only, and self-metrics say which shard they are from."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import boto3
import pytest
from aws_limits import AwsLimits
from helpers import REGIONS, Samples, exposition_samples, promtool_findings, seed

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config, CostCollectorConfig, parse
from docqet_monitor.core.shard import Shard
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.server import Exporter

SELF = "docqet_exporter_"
RESTORABLE = "docqet_rds_cluster_latest_restorable_timestamp_seconds"  # moto says "now": changes every read
# (service.Operation) whose calls a shard makes for its own resources only; discovery (listing the clusters,
# describing every RDS cluster and instance to find its own) and the account id are every shard's
SPLIT = ("ecs.ListServices", "ecs.DescribeServices")
REPEATED = ("ecs.ListClusters", "rds.DescribeDBClusters", "rds.DescribeDBInstances")


# --- the hash (pure) ------------------------------------------------------------------------------


def test_parse_accepts_k_of_n_and_names_what_is_expected() -> None:
    assert Shard.parse("2/3") == Shard(2, 3, sharded=True)
    assert Shard.parse("2/3").label == "2/3" and Shard.parse("").label == ""
    assert Shard.parse("1/1").sharded and not Shard.parse("").sharded
    for bad in ("0/2", "3/2", "1/0", "x", "2", "-1/2", "1/2/3", "1.5/2"):
        with pytest.raises(ValueError, match="expected K/N with 1 <= K <= N"):
            Shard.parse(bad)


def test_every_key_has_exactly_one_owner_and_the_shares_are_even() -> None:
    keys = [("123456789012", region, "ecs", f"cluster-{i}") for region in REGIONS for i in range(300)]
    for n in (1, 2, 3, 5):
        owners = Counter(next(k for k in range(1, n + 1) if Shard(k, n).owns(*key)) for key in keys)
        assert sum(owners.values()) == len(keys)
        assert all(sum(Shard(k, n).owns(*key) for k in range(1, n + 1)) == 1 for key in keys)
        assert min(owners.values()) > 0.7 * len(keys) / n  # no shard gets much less than its share


def test_the_owner_is_a_fixed_function_of_the_key() -> None:
    """sha256, not Python's salted hash(): the same answer in every process, on every host, in every version."""
    assert [k for k in (1, 2, 3) if Shard(k, 3).owns("123456789012", "eu-west-1", "ecs", "docqet-staging")] == [
        int.from_bytes(__import__("hashlib").sha256(b"123456789012/eu-west-1/ecs/docqet-staging").digest()[:8],
                       "big") % 3 + 1]


def test_config_and_option_reject_a_bad_shard(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from docqet_monitor.cli import main
    from docqet_monitor.core.config import ConfigError

    with pytest.raises(ConfigError, match=r"exporter\.shard: expected K/N"):
        parse({"exporter": {"shard": "3/2"}})
    assert parse({"exporter": {"shard": "2/3"}}).exporter.shard == "2/3"
    result = CliRunner().invoke(main, ["exporter", "once", "--shard", "0/4"])
    assert result.exit_code == 2 and "Invalid value for '--shard': expected K/N" in result.output
    config = tmp_path / "c.yaml"
    config.write_text('exporter:\n  shard: "5/4"\n')
    result = CliRunner().invoke(main, ["--config", str(config), "exporter", "serve"])
    assert result.exit_code == 2 and "exporter.shard: expected K/N" in result.output


# --- against moto ---------------------------------------------------------------------------------


@pytest.fixture
def topology(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """Staging in two regions plus, in each, four more ECS clusters (two services each) and an Aurora cluster."""
    monkeypatch.chdir(tmp_path)
    config = seed(moto_endpoint)
    for region in REGIONS:
        ecs, rds = boto3.client("ecs", region_name=region), boto3.client("rds", region_name=region)
        ecs.register_task_definition(family="t", containerDefinitions=[{"name": "t", "image": "t", "memory": 64}])
        for i in range(4):
            ecs.create_cluster(clusterName=f"batch-{i}")
            for name in ("ingest", "render"):
                ecs.create_service(cluster=f"batch-{i}", serviceName=name, taskDefinition="t", desiredCount=i + 1)
        rds.create_db_cluster(DBClusterIdentifier="analytics", Engine="aurora-postgresql", MasterUsername="u",
                              MasterUserPassword="password-123")
        rds.create_db_instance(DBInstanceIdentifier="analytics-1", DBClusterIdentifier="analytics",
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    return config


def _run(config: Config, shard: str) -> tuple[Samples, AwsLimits]:
    """One exporter (shard ``shard``, "" for none) refreshed once: its exposition and its AWS calls."""
    limits = AwsLimits()
    config = dataclasses.replace(config, exporter=dataclasses.replace(config.exporter, shard=shard))
    stats = Stats(shard=Shard.parse(shard).label)
    exporter = Exporter(collectors.build(config, Aws(config.aws, stats, session_factory=limits.session)), stats)
    assert all(exporter.refresh_all().values())
    limits.assert_clean()
    body = exporter.snapshot().body
    assert promtool_findings(body) == ""
    return exposition_samples(body.decode()), limits


def _data(samples: Samples) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    """The series built from AWS data (self-metrics aside, account_info in), each counted."""
    return Counter(key for key in samples if not key[0].startswith(SELF) or key[0] == f"{SELF}account_info")


def _values(samples: Samples) -> dict[tuple[str, tuple[tuple[str, str], ...]], object]:
    return {k: "set" if k[0] == RESTORABLE else v for k, v in samples.items() if k in _data(samples)}


def test_the_union_of_the_shards_is_the_unsharded_exposition(topology: Config) -> None:
    whole, whole_calls = _run(topology, "")
    assert len({dict(labels)["cluster"] for name, labels in _data(whole) if name == "docqet_ecs_service_info"}) == 5
    for n in (1, 2, 3):
        parts = [_run(topology, f"{k}/{n}") for k in range(1, n + 1)]
        union: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        for samples, _ in parts:
            union.update(_data(samples))
        assert union == _data(whole), f"{n} shards"  # the same series, none twice
        merged = {k: v for samples, _ in parts for k, v in _values(samples).items()}
        assert merged == _values(whole), f"{n} shards"  # the same values
        if n > 1:
            assert all(_data(samples) for samples, _ in parts), "every shard has a share"
        for op in SPLIT:  # the calls for a shard's own clusters: together exactly the unsharded ones
            assert sum(calls.calls[op] for _, calls in parts) == whole_calls.calls[op], op
        for op in REPEATED:  # discovery: every shard lists what there is to find its own share
            assert all(calls.calls[op] == whole_calls.calls[op] for _, calls in parts), op
        for _, calls in parts:  # one batched read per region and collector at most, as unsharded
            assert calls.calls["cloudwatch.GetMetricData"] <= whole_calls.calls["cloudwatch.GetMetricData"]


def test_self_metrics_carry_the_shard_and_account_info_is_shard_1s(topology: Config) -> None:
    whole, _ = _run(topology, "")
    assert not [k for k in whole if k[0].startswith(SELF) and "shard" in dict(k[1])]  # nothing changes unsharded
    first, second = (_run(topology, f"{k}/2")[0] for k in (1, 2))
    for samples, label in ((first, "1/2"), (second, "2/2")):
        own = [dict(labels) for name, labels in samples if name.startswith(SELF) and name != f"{SELF}account_info"]
        assert own and all(labels["shard"] == label for labels in own)
        assert samples[(f"{SELF}collector_up", (("collector", "ecs"), ("shard", label)))] == 1
    assert [k for k in first if k[0] == f"{SELF}account_info"] == [
        (f"{SELF}account_info", (("account", "123456789012"), ("name", "default")))]
    assert not [k for k in second if k[0] == f"{SELF}account_info"]


def test_global_collectors_run_on_shard_1_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = dataclasses.replace(Config(regions=REGIONS), collectors=dataclasses.replace(
        Config().collectors, cost=CostCollectorConfig(enabled=True)))

    def names(shard: str) -> list[str]:
        sharded = dataclasses.replace(config, exporter=dataclasses.replace(config.exporter, shard=shard))
        return [c.name for c in collectors.build(sharded, Aws(config.aws))]

    assert "cost" in names("") and "cost" in names("1/3") and "cost" in names("1/1")
    assert "cost" not in names("2/3") and "cost" not in names("3/3")
    assert {"ecs", "rds"} <= set(names("3/3"))
