"""The HTTP front process of ``exporter serve`` (exporters/front.py): what the exporter sends it, what it serves,
and that the two processes live and die together."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from helpers import children, exposition_samples, free_port, poll
from prometheus_client.core import GaugeMetricFamily

from docqet_monitor.core.errors import RunError
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import limits, webconfig
from docqet_monitor.exporters.front import Frame, Front, Mirror, encode, frame_of, read_frame
from docqet_monitor.exporters.metrics import Collection
from docqet_monitor.exporters.server import SELF, Exporter, listen

VENV_BIN = Path(sys.executable).parent
WAIT = 60.0  # seconds a poll may take before the test fails (a bound, not a measurement)


class Counting:
    """A collector whose n-th refresh exports ``docqet_test_value{item="a"} n``."""

    def __init__(self, name: str = "counting") -> None:
        self.name, self.interval_seconds, self.calls = name, 3600.0, 0

    def collect(self) -> Collection:
        self.calls += 1
        family = GaugeMetricFamily(f"docqet_test_{self.name}", "Test family.", labels=["item"])
        family.add_metric(["a"], self.calls)
        return Collection([family])


def _poll(what: str, check: Callable[[], Any]) -> Any:
    return poll(what, check, WAIT)



def _gone(pid: int) -> bool:
    """The process has exited (gone, or a zombie its new parent has not reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# --- frames and the mirror (pure) -------------------------------------------------------------------------


def test_a_frame_round_trips_and_a_cut_one_is_the_end() -> None:
    frame = Frame(("ecs", SELF), ("ecs: first refresh pending",), {"ecs": b"\x1f\x8b ecs", SELF: b"self"},
                  ("a-secret",))
    stream = io.BytesIO(b"".join(encode(frame) + encode(Frame((SELF,), (), {}))))
    assert read_frame(stream) == frame
    assert read_frame(stream) == Frame((SELF,), (), {})
    assert read_frame(stream) is None
    whole = b"".join(encode(frame))
    assert read_frame(io.BytesIO(whole[:-3])) is None  # the exporter died while writing


def test_only_the_parts_the_front_lacks_are_sent() -> None:
    exporter = Exporter([Counting("one"), Counting("two")], Stats(version="1"))
    seen: list[tuple[tuple[str, ...], Any]] = []
    exporter.watch(lambda names, snapshot: seen.append((names, snapshot)))
    exporter.refresh_all()
    names, snapshot = seen[-1]
    assert names == ("one", "two", SELF)
    first = frame_of(names, snapshot, {}, [], ("s3cret",), ())
    assert set(first.parts) == {"one", "two", SELF} and first.secrets == ("s3cret",)
    sent = dict(zip(names, snapshot.parts, strict=True))
    exporter.refresh(exporter.collectors[1])
    names, snapshot = seen[-1]
    update = frame_of(names, snapshot, sent, exporter.not_ready(), ("s3cret",), ("s3cret",))
    assert set(update.parts) == {"two", SELF}  # "one" did not change; the self-metrics always do
    assert update.secrets == () and update.not_ready == ()


def test_the_mirror_serves_the_exporters_bytes_and_entity_tags() -> None:
    exporter = Exporter([Counting("one"), Counting("two")], Stats(version="1"))
    frames: list[Frame] = []
    sent: dict[str, object] = {}

    def send(names: tuple[str, ...], snapshot: Any) -> None:
        frames.append(frame_of(names, snapshot, sent, exporter.not_ready(), (), ()))
        sent.clear()
        sent.update(zip(names, snapshot.parts, strict=True))

    exporter.watch(send)
    mirror = Mirror()
    mirror.apply(frames[0])
    assert mirror.not_ready() == ["one: first refresh pending", "two: first refresh pending"]
    exporter.refresh_all()
    for frame in frames[1:]:
        mirror.apply(frame)
    ours, theirs = mirror.snapshot(), exporter.snapshot()
    assert mirror.not_ready() == []
    assert ours.gzipped == theirs.gzipped
    assert b"".join(ours.chunks(False)) == theirs.body  # inflated from the gzip members
    assert (ours.etag(False), ours.etag(True)) == (theirs.etag(False), theirs.etag(True))
    mirror.apply(Frame(("two", SELF), (), {}))  # a part no longer named is dropped
    assert b"docqet_test_one" not in b"".join(mirror.snapshot().chunks(False))
    with pytest.raises(ValueError, match="an update names parts never sent: three"):
        mirror.apply(Frame(("three", SELF), (), {}))


def test_the_front_imports_no_botocore() -> None:
    code = ("import sys; import docqet_monitor.exporters.front; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'botocore', 'boto3', 's3transfer'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


# --- Front: the exporter's side, with a real front process -------------------------------------------------


@contextmanager
def _front(exporter: Exporter, web: webconfig.WebConfig | None = None) -> Iterator[tuple[Front, str]]:
    with listen("127.0.0.1", 0) as sock:
        port = sock.getsockname()[1]
        front = Front(exporter, sock, web)
        front.start()
    try:
        yield front, f"http://127.0.0.1:{port}"
    finally:
        front.stop()


def test_the_front_serves_what_the_exporter_renders_and_follows_its_refreshes() -> None:
    collector = Counting()
    exporter = Exporter([collector], Stats(version="7.7.7"))
    with _front(exporter) as (front, url):
        assert children(os.getpid())[front.pid].split()[1:3] == ["-m", "docqet_monitor.exporters.front"]
        ready = requests.get(f"{url}/readyz", timeout=5)
        assert (ready.status_code, ready.text) == (503, "not ready: counting: first refresh pending\n")
        before = requests.get(f"{url}/metrics", timeout=5)
        assert before.status_code == 200 and 'docqet_exporter_build_info{version="7.7.7"} 1.0' in before.text
        assert requests.get(f"{url}/healthz", timeout=5).text == "ok\n"

        exporter.refresh(collector)
        _poll("ready after the first refresh", lambda: requests.get(f"{url}/readyz", timeout=5).ok or None)
        snapshot = exporter.snapshot()
        plain = requests.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}, timeout=5)
        raw = requests.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True).raw
        assert plain.content == snapshot.body and plain.headers["ETag"] == snapshot.etag(False)
        assert raw.headers["Content-Encoding"] == "gzip" and raw.headers["ETag"] == snapshot.etag(True)
        assert gzip.decompress(raw.read(decode_content=False)) == snapshot.body
        unchanged = requests.get(f"{url}/metrics", headers={"If-None-Match": snapshot.etag(False),
                                                            "Accept-Encoding": "identity"}, timeout=5)
        assert unchanged.status_code == 304 and unchanged.content == b""

        exporter.refresh(collector)
        _poll("the second refresh served", lambda: exposition_samples(requests.get(f"{url}/metrics", timeout=5).text)
              .get(("docqet_test_counting", (("item", "a"),))) == 2 or None)
    assert _gone(front.pid)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)


