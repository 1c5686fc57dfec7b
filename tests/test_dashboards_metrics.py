"""Every PromQL expression on every dashboard reads only series that exist: names a real exporter run exports
(seeded moto for ECS/RDS/Cost Explorer, contract-valid fake Qdrant nodes on 127.0.0.1 - one healthy, one
answering 500 - and every 3rd AWS attempt throttled, so the error counters have series too), Prometheus' own
``up``, and the SLO recording rules of the alert catalog. Then a real Prometheus, with the project's rendered
config and rules, scrapes that exporter and every dashboard query returns data."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from faults import FaultyAws, every_nth, throttled
from helpers import interpolate
from prometheus_client.parser import text_string_to_metric_families
from qdrant_fake import ROUTES_HEALTHY, FakeQdrant

from docqet_monitor import __version__
from docqet_monitor.alerts import catalog, lint, pipeline, slo
from docqet_monitor.core.config import Config, parse
from docqet_monitor.core.promql import metric_names, variable_query_expr
from docqet_monitor.core.stats import Stats
from docqet_monitor.dashboards.build import build_all
from docqet_monitor.demo.aws import seed_staging
from docqet_monitor.demo.cost_qdrant import seed_costs
from docqet_monitor.demo.edge import seed_edge
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.server import Exporter, serve

PROMETHEUS_SERIES = frozenset({"up"})  # what Prometheus records for every scrape target


@pytest.fixture
def qdrant_urls() -> Iterator[tuple[str, str]]:
    healthy, failing = FakeQdrant(ROUTES_HEALTHY), FakeQdrant({"/": "error-500", "/readyz": "error-500"})
    yield healthy.url, failing.url
    healthy.close()
    failing.close()


@pytest.fixture
def cost_forecast_restored() -> Iterator[None]:
    """seed_costs teaches moto GetCostForecast; take it back afterwards."""
    from moto.ce.responses import CostExplorerResponse

    before = CostExplorerResponse.__dict__.get("get_cost_forecast")
    yield
    if before is None:
        if "get_cost_forecast" in CostExplorerResponse.__dict__:
            delattr(CostExplorerResponse, "get_cost_forecast")
    else:
        CostExplorerResponse.get_cost_forecast = before  # type: ignore[attr-defined]


@pytest.fixture
def exporter_run(moto_endpoint: str, qdrant_urls: tuple[str, str], tmp_path: Path,
                 cost_forecast_restored: None) -> tuple[Config, Exporter]:
    """One full run of every collector against the seeded fakes (the config it ran with, the exporter)."""
    seed_staging(moto_endpoint, dr_region="us-east-1")  # the DR region: S3 replication, Aurora Global lag
    seed_edge(moto_endpoint)
    config: Config = parse({"environment": "staging", "regions": ["eu-west-1", "us-east-1"], "collectors": {
        "qdrant": {"nodes": [{"name": "main", "url": qdrant_urls[0]}, {"name": "broken", "url": qdrant_urls[1]}]},
        "cost": {"cache_path": str(tmp_path / "cost.json"), "monthly_budget_usd": 4000}}}, "test")
    seed_costs(moto_endpoint, datetime.now(UTC).date(), config.environment, config.collectors.cost.tag_key)
    stats = Stats(version=__version__)
    aws = FaultyAws(settings=config.aws, stats=stats, fault=every_nth(3, throttled))
    exporter = Exporter(collectors.build(config, aws), stats)
    stats.watch_processes({"exporter": os.getpid()})  # as `exporter serve` does (its front aside), in a
    stats.cpu_limit, stats.memory_limit = 1.0, 2**31  # container with limits
    results = exporter.refresh_all()
    assert results == {"ecs": True, "rds": True, "elasticache": True, "alb": True, "s3": True, "aurora_global": True,
                       "cloudfront": True, "route53": True, "apigateway": True, "waf": True,
                       "qdrant": False, "cost": True}  # qdrant: the broken node
    assert aws.injected
    return config, exporter


def sample_names(exporter: Exporter) -> frozenset[str]:
    body = exporter.snapshot().body.decode()
    return frozenset(s.name for family in text_string_to_metric_families(body) for s in family.samples)


def dashboard_exprs() -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, where, PromQL) of every panel query and variable query."""
    for uid, model in build_all().items():
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                yield uid, panel["title"], target["expr"]
        for variable in model["templating"]["list"]:
            if variable["type"] == "query":
                yield uid, f"${variable['name']}", variable_query_expr(variable["query"])


def test_dashboards_read_only_exported_metric_names(exporter_run: tuple[Config, Exporter]) -> None:
    names = sample_names(exporter_run[1])
    assert {"docqet_ecs_service_running_tasks", "docqet_rds_instance_replica_lag_seconds", "docqet_qdrant_up",
            "docqet_cost_month_forecast_usd", "docqet_exporter_collector_up"} <= names
    allowed = names | PROMETHEUS_SERIES | slo.recording_rule_names()
    unknown = [(uid, where, sorted(metric_names(expr) - allowed)) for uid, where, expr in dashboard_exprs()
               if metric_names(expr) - allowed]
    assert unknown == []
    assert metric_names('sum(docqet_ecs_service_runing_tasks{service=~"$service"})') - allowed  # a typo shows

    used = {name for _, _, expr in dashboard_exprs() for name in metric_names(expr)}
    assert sorted(names - used) == [], "exported but on no dashboard"


def test_what_the_collectors_declare_is_what_a_real_run_exports(exporter_run: tuple[Config, Exporter]) -> None:
    """``validate`` and the alert lint check against the declared names: they must be the real ones, and the
    alert catalog reads only those."""
    config, exporter = exporter_run
    names = sample_names(exporter)
    assert names == collectors.exported_metric_names()
    assert lint.lint(config, catalog.rules(config), names) == []


def query(prometheus_url: str, expr: str) -> list[dict[str, object]]:
    answer = requests.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def test_every_dashboard_query_returns_data_on_a_real_prometheus(exporter_run: tuple[Config, Exporter],
                                                                 tmp_path: Path) -> None:
    config, exporter = exporter_run
    httpd = serve(exporter, "127.0.0.1", 0)
    try:
        with pipeline.run(config, f"127.0.0.1:{httpd.server_address[1]}", tmp_path, interval="1s") as running:
            deadline = time.monotonic() + 60
            warm = 'count_over_time(docqet:slo_error_ratio:rate5m{slo="availability"}[1m]) >= 3'
            while not query(running.prometheus_url, warm):  # a few scrapes and rule evaluations
                assert time.monotonic() < deadline, "Prometheus has no data after 60 s"
                time.sleep(0.5)
            empty = [(uid, where, expr) for uid, where, expr in dashboard_exprs()
                     if not query(running.prometheus_url, interpolate(expr))]
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert empty == []
