"""Per-(account, region) collection: targets from the config, failures isolated per target, role accounts."""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
import pytest
from helpers import samples, value

from docqet_monitor.core import discovery
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AccountConfig, AwsConfig, Config
from docqet_monitor.exporters import ecs, regional
from docqet_monitor.exporters.metrics import Rendered, gauge, render

PROD = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet-monitor", name="prod")
DR = AccountConfig(role_arn="arn:aws:iam::222222222222:role/docqet-monitor", regions=("us-west-2",))


def test_targets_cover_the_default_account_and_each_role_account() -> None:
    config = Config(regions=("eu-west-1", "eu-central-1"), accounts=(PROD, DR))
    assert [str(t) for t in discovery.targets(config)] == [
        "eu-west-1", "eu-central-1", "prod/eu-west-1", "prod/eu-central-1",
        "arn:aws:iam::222222222222:role/docqet-monitor/us-west-2"]


def test_targets_default_to_the_environment_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    assert discovery.targets(Config()) == (discovery.Target("ap-southeast-2"),)


def _gauge(region: str, v: float) -> list[Rendered]:
    return [gauge("docqet_test", "test", ("region", "cluster"), [((region, "same"), v), (("x", "y"), 1)])]


def test_collect_isolates_failures_per_target_and_merges_families() -> None:
    calls: dict[str, int] = {}
    broken: set[str] = set()

    def scrape(target: discovery.Target, client: Any) -> list[Rendered]:
        calls[target.region] = calls.get(target.region, 0) + 1
        if target.region in broken:
            raise TimeoutError("read timed out")
        return _gauge(target.region, calls[target.region])

    collector = regional.AwsCollector("t", 60, Aws(), [discovery.Target("a"), discovery.Target("b")], scrape)
    first = collector.collect()
    assert first.errors == ()
    body = render(first.families)
    assert body.count(b"# TYPE docqet_test gauge") == 1  # one family, merged
    assert len(body.splitlines()) == 2 + 3  # ("x", "y") from both targets once: no duplicate series

    broken.add("b")
    second = collector.collect()
    assert second.errors == ("cannot read t metrics in b: read timed out (TimeoutError)",)
    assert value(second.families, "docqet_test", region="a") == 2  # fresh
    assert value(second.families, "docqet_test", region="b") == 1  # the last good one

    broken.clear()
    assert value(collector.collect().families, "docqet_test", region="b") == 3


def test_a_collector_scrapes_as_many_targets_at_once_as_requests_may_be_in_flight() -> None:
    """Each target waits for all the others: this ends only when every one runs at the same time (20 targets,
    more than the 16 an earlier fixed cap allowed)."""
    targets = [discovery.Target(f"region-{i}") for i in range(20)]
    together = threading.Barrier(len(targets), timeout=20)

    def scrape(target: discovery.Target, client: Any) -> list[Rendered]:
        together.wait()
        return _gauge(target.region, 1)

    aws = Aws(settings=AwsConfig(max_concurrency_total=len(targets)))
    assert regional.AwsCollector("t", 60, aws, targets, scrape).collect().errors == ()


def test_a_collector_runs_no_more_threads_than_it_may_scrape_targets_at_once() -> None:
    """60 targets, 4 at once: 4 worker threads scrape them all (a thread per target would start 60, which grows
    with accounts x regions into a container's pids limit)."""
    targets = [discovery.Target(f"region-{i}") for i in range(60)]
    lock, now, peak, threads = threading.Lock(), [0], [0], set()

    def scrape(target: discovery.Target, client: Any) -> list[Rendered]:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
            threads.add(threading.get_ident())
        threading.Event().wait(0.01)
        with lock:
            now[0] -= 1
        return _gauge(target.region, 1)

    before = threading.active_count()
    collector = regional.AwsCollector("t", 60, Aws(settings=AwsConfig(max_concurrency_total=4)), targets, scrape)
    result = collector.collect()
    assert result.errors == () and len(samples(result.families, "docqet_test")) == 60 + 1  # each one's, and x/y
    assert peak[0] == 4 and len(threads) <= 4
    assert threading.active_count() <= before + 4


