"""``docqet-monitor sync``: every target for one environment (moto for AWS, in-memory Sentry and Grafana over
``responses``), skipped targets with their reason, the summary table, exit codes, and the Sentry cron check-in
(sentry-sdk sending to a local envelope sink on 127.0.0.1)."""

from __future__ import annotations

import gzip
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import responses
import sentry_sdk
from click.testing import CliRunner
from helpers import CHECKOUT, free_port
from sentry_fake import TOKEN, FakeSentry

from docqet_monitor.alerts import cloudwatch as cw
from docqet_monitor.alerts import commands
from docqet_monitor.cli import main
from docqet_monitor.dashboards import build

SENTRY_URL = "https://sentry.example"
GRAFANA = "https://grafana.example"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "staging.yaml"
    path.write_text("environment: staging\nregions: [eu-west-1]\ncloudwatch_alarms: {composite_alarms: false}\n"
                    "sentry:\n  pagerduty_integration_id: '2345'\n"
                    "  pagerduty_services: {critical: '111', warning: '222'}\n")
    return path


@pytest.fixture
def world(moto_endpoint: str) -> None:
    import boto3

    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="docqet")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "a", "memory": 64}])
    ecs.create_service(cluster="docqet", serviceName="api", taskDefinition="api", desiredCount=1)


@pytest.fixture
def fake_sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSentry]:
    for var, value in (("SENTRY_URL", SENTRY_URL), ("SENTRY_ORG", "docqet"), ("SENTRY_PROJECTS", "api"),
                       ("SENTRY_AUTH_TOKEN", TOKEN)):
        monkeypatch.setenv(var, value)
    fake = FakeSentry(SENTRY_URL, projects={"api": "11"})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


def _sync(config_file: Path, rules_out: Path, *extra: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config_file), "sync", "--rules-out", str(rules_out), *extra])


