"""The embedded demo: seeding helpers, and ``docqet-monitor demo`` end to end in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from click.testing import CliRunner
from helpers import exposition_samples

from docqet_monitor import cli
from docqet_monitor.core.discovery.ecs import EcsService
from docqet_monitor.core.discovery.rds import DbCluster, DbInstance
from docqet_monitor.dashboards import build
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import apigateway, cloudfront, cloudwatch, ecs, rds, route53, waf
from docqet_monitor.exporters.collectors import exported_metric_names

CLI = [sys.executable, "-m", "docqet_monitor"]
ROOT = Path(__file__).resolve().parents[1]
LB = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/docqet-staging/1"
TGS = {"api": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/docqet-staging-api/2",
       "web": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/docqet-staging-web/3"}


def _key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def test_datapoints_cover_the_exporters_window_for_the_time_ahead() -> None:
    now = 1_800_000_000.0
    points = demo.datapoints(LB, TGS, now, ahead_minutes=30)
    stamps = {d["Timestamp"].timestamp() for datums in points.values() for d in datums}
    for later in (0, 29 * 60):  # an exporter refreshing now, or just before the data runs out
        start, end = cloudwatch.window(now + later, 60, 120, 5)
        assert any(start.timestamp() <= t < end.timestamp() for t in stamps)
    series = demo.series(LB, TGS)
    assert sum(len(d) for d in points.values()) == len(series) * (30 + 30)
    assert ("AWS/ApplicationELB", "TargetResponseTime") in {(ns, m) for ns, m, _, _ in series}


def test_every_metric_the_collectors_read_is_seeded() -> None:
    seeded = {(ns, m, tuple(sorted((d["Name"], d["Value"]) for d in dims))) for ns, m, dims, _ in demo.series(LB, TGS)}
    services = [EcsService(demo.CLUSTER, s.name, target_groups=(TGS[s.name],) if s.name in TGS else ())
                for s in demo.ECS_SERVICES]
    lbs = {tg: (LB,) for tg in TGS.values()}
    clusters = [DbCluster(demo.CLUSTER)]
    instances = [DbInstance(i.name, demo.CLUSTER) for i in demo.AURORA_INSTANCES]
    wanted = {(q.namespace, q.metric, tuple(sorted(q.dimensions)))
              for q in [*ecs.queries(services, lbs, 60), *rds.queries(clusters, instances, 60)]}
    unseeded = wanted - seeded
    # by design: no 5xx on web (ALB publishes none then), no replica lag on the writer
    assert {(m, dict(d).get("TargetGroup", dict(d).get("DBInstanceIdentifier"))) for _, m, d in unseeded} == {
        ("HTTPCode_Target_5XX_Count", "targetgroup/docqet-staging-web/3"),
        ("AuroraReplicaLag", "docqet-staging-1")}


def test_seed_rejects_unknown_degraded_service(moto_endpoint: str) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        demo.seed_staging(moto_endpoint, degraded=("billing",))


def test_aws_environment_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", "https://ecs.example")
    with demo.aws_environment("http://127.0.0.1:1"):
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL_ECS" not in os.environ
        assert os.environ["AWS_CONFIG_FILE"] == os.devnull
        assert boto3.client("ecs").meta.endpoint_url == "http://127.0.0.1:1"
    assert os.environ["AWS_PROFILE"] == "prod"
    assert os.environ["AWS_ENDPOINT_URL_ECS"] == "https://ecs.example"
    assert "AWS_ENDPOINT_URL" not in os.environ and "AWS_CONFIG_FILE" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"


def test_prepare_out_empties_only_a_directory_the_demo_owns(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert demo.prepare_out(out) == out.resolve()
    (out / "dashboards").mkdir()
    (out / "dashboards" / "old.json").write_text("{}")
    demo.prepare_out(out)
    assert sorted(p.name for p in out.iterdir()) == [demo.OUT_MARKER]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(demo.DemoError, match=r"--out .*mine: the directory is not empty and not a demo output"):
        demo.prepare_out(mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("")
    with pytest.raises(demo.DemoError, match=r"--out .*file"):
        demo.prepare_out(tmp_path / "file" / "demo")


def test_demo_config_errors_exit_2_before_anything_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "demo.yaml"
    bad.write_text("alerts:\n  thresholds:\n    NoSuchAlert: {threshold: 1}\n")
    result = CliRunner().invoke(cli.main, ["--config", str(bad), "demo", "--once", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"invalid configuration: {bad}, line 3: alerts.thresholds.NoSuchAlert: unknown alert" in result.output
    assert "AWS emulator" not in result.output and not (tmp_path / "out").exists()
    monkeypatch.setenv("QDRANT_URL", "qdrant:6333")
    result = CliRunner().invoke(cli.main, ["demo", "--once", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "$QDRANT_URL: expected an http(s) URL, got 'qdrant:6333'" in result.output


def test_demo_without_moto_says_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['moto'] = sys.modules['moto.server'] = None\n"
            "from docqet_monitor.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", code, "demo", "--once", "--out", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("Error: the demo needs the `demo` extra (moto's AWS emulator): "
                                   "pip install 'docqet-monitor[demo]' (in a checkout: `make demo`)")
    assert not (tmp_path / "out").exists()


def test_demo_refuses_to_start_when_its_port_is_taken(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / demo.OUT_MARKER).write_text("")
    (out / "kept").write_text("an earlier run's output")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli.main, ["demo", "--port", str(port), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert (f"Error: port {port} on 127.0.0.1 is not available (Address already in use); the demo did not start: "
            "stop what listens there or choose another port with --port (0: any free port)") in result.output
    assert "AWS emulator" not in result.output
    assert (out / "kept").is_file()  # nothing wiped, nothing seeded


def test_demo_once_prints_the_seeded_environment(tmp_path: Path) -> None:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    for fmt in ("json", "text"):  # a second run replaces the first one's output
        done = subprocess.run([*CLI, "--log-format", fmt, "demo", "--once", "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=240, env=env)
        assert done.returncode == 0, done.stderr
        if fmt == "json":  # every stderr line one JSON object, the demo's progress lines included
            records = [json.loads(line) for line in done.stderr.splitlines()]
            assert any(r["message"].startswith("AWS emulator (moto) on ") for r in records)
    assert "AWS emulator (moto) on http://127.0.0.1:" in done.stderr
    assert f"demo output (kept until the next run): {out}" in done.stderr
    assert "  run `docqet-monitor demo --stack` to watch them" in done.stderr  # where to go next
    assert list(tmp.iterdir()) == []  # nothing left behind in the temporary directory
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [demo.OUT_MARKER, "alerts", "cost.json", "dashboards", "sync-rules"])
    assert len(list((out / "dashboards").glob("docqet-*.json"))) == len(build.MODULES)
    assert (out / "alerts" / "prometheus" / "rules" / "staging" / "alerts.yml").is_file()
    values = exposition_samples(done.stdout)
    base = {"account": "123456789012", "region": "eu-west-1"}
    assert values[_key("docqet_ecs_service_running_tasks", **base, cluster="docqet-staging", service="api")] == 3
    assert values[_key("docqet_ecs_service_http_requests_per_second", **base, cluster="docqet-staging",
                       service="api")] == 25
    assert values[_key("docqet_rds_instance_replica_lag_seconds", **base, db_cluster="docqet-staging",
                       db_instance="docqet-staging-2", role="reader")] == pytest.approx(0.018)
    assert values[_key("docqet_exporter_collector_up", collector="ecs")] == 1
    assert values[_key("docqet_exporter_collector_up", collector="rds")] == 1
    for collector in ("cloudfront", "route53", "apigateway", "waf"):
        assert values[_key("docqet_exporter_collector_up", collector=collector)] == 1
    assert values[_key("docqet_apigateway_requests_per_second", **base, api="docqet-public", stage="prod")] == 10
    names = {name for name, _ in values}
    edge = {*cloudfront.METRIC_NAMES, *route53.METRIC_NAMES, *apigateway.METRIC_NAMES, *waf.METRIC_NAMES}
    assert set(ecs.METRIC_NAMES) | set(rds.METRIC_NAMES) | edge <= names
    assert names <= exported_metric_names()


def test_demo_serves_until_interrupted(tmp_path: Path) -> None:
    """On every interface with ``--address 0.0.0.0``, as in compose.yaml's container."""
    proc = subprocess.Popen([*CLI, "demo", "--address", "0.0.0.0", "--port", "0", "--out", str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 240
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline() if proc.stderr else ""
            assert line or proc.poll() is None, "demo exited early"
            if "metrics:" in line:
                url = line.split()[-1]
        assert url is not None and url.startswith("http://0.0.0.0:")
        url = url.replace("0.0.0.0", "127.0.0.1")
        while requests.get(url.replace("/metrics", "/readyz"), timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        body = requests.get(url, timeout=5).text
        assert exposition_samples(body)[_key("docqet_ecs_service_desired_tasks", account="123456789012",
                                             cluster="docqet-staging", region="eu-west-1", service="worker")] == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
