"""Paging readiness (what would reach no one) in validate and sync, and `alerts test-page` through a real
Alertmanager to the PagerDuty stand-in."""

from __future__ import annotations

from pathlib import Path

import pagerduty_events
import pytest
import yaml
from click.testing import CliRunner

from docqet_monitor.alerts import catalog, pipeline, readiness
from docqet_monitor.cli import main
from docqet_monitor.core import config as config_mod

KEY = "0123456789abcdef0123456789abcdef"
READY = {
    "environment": "production",
    "alerts": {"alertmanager": {"notification_webhook_url": "https://hooks.example/info",
                                "watchdog_webhook_url": "https://deadmanssnitch.example/abc"}},
    "cloudwatch_alarms": {"sns_topics": {"critical": "arn:aws:sns:{region}:123456789012:pd-critical",
                                         "warning": "arn:aws:sns:{region}:123456789012:pd-warning"}},
}


def _gaps(data: dict, environ: dict[str, str] | None = None) -> list[str]:
    config = config_mod.parse(data, "test.yaml")
    return readiness.gaps(config, catalog.rules(config), environ or {})


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_fully_wired_environment_has_no_gap() -> None:
    assert _gaps(READY) == []


@pytest.mark.parametrize("args", [("--env", "production", "validate", "--strict"),
                                  ("validate", "--env", "production", "--strict")])
def test_the_committed_production_names_exactly_what_would_not_page(args: tuple[str, ...]) -> None:
    code, _, err = _run(*args)
    gaps = [line for line in err.splitlines() if line.startswith("paging: ")]
    assert code == 1
    assert [g.split(":")[1].strip() for g in gaps] == ["alertmanager", "alertmanager", "cloudwatch", "cloudwatch"]
    assert any("info alert(s) reach no one" in g for g in gaps)
    assert any("Watchdog reaches no one" in g for g in gaps)
    assert any("critical alarm rule(s)" in g and "sns_topics.critical" in g for g in gaps)
    assert any("warning alarm rule(s)" in g for g in gaps)


def test_without_strict_the_gaps_are_warnings() -> None:
    code, _, err = _run("--env", "production", "validate")
    assert code == 0, err
    assert "warning: paging: cloudwatch:" in err


def test_each_missing_setting_is_its_own_gap() -> None:
    no_pages = {**READY, "alerts": {"alertmanager": {**READY["alerts"]["alertmanager"], "pages_enabled": False}}}
    assert [g for g in _gaps(no_pages) if "page no one" in g and "notification webhook" in g]
    no_critical = {**READY, "cloudwatch_alarms": {"sns_topics": {"warning": "arn:aws:sns:eu-west-1:123456789012:w"}}}
    assert _gaps(no_critical) == [g for g in _gaps(no_critical) if "critical alarm rule(s)" in g] != []


def test_sentry_alerts_without_a_pagerduty_service_once_sentry_is_configured() -> None:
    assert _gaps(READY) == []  # Sentry not configured here: its alerts exist nowhere, nothing to page
    gaps = _gaps(READY, {"SENTRY_ORG": "docqet"})
    assert gaps and all(g.startswith("sentry: ") for g in gaps)
    wired = {**READY, "sentry": {"organization": "docqet", "pagerduty_integration_id": "123",
                                 "pagerduty_services": {"critical": "P1", "warning": "P2"}}}
    assert _gaps(wired) == []


def test_sync_strict_writes_nothing_while_a_gap_is_open(tmp_path: Path) -> None:
    code, _, err = _run("--env", "production", "sync", "--strict", "--target", "rules",
                        "--rules-out", str(tmp_path / "out"))
    assert code == 1 and "error: paging: cloudwatch:" in err and "nothing was written" in err
    assert not (tmp_path / "out").exists()


def test_test_page_goes_through_alertmanager_and_the_sns_path_to_pagerduty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = config_mod.parse({**READY, "environment": "staging"}, "test.yaml")
    with pipeline.run(base, "127.0.0.1:9", tmp_path) as p:
        (tmp_path / "env.yaml").write_text(yaml.safe_dump({**READY, "environment": "staging", "alerts": {
            "alertmanager": {**READY["alerts"]["alertmanager"], "pagerduty_url": f"{p.sink.url}/v2/enqueue"}}}))
        monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", KEY)
        code, out, err = _run("--config", str(tmp_path / "env.yaml"), "alerts", "test-page",
                              "--alertmanager", p.alertmanager_url)
        via_alertmanager = p.sink.wait_for(lambda b: b["payload"]["class"] == "DocqetMonitorTestPage"
                                           and b["routing_key"] == pipeline.DUMMY_ROUTING_KEY, timeout=30)
        direct = p.sink.wait_for(lambda b: b.get("dedup_key") == "docqet-monitor-test-page-staging", timeout=5)
    assert code == 0, err
    assert via_alertmanager is not None and direct is not None
    for body in (via_alertmanager, direct):
        pagerduty_events.validate(body)
        assert body["payload"]["severity"] == "critical"
    assert direct["routing_key"] == KEY and KEY not in out + err
    assert out.startswith("alertmanager: sent DocqetMonitorTestPage") and "\ncloudwatch: sent" in out


def test_test_page_to_an_alertmanager_that_is_not_there_fails_in_one_sentence(tmp_path: Path) -> None:
    code, _, err = _run("alerts", "test-page", "--alertmanager", "http://127.0.0.1:9")
    assert code == 1 and "cannot send the test page to Alertmanager at http://127.0.0.1:9" in err
    assert "Traceback" not in err