def test_sync_skips_what_is_not_configured_and_dry_run_writes_nothing(world: None, config_file: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "monitoring"
    result = _sync(config_file, out, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "[1/4] dashboards: skipped: no Grafana URL: set grafana.url in the config or $GRAFANA_URL" in result.output
    assert "[2/4] rules: would change" in result.output
    assert "[3/4] cloudwatch: would change: Plan: " in result.output
    assert "sentry: skipped: no Sentry organization (sentry.organization or SENTRY_ORG)" in result.output
    assert re.search(r"^target +status +details$", result.output, re.M)
    assert re.search(r"^cloudwatch +would change +Plan: \d+ to add, 0 to change, 0 to destroy\.$", result.output,
                     re.M)
    assert not out.exists()
    import boto3

    assert boto3.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


def test_a_target_asked_for_by_name_that_is_skipped_is_a_usage_error(world: None, config_file: Path,
                                                                      tmp_path: Path) -> None:
    """`sync --target sentry` without Sentry settings must not pass (a CI job would stay green, syncing nothing):
    the other targets still run, then exit 2 naming what was skipped and why."""
    result = _sync(config_file, tmp_path / "monitoring", "--dry-run", "--target", "cloudwatch", "--target", "sentry")
    assert result.exit_code == 2, result.output
    assert "[1/2] cloudwatch: would change: Plan: " in result.output
    assert ("Error: sync --target sentry: skipped: no Sentry organization (sentry.organization or SENTRY_ORG)"
            in result.output)
    result = _sync(config_file, tmp_path / "monitoring", "--dry-run", "--target", "cloudwatch")
    assert result.exit_code == 0, result.output


def test_sync_applies_everything_then_has_nothing_to_do(world: None, config_file: Path, tmp_path: Path,
                                                        fake_sentry: FakeSentry) -> None:
    out = tmp_path / "monitoring"
    first = _sync(config_file, out, "--target", "rules", "--target", "cloudwatch", "--target", "sentry")
    assert first.exit_code == 0, first.output
    assert re.search(r"^cloudwatch +changed +(\d+)/\1 change\(s\) applied$", first.output, re.M), first.output
    assert re.search(r"^sentry +changed +", first.output, re.M)
    assert (out / "alertmanager" / "staging" / "alertmanager.yml").is_file()
    assert fake_sentry.workflows
    second = _sync(config_file, out, "--target", "rules", "--target", "cloudwatch", "--target", "sentry")
    assert second.exit_code == 0, second.output
    assert re.search(r"^rules +ok +\d+ file\(s\) up to date", second.output, re.M)
    assert re.search(r"^cloudwatch +ok +no changes$", second.output, re.M)
    assert re.search(r"^sentry +ok +no changes$", second.output, re.M)


def test_a_failing_target_fails_the_sync_but_not_the_others(world: None, config_file: Path, tmp_path: Path,
                                                            fake_sentry: FakeSentry,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "wrong-token")
    result = _sync(config_file, tmp_path / "m", "--target", "sentry", "--target", "cloudwatch")
    assert result.exit_code == 1
    assert re.search(r"^sentry +failed +.*HTTP 401", result.output, re.M)
    assert re.search(r"^cloudwatch +changed", result.output, re.M)
    assert "Error: sync failed for: sentry" in result.output


def test_sync_publishes_dashboards_through_grafana(config_file: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_URL", GRAFANA)
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_secret")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{GRAFANA}/api/folders/docqet-monitor", status=404, json={"message": "not found"})
        rsps.post(f"{GRAFANA}/api/folders", json={"uid": "docqet-monitor"})
        rsps.get(re.compile(f"{GRAFANA}/api/dashboards/uid/.*"), status=404, json={"message": "not found"})
        rsps.get(re.compile(f"{GRAFANA}/api/search.*"), json=[])
        saved = rsps.post(f"{GRAFANA}/api/dashboards/db", json={"status": "success"})
        result = _sync(config_file, tmp_path / "m", "--target", "dashboards")
    assert result.exit_code == 0, result.output
    count = len(build.MODULES) + 1  # the folder and every dashboard
    assert re.search(rf"^dashboards +changed +{count}/{count} change\(s\) applied$", result.output, re.M)
    assert "    + create grafana dashboard docqet-overview" in result.output
    assert saved.call_count == len(build.MODULES)
    assert "glsa_secret" not in result.output


def test_progress_redraws_the_line_on_a_terminal(world: None, config_file: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "_terminal", lambda: True)
    result = _sync(config_file, tmp_path / "m", "--target", "rules", "--dry-run")
    assert "[1/1] rules ...\r[1/1] rules: would change" in result.output


# --- Sentry crons and crash reports -------------------------------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    envelopes: list[list[dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.envelopes.append([json.loads(line) for line in body.splitlines() if line.strip()])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[dict[str, Any]]]]:
    """A local stand-in for Sentry's ingest: SENTRY_DSN points at it; yields the envelopes received."""
    envelopes: list[list[dict[str, Any]]] = []
    handler = type("Sink", (_Sink,), {"envelopes": envelopes})
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SENTRY_DSN", f"http://public@127.0.0.1:{port}/1")
    yield envelopes
    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    server.shutdown()
    server.server_close()


def _items(envelopes: list[list[dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    return [env[i + 1] for env in envelopes for i, item in enumerate(env[1:-1], 1)
            if item.get("type") == kind and i + 1 < len(env)]


def test_sync_reports_a_cron_check_in(world: None, config_file: Path, tmp_path: Path,
                                      sentry_sink: list[list[dict[str, Any]]]) -> None:
    result = _sync(config_file, tmp_path / "m", "--target", "rules")
    assert result.exit_code == 0, result.output
    check_ins = _items(sentry_sink, "check_in")
    assert [(c["monitor_slug"], c["status"]) for c in check_ins] == [
        ("docqet-monitor-sync-staging", "in_progress"), ("docqet-monitor-sync-staging", "ok")]
    assert check_ins[0]["check_in_id"] == check_ins[1]["check_in_id"]
    assert {c.get("environment") for c in check_ins} == {"staging"}  # the config's, not the global --env default


def test_a_dry_run_reports_no_check_in(world: None, config_file: Path, tmp_path: Path,
                                       sentry_sink: list[list[dict[str, Any]]]) -> None:
    """A dry run (a CI check, a look from a laptop) must not make a stopped scheduled sync look alive."""
    result = _sync(config_file, tmp_path / "m", "--target", "rules", "--dry-run")
    assert result.exit_code == 0, result.output
    sentry_sdk.flush(timeout=5)
    assert _items(sentry_sink, "check_in") == []


@pytest.mark.parametrize("dsn", ["not a dsn", "https://o1.ingest.sentry.io/1", "ftp://0123abcd@sentry.example/1"])
def test_a_malformed_sentry_dsn_is_a_setting_to_fix_not_a_traceback(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """sentry_sdk's BadDsn was a traceback (exit 1) before any command ran; its message quotes the DSN's parts."""
    monkeypatch.setenv("SENTRY_DSN", dsn)
    for args in (["validate"], ["iam-policy", "--role", "exporter"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and result.exception is not None and not isinstance(result.exception, Exception)
        assert result.output == ("Error: $SENTRY_DSN: expected a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID), for "
                                 "the tool's own crash reports; the value is not shown\n")


def test_a_crash_goes_to_sentry_and_the_check_in_says_error(world: None, config_file: Path, tmp_path: Path,
                                                            sentry_sink: list[list[dict[str, Any]]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("unexpected bug in the plan")

    monkeypatch.setattr(cw, "make_plan", crash)
    result = _sync(config_file, tmp_path / "m", "--target", "cloudwatch")
    assert result.exit_code == 1
    assert re.search(r"^cloudwatch +failed +RuntimeError: unexpected bug in the plan$", result.output, re.M)
    events = _items(sentry_sink, "event")
    assert any(v["type"] == "RuntimeError" for e in events for v in e["exception"]["values"])
    assert [c["status"] for c in _items(sentry_sink, "check_in")] == ["in_progress", "error"]


def test_a_crash_report_carries_no_secret_from_the_environment(world: None, config_file: Path, tmp_path: Path,
                                                               sentry_sink: list[list[dict[str, Any]]],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # random values: the test's own source lines travel in the report (as context) and must not hold them
    secrets = {var: uuid.uuid4().hex for var in ("SENTRY_AUTH_TOKEN", "GRAFANA_TOKEN", "PAGERDUTY_ROUTING_KEY")}
    rest = dict(os.environ)
    for var in rest:  # the secrets first in the environment (as in many containers): a report shows the first keys
        monkeypatch.delenv(var)
    for var, value in {**secrets, **rest}.items():
        monkeypatch.setenv(var, value)

    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("unexpected bug in the plan")

    monkeypatch.setattr(cw, "make_plan", crash)
    assert _sync(config_file, tmp_path / "m", "--target", "cloudwatch").exit_code == 1
    sent = json.dumps(_items(sentry_sink, "event"))
    assert "unexpected bug in the plan" in sent
    assert not [value for value in secrets.values() if value in sent]

# --- the demo step and apply's confirmation --------------------------------------------------------------


def test_demo_step_shows_a_plan_the_apply_and_an_empty_plan(moto_endpoint: str, tmp_path: Path) -> None:
    import dataclasses

    from docqet_monitor.core import config as config_mod
    from docqet_monitor.demo import aws as demo_mod
    from docqet_monitor.demo.sync import sync_step

    staging = config_mod.resolve(env="staging", environments=CHECKOUT.environments)
    config = dataclasses.replace(staging, regions=(demo_mod.REGION,), accounts=())
    lines: list[str] = []
    ctx = demo_mod.DemoContext(moto_endpoint, config, echo=lines.append, out_dir=tmp_path)
    demo_mod.seed_aws_step(ctx)
    sync_step(ctx)
    text = "\n".join(lines)
    plan, applied, again = text.split("sync: plan\n")[1], text.split("sync: apply\n")[1], text.split(
        "sync: plan again\n")[1]
    assert re.search(r"cloudwatch: would change: Plan: [1-9]\d* to add, 0 to change, 0 to destroy\.", plan)
    assert "+ create cloudwatch alarm eu-west-1/docqet-staging-" in plan
    assert re.search(r"cloudwatch: changed: (\d+)/\1 change\(s\) applied", applied)
    assert "cloudwatch: ok: no changes" in again and "rules: ok" in again
    assert "sentry" not in text and "dashboards" not in text  # their URLs are not set


def test_apply_asks_on_a_terminal(world: None, config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "_interactive", lambda: True)
    args = ["--config", str(config_file), "alerts", "apply", "--target", "cloudwatch"]
    declined = CliRunner().invoke(main, args, input="n\n")
    assert declined.exit_code == 1 and "Apply these changes? [y/N]" in declined.output
    import boto3

    assert boto3.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    accepted = CliRunner().invoke(main, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]


def test_a_crash_of_any_command_goes_to_sentry(sentry_sink: list[list[dict[str, Any]]]) -> None:
    import os
    import subprocess
    import sys

    code = ("from docqet_monitor.alerts import iam\n"
            "def boom(*args, **kwargs):\n    raise RuntimeError('iam-policy exploded')\n"
            "iam.policy = boom\n"
            "from docqet_monitor.cli import main\nmain(['iam-policy', '--role', 'sync'])\n")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 1 and "RuntimeError: iam-policy exploded" in done.stderr
    events = _items(sentry_sink, "event")
    assert [v["value"] for e in events for v in e["exception"]["values"]] == ["iam-policy exploded"]


def test_a_crash_report_names_the_environment_of_the_config_file(sentry_sink: list[list[dict[str, Any]]]) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    code = ("from docqet_monitor.alerts import render\n"
            "def boom(*a, **k):\n    raise RuntimeError('render exploded')\n"
            "render.committed_files = render.environment_files = boom\n"
            "from docqet_monitor.cli import main\n"
            "main(['--config', 'monitoring/environments/production.yaml', 'alerts', 'render', '--check'])\n")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
                          timeout=60, cwd=root)
    assert done.returncode == 1 and "RuntimeError: render exploded" in done.stderr
    events = _items(sentry_sink, "event")
    assert [(e["environment"], v["value"]) for e in events for v in e["exception"]["values"]] == [
        ("production", "render exploded")]
