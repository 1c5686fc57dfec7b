"""The exporter service: background refresh, snapshot swap, HTTP endpoints, and the serve/once commands."""

from __future__ import annotations

import contextlib
import gc
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from helpers import Samples, exposition_samples, free_port, promtool_findings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from docqet_monitor import cli
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import metrics, server
from docqet_monitor.exporters.metrics import Collection, Part, dedupe
from docqet_monitor.exporters.server import Exporter, Snapshot, serve

VENV_BIN = Path(sys.executable).parent


def _family(name: str, values: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, f"Test family {name}.", labels=["item"])
    for label, value in values.items():
        family.add_metric([label], value)
    return family


class FakeCollector:
    """Each refresh runs ``behaviour(n)`` (n = 1, 2, ...), counting calls and peak concurrency."""

    def __init__(self, name: str, behaviour: Callable[[int], Collection], interval_seconds: float = 3600) -> None:
        self.name = name
        self.interval_seconds = interval_seconds
        self.behaviour = behaviour
        self.calls = 0
        self.active = 0
        self.peak_active = 0
        self._lock = threading.Lock()

    def collect(self) -> Collection:
        with self._lock:
            self.calls += 1
            n = self.calls
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
        try:
            return self.behaviour(n)
        finally:
            with self._lock:
                self.active -= 1


def _values(n: int, name: str = "docqet_test_value") -> Collection:
    return Collection([_family(name, {"a": n, "b": n})])


