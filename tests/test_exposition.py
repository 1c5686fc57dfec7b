"""The exposition of a real run against seeded moto: promtool has nothing to say, and every collector exports
exactly the metric names it declares (the names dashboards and alert lint check against)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from aws_limits import AwsLimits
from helpers import REGIONS, promtool_findings, sample_names, seed
from prometheus_client.parser import text_string_to_metric_families

from docqet_monitor import __version__
from docqet_monitor.core import stats
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.stats import Stats
from docqet_monitor.demo.edge import seed_edge
from docqet_monitor.exporters import collectors, cost, qdrant
from docqet_monitor.exporters.metrics import Collection, render
from docqet_monitor.exporters.server import Exporter


@pytest.fixture
def staging(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.chdir(tmp_path)  # collectors with a cache write it here
    seed_edge(moto_endpoint, REGIONS[0])  # CloudFront, Route 53, API Gateway, WAF (global ones in us-east-1)
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
    found = [s for f in text_string_to_metric_families(body.decode()) for s in f.samples]
    # Prometheus's target labels stay Prometheus's: no honor_labels needed in the scrape config
    assert not [s for s in found if {"instance", "job"} & set(s.labels)]
    # every series built from AWS data names its account (moto's default account here)
    aws_series = [s for s in found if s.name.startswith(("docqet_ecs_", "docqet_rds_"))]
    assert aws_series and {s.labels.get("account") for s in aws_series} == {"123456789012"}
    assert [s.labels for s in found if s.name == "docqet_exporter_account_info"] == [
        {"account": "123456789012", "name": "default"}]
    assert aws_limits.calls["sts.GetCallerIdentity"] == 1  # once per process, whatever the targets


def test_each_collector_exports_exactly_its_declared_names(staging: Config, aws_limits: AwsLimits) -> None:
    """A collector named X lives in exporters/X.py and declares X.METRIC_NAMES."""
    built = collectors.build(staging, Aws(staging.aws, Stats(), session_factory=aws_limits.session))
    assert {c.name for c in built} >= {"ecs", "rds"}
    declared_all = set(stats.METRIC_NAMES)
    for collector in built:
        declared = set(importlib.import_module(f"docqet_monitor.exporters.{collector.name}").METRIC_NAMES)
        declared_all |= declared
        result: Collection = collector.collect()
        assert result.errors == (), collector.name
        assert sample_names(render(result.families)) == declared, collector.name
        if collector.name in ("ecs", "rds"):  # seeded in every region (the edge: in one, or global)
            regions = {s.labels.get("region") for f in result.families for s in f.samples}
            assert regions == set(REGIONS), collector.name
    assert collectors.exported_metric_names() == declared_all | set(cost.METRIC_NAMES) | set(qdrant.METRIC_NAMES)


def test_self_metrics_are_the_declared_names() -> None:
    s = Stats(version="1.0")
    s.register("ecs")
    s.name_account("123456789012", "default")
    s.record_run("ecs", True, 1.0, 0.5)
    s.count_request("ecs", "ListClusters", "ThrottlingException")
    s.add_cost(0.01)
    assert sample_names(render(s.families())) == set(stats.METRIC_NAMES)
    assert promtool_findings(render(s.families())) == ""