def test_a_front_that_cannot_start_is_a_run_error(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users: {}\n")
    web = webconfig.load(path)
    path.write_text("basic_auth_users: [\n")  # changed after the exporter checked it: the front refuses it
    with listen("127.0.0.1", 0) as sock, pytest.raises(RunError, match=r"did not start \(exit code 2"):
        Front(Exporter([], Stats()), sock, web).start()


# --- `docqet-monitor exporter serve`: the two processes -------------------------------------------------------


@pytest.fixture
def served(moto_endpoint: str, tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], str, int]]]:
    """Start ``docqet-monitor [ARGS] exporter serve`` (ECS only, one service in moto): the process, its URL, its
    front's pid."""
    ecs = boto3.client("ecs", region_name="eu-west-1")
    ecs.register_task_definition(family="t", containerDefinitions=[{"name": "t", "image": "t", "memory": 64}])
    ecs.create_cluster(clusterName="front")
    ecs.create_service(cluster="front", serviceName="api", taskDefinition="t", desiredCount=2)
    config = tmp_path / "monitor.yaml"
    config.write_text("regions: [eu-west-1]\naws: {max_attempts: 1}\ncollectors: {"
                      + ", ".join(f"{c}: {{enabled: false}}" for c in (
                          "rds", "elasticache", "alb", "s3", "aurora_global", "cost", "cloudfront", "route53",
                          "apigateway", "waf", "qdrant")) + "}\n")
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str, config_text: str | None = None,
              env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str, int]:
        if config_text is not None:
            config.write_text(config_text)
        port = free_port()
        proc = subprocess.Popen([str(VENV_BIN / "docqet-monitor"), "--config", str(config), *args, "exporter",
                                 "serve", "--address", "127.0.0.1", "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **(env or {})})
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def listening() -> bool | None:
            assert proc.poll() is None, proc.communicate()
            return requests.get(f"{url}/healthz", timeout=1).ok or None

        _poll("the exporter listens", listening)
        [front] = children(proc.pid)
        return proc, url, front

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_answers_through_its_front_and_stops_both_on_sigterm(served: Any) -> None:
    proc, url, front = served()
    assert "docqet_monitor.exporters.front" in children(proc.pid)[front]
    _poll("ready", lambda: requests.get(f"{url}/readyz", timeout=5).ok or None)
    gzipped = requests.get(f"{url}/metrics", timeout=5)  # requests asks for gzip and inflates it
    plain = requests.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert gzipped.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    samples = exposition_samples(plain.text)
    assert samples[("docqet_ecs_service_desired_tasks", (("account", "123456789012"), ("cluster", "front"),
                                                         ("region", "eu-west-1"), ("service", "api")))] == 2
    assert samples[("docqet_exporter_collector_up", (("collector", "ecs"),))] == 1
    again = requests.get(f"{url}/metrics", headers={"If-None-Match": gzipped.headers["ETag"]}, timeout=5)
    if again.status_code == 200:  # a refresh came between the two (the self-metrics changed): one more try
        again = requests.get(f"{url}/metrics", headers={"If-None-Match": again.headers["ETag"]}, timeout=5)
    assert again.status_code == 304
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping" in err and "Traceback" not in err
    assert "ended without stopping" not in err  # the front was told, not left at the end of its pipe
    assert _gone(front)


def test_serve_exports_the_cpu_and_memory_of_its_two_processes(served: Any,
                                                               ecs_metadata: tuple[str, dict[str, object]]) -> None:
    proc, url, front = served(env={limits.ECS_METADATA_ENV: ecs_metadata[0]})  # 0.25 vCPU, 512 MiB

    def processes() -> dict[str, dict[str, float]] | None:
        text = requests.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}, timeout=5).text
        found: dict[str, dict[str, float]] = {}
        for (name, labels), value in exposition_samples(text).items():
            if name.startswith("process_"):
                found.setdefault(dict(labels)["process"], {})[name] = value
        return found or None

    found = _poll("the process metrics", processes)
    assert found.keys() == {"exporter", "front"}
    for process in found.values():
        assert process.keys() == {"process_cpu_seconds_total", "process_resident_memory_bytes",
                                  "process_start_time_seconds", "process_open_fds", "process_max_fds"}
    for name, pid in (("exporter", proc.pid), ("front", front)):  # each series is its own process's
        vm_rss = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:")).split()[1]) * 1024
        assert 0.5 < found[name]["process_resident_memory_bytes"] / vm_rss < 2
        assert found[name]["process_open_fds"] == pytest.approx(len(os.listdir(f"/proc/{pid}/fd")), abs=10)
    assert found["front"]["process_start_time_seconds"] >= found["exporter"]["process_start_time_seconds"]
    assert found["exporter"]["process_cpu_seconds_total"] > 0.2  # it imported botocore and ran a refresh
    samples = exposition_samples(requests.get(f"{url}/metrics", timeout=5).text)
    own = limits.read({})  # this machine's cgroup limits, if any: the smaller wins
    assert samples[("docqet_exporter_cpu_limit_cores", ())] == min(0.25, own.cpu_cores or 0.25)
    assert samples[("docqet_exporter_memory_limit_bytes", ())] == min(512 * 2**20, own.memory_bytes or 512 * 2**20)


