"""Isolation: one region whose endpoint hangs (every request waits, then times out) does not delay the other
regions' refreshes — their series are served and refreshed again while it hangs — and the collector reports
up 0 once the hung region's attempts have run out. No timing assertions: ordering, with generous bounds."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from faults import FaultyAws, Request, when
from helpers import exposition_samples, seed

from docqet_monitor.core.config import AwsConfig, Config
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.server import Exporter

HUNG, HEALTHY = "us-east-1", "eu-west-1"
BOUND = 120.0  # seconds: generous, only against a test that would otherwise never end


def _until(condition: Callable[[], bool], step: Callable[[], object] = lambda: None) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, "not reached within the bound"
        step()
        time.sleep(0.1)


def _desired(exporter: Exporter, region: str) -> float | None:
    samples = exposition_samples(exporter.snapshot().body.decode())
    key = ("docqet_ecs_service_desired_tasks", (("account", "123456789012"), ("cluster", "docqet-staging"),
                                                 ("region", region), ("service", "api")))
    return samples.get(key)


@pytest.fixture
def staging(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.chdir(tmp_path)
    config = seed(moto_endpoint)
    off = config.collectors
    only_ecs = dataclasses.replace(off, **{name: dataclasses.replace(getattr(off, name), enabled=False) for name in (
        "rds", "qdrant", "elasticache", "alb", "s3", "aurora_global", "cloudfront", "route53", "apigateway", "waf")})
    return dataclasses.replace(config, collectors=only_ecs,
                               aws=AwsConfig(max_attempts=2, connect_timeout_seconds=1.0))


def test_a_hung_region_does_not_delay_the_others(staging: Config) -> None:
    entered, release = threading.Event(), threading.Event()

    def hang(request: Request) -> None:
        entered.set()
        assert release.wait(BOUND), "the test never released the hung region"
        raise ReadTimeoutError(endpoint_url=request.url)

    stats = Stats()
    aws = FaultyAws(settings=staging.aws, stats=stats, fault=when(lambda r: r.region == HUNG, hang))
    exporter = Exporter(collectors.build(staging, aws), stats)
    [ecs] = exporter.collectors
    ecs.interval_seconds = 3.0  # a background refresh ends after this even while a region still runs

    # background refreshes (as the serve loop runs them) until the healthy region's series are served
    _until(lambda: _desired(exporter, HEALTHY) == 3, lambda: exporter.refresh(ecs))
    assert entered.is_set() and not release.is_set() and aws.injected == []  # the hung attempt has not ended
    assert _desired(exporter, HUNG) is None

    # the healthy region is refreshed again while the other still hangs
    boto3.client("ecs", region_name=HEALTHY).update_service(cluster="docqet-staging", service="api", desiredCount=5)
    _until(lambda: _desired(exporter, HEALTHY) == 5, lambda: exporter.refresh(ecs))
    assert not release.is_set() and aws.injected == []
    assert stats.collectors["ecs"].up  # no failure yet: the hung region's attempts have not run out

    # its attempts run out: the collector reports up 0, the healthy region's series stay
    release.set()
    _until(lambda: exporter.refresh(ecs) is False)
    assert not stats.collectors["ecs"].up
    assert {r.region for r in aws.injected} == {HUNG} and len(aws.injected) >= staging.aws.max_attempts
    assert stats.errors.get(("ecs", "ListClusters", "ReadTimeoutError"), 0) + stats.errors.get(
        ("sts", "GetCallerIdentity", "ReadTimeoutError"), 0) >= staging.aws.max_attempts
    assert _desired(exporter, HEALTHY) == 5 and _desired(exporter, HUNG) is None


def test_once_waits_for_every_region(staging: Config) -> None:
    """``exporter once`` (refresh_all) waits for a slow region instead of printing without it."""
    release = threading.Event()

    def slow(request: Request) -> None:
        assert release.wait(BOUND)

    stats = Stats()
    aws = FaultyAws(settings=staging.aws, stats=stats, fault=when(lambda r: r.region == HUNG, slow))
    exporter = Exporter(collectors.build(staging, aws), stats)
    [ecs] = exporter.collectors
    ecs.interval_seconds = 0.5
    done: dict[str, bool | None] = {}
    worker = threading.Thread(target=lambda: done.update(exporter.refresh_all()))
    worker.start()
    time.sleep(1.0)  # longer than the collector's interval: a background refresh would have returned
    assert worker.is_alive() and not done
    release.set()
    worker.join(BOUND)
    assert done == {"ecs": True}
    assert _desired(exporter, HEALTHY) == _desired(exporter, HUNG) == 3