class Gate:
    """A collector behaviour that blocks in ``collect`` until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, n: int) -> Collection:
        self.entered.set()
        self.release.wait(30)
        return _values(n)


def _samples(body: bytes) -> Samples:
    return exposition_samples(body.decode())


def _value(body: bytes, name: str, **labels: str) -> float | None:
    return _samples(body).get((name, tuple(sorted(labels.items()))))


@contextmanager
def _served(exporter: Exporter) -> Iterator[str]:
    httpd = serve(exporter, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- refresh and snapshot --------------------------------------------------------------------------


def test_scrapes_never_call_collectors_even_while_one_is_blocked() -> None:
    gate = Gate()
    slow = FakeCollector("slow", gate)
    fast = FakeCollector("fast", lambda n: _values(n, "docqet_test_fast"))
    exporter = Exporter([slow, fast], Stats(version="1.2.3"))
    with _served(exporter) as url:
        exporter.start()
        try:
            assert gate.entered.wait(10)
            for _ in range(20):
                response = requests.get(f"{url}/metrics", timeout=5)
                assert response.status_code == 200
            body = response.content
            assert _value(body, "docqet_exporter_build_info", version="1.2.3") == 1
            assert _value(body, "docqet_exporter_collector_up", collector="slow") == 0
            assert (slow.calls, fast.calls) == (1, 1)
            assert requests.get(f"{url}/readyz", timeout=5).status_code == 503
        finally:
            gate.release.set()
            exporter.stop()
    assert slow.calls == 1


def test_every_scrape_sees_one_whole_refresh() -> None:
    items = [f"i{k}" for k in range(300)]
    collector = FakeCollector("gen", lambda n: Collection([_family("docqet_test_gen", dict.fromkeys(items, n))]))
    exporter = Exporter([collector], Stats())
    exporter.refresh(collector)
    stop = threading.Event()

    def refresh_forever() -> None:
        while not stop.is_set():
            exporter.refresh(collector)

    refresher = threading.Thread(target=refresh_forever)
    refresher.start()
    seen = set()
    try:
        with _served(exporter) as url:
            for _ in range(60):
                samples = _samples(requests.get(f"{url}/metrics", timeout=5).content)
                generation = {v for (name, _), v in samples.items() if name == "docqet_test_gen"}
                assert len(generation) == 1
                assert sum(1 for name, _ in samples if name == "docqet_test_gen") == len(items)
                seen |= generation
    finally:
        stop.set()
        refresher.join(10)
    assert len(seen) > 1  # refreshes really happened between scrapes


def test_once_every_collector_refreshed_the_long_lived_objects_leave_the_gc_passes() -> None:
    collector = FakeCollector("one", _values)
    exporter = Exporter([collector], Stats())
    before = gc.get_threshold()
    exporter.check()
    assert gc.get_freeze_count() == 0  # not started
    exporter.watchdog_seconds = 0.05
    exporter.start()
    try:
        deadline = time.monotonic() + 10
        while gc.get_freeze_count() == 0:
            assert time.monotonic() < deadline, "the watchdog did not settle the garbage collector"
            time.sleep(0.05)
        assert gc.get_threshold() == server.GC_THRESHOLDS
        assert collector.calls == 1 and exporter.stats.ready()
    finally:
        exporter.stop()
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, before)  # stop undoes it


def test_one_refresh_of_a_collector_at_a_time() -> None:
    gate = Gate()
    collector = FakeCollector("single", gate)
    exporter = Exporter([collector], Stats())
    first = threading.Thread(target=exporter.refresh, args=(collector,))
    first.start()
    assert gate.entered.wait(10)
    assert exporter.refresh(collector) is None
    assert exporter.refresh_all() == {"single": None}
    gate.release.set()
    first.join(10)
    assert exporter.refresh(collector) is True
    assert (collector.calls, collector.peak_active) == (2, 1)


def test_failing_collector_keeps_last_good_series_and_others_continue() -> None:
    def flaky(n: int) -> Collection:
        if n == 2:
            raise TimeoutError("region eu-west-1 timed out")
        if n == 3:
            return Collection(errors=("throttled",))
        return _values(n, "docqet_test_flaky")

    flaky_collector = FakeCollector("flaky", flaky)
    steady = FakeCollector("steady", lambda n: _values(n, "docqet_test_steady"))
    clock = iter(range(1000, 2000))
    exporter = Exporter([flaky_collector, steady], Stats(), clock=lambda: float(next(clock)))

    assert exporter.refresh_all() == {"flaky": True, "steady": True}
    first_success = _value(exporter.snapshot().body,
                           "docqet_exporter_collector_last_success_timestamp_seconds", collector="flaky")
    for _ in (2, 3):  # an exception, then errors without families
        assert exporter.refresh_all() == {"flaky": False, "steady": True}
        body = exporter.snapshot().body
        assert _value(body, "docqet_test_flaky", item="a") == 1  # the last good series
        assert _value(body, "docqet_exporter_collector_up", collector="flaky") == 0
        assert _value(body, "docqet_exporter_collector_up", collector="steady") == 1
        assert _value(body, "docqet_exporter_collector_last_success_timestamp_seconds",
                      collector="flaky") == first_success
    assert _value(body, "docqet_test_steady", item="a") == 3
    assert exporter.refresh_all() == {"flaky": True, "steady": True}
    body = exporter.snapshot().body
    assert _value(body, "docqet_test_flaky", item="a") == 4
    assert _value(body, "docqet_exporter_collector_up", collector="flaky") == 1


def test_partial_collection_replaces_series_but_reports_failure() -> None:
    def partial(n: int) -> Collection:
        return _values(n) if n == 1 else Collection([_family("docqet_test_value", {"a": n})], ("one region down",))

    collector = FakeCollector("partial", partial)
    exporter = Exporter([collector], Stats())
    exporter.refresh(collector)
    assert exporter.refresh(collector) is False
    body = exporter.snapshot().body
    assert _value(body, "docqet_test_value", item="a") == 2
    assert _value(body, "docqet_test_value", item="b") is None
    assert _value(body, "docqet_exporter_collector_up", collector="partial") == 0


def test_a_family_belongs_to_the_part_of_the_first_collector_exporting_it(caplog: pytest.LogCaptureFixture) -> None:
    first = FakeCollector("first", lambda n: Collection([_family("docqet_test_shared", {"a": 1, "b": 2})]
                                                        if n == 1 else []))
    second = FakeCollector("second", lambda n: Collection([
        _family("docqet_test_shared", {"b": 20, "c": 3}), _family("docqet_test_own", {"x": n}),
        _family("docqet_exporter_build_info", {"x": 1})]))  # a self-metric's name: never a collector's
    exporter = Exporter([first, second], Stats(version="1.0"))
    exporter.refresh(first)
    exporter.refresh(second)
    body = exporter.snapshot().body
    assert body.count(b"# TYPE docqet_test_shared gauge") == 1
    assert body.count(b"# TYPE docqet_exporter_build_info gauge") == 1
    shared = {labels: v for (name, labels), v in _samples(body).items() if name == "docqet_test_shared"}
    assert shared == {(("item", "a"),): 1, (("item", "b"),): 2}  # the first collector's family only
    assert _value(body, "docqet_test_own", item="x") == 1
    assert _value(body, "docqet_exporter_build_info", version="1.0") == 1
    assert _value(body, "docqet_exporter_build_info", item="x") is None
    assert sorted(r.getMessage() for r in caplog.records if r.levelname == "WARNING") == [
        "family docqet_exporter_build_info is exported by self-metrics already; dropping it from this collector",
        "family docqet_test_shared is exported by first already; dropping it from this collector"]
    assert promtool_findings(body) == ""

    exporter.refresh(first)  # no longer exports it: the next collector to export it owns it
    exporter.refresh(second)
    shared = {labels: v for (name, labels), v in _samples(exporter.snapshot().body).items()
              if name == "docqet_test_shared"}
    assert shared == {(("item", "b"),): 20, (("item", "c"),): 3}


def _part_names(exporter: Exporter) -> list[set[str]]:
    return [set(p.names) for p in exporter.snapshot().parts]


def test_a_refresh_renders_only_its_collectors_part(monkeypatch: pytest.MonkeyPatch) -> None:
    a = FakeCollector("a", lambda n: Collection([_family("docqet_test_a", {"x": n}), _family("docqet_test_a2", {})]))
    b = FakeCollector("b", lambda n: Collection([_family("docqet_test_b", {"x": n})]))
    now = [1000.0]
    exporter = Exporter([a, b], Stats(), clock=lambda: now[0])
    exporter.refresh_all()
    rendered: list[set[str]] = []
    original = server.render_part

    def counted(families: list[Metric]) -> Part:
        rendered.append({f.name for f in families})
        return original(families)

    monkeypatch.setattr(server, "render_part", counted)
    before = exporter.snapshot().parts
    assert exporter.refresh(a) is True
    self_names = {f.name for f in exporter.stats.families()}
    assert rendered == [{"docqet_test_a", "docqet_test_a2"}, self_names]  # not b's
    after = exporter.snapshot().parts
    assert [set(p.names) for p in after] == [{"docqet_test_a", "docqet_test_a2"}, {"docqet_test_b"}, self_names]
    assert after[1] is before[1]  # b's part: the same bytes, not re-rendered
    assert _value(exporter.snapshot().body, "docqet_test_a", item="x") == 2
    rendered.clear()
    exporter.stats.register("b", 1.0, now[0])
    now[0] += 10
    exporter.check()  # the watchdog marks b stale: only the self-metrics are rendered again
    assert rendered == [self_names]


class _Registry:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


GaugeData = tuple[str, str, tuple[str, ...], list[tuple[tuple[str, ...], float]]]


def _targets_families() -> list[GaugeData]:
    """An AWS collector's families from its targets, as ``metrics.gauge`` arguments: two families a target; the
    last target repeats the first's account and region (its repeated series are dropped, its new one kept)."""
    targets = [("1", "eu", 0), ("1", "us", 1), ("2", "eu", 2), ("1", "eu", 3)]
    result: list[GaugeData] = []
    for account, region, t in targets:
        services = [f"s{k}" for k in range(30)] + (["new"] if t == 3 else [])
        result.append(("docqet_test_service", f"Services {t}.", ("service", "region", "account"),
                       [((s, region, account), float(t * 100 + k)) for k, s in enumerate(services)]))
        result.append(("docqet_test_up", "Up.", ("account", "region"), [((account, region), float(t))]))
    return result


