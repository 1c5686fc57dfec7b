"""Logs: info events at info by default, one JSON object per stderr line under --log-format json (the final error
too), and with -vv one line per AWS or HTTP request attempt (service, operation or method and path, outcome,
duration; never a parameter, header, body or secret)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import qdrant_fake
import responses
import sentry_fake
from click.testing import CliRunner, Result

from docqet_monitor.cli import main


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_final_error_is_a_json_line_too(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: [nowhere]\n")
    result = CliRunner().invoke(main, ["--log-format", "json", "--config", str(bad), "validate"])
    assert result.exit_code == 2
    records = _json_lines(result.stderr)  # raises if any line is not JSON
    assert records[-1]["level"] == "error" and records[-1]["exit_code"] == 2
    assert records[-1]["message"].startswith("Error: invalid configuration: ") and "regions" in records[-1]["message"]


@pytest.mark.parametrize("args", [
    ["--env", "production", "validate", "--strict"],  # its findings, the paging gaps, the final error
    ["--env", "production", "sync", "--strict", "--target", "rules"],  # paging gaps as errors
    ["dashboards", "check", "--out", "{tmp}"],  # every missing file
    ["--env", "staging", "alerts", "plan"],  # "sentry: skipped: ..."
], ids=["validate", "sync", "dashboards-check", "alerts-plan"])
def test_under_json_every_stderr_line_is_json(args: list[str], tmp_path: Path, moto_endpoint: str) -> None:
    result = CliRunner().invoke(main, ["--log-format", "json", *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code in (0, 1), result.stderr
    records = _json_lines(result.stderr)  # raises if any line is not JSON
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    text = CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in args])
    assert [r["message"] for r in records] == text.stderr.splitlines()  # the same lines, each a record


def test_text_errors_stay_one_plain_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "missing.yaml"), "validate"])
    assert result.exit_code == 2 and result.stderr.startswith("Error: invalid configuration: ")


@pytest.mark.parametrize(("flags", "per_request"), [((), False), (("-v",), False), (("-vv",), True)])
def test_vv_logs_every_aws_request_and_nothing_secret(flags: tuple[str, ...], per_request: bool, moto_endpoint: str,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-do-not-print-7f3a9c")
    config = tmp_path / "c.yaml"
    config.write_text("collectors: {cost: {enabled: false}, qdrant: {enabled: false}}\n")
    result = CliRunner().invoke(main, [*flags, "--log-format", "json", "--config", str(config), "exporter", "once"])
    assert result.exit_code == 0, result.stderr
    records = _json_lines(result.stderr)
    requests = [r for r in records if r["logger"] == "docqet_monitor.requests"]
    assert bool(requests) == per_request
    if per_request:
        ops = {(r["service"], r["operation"]) for r in requests}
        assert {("ecs", "ListClusters"), ("rds", "DescribeDBClusters")} <= ops
        assert all(r["outcome"] == "ok" and r["attempt"] >= 1 and r["duration_ms"] >= 0 for r in requests)
    assert "wJalrXUtnFEMI" not in result.stderr + result.stdout
    assert {r["level"] for r in records} <= {"info", "debug", "warning"}


# --- -vv: one line per HTTP attempt of every other client (core/http.py) ---------------------------------------

QDRANT_KEY, SENTRY_TOKEN = qdrant_fake.API_KEY, sentry_fake.TOKEN
GRAFANA_TOKEN = "glsa_logs-test-token-9c2e71"
ROUTING_KEY = "r0ut1ngkey0123456789abcdef0123"
HTTP_LINE = re.compile(r"debug +docqet_monitor\.requests: http (?P<service>\S+) (?P<method>\S+) (?P<path>\S+)"
                       r" service=(?P=service) method=(?P=method) path=(?P=path) status=(?P<status>\d+|None)"
                       r" outcome=(?P<outcome>\S+) attempt=(?P<attempt>\d+) duration_ms=(?P<duration_ms>[\d.]+)")
NO_AWS = ("collectors: {ecs: {enabled: false}, rds: {enabled: false}, elasticache: {enabled: false}, "
          "alb: {enabled: false}, s3: {enabled: false}, aurora_global: {enabled: false}, cost: {enabled: false}}\n")


def _http_records(stderr: str, fmt: str) -> list[dict]:
    """The HTTP attempt lines of stderr as dicts; every line of the requests logger must parse."""
    if fmt == "json":
        return [r for r in _json_lines(stderr) if r["logger"] == "docqet_monitor.requests" and "method" in r]
    lines = [line for line in stderr.splitlines() if "docqet_monitor.requests: http " in line]
    matches = [HTTP_LINE.fullmatch(line) for line in lines]
    assert all(matches), [line for line, m in zip(lines, matches, strict=True) if not m]
    return [{**m.groupdict(), "status": None if m["status"] == "None" else int(m["status"]),
             "attempt": int(m["attempt"]), "duration_ms": float(m["duration_ms"])} for m in matches if m]


def _qdrant(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Result, set[tuple]]:
    fake = qdrant_fake.FakeQdrant(qdrant_fake.ROUTES_HEALTHY, QDRANT_KEY)
    try:
        monkeypatch.setenv("QDRANT_URL", fake.url)
        monkeypatch.setenv("QDRANT_API_KEY", QDRANT_KEY)
        (tmp_path / "c.yaml").write_text(NO_AWS)
        result = CliRunner().invoke(main, [*args, "--config", str(tmp_path / "c.yaml"), "exporter", "once"])
    finally:
        fake.close()
    assert "docqet_qdrant_up" in result.stdout
    return result, {("qdrant", "GET", "/readyz", 200), ("qdrant", "GET", "/collections", 200),
                    ("qdrant", "GET", "/collections/docs-chunks", 200)}


def _sentry(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Result, set[tuple]]:
    (tmp_path / "c.yaml").write_text("environment: production\nsentry:\n  pagerduty_integration_id: '2345'\n"
                                     "  pagerduty_services: {critical: '111', warning: '222'}\n")
    for var, value in (("SENTRY_URL", "https://sentry.example"), ("SENTRY_ORG", "docqet"),
                       ("SENTRY_PROJECTS", "api, web"), ("SENTRY_AUTH_TOKEN", SENTRY_TOKEN)):
        monkeypatch.setenv(var, value)
    fake = sentry_fake.FakeSentry("https://sentry.example", page_size=1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        result = CliRunner().invoke(main, [*args, "--config", str(tmp_path / "c.yaml"), "alerts", "plan",
                                           "--target", "sentry"])
    return result, {("sentry", "GET", "/api/0/organizations/docqet/detectors/", 200)}


def _grafana(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Result, set[tuple]]:
    monkeypatch.setenv("GRAFANA_URL", "https://grafana.test")
    monkeypatch.setenv("GRAFANA_TOKEN", GRAFANA_TOKEN)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, "https://grafana.test/api/search", json=[])
        rsps.add(responses.GET, re.compile(r"https://grafana\.test/api/.*"), json={"message": "not found"}, status=404)
        result = CliRunner().invoke(main, [*args, "dashboards", "plan"])
    return result, {("grafana", "GET", "/api/folders/docqet-monitor", 404),
                    ("grafana", "GET", "/api/dashboards/uid/docqet-overview", 404),
                    ("grafana", "GET", "/api/search", 200)}


def _test_page(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Result, set[tuple]]:
    # PagerDuty's CloudWatch integration URL carries the key in its path: the redaction layer must catch it
    pagerduty = f"https://events.pagerduty.test/integration/{ROUTING_KEY}/enqueue"
    (tmp_path / "c.yaml").write_text(
        f"environment: staging\nalerts: {{alertmanager: {{pagerduty_url: '{pagerduty}'}}}}\n"
        "cloudwatch_alarms: {sns_topics: {critical: 'arn:aws:sns:{region}:123456789012:pd'}}\n")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, "http://alertmanager.test/api/v2/alerts", json={}, status=200)
        rsps.add(responses.POST, pagerduty, json={"status": "success"}, status=202)
        result = CliRunner().invoke(main, [*args, "--config", str(tmp_path / "c.yaml"), "alerts", "test-page",
                                           "--alertmanager", "http://alertmanager.test"])
    return result, {("alertmanager", "POST", "/api/v2/alerts", 200),
                    ("pagerduty", "POST", "/integration/<redacted>/enqueue", 202)}


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("flags", [(), ("-v",), ("-vv",)], ids=["default", "v", "vv"])
@pytest.mark.parametrize("client", [_qdrant, _sentry, _grafana, _test_page], ids=lambda f: f.__name__.strip("_"))
def test_vv_logs_every_http_attempt_and_nothing_secret(client: Any, flags: tuple[str, ...], fmt: str,
                                                       moto_endpoint: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    result, expected = client([*flags, "--log-format", fmt], tmp_path, monkeypatch)
    assert result.exit_code in (0, 2) and "Traceback" not in result.stderr, result.stderr  # plan: 2 = changes
    records = _http_records(result.stderr, fmt)
    if flags != ("-vv",):
        assert records == [] and "docqet_monitor.requests" not in result.stderr
    else:
        assert expected <= {(r["service"], r["method"], r["path"], r["status"]) for r in records}, records
        for r in records:
            assert r["outcome"] == ("ok" if r["status"] < 300 else f"http_{r['status']}")
            assert r["attempt"] >= 1 and r["duration_ms"] >= 0
            assert "?" not in r["path"] and "cursor" not in r["path"]  # no query string (Sentry's cursors)
    everything = result.stdout + result.stderr
    for secret in (QDRANT_KEY, SENTRY_TOKEN, GRAFANA_TOKEN, ROUTING_KEY):
        assert secret not in everything
    assert "Bearer" not in everything and "api-key" not in everything
