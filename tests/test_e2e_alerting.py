"""End to end on 127.0.0.1: exporter (moto) -> real Prometheus -> real Alertmanager -> PagerDuty stand-in.

The rules and configs are the rendered ones with short intervals and ``for`` (test-only settings); the event
PagerDuty would receive validates against the Events API v2 request schema (tests/contracts/, from PagerDuty's docs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pagerduty_events
import pytest
import requests
import yaml

from docqet_monitor import __version__
from docqet_monitor.alerts import pipeline
from docqet_monitor.core import config as config_mod
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.stats import Stats
from docqet_monitor.demo.aws import CLUSTER, seed_staging
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.server import Exporter, serve

CONFIG = config_mod.parse({
    "environment": "staging", "regions": ["eu-west-1"],
    "collectors": {"rds": {"enabled": False}, "cost": {"enabled": False}, "qdrant": {"enabled": False}},
}, "e2e.yaml")


@contextmanager
def _paging(config: config_mod.Config, exporter_target: str, workdir: Path) -> Iterator[pipeline.Pipeline]:
    """``pipeline.run``; afterwards every body the PagerDuty stand-in received must be a valid Events v2 request."""
    with pipeline.run(config, exporter_target, workdir) as p:
        yield p
    assert {event["path"] for event in p.sink.events} <= {"/v2/enqueue"}
    for event in p.sink.events:
        pagerduty_events.validate(event["body"])


def _is(alertname: str, service: str) -> Any:
    def match(body: dict[str, Any]) -> bool:
        payload = body.get("payload", {})
        return payload.get("class") == alertname and payload.get("custom_details", {}).get("service") == service
    return match


@pytest.fixture
def exporter_target(moto_endpoint: str) -> Iterator[str]:
    """The real exporter on a free port, collecting ECS from moto where ``worker`` runs 0 of 2 tasks."""
    seed_staging(moto_endpoint, degraded=("worker",))
    stats = Stats(version=__version__)
    exp = Exporter(collectors.build(CONFIG, Aws(CONFIG.aws, stats)), stats)
    httpd = serve(exp, "127.0.0.1", 0)
    exp.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        exp.stop()


def test_service_below_desired_pages_pagerduty(exporter_target: str, tmp_path: Path) -> None:
    with _paging(CONFIG, exporter_target, tmp_path) as p:
        event = p.sink.wait_for(_is("EcsServiceTasksBelowDesired", "worker"), timeout=45)
        assert event is not None, (tmp_path / "prometheus.log").read_text()[-2000:]
        rules = requests.get(f"{p.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    pagerduty_events.validate(event)
    assert event["event_action"] == "trigger" and event["routing_key"] == pipeline.DUMMY_ROUTING_KEY
    payload = event["payload"]
    assert payload["severity"] == "critical"
    assert {k: payload["custom_details"][k] for k in ("environment", "region", "cluster", "service")} == {
        "environment": "staging", "region": "eu-west-1", "cluster": CLUSTER, "service": "worker"}
    assert payload["summary"].startswith("[staging] EcsServiceTasksBelowDesired: ECS service worker runs fewer")
    assert {link["text"] for link in event["links"]} == {"Runbook", "Dashboard"}
    assert payload["custom_details"]["dashboard_url"].endswith(  # the ECS dashboard on this service
        f"&var-region=eu-west-1&var-cluster={CLUSTER}&var-service=worker")
    assert "/d/docqet-ecs-services?viewPanel=" in payload["custom_details"]["dashboard_url"]
    # the healthy services raised nothing
    assert p.sink.wait_for(_is("EcsServiceTasksBelowDesired", "api"), timeout=0) is None
    assert {g["name"] for g in rules} >= {"docqet-ecs", "docqet-slo-recording", "docqet-slo-alerts"}


def test_two_tiers_an_agent_remote_writes_a_shard_and_the_central_prometheus_pages(
        exporter_target: str, tmp_path: Path) -> None:
    """The `prometheus-config` deployment: a Prometheus agent scrapes the exporter and remote-writes to a central
    Prometheus (remote-write receiver) that evaluates the rules and sends the page to Alertmanager."""
    with pipeline.run(CONFIG, exporter_target, tmp_path, two_tier=True) as p:
        event = p.sink.wait_for(_is("EcsServiceTasksBelowDesired", "worker"), timeout=60)
        assert event is not None, (tmp_path / "agent.log").read_text()[-2000:]
        series = requests.get(f"{p.prometheus_url}/api/v1/query", timeout=5, params={
            "query": 'docqet_ecs_service_running_tasks{service="worker"}'}).json()["data"]["result"]
    pagerduty_events.validate(event)
    assert event["payload"]["severity"] == "critical"
    # the central store holds the shard's series with the agent's external labels; it scraped nothing itself
    assert [(s["metric"]["environment"], s["metric"]["prometheus_agent"], s["value"][1]) for s in series] == [
        ("staging", "local-agent", "0")]
    assert "scrape_configs" not in yaml.safe_load((tmp_path / "prometheus.yml").read_text())


def test_alertmanager_inhibits_and_routes_by_severity(tmp_path: Path) -> None:
    """Alerts posted to the real Alertmanager: inhibited ones never reach PagerDuty, info never pages."""
    def alert(name: str, severity: str, service: str) -> dict[str, Any]:
        return {"labels": {"alertname": name, "severity": severity, "environment": "staging",
                           "region": "eu-west-1", "cluster": CLUSTER, "service": service},
                "annotations": {"summary": f"{name} on {service}"}}

    with _paging(CONFIG, "127.0.0.1:9", tmp_path) as p:
        requests.post(f"{p.alertmanager_url}/api/v2/alerts", timeout=5, json=[
            alert("EcsServiceNoRunningTasks", "critical", "api"),
            alert("EcsServiceHttpLatencyP95High", "warning", "api"),  # silenced: api runs no task
            alert("EcsServiceCpuHigh", "warning", "api"),  # silenced: a critical on the same service
            alert("EcsServiceHttpLatencyP95High", "warning", "web"),
            alert("CostDailySpendAnomaly", "info", "web"),  # info: the webhook, never a page
        ]).raise_for_status()
        critical = p.sink.wait_for(_is("EcsServiceNoRunningTasks", "api"), timeout=30)
        warning = p.sink.wait_for(_is("EcsServiceHttpLatencyP95High", "web"), timeout=30)
        assert critical is not None and warning is not None
        assert p.sink.wait_for(lambda b: b["payload"]["class"] == "CostDailySpendAnomaly", timeout=3) is None
        received = {(e["body"]["payload"]["class"], e["body"]["payload"]["custom_details"]["service"])
                    for e in p.sink.events}
    assert critical["payload"]["severity"] == "critical" and warning["payload"]["severity"] == "warning"
    assert ("EcsServiceHttpLatencyP95High", "api") not in received
    assert ("EcsServiceCpuHigh", "api") not in received


def test_warnings_can_page_a_separate_low_urgency_service(tmp_path: Path) -> None:
    """With ``pagerduty_warning_routing_key_file``, Alertmanager sends warnings with the second service's key."""
    low_urgency_key = "fedcba9876543210fedcba9876543210"
    (tmp_path / "low-urgency-key").write_text(low_urgency_key)
    config = config_mod.parse({"environment": "staging", "alerts": {"alertmanager": {
        "pagerduty_warning_routing_key_file": str(tmp_path / "low-urgency-key")}}}, "e2e.yaml")
    labels = {"environment": "staging", "region": "eu-west-1", "cluster": CLUSTER}
    with _paging(config, "127.0.0.1:9", tmp_path) as p:
        requests.post(f"{p.alertmanager_url}/api/v2/alerts", timeout=5, json=[
            {"labels": {**labels, "alertname": "EcsServiceNoRunningTasks", "severity": "critical", "service": "api"}},
            {"labels": {**labels, "alertname": "EcsServiceCpuHigh", "severity": "warning", "service": "web"}},
        ]).raise_for_status()
        critical = p.sink.wait_for(_is("EcsServiceNoRunningTasks", "api"), timeout=30)
        warning = p.sink.wait_for(_is("EcsServiceCpuHigh", "web"), timeout=30)
    assert critical is not None and warning is not None
    assert critical["routing_key"] == pipeline.DUMMY_ROUTING_KEY and critical["payload"]["severity"] == "critical"
    assert warning["routing_key"] == low_urgency_key and warning["payload"]["severity"] == "warning"
    pagerduty_events.validate(warning)


