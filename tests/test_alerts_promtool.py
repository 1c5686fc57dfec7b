"""`promtool test rules` over the rendered rules: every catalog alert fires when it should and not otherwise."""

from __future__ import annotations

import subprocess
from pathlib import Path

import promtool_cases as promtool_tests
import pytest

from docqet_monitor.alerts import catalog, prometheus
from docqet_monitor.core import config as config_mod
from docqet_monitor.core.config import Config


def _promtool_test(config: Config, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    tests = promtool_tests.write(config, tmp_path)
    return subprocess.run(["promtool", "test", "rules", *map(str, tests)], capture_output=True, text=True,
                          timeout=240, check=False)


def test_every_alert_passes_its_promtool_unit_tests(tmp_path: Path) -> None:
    result = _promtool_test(Config(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(list(tmp_path.glob("*.test.yml")))


def test_every_prometheus_alert_has_a_firing_and_a_quiet_case() -> None:
    alerts = {rule.name for rule in catalog.rules(Config()) if rule.expr}
    assert set(promtool_tests.CASES) == alerts
    for name, cases in promtool_tests.CASES.items():
        assert any(case.fires for case in cases), f"{name}: no firing case"
        if name != "Watchdog":  # always firing by design
            assert any(not case.fires for case in cases), f"{name}: no quiet case"


def test_every_case_is_in_a_generated_test_file() -> None:
    files = promtool_tests.test_files(Config())
    generated = sum(len(doc["tests"]) for name, doc in files.items() if name.endswith(".test.yml"))
    assert generated == sum(len(cases) for cases in promtool_tests.CASES.values())


def test_changed_thresholds_make_the_unit_tests_fail(tmp_path: Path) -> None:
    """The tests check behaviour: rules rendered with other thresholds no longer match the cases."""
    config = config_mod.parse({"alerts": {
        "thresholds": {"EcsServiceCpuHigh": {"threshold": 0.99}, "AuroraRpoBreached": {"threshold": 7200}},
        "slo": {"availability_objective": 0.9},
    }})
    result = _promtool_test(config, tmp_path)
    assert result.returncode != 0
    failed = {line.split("alertname: ")[1].split(",")[0] for line in (result.stdout + result.stderr).splitlines()
              if "alertname: " in line}
    assert failed == {"EcsServiceCpuHigh", "AuroraRpoBreached", "ApiAvailabilityErrorBudgetBurnFast",
                      "ApiAvailabilityErrorBudgetBurnSlow"}


def test_without_for_durations_every_pending_case_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules rendered with ``for: 0s`` fire at once, so each alert's "pending" case must fail."""
    real = prometheus.rule_files
    monkeypatch.setattr(prometheus, "rule_files",
                        lambda config, annotations=True: real(config, annotations, for_override="0s"))
    result = _promtool_test(Config(), tmp_path)
    failed = {line.split("alertname: ")[1].split(",")[0] for line in (result.stdout + result.stderr).splitlines()
              if "alertname: " in line}
    assert failed == {rule.name for rule in catalog.rules(Config()) if rule.expr and rule.for_}
