"""Logs: info events at info by default, one JSON object per stderr line under --log-format json (the final error
too), and with -vv one line per AWS request attempt (service, operation, outcome, duration; never a parameter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

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
