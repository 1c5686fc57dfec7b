"""The alert lint: each check finds what it is about, and the real catalog is clean."""

from __future__ import annotations

import dataclasses

from docqet_monitor.alerts import catalog, lint, slo
from docqet_monitor.alerts.spec import AlertRule, SentryAlert
from docqet_monitor.core.config import Config
from docqet_monitor.exporters import collectors

KNOWN = frozenset({"docqet_ecs_service_running_tasks", "docqet_ecs_service_desired_tasks"})
GOOD = AlertRule(name="EcsServiceDown", severity="critical", summary="down", description="d", runbook="ecs/down",
                 dashboard="docqet-ecs-services", expr="docqet_ecs_service_running_tasks < {min}", for_="5m",
                 thresholds={"min": 1})


def _findings(**changes: object) -> list[str]:
    return lint.lint_rules([dataclasses.replace(GOOD, **changes)], KNOWN)


def test_a_good_rule_has_no_findings() -> None:
    assert _findings() == []


def test_each_check_finds_its_problem() -> None:
    assert _findings(for_="") == ["EcsServiceDown: no 'for' duration"]
    assert _findings(summary=" ") == ["EcsServiceDown: no summary"]
    assert _findings(runbook="") == ["EcsServiceDown: no runbook"]
    assert _findings(severity="page") == ["EcsServiceDown: severity 'page' is not one of critical, warning, info"]
    assert _findings(name="ecs_service_down") == ["ecs_service_down: name is not CamelCase"]
    assert _findings(thresholds={}) == [
        "EcsServiceDown: unfilled threshold placeholder in 'docqet_ecs_service_running_tasks < {min}'"]
    assert _findings(expr='sum by (service) (docqet_ecs_service_runing_tasks{cluster="a"}) < 1') == [
        "EcsServiceDown: reads metrics the exporter does not export: docqet_ecs_service_runing_tasks"]
    assert _findings(expr="") == ["EcsServiceDown: evaluated nowhere (no expr, cloudwatch or sentry)"]


def test_watchdog_needs_no_for_and_sentry_rules_need_no_expr() -> None:
    assert _findings(name="Watchdog", expr="vector(1)", for_="") == []
    assert _findings(expr="", for_="", sentry=SentryAlert(kind="regression")) == []


def test_duplicate_names_are_found() -> None:
    assert lint.lint_rules([GOOD, GOOD], KNOWN) == ["EcsServiceDown: 2 rules share this name"]


def test_recording_rules_are_checked_and_their_names_known() -> None:
    rules = slo.recording_rules(Config().alerts.slo)
    assert lint.lint_recording_rules(rules, collectors.exported_metric_names()) == []
    missing = lint.lint_recording_rules(rules, collectors.exported_metric_names() - {
        "docqet_ecs_service_http_5xx_per_second"})
    assert missing == [f"recording rule {slo.ERRORS}: reads metrics the exporter does not export: "
                       "docqet_ecs_service_http_5xx_per_second"]


def test_the_catalog_is_clean_against_what_the_collectors_export() -> None:
    config = Config()
    assert lint.lint(config, catalog.rules(config), collectors.exported_metric_names()) == []