def _gauge_family(name: str, documentation: str, labels: tuple[str, ...],
                  samples: list[tuple[tuple[str, ...], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def test_the_parts_make_the_exposition_one_render_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """The concatenated parts equal prometheus_client's render of every family at once (the single render of
    before), parse with its parser and promtool with no family split, and their gzip members decode as one."""
    monkeypatch.setattr(metrics, "CHUNK_CHARS", 2000)  # parts rendered (and compressed) in several chunks
    counter = CounterMetricFamily("docqet_test_requests", "Requests.", labels=["op"])
    counter.add_metric(["a\\b"], 3)
    collectors = [
        FakeCollector("one", lambda n: Collection([_family("docqet_test_one", {"a": 1.5, 'q"uote': 1e9}), counter])),
        FakeCollector("two", lambda n: Collection([_family("docqet_test_two", {f"i{k}": k for k in range(500)}),
                                                   _family("docqet_test_two", {"i1": 99, "j": 2})])),
        FakeCollector("empty", lambda n: Collection()),
        FakeCollector("regions", lambda n: Collection([metrics.gauge(*f) for f in _targets_families()])),
    ]
    stats = Stats(version="1.0")
    exporter = Exporter(collectors, stats, clock=lambda: 1000.0)
    exporter.refresh_all()
    snap = exporter.snapshot()
    assert len(snap.parts) == 5
    assert b"".join(snap.chunks(gzipped=False)) == snap.body
    families = [f for c in collectors[:3] for f in c.behaviour(1).families]
    families += [_gauge_family(*f) for f in _targets_families()] + stats.families()
    assert snap.body == generate_latest(_Registry(dedupe(families)))  # type: ignore[arg-type]

    parsed = [f.name for f in text_string_to_metric_families(snap.body.decode())]
    assert len(parsed) == len(set(parsed))  # no family split over two parts
    assert promtool_findings(snap.body) == ""
    assert gzip.decompress(snap.gzipped) == snap.body
    with gzip.GzipFile(fileobj=io.BytesIO(snap.gzipped)) as stream:
        assert stream.read() == snap.body
    members, rest = 0, snap.gzipped
    while rest:  # one gzip member per part
        inflate = zlib.decompressobj(wbits=31)
        inflate.decompress(rest)
        members, rest = members + 1, inflate.unused_data
    assert members == len(snap.parts)


def test_real_prometheus_scrapes_the_gzip_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collectors = [FakeCollector(f"c{k}", lambda n, k=k: Collection([_family(f"docqet_test_c{k}", {
        f"i{i}": i for i in range(100)})])) for k in range(3)]
    exporter = Exporter(collectors, Stats())
    exporter.refresh_all()
    series = sum(1 for line in exporter.snapshot().body.splitlines() if not line.startswith(b"#"))
    encodings: list[bool] = []
    accepts_gzip = server.accepts_gzip
    monkeypatch.setattr(server, "accepts_gzip", lambda header: encodings.append(accepts_gzip(header))
                        or encodings[-1])
    with _served(exporter) as url:
        (tmp_path / "prometheus.yml").write_text(
            "scrape_configs:\n  - job_name: exporter\n    scrape_interval: 1s\n"
            f"    static_configs: [{{targets: ['{url.removeprefix('http://')}']}}]\n")
        prometheus_port = free_port()
        proc = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            api = f"http://127.0.0.1:{prometheus_port}/api/v1/query"
            deadline, found = time.monotonic() + 60, []
            while not found:
                assert time.monotonic() < deadline, "Prometheus did not scrape the exporter in 60 s"
                time.sleep(0.5)
                with contextlib.suppress(requests.ConnectionError):
                    found = requests.get(api, params={"query": "scrape_samples_scraped and on() up == 1"},
                                         timeout=5).json()["data"]["result"]
        finally:
            proc.terminate()
            proc.wait(30)
    assert float(found[0]["value"][1]) == series
    assert encodings and all(encodings)  # Prometheus asks for gzip: it read the members as one stream


# --- HTTP ------------------------------------------------------------------------------------------


def test_http_endpoints_gzip_health_and_readiness() -> None:
    collector = FakeCollector("one", _values)
    exporter = Exporter([collector], Stats())
    with _served(exporter) as url:
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 503
        exporter.refresh(collector)
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
        assert requests.get(f"{url}/nope", timeout=5).status_code == 404

        plain = requests.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}, timeout=5)
        assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "Content-Encoding" not in plain.headers
        assert plain.content == exporter.snapshot().body
        assert _value(plain.content, "docqet_test_value", item="b") == 1

        zipped = requests.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip, deflate"}, timeout=5,
                              stream=True)
        assert zipped.headers["Content-Encoding"] == "gzip"
        raw = zipped.raw.read(decode_content=False)
        assert int(zipped.headers["Content-Length"]) == len(raw)
        assert gzip.decompress(raw) == plain.content


