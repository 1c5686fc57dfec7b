"""The alert catalog: overrides per environment, clear errors for unknown keys, SLO alerts from config."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from docqet_monitor.alerts import catalog, slo
from docqet_monitor.alerts.spec import AlertRule
from docqet_monitor.core import config as config_mod
from docqet_monitor.core.config import Config, ConfigError

ISSUE_ALERTS = {
    "EcsServiceTasksBelowDesired", "EcsServiceNoRunningTasks", "EcsServiceDeploymentStuck", "EcsServiceCpuHigh",
    "EcsServiceMemoryHigh", "EcsServiceHttp5xxRatioHigh", "EcsServiceHttpLatencyP95High", "AuroraWriterCpuHigh",
    "AuroraConnectionsNearLimit", "AuroraFreeableMemoryLow", "AuroraFreeLocalStorageLow", "AuroraReplicaLagHigh",
    "AuroraRpoBreached", "AuroraBackupRetentionBelowPolicy", "QdrantDown", "QdrantCollectionNotGreen",
    "QdrantOptimizerError", "CostMonthForecastOverBudget", "CostDailySpendAnomaly", "ExporterCollectorFailing",
    "ExporterDataStale", "ExporterTargetDown", "Watchdog", "ApiAvailabilityErrorBudgetBurnFast",
    "ApiAvailabilityErrorBudgetBurnSlow", "ApiLatencyErrorBudgetBurnFast", "ApiLatencyErrorBudgetBurnSlow",
}


def _config(**alerts: object) -> Config:
    return config_mod.parse({"environment": "staging", "alerts": alerts}, "staging.yaml")


def test_catalog_has_every_alert_the_issue_lists_with_unique_camelcase_names() -> None:
    names = [rule.name for rule in catalog.rules(Config())]
    assert set(names) >= ISSUE_ALERTS
    assert len(names) == len(set(names))
    assert all(name[0].isupper() and "_" not in name for name in names)


def test_rules_label_team_and_environment_and_keep_severity() -> None:
    rules = catalog.rules(_config(team="sre"))
    assert all(rule.labels["team"] == "sre" and rule.labels["environment"] == "staging" for rule in rules)
    assert {rule.severity for rule in rules} == {"critical", "warning", "info"}


def test_threshold_override_changes_only_that_rule_and_key() -> None:
    rules = {r.name: r for r in catalog.rules(_config(thresholds={"EcsServiceCpuHigh": {"threshold": 0.75}}))}
    assert rules["EcsServiceCpuHigh"].promql() == "docqet_ecs_service_cpu_utilization_ratio > 0.75"
    assert rules["EcsServiceMemoryHigh"].promql() == "docqet_ecs_service_memory_utilization_ratio > 0.9"
    defaults = {r.name: r for r in catalog.defaults()}
    assert defaults["EcsServiceCpuHigh"].thresholds == {"threshold": 0.9}


def test_override_of_one_key_keeps_the_other_defaults() -> None:
    rules = {r.name: r for r in catalog.rules(
        _config(thresholds={"EcsServiceHttp5xxRatioHigh": {"min_requests_per_second": 2}}))}
    expr = rules["EcsServiceHttp5xxRatioHigh"].promql()
    assert "> 0.05 and" in expr and expr.endswith("> 2")


def test_disabled_rules_are_dropped() -> None:
    names = {r.name for r in catalog.rules(_config(disabled=["CostDailySpendAnomaly"]))}
    assert "CostDailySpendAnomaly" not in names and "CostMonthForecastOverBudget" in names


@pytest.mark.parametrize(("alerts", "key", "expected"), [
    ({"thresholds": {"EcsCpuHigh": {"threshold": 1}}}, "alerts.thresholds.EcsCpuHigh",
     "unknown alert; did you mean EcsServiceCpuHigh"),
    ({"thresholds": {"EcsServiceCpuHigh": {"limit": 1}}}, "alerts.thresholds.EcsServiceCpuHigh.limit",
     "expected one of: threshold"),
    ({"thresholds": {"QdrantDown": {"threshold": 1}}}, "alerts.thresholds.QdrantDown.threshold",
     "has no thresholds"),
    ({"disabled": ["Watchdog", "NoSuchAlert"]}, "alerts.disabled[1]",
     "unknown alert 'NoSuchAlert'; expected one of the "),
])
def test_unknown_names_are_config_errors_naming_the_key(alerts: dict, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        catalog.rules(_config(**alerts))
    assert exc.value.source == "staging.yaml" and exc.value.path == key
    assert expected in str(exc.value)


def test_placeholders_replace_only_thresholds_not_label_matchers() -> None:
    rule = AlertRule(name="X", severity="info", summary="s", description="d", runbook="r", dashboard="d",
                     expr='m{job="a"} > {threshold} and n{x=~"y"} < {other}', thresholds={"threshold": 0.001})
    assert rule.promql() == 'm{job="a"} > 0.001 and n{x=~"y"} < {other}'


def test_slo_alerts_follow_the_configured_objectives() -> None:
    rules = {r.name: r for r in catalog.rules(_config(slo={"availability_objective": 0.99, "window_days": 28}))}
    fast = rules["ApiAvailabilityErrorBudgetBurnFast"]
    # 2 % of a 28-day budget in one hour: 13.44x; 1 - 0.99 = 0.01
    assert "rate1h{slo=\"availability\"} > 0.1344" in fast.promql()
    assert fast.severity == "critical" and rules["ApiAvailabilityErrorBudgetBurnSlow"].severity == "warning"


def test_classic_burn_factors_for_thirty_days() -> None:
    cfg = Config().alerts.slo
    factors = [slo.burn_factor(cfg, long_w, share) for _, _, windows in slo.POLICIES for long_w, _, share in windows]
    assert factors == [14.4, 6.0, 3.0, 1.0]


def test_cloudwatch_and_sentry_blocks_reference_existing_thresholds() -> None:
    for rule in catalog.defaults():
        for block in (rule.cloudwatch, rule.sentry):
            if block is not None and block.threshold:
                assert block.threshold in rule.thresholds, rule.name
    assert {r.name for r in catalog.defaults() if r.cloudwatch} >= {
        "EcsServiceCpuHigh", "EcsServiceMemoryHigh", "EcsServiceTasksBelowDesired", "EcsServiceHttp5xxRatioHigh",
        "EcsServiceHttpLatencyP95High", "AuroraWriterCpuHigh", "AuroraConnectionsNearLimit",
        "AuroraFreeableMemoryLow", "AuroraReplicaLagHigh", "AuroraFreeLocalStorageLow"}
    assert {r.sentry.kind for r in catalog.defaults() if r.sentry} == {
        "event_frequency", "new_issue", "regression", "metric"}


def test_urls_come_from_config() -> None:
    cfg = dataclasses.replace(_config(runbook_base_url="https://rb.example/"),
                              grafana=config_mod.GrafanaConfig(url="https://g.example"))
    rule = next(r for r in catalog.rules(cfg) if r.name == "AuroraRpoBreached")
    assert catalog.runbook_url(rule, cfg) == "https://rb.example/aurora/rpo-breached.md"
    assert catalog.runbook_url(rule, config_mod.Config()) == (
        "https://github.com/docqet/docqet-monitor/blob/main/monitoring/runbooks/aurora/rpo-breached.md")
    assert catalog.dashboard_url(rule, cfg).startswith("https://g.example/d/docqet-aurora-postgresql?viewPanel=")


def _panels(panels: list[dict]) -> dict[str, int]:
    found = {}
    for panel in panels:
        found[panel.get("title", "")] = panel.get("id")
        found.update(_panels(panel.get("panels", [])))
    return found


def test_dashboard_links_open_an_existing_panel_of_the_committed_dashboards() -> None:
    dashboards = Path(__file__).resolve().parent.parent / "monitoring" / "grafana" / "dashboards"
    for rule in catalog.rules(Config()):
        doc = json.loads((dashboards / f"{rule.dashboard}.json").read_text())
        url = catalog.dashboard_url(rule, Config())
        if rule.panel:
            panel = _panels(doc["panels"]).get(rule.panel)
            assert panel is not None, f"{rule.name}: no panel {rule.panel!r} on {rule.dashboard}"
            assert f"/d/{rule.dashboard}?viewPanel={panel}" in url
            assert set(re.findall(r"&var-(\w+)=", url)) <= {v["name"] for v in doc["templating"]["list"]}
        else:
            assert url.endswith(f"/d/{rule.dashboard}")
