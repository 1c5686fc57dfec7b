"""The exposition of a real run against seeded moto: promtool has nothing to say, and every collector exports
exactly the metric names it declares (the names dashboards and alert lint check against)."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporters import __version__, collectors, cost, qdrant, stats
from exporters.aws import Aws
from exporters.config import CollectorsConfig, Config, CostCollectorConfig
from exporters.demo import patch_moto_percentiles, seed_staging
from exporters.metrics import Collection, render
from exporters.server import Exporter
from exporters.stats import Stats
from tests.aws_limits import AwsLimits

REGIONS = ("eu-west-1", "us-east-1")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def exposition_samples(text: str) -> Samples:
    """An exposition's samples: (name, sorted label pairs) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample_names(body: bytes) -> set[str]:
    return {s.name for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def promtool_findings(body: bytes) -> str:
    """What ``promtool check metrics`` says about an exposition (empty: nothing)."""
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60,
                            check=False)
    return (result.stdout + result.stderr).decode() + ("" if result.returncode == 0 else f"exit {result.returncode}")


def seed(endpoint: str, regions: tuple[str, ...] = REGIONS) -> Config:
    """Seed the staging environment into moto in ``regions``; the config that watches them."""
    patch_moto_percentiles()  # moto's GetMetricData lacks p95; the demo teaches it
    for region in regions:
        seed_staging(endpoint, region)
    # cost (moto lacks GetCostForecast) and qdrant run against their own fixtures: tests/test_cost.py, test_qdrant.py
    return Config(environment="staging", regions=regions,
                  collectors=CollectorsConfig(cost=CostCollectorConfig(enabled=False)))


@pytest.fixture
def staging(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.chdir(tmp_path)  # collectors with a cache write it here
    return seed(moto_endpoint)


def test_full_run_passes_promtool_with_no_findings(staging: Config, aws_limits: AwsLimits) -> None:
    stats_ = Stats(version=__version__)
    aws = Aws(staging.aws, stats_, session_factory=aws_limits.session)
    exporter = Exporter(collectors.build(staging, aws), stats_)
    assert all(exporter.refresh_all().values())
    body = exporter.snapshot().body
    assert promtool_findings(body) == ""
    names = sample_names(body)
    assert "docqet_ecs_service_running_tasks" in names and "docqet_rds_instance_info" in names
    assert names <= collectors.exported_metric_names()


def test_each_collector_exports_exactly_its_declared_names(staging: Config, aws_limits: AwsLimits) -> None:
    """A collector named X lives in exporters/X.py and declares X.METRIC_NAMES."""
    built = collectors.build(staging, Aws(staging.aws, Stats(), session_factory=aws_limits.session))
    assert {c.name for c in built} >= {"ecs", "rds"}
    declared_all = set(stats.METRIC_NAMES)
    for collector in built:
        declared = set(importlib.import_module(f"exporters.{collector.name}").METRIC_NAMES)
        declared_all |= declared
        result: Collection = collector.collect()
        assert result.errors == (), collector.name
        assert sample_names(render(result.families)) == declared, collector.name
        regions = {s.labels.get("region") for f in result.families for s in f.samples}
        assert regions == set(REGIONS), collector.name
    assert collectors.exported_metric_names() == declared_all | set(cost.METRIC_NAMES) | set(qdrant.METRIC_NAMES)


def test_self_metrics_are_the_declared_names() -> None:
    s = Stats(version="1.0")
    s.register("ecs")
    s.record_run("ecs", True, 1.0, 0.5)
    s.count_request("ecs", "ListClusters", "ThrottlingException")
    s.add_cost(0.01)
    assert sample_names(render(s.families())) == set(stats.METRIC_NAMES)
    assert promtool_findings(render(s.families())) == ""