def test_etag_and_content_length_follow_the_parts() -> None:
    one, two = FakeCollector("one", _values), FakeCollector("two", lambda n: _values(n, "docqet_test_two"))
    exporter = Exporter([one, two], Stats(), clock=lambda: 1000.0)
    exporter.refresh_all()
    with _served(exporter) as url:
        def get(encoding: str, method: str = "GET", **headers: str) -> tuple[requests.Response, bytes]:
            response = requests.request(method, f"{url}/metrics", headers={"Accept-Encoding": encoding, **headers},
                                        timeout=5, stream=True)
            return response, response.raw.read(decode_content=False)

        plain, plain_raw = get("identity")
        zipped, zipped_raw = get("gzip")
        for response, raw in ((plain, plain_raw), (zipped, zipped_raw)):
            assert int(response.headers["Content-Length"]) == len(raw)
            head, head_raw = get(response.headers.get("Content-Encoding", "identity"), "HEAD")
            assert (head_raw, head.headers["Content-Length"], head.headers["ETag"]) == (
                b"", response.headers["Content-Length"], response.headers["ETag"])
        assert gzip.decompress(zipped_raw) == plain_raw == exporter.snapshot().body
        assert plain.headers["ETag"] != zipped.headers["ETag"]  # one per encoding

        again, _ = get("identity")
        assert again.headers["ETag"] == plain.headers["ETag"]  # nothing changed
        unchanged, body = get("gzip", **{"If-None-Match": f'"other", {zipped.headers["ETag"]}'})
        assert (unchanged.status_code, body, unchanged.headers["ETag"]) == (304, b"", zipped.headers["ETag"])
        assert get("gzip", **{"If-None-Match": plain.headers["ETag"]})[0].status_code == 200
        assert get("identity", **{"If-None-Match": f'W/{plain.headers["ETag"]}'})[0].status_code == 304
        assert get("identity", **{"If-None-Match": "*"})[0].status_code == 304

        exporter.refresh(two)  # new values in one part: a new ETag
        changed, changed_raw = get("identity", **{"If-None-Match": plain.headers["ETag"]})
        assert changed.status_code == 200 and changed.headers["ETag"] != plain.headers["ETag"]
        assert int(changed.headers["Content-Length"]) == len(changed_raw)
        assert _value(changed_raw, "docqet_test_two", item="a") == 2