def test_a_thread_that_cannot_start_fails_its_targets_for_this_refresh_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``can't start new thread`` (a pids limit): the targets are reported failed, not left waiting for ever,
    and the next refresh scrapes them."""
    targets = [discovery.Target("a"), discovery.Target("b")]
    collector = regional.AwsCollector("t", 60, Aws(), targets, lambda t, _: _gauge(t.region, 1))
    start = threading.Thread.start

    def refused(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refused)
    result = collector.collect()
    assert result.errors == ("cannot read t metrics in a: cannot start a thread: can't start new thread",
                             "cannot read t metrics in b: cannot start a thread: can't start new thread")
    monkeypatch.setattr(threading.Thread, "start", start)
    result = collector.collect()
    assert result.errors == () and value(result.families, "docqet_test", region="b") == 1


def test_a_failing_target_is_one_warning_line_in_the_exporter_log(caplog: pytest.LogCaptureFixture) -> None:
    from docqet_monitor.core.stats import Stats
    from docqet_monitor.exporters.server import Exporter

    def scrape(target: discovery.Target, client: Any) -> list[Rendered]:
        raise TimeoutError("read timed out")

    caplog.set_level(logging.WARNING)
    Exporter([regional.AwsCollector("t", 60, Aws(), [discovery.Target("b")], scrape)], Stats()).refresh_all()
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("WARNING", "collector error: cannot read t metrics in b: read timed out (TimeoutError)", None)]
    caplog.clear()
    caplog.set_level(logging.DEBUG)  # -vv: the traceback too
    Exporter([regional.AwsCollector("t", 60, Aws(), [discovery.Target("b")], scrape)], Stats()).refresh_all()
    assert any(r.exc_info for r in caplog.records)


def test_an_aws_failure_is_named_in_our_words() -> None:
    from botocore.exceptions import NoCredentialsError

    def scrape(target: discovery.Target, client: Any) -> list[Rendered]:
        raise NoCredentialsError()

    result = regional.AwsCollector("ecs", 60, Aws(), [discovery.Target("eu-west-1")], scrape).collect()
    assert result.errors == ("cannot read ecs metrics in eu-west-1: no AWS credentials found (NoCredentialsError)",)


def test_a_target_that_never_succeeded_has_no_series() -> None:
    def scrape(target: discovery.Target, client: Any) -> list[Rendered]:
        raise ConnectionError("no route")

    result = regional.AwsCollector("t", 60, Aws(), [discovery.Target("a")], scrape).collect()
    assert result.families == [] and len(result.errors) == 1


def test_gauge_and_arn_helpers() -> None:
    family = gauge("docqet_x", "help", ("b", "a"), [(("2", "1"), 2.0), (("3", "1"), 3.0)])
    assert family == Rendered("docqet_x", b"# HELP docqet_x help\n# TYPE docqet_x gauge\n",
                              b'docqet_x{a="1",b="2"} 2.0\ndocqet_x{a="1",b="3"} 3.0\n', (("a", "1"),))
    assert discovery.arn_resource("arn:aws:ecs:eu-west-1:1:service/c/s") == "service/c/s"
    assert discovery.arn_name("arn:aws:ecs:eu-west-1:1:service/c/s") == "s"
    assert discovery.arn_name("plain") == "plain"


def test_role_accounts_are_collected_with_assumed_credentials(moto_endpoint: str) -> None:
    """moto keeps resources per account: the prod cluster exists only under the assumed role's account."""
    creds = boto3.client("sts").assume_role(RoleArn=PROD.role_arn, RoleSessionName="seed")["Credentials"]
    prod = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"]).client("ecs")
    own = boto3.client("ecs")
    for client, cluster in ((own, "docqet-staging"), (prod, "docqet-production")):
        client.create_cluster(clusterName=cluster)
        client.register_task_definition(family="api", containerDefinitions=[{"name": "a", "image": "a", "memory": 64}])
        client.create_service(cluster=cluster, serviceName="api", taskDefinition="api", desiredCount=2)

    config = Config(regions=("eu-west-1",), accounts=(PROD,), aws=AwsConfig(max_attempts=1))
    result = ecs.collector(config, Aws(settings=config.aws)).collect()
    assert result.errors == ()
    clusters = {dict(k)["cluster"] for k in samples(result.families, "docqet_ecs_service_desired_tasks")}
    assert clusters == {"docqet-staging", "docqet-production"}
