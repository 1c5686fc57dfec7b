"""Faults against the real ECS and RDS collectors on seeded moto: throttling and 5xx on a share of calls, a
region that times out, malformed responses. The exporter keeps serving, counts the errors by code in its
self-metrics, keeps a failed collector's last good series, and recovers on the next refresh."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from aws_limits import AwsLimits
from botocore.awsrequest import AWSResponse
from faults import FaultyAws, Request, every_nth, response, throttled, timeout, unavailable, when
from helpers import Samples, exposition_samples, promtool_findings, seed

from docqet_monitor.core.config import AwsConfig, Config
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.server import Exporter, serve

SELF = "docqet_exporter_"


@dataclasses.dataclass
class Setup:
    aws: FaultyAws
    exporter: Exporter
    url: str

    def scrape(self) -> Samples:
        """/metrics over HTTP, as samples."""
        body = requests.get(f"{self.url}/metrics", timeout=10)
        assert body.status_code == 200
        return exposition_samples(body.text)


@pytest.fixture(scope="module")
def seeded(moto_server: str) -> Config:
    """Staging seeded once for the module: the fault tests only read from AWS."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        return seed(moto_server)


@pytest.fixture
def setup(seeded: Config, moto_server: str, aws_limits: AwsLimits, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    config = seeded
    off = config.collectors
    # the ECS and RDS collectors: the faults hit the shared client path, which the other AWS collectors share too
    only_aws = dataclasses.replace(off, qdrant=dataclasses.replace(off.qdrant, enabled=False),
                                   cost=dataclasses.replace(off.cost, enabled=False),
                                   **{name: dataclasses.replace(getattr(off, name), enabled=False)
                                      for name in ("elasticache", "alb", "s3", "aurora_global",
                                                   "cloudfront", "route53", "apigateway", "waf")})
    config = dataclasses.replace(config, aws=AwsConfig(max_attempts=3), collectors=only_aws)
    with _serving(config, aws_limits) as result:
        yield result


@contextmanager
def _serving(config: Config, limits: AwsLimits) -> Iterator[Setup]:
    stats = Stats()
    aws = FaultyAws(settings=config.aws, stats=stats, session_factory=limits.session)
    exporter = Exporter(collectors.build(config, aws), stats)
    httpd = serve(exporter, "127.0.0.1", 0)
    try:
        yield Setup(aws, exporter, f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()


RESTORABLE = "docqet_rds_cluster_latest_restorable_timestamp_seconds"  # moto says "now": changes every refresh


def data(samples: Samples, collector: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], Any]:
    """The collectors' series (no self-metrics; restore timestamps as "set"), optionally of one collector."""
    prefix = f"docqet_{collector}_" if collector else "docqet_"
    return {k: "set" if k[0] == RESTORABLE else v for k, v in samples.items()
            if k[0].startswith(prefix) and not k[0].startswith(SELF)}


def restorable(samples: Samples, region: str) -> float:
    return samples[(RESTORABLE, (("account", "123456789012"), ("db_cluster", "docqet-staging"), ("region", region)))]


def self_metric(samples: Samples, name: str) -> dict[dict[str, str] | tuple, float]:
    return {labels: v for (n, labels), v in samples.items() if n == f"{SELF}{name}"}


def errors_by_code(samples: Samples) -> dict[str, float]:
    result: dict[str, float] = {}
    for labels, value in self_metric(samples, "aws_request_errors_total").items():
        code = dict(labels)["code"]
        result[code] = result.get(code, 0) + value
    return result


def requests_sent(samples: Samples, service: str | None = None) -> float:
    return sum(v for labels, v in self_metric(samples, "aws_requests_total").items()
               if service in (None, dict(labels)["service"]))


def up(samples: Samples, collector: str) -> float:
    return samples[(f"{SELF}collector_up", (("collector", collector),))]


def _baseline(s: Setup) -> Samples:
    assert s.exporter.refresh_all() == {"ecs": True, "rds": True}
    samples = s.scrape()
    assert data(samples, "ecs") and data(samples, "rds")
    assert not errors_by_code(samples)
    return samples


# --- a share of calls fails -----------------------------------------------------------------------


@pytest.mark.parametrize(("make", "codes"), [
    (throttled, {"Throttling", "ThrottlingException"}),
    (unavailable, {"ServiceUnavailable", "ServiceUnavailableException"}),
], ids=["throttling", "5xx"])
def test_a_share_of_failing_calls_is_retried_and_counted(setup: Setup, make, codes: set[str]) -> None:
    before = _baseline(setup)
    setup.aws.fault = every_nth(2, make)  # half the calls to each service
    assert setup.exporter.refresh_all() == {"ecs": True, "rds": True}
    after = setup.scrape()
    injected = setup.aws.injected
    assert len(injected) >= 3
    assert {r.protocol for r in injected} >= {"json", "query"}  # ECS/CloudWatch and RDS/ELBv2 alike
    assert data(after) == data(before)
    found = errors_by_code(after)
    assert set(found) <= codes and sum(found.values()) == len(injected)
    # the default account's id is asked once per process (STS), not on every refresh
    assert requests_sent(before, "sts") == requests_sent(after, "sts") == 1
    assert requests_sent(after) == 2 * requests_sent(before) - 1 + len(injected)
    assert promtool_findings(setup.exporter.snapshot().body) == ""


# --- a region that times out --------------------------------------------------------------------


def test_a_region_that_times_out_keeps_its_last_series_and_recovers(setup: Setup) -> None:
    before = _baseline(setup)
    assert {dict(labels)["region"] for (_, labels) in data(before)} == {"eu-west-1", "us-east-1"}
    last_success = self_metric(before, "collector_last_success_timestamp_seconds")

    setup.aws.fault = when(lambda r: r.region == "us-east-1", timeout)
    assert setup.exporter.refresh_all() == {"ecs": False, "rds": False}
    during = setup.scrape()
    assert up(during, "ecs") == up(during, "rds") == 0
    assert data(during) == data(before)  # eu-west-1 fresh (same values), us-east-1 the last good
    assert restorable(during, "us-east-1") == restorable(before, "us-east-1")
    assert restorable(during, "eu-west-1") > restorable(before, "eu-west-1")
    assert self_metric(during, "collector_last_success_timestamp_seconds") == last_success
    timeouts = errors_by_code(during)
    assert set(timeouts) == {"ReadTimeoutError"}
    assert timeouts["ReadTimeoutError"] == len(setup.aws.injected) >= 2 * 3  # ecs and rds, each 3 attempts
    assert {r.region for r in setup.aws.injected} == {"us-east-1"}
    assert promtool_findings(setup.exporter.snapshot().body) == ""

    setup.aws.fault = None
    assert setup.exporter.refresh_all() == {"ecs": True, "rds": True}
    after = setup.scrape()
    assert up(after, "ecs") == up(after, "rds") == 1
    assert data(after) == data(before)
    assert errors_by_code(after) == timeouts  # nothing new


# --- malformed responses --------------------------------------------------------------------------


def _body(body: bytes, content_type: str) -> Callable[[Request], AWSResponse]:
    def make(request: Request) -> AWSResponse:
        return response(request, 200, body, content_type)
    return make


@pytest.mark.parametrize(("operation", "make", "code", "failing"), [
    ("DescribeServices", _body(b"{}", "application/x-amz-json-1.1"), "MalformedResponse", {"ecs"}),
    ("DescribeDBInstances", _body(b"<DescribeDBInstancesResponse><Desc", "text/xml"), "ResponseParserError",
     {"rds"}),
    ("GetMetricData", _body(b'{"Messages": []}', "application/x-amz-json-1.0"), "MalformedResponse",
     {"ecs", "rds"}),
], ids=["ecs-missing-field", "rds-unparseable", "cloudwatch-missing-field"])
def test_malformed_responses_fail_the_collector_and_are_counted(setup: Setup, operation: str, make, code: str,
                                                                failing: set[str]) -> None:
    before = _baseline(setup)
    setup.aws.fault = when(lambda r: r.operation == operation and r.region == "eu-west-1", make)
    results = setup.exporter.refresh_all()
    assert {name for name, ok in results.items() if not ok} == failing
    during = setup.scrape()
    for name in ("ecs", "rds"):
        assert up(during, name) == (0 if name in failing else 1)
    assert data(during) == data(before)  # the failed region's last good series are kept
    assert errors_by_code(during) == {code: len(setup.aws.injected)}
    assert {(r.service, r.operation) for r in setup.aws.injected} == {
        ({"DescribeServices": "ecs", "DescribeDBInstances": "rds"}.get(operation, "cloudwatch"), operation)}

    setup.aws.fault = None
    assert setup.exporter.refresh_all() == {"ecs": True, "rds": True}
    after = setup.scrape()
    assert up(after, "ecs") == up(after, "rds") == 1
    assert data(after) == data(before)