def test_sigterm_to_the_front_alone_stops_the_exporter_cleanly(served: Any) -> None:
    proc, _, front = served()
    os.kill(front, signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "the HTTP server process was stopped (SIGTERM or SIGINT)" in err


def test_a_front_that_dies_stops_the_exporter_with_exit_1(served: Any) -> None:
    proc, url, front = served("--log-format", "json")
    os.kill(front, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert f"the HTTP server process (pid {front}) exited unexpectedly (killed by SIGKILL)" in err
    assert ("Error: the HTTP server process exited unexpectedly (killed by SIGKILL); the exporter stopped"
            in err)
    assert "Traceback" not in err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)


def test_the_front_exits_when_the_exporter_is_killed(served: Any) -> None:
    proc, url, front = served()
    proc.kill()  # SIGKILL: no cleanup; the front sees the end of its stdin
    proc.wait()
    _poll("the front exits", lambda: _gone(front) or None)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/healthz", timeout=2)
    assert "ended without stopping its HTTP server process" in proc.stderr.read()  # the front, on the same stderr


def test_the_front_redacts_the_secrets_the_exporter_knows(served: Any, tmp_path: Path) -> None:
    secret = "qdrant-key-only-the-config-names-81f2"
    config = (f"regions: [eu-west-1]\ncollectors:\n  qdrant:\n    nodes:\n      - {{name: a, url: "
              f"'http://127.0.0.1:{free_port()}', api_key_env: DOCQET_TEST_QDRANT_KEY}}\n")
    proc, url, _ = served("-v", config_text=config, env={"DOCQET_TEST_QDRANT_KEY": secret})
    requests.get(f"{url}/metrics?{secret}", timeout=5)  # the front logs the request line at debug
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert 'http: "GET /metrics?<redacted> HTTP/1.1" 200' in err
    assert secret not in err
