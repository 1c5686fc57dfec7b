"""The exposition of a real run against seeded moto: promtool has nothing to say, and every collector exports
exactly the metric names it declares (the names dashboards and alert lint check against)."""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path

import pytest
from aws_limits import AwsLimits
from helpers import REGIONS, parsed, promtool_findings, sample_names, seed
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from docqet_monitor import __version__
from docqet_monitor.core import stats
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.stats import Stats
from docqet_monitor.demo.edge import seed_edge
from docqet_monitor.exporters import collectors, cost, qdrant
from docqet_monitor.exporters.metrics import Collection, dedupe, gauge, render, rendered
from docqet_monitor.exporters.server import Exporter

EDGE = ("cloudfront", "route53", "apigateway", "waf")
COLLECTOR_MODULES = ("ecs", "rds", "elasticache", "alb", "s3", "aurora_global", *EDGE, "qdrant", "cost")

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
    aws_series = [s for s in found if not s.name.startswith(("docqet_exporter_", "docqet_cost_", "docqet_qdrant_"))]
    assert {s.name.split("_")[1] for s in aws_series} >= {"ecs", "rds", *EDGE}
    assert {s.labels.get("account") for s in aws_series} == {"123456789012"}
    assert [s.labels for s in found if s.name == "docqet_exporter_account_info"] == [
        {"account": "123456789012", "name": "default"}]
    assert aws_limits.calls["sts.GetCallerIdentity"] == 1  # once per process, whatever the targets
    parts = [part.names for part in exporter.snapshot().parts]
    assert len(parts) == len(exporter.collectors) + 1  # one per collector, then the self-metrics
    assert sum(map(len, parts)) == len(frozenset().union(*parts))  # a family lives in one part
    families = [f.name for f in text_string_to_metric_families(body.decode())]
    assert len(families) == len(set(families))  # never split over two parts


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
        if collector.name not in EDGE:  # seeded in every region (the edge: in one, or global)
            regions = {s.labels.get("region") for f in parsed(result.families) for s in f.samples}
            assert regions - {None} == set(REGIONS), collector.name  # None: global ones
    assert collectors.exported_metric_names() == declared_all | set(cost.METRIC_NAMES) | set(qdrant.METRIC_NAMES)


def test_self_metrics_are_the_declared_names() -> None:
    s = Stats(version="1.0")
    s.register("ecs")
    s.name_account("123456789012", "default")
    s.record_run("ecs", True, 1.0, 0.5)
    s.count_request("ecs", "ListClusters", "ThrottlingException")
    s.add_cost(0.01)
    s.watch_processes({"exporter": os.getpid()})  # `exporter serve`'s processes: the standard process metrics
    s.cpu_limit, s.memory_limit = 0.5, 2**30  # a container with limits
    assert sample_names(render(s.families())) == set(stats.METRIC_NAMES)
    assert promtool_findings(render(s.families())) == ""


def test_no_two_collector_modules_declare_the_same_family() -> None:
    """The exporter renders each collector's families as its own part of the exposition: a family must belong to
    one collector (or to the self-metrics), never be split across parts."""
    modules = [stats, *(importlib.import_module(f"docqet_monitor.exporters.{name}") for name in COLLECTOR_MODULES)]
    declared = [name for module in modules for name in module.METRIC_NAMES]
    assert len(declared) == len(set(declared))
    assert set(declared) == collectors.exported_metric_names()  # every collector module is in the list


def _odd_families() -> list[Metric]:
    odd = GaugeMetricFamily("docqet_test_odd", "Help with \\ and\na newline.", labels=["z", "a"])
    for v in (0, 1, -1, 1.5, 999999.99, 1e6, 123456789.0, 1e20, -1e20, math.inf, -math.inf, math.nan, -0.0, 5e-324):
        odd.add_metric([f"v{v}", 'q"u\\o\nte'], v)
    odd.add_metric(["dup", "x"], 7)
    again = GaugeMetricFamily("docqet_test_odd", "Another help.", labels=["a", "z"])
    again.add_metric(["x", "dup"], 8)  # the same series (labels in another order): the first one wins
    again.add_metric(["y", "dup"], 9)
    counter = CounterMetricFamily("docqet_test_requests", "Requests.", labels=["op"])
    counter.add_metric(["get"], 3)
    created = CounterMetricFamily("docqet_test_created", "With _created.", labels=["op"], created=5.0)
    histogram = HistogramMetricFamily("docqet_test_seconds", "A histogram.", labels=["op"])
    histogram.add_metric(["get"], [("0.5", 2), ("+Inf", 3)], 4)
    info = InfoMetricFamily("docqet_test_build", "Info.")
    info.add_metric([], {"version": "1"})
    untyped = Metric("docqet_test_untyped", "Untyped.", "unknown")
    untyped.add_sample("docqet_test_untyped", {}, 1, timestamp=12.5)
    bare = GaugeMetricFamily("docqet_test_bare", "No labels.", value=3)
    return [odd, counter, again, created, histogram, info, untyped, bare]


