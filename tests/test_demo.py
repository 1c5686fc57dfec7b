"""The embedded demo: seeding helpers, and ``docqet-monitor demo`` end to end in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from exporters import cloudwatch, demo, ecs, rds
from exporters.collectors import exported_metric_names

CLI = [sys.executable, "-c", "import cli; cli.main()"]
ROOT = Path(__file__).resolve().parents[1]
LB = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/docqet-staging/1"
TGS = {"api": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/docqet-staging-api/2",
       "web": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/docqet-staging-web/3"}


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


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
    services = [ecs.EcsService(demo.CLUSTER, s.name, target_groups=(TGS[s.name],) if s.name in TGS else ())
                for s in demo.ECS_SERVICES]
    lbs = {tg: (LB,) for tg in TGS.values()}
    clusters = [rds.DbCluster(demo.CLUSTER)]
    instances = [rds.DbInstance(i.name, demo.CLUSTER) for i in demo.AURORA_INSTANCES]
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


def test_demo_once_prints_the_seeded_environment() -> None:
    done = subprocess.run([*CLI, "demo", "--once"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "AWS emulator (moto) on http://127.0.0.1:" in done.stderr
    values = _values(done.stdout)
    base = {"cluster": "docqet-staging", "region": "eu-west-1"}
    assert values[_key("docqet_ecs_service_running_tasks", **base, service="api")] == 3
    assert values[_key("docqet_ecs_service_http_requests_per_second", **base, service="api")] == 25
    assert values[_key("docqet_rds_instance_replica_lag_seconds", **base, instance="docqet-staging-2",
                       role="reader")] == pytest.approx(0.018)
    assert values[_key("docqet_exporter_collector_up", collector="ecs")] == 1
    assert values[_key("docqet_exporter_collector_up", collector="rds")] == 1
    names = {name for name, _ in values}
    assert set(ecs.METRIC_NAMES) | set(rds.METRIC_NAMES) <= names
    assert names <= exported_metric_names()


def test_demo_serves_until_interrupted() -> None:
    proc = subprocess.Popen([*CLI, "demo", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 240
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline() if proc.stderr else ""
            assert line or proc.poll() is None, "demo exited early"
            if "metrics:" in line:
                url = line.split()[-1]
        assert url is not None and url.startswith("http://127.0.0.1:")
        while requests.get(url.replace("/metrics", "/readyz"), timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        body = requests.get(url, timeout=5).text
        assert _values(body)[_key("docqet_ecs_service_desired_tasks", cluster="docqet-staging",
                                  region="eu-west-1", service="worker")] == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