def test_a_group_without_a_common_summary_or_link_still_has_both(tmp_path: Path) -> None:
    """Two Aurora instances in one group (no service label): the title names one and the count; the
    dashboard link is the first one's."""
    def alert(instance: str) -> dict[str, Any]:
        return {"labels": {"alertname": "AuroraFreeableMemoryLow", "severity": "warning", "environment": "staging",
                           "region": "eu-west-1", "cluster": "docqet-aurora", "instance": instance},
                "annotations": {"summary": f"Aurora instance {instance} is low on memory",
                                "dashboard_url": f"https://grafana.test/d/docqet-aurora-postgresql?var-x={instance}"}}

    with _paging(CONFIG, "127.0.0.1:9", tmp_path) as p:
        requests.post(f"{p.alertmanager_url}/api/v2/alerts", timeout=5,
                      json=[alert("docqet-aurora-1"), alert("docqet-aurora-2")]).raise_for_status()
        event = p.sink.wait_for(lambda b: b["payload"]["class"] == "AuroraFreeableMemoryLow", timeout=30)
    assert event is not None
    assert re.fullmatch(r"\[staging\] AuroraFreeableMemoryLow: Aurora instance docqet-aurora-[12] is low on memory "
                        r"\(2 firing\)", event["payload"]["summary"]), event["payload"]["summary"]
    dashboard = next(link["href"] for link in event["links"] if link["text"] == "Dashboard")
    assert re.fullmatch(r"https://grafana.test/d/docqet-aurora-postgresql\?var-x=docqet-aurora-[12]", dashboard)
    assert event["payload"]["custom_details"]["dashboard_url"] == dashboard