class _Registry:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def test_render_writes_what_prometheus_client_writes() -> None:
    """The exporter's own text writer (about 4x faster) gives prometheus_client's bytes, duplicates removed."""
    families = _odd_families()
    body = render(families)
    assert body == generate_latest(_Registry(dedupe(families)))  # type: ignore[arg-type]
    assert body.count(b"# TYPE docqet_test_odd gauge") == 1
    assert b'docqet_test_odd{a="x",z="dup"} 7.0' in body and b"8.0" not in body
    assert promtool_findings(body) == ""


def test_gauge_writes_what_prometheus_client_writes_of_its_gauge() -> None:
    """``gauge`` writes the text (and knows the common labels) without building prometheus_client's family: the
    same bytes as its rendering, for odd values and label values, a repeated series, unsorted label names, no
    labels and no samples."""
    odd = [(0,), (1,), (-1,), (1.5,), (999999.99,), (1e6,), (123456789.0,), (1e20,), (-1e20,), (math.inf,),
           (-math.inf,), (math.nan,), (-0.0,), (5e-324,)]
    cases = [("docqet_test_odd", "Help with \\ and\na newline.", ("z", "a", "m"),
              [((f"v{v}", 'q"u\\o\nte', "{x} 1"), v) for (v,) in odd] + [(("v0", 'q"u\\o\nte', "{x} 1"), 7)]),
             ("docqet_test_bare", "No labels.", (), [((), 3)]),
             ("docqet_test_empty", "No series.", ("a",), [])]
    for name, documentation, labels, samples in cases:
        family = GaugeMetricFamily(name, documentation, labels=list(labels))
        for values, value in samples:
            family.add_metric(list(values), value)
        expected, got = rendered([family])[0], gauge(name, documentation, labels, samples)
        assert (got.header, got.text) == (expected.header, expected.text)
    assert gauge(*cases[0]).text.count(b"\n") == len(odd)  # the repeated series once, with its first value
    assert gauge(*cases[0]).common == (("a", 'q"u\\o\nte'), ("m", "{x} 1"))
    with pytest.raises(ValueError, match="not a legacy"):
        gauge("docqet-bad", "x", ("a",), [])


def test_families_rendered_apart_join_as_one_render_of_them_all() -> None:
    """An AWS collector renders each target's families when its scrape ends; joined, they are prometheus_client's
    render of all of them at once: a repeated series dropped (first one wins) where two targets' families may
    share series, also when a label value holds a space, a brace, a quote or a carriage return."""
    odd = ['a} 1', 'b{c="d"} 2', "e\rf", 'q"u\\o\nte', ""]
    targets = [("1", "eu", odd), ("2", "eu", odd), ("1", "eu", [*odd, "new"]), ("1", "us", odd[:2])]
    per_target = [[("docqet_test_x", f"Help {t}.", ("region", "account", "v"),
                    [((region, account, v), 10.0 * t + k) for k, v in enumerate(values)]),
                   ("docqet_test_y", "Y.", ("v",), [((v,), float(t)) for v in values])]  # no common label
                  for t, (account, region, values) in enumerate(targets)]
    joined = render([gauge(*family) for families in per_target for family in families])
    metrics = []
    for name, documentation, labels, samples in (family for families in per_target for family in families):
        metrics.append(GaugeMetricFamily(name, documentation, labels=list(labels)))
        for values, value in samples:
            metrics[-1].add_metric(list(values), value)
    assert joined == generate_latest(_Registry(dedupe(metrics)))  # type: ignore[arg-type]
    assert joined.count(b"docqet_test_x{") == 5 + 5 + 1 + 2 and joined.count(b"docqet_test_y{") == 5 + 1
    assert promtool_findings(joined) == ""


def test_families_whose_common_labels_differ_join_as_one_render_of_them_all() -> None:
    """Families told apart only by a label some of them lack a common value for (``db``), or not at all, join as
    prometheus_client renders them all at once."""
    per_target = [(("region", "db"), [(("eu", "a"), 1.0), (("eu", "a"), 9.0)]),  # a repeated series in one family
                  (("region", "db"), [(("us", "a"), 2.0), (("us", "b"), 3.0)]),
                  (("region", "db"), [(("eu", "b"), 4.0)]),  # region as the first one's, db apart
                  (("region", "db"), [(("eu", "a"), 5.0), (("eu", "c"), 6.0)])]  # shares a series with the first
    joined = render([gauge("docqet_test_z", "Z.", labels, samples) for labels, samples in per_target])
    metrics = []
    for labels, samples in per_target:
        metrics.append(GaugeMetricFamily("docqet_test_z", "Z.", labels=list(labels)))
        for values, value in samples:
            metrics[-1].add_metric(list(values), value)
    assert joined == generate_latest(_Registry(dedupe(metrics)))  # type: ignore[arg-type]
    assert b'db="a",region="eu"} 1.0' in joined and b"5.0" not in joined and b"9.0" not in joined
    assert b'db="c",region="eu"} 6.0' in joined and b'db="b",region="eu"} 4.0' in joined