def test_a_failing_request_is_logged_not_printed(caplog: pytest.LogCaptureFixture,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    class Broken(Exporter):
        def snapshot(self) -> Snapshot:
            raise RuntimeError("snapshot exploded")

    with _served(Broken([], Stats())) as url, pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/metrics", timeout=5)
    assert any(r.getMessage() == "http request from 127.0.0.1 failed" and r.exc_info for r in caplog.records)
    assert "Traceback" not in capfd.readouterr().err


def test_readyz_waits_for_every_collector() -> None:
    first, second = FakeCollector("first", _values), FakeCollector("second", _values)
    exporter = Exporter([first, second], Stats())
    with _served(exporter) as url:
        exporter.refresh(first)
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 503
        exporter.refresh(second)
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200


# --- the commands ----------------------------------------------------------------------------------


def test_once_prints_the_exposition_and_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.collector_registry, "build", lambda config, aws: [FakeCollector("ok", _values)])
    result = CliRunner().invoke(cli.main, ["exporter", "once"])
    assert result.exit_code == 0, result.output
    assert _value(result.stdout.encode(), "docqet_test_value", item="a") == 1
    assert _value(result.stdout.encode(), "docqet_exporter_collector_up", collector="ok") == 1


def test_once_exits_1_when_a_collector_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    def build(config: object, aws: object) -> list[FakeCollector]:
        return [FakeCollector("ok", _values), FakeCollector("broken", lambda n: Collection(errors=("boom",)))]

    monkeypatch.setattr(cli.collector_registry, "build", build)
    result = CliRunner().invoke(cli.main, ["exporter", "once"])
    assert result.exit_code == 1
    assert "collector(s) failed: broken (" in result.stderr
    body = result.stdout.encode()
    assert _value(body, "docqet_test_value", item="a") == 1  # the others are still printed
    assert _value(body, "docqet_exporter_collector_up", collector="broken") == 0


