"""`docqet-monitor validate` checks everything as code: alerts, the dashboards' queries and variables, and the
committed generated files (the alert-only checks are in test_alerts_render.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqet_monitor.alerts import render
from docqet_monitor.alerts.lint import known_series
from docqet_monitor.cli import main
from docqet_monitor.dashboards import build, lint
from docqet_monitor.exporters import collectors


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_validate_checks_alerts_dashboards_and_the_committed_files() -> None:
    code, output = _run("--env", "production", "validate")
    assert code == 0, output
    assert "alerts: catalog lint clean" in output
    assert f"dashboards: {len(build.MODULES)} built; every query reads exported metrics or recording rules" in output
    assert "committed files: the dashboards, rules and configs under" in output
    assert "runbooks: every alert has its page under monitoring/runbooks/, each with the five sections." in output


def test_a_dashboard_query_reading_an_unexported_metric_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    names = collectors.exported_metric_names() - {"docqet_rds_instance_deadlocks_per_second"}  # on no alert
    monkeypatch.setattr(collectors, "exported_metric_names", lambda: names)
    code, output = _run("validate")
    assert code == 1
    assert ("dashboards: docqet-aurora-postgresql: panel 'Deadlocks': reads metrics the exporter does not export: "
            "docqet_rds_instance_deadlocks_per_second") in output
    assert "alerts: catalog lint clean" in output and "Error: 1 problem(s)" in output


def test_lint_finds_unknown_metrics_and_undefined_variables_in_panels_and_variable_queries() -> None:
    known = known_series(collectors.exported_metric_names())
    models = build.build_all()
    assert lint.lint(models, known) == []
    ecs = models["docqet-ecs-services"]
    ecs["panels"][1]["targets"][0]["expr"] = 'sum(docqet_ecs_service_runing_tasks{service=~"$svc"})'
    ecs["templating"]["list"][3]["query"] = 'label_values(docqet_nope{region=~"$regions"}, cluster)'
    assert lint.lint(models, known) == [
        "docqet-ecs-services: panel 'Services below desired': reads metrics the exporter does not export: "
        "docqet_ecs_service_runing_tasks",
        "docqet-ecs-services: panel 'Services below desired': uses undefined variables: $svc",
        "docqet-ecs-services: variable $cluster: reads metrics the exporter does not export: docqet_nope",
        "docqet-ecs-services: variable $cluster: uses undefined variables: $regions",
    ]


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of monitoring/ that validate checks instead of the real one."""
    root = tmp_path / "monitoring"
    shutil.copytree(render.MONITORING, root)
    monkeypatch.setattr(render, "MONITORING", root)
    monkeypatch.setattr(build, "DEFAULT_OUT", root / "grafana" / "dashboards")
    return root


def test_stale_committed_dashboards_and_rules_fail(checkout: Path) -> None:
    assert _run("validate")[0] == 0
    overview = checkout / "grafana/dashboards/docqet-overview.json"
    overview.write_text(json.dumps({**json.loads(overview.read_text()), "title": "edited by hand"}))
    rules = checkout / "prometheus/rules/staging/alerts.yml"
    rules.write_text(rules.read_text().replace("for: 15m", "for: 1m"))
    (checkout / "alertmanager/production/alertmanager.yml").unlink()
    code, output = _run("validate")
    assert code == 1
    assert ("committed files: monitoring/grafana/dashboards/docqet-overview.json: differs; run `docqet-monitor "
            "dashboards build`") in output
    assert "committed files: monitoring/prometheus/rules/staging/alerts.yml: stale; run `docqet-monitor alerts " \
           "render`" in output
    assert "monitoring/alertmanager/production/alertmanager.yml: stale" in output
    assert "Error: 3 problem(s)" in output


def test_outside_a_checkout_the_committed_files_are_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(render, "MONITORING", tmp_path / "monitoring")
    code, output = _run("validate")
    assert code == 0, output
    assert "committed files: skipped" in output
    assert "runbooks: skipped" in output  # a monitoring repository without runbooks (`init`) is not blocked


def test_missing_orphaned_and_malformed_runbooks_fail(checkout: Path) -> None:
    runbooks = checkout / "runbooks"
    (runbooks / "qdrant/down.md").unlink()
    (runbooks / "aurora/writer-cpu-high.md").rename(runbooks / "aurora/writer-cpu.md")
    impact = runbooks / "ecs/cpu-high.md"
    impact.write_text(impact.read_text().replace("## Impact\n", ""))
    code, output = _run("validate")
    assert code == 1
    assert "runbooks: QdrantDown: no runbook (monitoring/runbooks/qdrant/down.md does not exist)" in output
    assert "runbooks: AuroraWriterCpuHigh: no runbook (monitoring/runbooks/aurora/writer-cpu-high.md" in output
    assert ("runbooks: monitoring/runbooks/aurora/writer-cpu.md: no alert uses this runbook (catalog runbook "
            "'aurora/writer-cpu')") in output
    assert "runbooks: monitoring/runbooks/ecs/cpu-high.md: missing section(s) '## Impact'" in output
    assert "Error: 4 problem(s)" in output


def test_a_bad_threshold_override_is_not_called_valid(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("alerts:\n  thresholds:\n    EcsServiceCpuHigh: {treshold: 1}\n")
    code, output = _run("--config", str(cfg), "validate")
    assert code == 2
    assert f"{cfg}, line 3: alerts.thresholds.EcsServiceCpuHigh.treshold: unknown threshold" in output
    assert "configuration is valid" not in output
