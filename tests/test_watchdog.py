"""Collectors that cannot die: an error in a loop's waiting or scheduling is logged and retried, a huge interval is
clamped (no overflow), and the watchdog marks a collector down and not ready after 3 intervals without success."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from helpers import exposition_samples, poll

from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters.metrics import Collection
from docqet_monitor.exporters.server import MAX_INTERVAL_SECONDS, Exporter, bounded_interval, serve


class Counting:
    def __init__(self, name: str, interval_seconds: float, ok: bool = True) -> None:
        self.name, self.interval_seconds, self.ok = name, interval_seconds, ok
        self.calls = 0
        self.called = threading.Condition()

    def collect(self) -> Collection:
        with self.called:
            self.calls += 1
            self.called.notify_all()
        return Collection() if self.ok else Collection(errors=("down",))

    def wait_calls(self, n: int, timeout: float = 20) -> bool:
        with self.called:
            return self.called.wait_for(lambda: self.calls >= n, timeout)


def _up(exporter: Exporter, name: str) -> float:
    return exposition_samples(exporter.snapshot().body.decode())[
        ("docqet_exporter_collector_up", (("collector", name),))]


@pytest.mark.parametrize("interval", [1e300, float("inf"), float("nan"), 0.0, -5.0])
def test_intervals_are_clamped(interval: float) -> None:
    assert 1.0 <= bounded_interval(interval) <= MAX_INTERVAL_SECONDS


def test_a_huge_interval_does_not_kill_the_thread() -> None:
    collector = Counting("huge", 1e300)
    exporter = Exporter([collector], Stats())
    exporter.start()
    try:
        assert collector.wait_calls(1)
        loop = next(t for t in exporter._threads if t.name == "collector-huge")
        loop.join(1.0)  # before the fix the wait raised OverflowError right after the first refresh
        assert loop.is_alive()
    finally:
        exporter.stop()


class FailingOnce(threading.Event):
    """An Event whose wait() fails once in each loop thread (collector or watchdog): a scheduling error."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: set[str] = set()

    def wait(self, timeout: float | None = None) -> bool:
        name = threading.current_thread().name
        if timeout and name not in self.failed:
            self.failed.add(name)
            raise RuntimeError("scheduling failed")
        return super().wait(timeout)


def test_an_error_while_waiting_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    collector = Counting("flaky", 0.5)
    exporter = Exporter([collector], Stats())
    exporter._stop = stop = FailingOnce()
    exporter.retry_seconds = exporter.watchdog_seconds = 0.05
    exporter.start()
    try:
        assert collector.wait_calls(3), "the loop stopped refreshing after the error"
        give_up = time.monotonic() + 20
        while stop.failed != {"collector-flaky", "watchdog"} and time.monotonic() < give_up:
            time.sleep(0.05)
        assert stop.failed == {"collector-flaky", "watchdog"}
        assert all(t.is_alive() for t in exporter._threads)
    finally:
        exporter.stop()
    assert "collector loop error; retrying" in caplog.text
    assert "watchdog error; retrying" in caplog.text


def test_the_watchdog_marks_a_collector_stale_after_three_intervals() -> None:
    now = [1000.0]
    stats = Stats()
    good, stuck = Counting("good", 60), Counting("stuck", 60)
    exporter = Exporter([good, stuck], stats, clock=lambda: now[0])
    for c in (good, stuck):
        stats.register(c.name, 60, now[0])
        exporter.refresh(c)
    assert stats.ready() and _up(exporter, "stuck") == 1
    now[0] += 150
    exporter.refresh(good)  # "stuck" stops refreshing (a dead thread, a hung client: whatever the reason)
    now[0] += 40  # 190 s > 3 x 60 s since stuck's last success; 40 s since good's
    exporter.check()
    assert stats.not_ready() == ["stuck: no successful refresh for over 3 intervals"]
    assert _up(exporter, "stuck") == 0 and _up(exporter, "good") == 1
    exporter.refresh(stuck)  # back
    assert stats.ready() and _up(exporter, "stuck") == 1


def test_a_collector_failing_for_three_intervals_is_not_ready() -> None:
    now = [0.0]
    stats = Stats()
    failing = Counting("failing", 10, ok=False)
    exporter = Exporter([failing], stats, clock=lambda: now[0])
    stats.register("failing", 10, now[0])
    exporter.refresh(failing)
    exporter.check()
    assert stats.ready()  # failed but recent: ready, collector_up 0
    now[0] += 31
    exporter.check()
    assert not stats.ready()


def test_readyz_says_why_it_is_not_ready() -> None:
    stats = Stats()
    exporter = Exporter([Counting("a", 10)], stats)
    httpd = serve(exporter, "127.0.0.1", 0)
    try:
        response = requests.get(f"http://127.0.0.1:{httpd.server_address[1]}/readyz", timeout=5)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert response.status_code == 503
    assert response.text == "not ready: a: first refresh pending\n"


def _process_samples(exporter: Exporter, name: str) -> dict[str, float]:
    """process -> value of one process family in the exporter's snapshot (the labels checked on the way)."""
    found = {}
    for (sample, labels), value in exposition_samples(exporter.snapshot().body.decode()).items():
        if sample == name:
            assert dict(labels).keys() == {"process", "shard"} and dict(labels)["shard"] == "2/3"
            found[dict(labels)["process"]] = value
    return found


def test_the_watchdog_reads_the_watched_processes_cpu_and_memory_every_pass() -> None:
    burn = "import time\nend = time.time() + 120\nprint('running', flush=True)\nwhile time.time() < end: pass"
    burner = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert burner.stdout is not None and burner.stdout.readline() == "running\n"  # Python runs: it has its RSS
        stats = Stats(shard="2/3")
        exporter = Exporter([Counting("a", 60)], stats)
        exporter.check()
        assert not _process_samples(exporter, "process_cpu_seconds_total")  # only `exporter serve` watches them
        stats.watch_processes({"exporter": os.getpid(), "burner": burner.pid})
        exporter.check()
        assert _process_samples(exporter, "process_start_time_seconds").keys() == {"exporter", "burner"}
        rss = _process_samples(exporter, "process_resident_memory_bytes")
        vm_rss = int(next(line for line in Path("/proc/self/status").read_text().splitlines()
                          if line.startswith("VmRSS:")).split()[1]) * 1024
        assert 0.5 < rss["exporter"] / vm_rss < 2 and rss["burner"] > 1e6
        assert 0 < _process_samples(exporter, "process_open_fds")["burner"] < 100
        first = _process_samples(exporter, "process_cpu_seconds_total")["burner"]

        def burnt_more() -> bool | None:
            exporter.check()
            return _process_samples(exporter, "process_cpu_seconds_total")["burner"] > first or None

        assert poll("the burner's CPU seconds grow", burnt_more, 30)
        burner.kill()
        burner.wait()
        exporter.check()  # an ended process has no series; the others stay
        assert _process_samples(exporter, "process_max_fds").keys() == {"exporter"}
    finally:
        burner.kill()
        burner.communicate()  # waits, and closes its stdout