def _once(config: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    config.write_text("aws:\n  max_attempts: 1\ncollectors:\n  cost:\n    enabled: false\n")
    return subprocess.run([str(VENV_BIN / "docqet-monitor"), "--config", str(config), "exporter", "once"],
                          env=dict(os.environ, AWS_ENDPOINT_URL=endpoint), capture_output=True, text=True,
                          timeout=120, check=False)


def test_once_process_exit_codes(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ok = _once(tmp_path / "monitor.yaml", moto_endpoint)
    assert ok.returncode == 0, ok.stderr
    assert _value(ok.stdout.encode(), "docqet_exporter_collector_up", collector="ecs") == 1
    dead = _once(tmp_path / "monitor.yaml", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    assert dead.returncode == 1
    body = dead.stdout.encode()
    assert _value(body, "docqet_exporter_collector_up", collector="ecs") == 0
    # the first call of each AWS collector: the default account's id (then nothing else is tried); WAF asks twice,
    # for its REGIONAL and its CLOUDFRONT (global) part
    scrapes = {"alb": 1, "apigateway": 1, "aurora_global": 1, "cloudfront": 1, "ecs": 1, "elasticache": 1, "rds": 1,
               "route53": 1, "s3": 1, "waf": 2}
    assert f"collector(s) failed: {', '.join(scrapes)}" in dead.stderr
    assert _value(body, "docqet_exporter_aws_request_errors_total", service="sts", operation="GetCallerIdentity",
                  code="EndpointConnectionError") == sum(scrapes.values())


SECRET = "wJalrXUtnFEMI-do-not-print-7f3a9c"


@contextmanager
def _serve_process(*args: str, address: str = "127.0.0.1") -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    env = dict(os.environ, AWS_SECRET_ACCESS_KEY=SECRET)
    proc = subprocess.Popen([str(VENV_BIN / "docqet-monitor"), *args, "exporter", "serve", "--address",
                             address, "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                requests.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the exporter did not start listening"
                time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_and_stops_cleanly_on_signal(sig: signal.Signals, moto_endpoint: str,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with _serve_process() as (proc, url):
        response = requests.get(f"{url}/metrics", timeout=5)
        assert response.status_code == 200
        assert _value(response.content, "docqet_exporter_build_info", version=cli.__version__) == 1
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert "stopping" in err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)


def test_serve_on_ipv6_and_ipv4_with_double_colon(moto_endpoint: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``--address ::`` takes IPv6 and IPv4 scrapes (an IPv6 Kubernetes or ECS network); an IPv6 address was refused
    ("Address family for hostname not supported"), as the socket was IPv4's."""
    monkeypatch.chdir(tmp_path)
    with _serve_process(address="::") as (proc, url):
        port = url.rsplit(":", 1)[1]
        assert requests.get(f"http://[::1]:{port}/metrics", timeout=5).status_code == 200
        assert requests.get(f"{url}/metrics", timeout=5).status_code == 200  # 127.0.0.1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and f"listening on http://[::]:{port}/metrics" in err, err


def test_serve_json_logs_are_json_lines_without_secrets(moto_endpoint: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with _serve_process("-vv", "--log-format", "json") as (proc, url):
        requests.get(f"{url}/metrics", timeout=5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in err.splitlines()]
    messages = [r["message"] for r in records]
    assert any(m.startswith("listening on http://127.0.0.1:") for m in messages)
    assert "stopping" in messages
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert SECRET not in out + err


def test_serve_port_in_use_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.collector_registry, "build", lambda config, aws: [])
    exporter = Exporter([], Stats())
    with _served(exporter) as url:
        port = url.rsplit(":", 1)[1]
        result = CliRunner().invoke(cli.main, ["exporter", "serve", "--address", "127.0.0.1", "--port", port])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("address", ["256.1.1.1", "192.0.2.1"])  # no such name; an address of another machine
def test_serve_on_an_address_that_is_not_this_machines_is_a_usage_error(address: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.collector_registry, "build", lambda config, aws: [])
    result = CliRunner().invoke(cli.main, ["exporter", "serve", "--address", address, "--port", "0"])
    assert result.exit_code == 2
    assert f"cannot listen on {address}:0: " in result.stderr
    assert ("(--address / exporter.address: a name or IP address of this machine, or 0.0.0.0 for all of IPv4, :: for "
            "IPv6 and IPv4)") in result.stderr


ARENAS = """\
import ctypes, sys, tempfile, threading
from docqet_monitor.exporters import server
limited = server.limit_malloc_arenas() if sys.argv[1] == "limit" else None
libc = ctypes.CDLL(None)
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
ready, done = threading.Barrier(7), threading.Event()
def work():
    block = bytearray(100_000)  # from the thread's malloc arena (below the mmap threshold)
    ready.wait()
    done.wait()
for _ in range(6):
    threading.Thread(target=work).start()
ready.wait()
with tempfile.NamedTemporaryFile("r") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(limited, out.read().count("<heap nr="))
done.set()
"""


@pytest.mark.parametrize(("mode", "environ", "expected"), [
    ("none", {}, "None 7"),  # glibc: an arena for each new thread (up to 8 per core)
    ("limit", {}, "True 2"),
    ("limit", {"MALLOC_ARENA_MAX": "3"}, "False 3"),  # the environment's setting stands
])
def test_the_exporters_threads_share_two_malloc_arenas(mode: str, environ: dict[str, str], expected: str) -> None:
    """Six threads each holding a block: glibc's malloc_info counts the arenas (heaps) they use."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | environ
    out = subprocess.run([sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == expected
