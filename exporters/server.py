"""The exporter service: background refreshes, an atomically swapped pre-rendered snapshot, HTTP.

A scrape only copies bytes out of memory: it never calls AWS or Qdrant, so its latency depends neither on
their latency nor on the number of series.
"""

from __future__ import annotations

import gzip
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.core import Metric

from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters.metrics import Collection, Collector, Progressive, render

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MIN_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 86400.0  # one day: a longer (or non-finite) interval is clamped, so a wait never overflows
RETRY_SECONDS = 5.0  # after an unexpected error in a loop itself (not in a collector)
WATCHDOG_SECONDS = 5.0


def bounded_interval(seconds: float) -> float:
    """A collector's interval clamped to 1 s .. 1 day (NaN: 1 day) (pure)."""
    if not math.isfinite(seconds) or seconds > MAX_INTERVAL_SECONDS:
        return MAX_INTERVAL_SECONDS
    return max(MIN_INTERVAL_SECONDS, seconds)


@dataclass(frozen=True)
class Snapshot:
    body: bytes
    gzipped: bytes


class Exporter:
    """Runs collectors, keeps the latest good families of each and one exposition rendered from all of them
    (rendered once per refresh, never per scrape; one render, so a family or series two collectors share
    appears once)."""

    retry_seconds = RETRY_SECONDS
    watchdog_seconds = WATCHDOG_SECONDS

    def __init__(self, collectors: Iterable[Collector], stats: Stats,
                 clock: Callable[[], float] = time.time) -> None:
        self.collectors = list(collectors)
        self.stats = stats
        self._clock = clock
        self._intervals = {c.name: bounded_interval(c.interval_seconds) for c in self.collectors}
        self._families: dict[str, list[Metric]] = {}
        self._running = {c.name: threading.Lock() for c in self.collectors}
        self._swap = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for collector in self.collectors:
            stats.register(collector.name)
            if self._intervals[collector.name] != collector.interval_seconds:
                log.warning("interval clamped", extra={"collector": collector.name,
                                                       "interval_seconds": self._intervals[collector.name]})
        self._snapshot = self._build_snapshot()

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def refresh(self, collector: Collector, wait_all: bool = False) -> bool | None:
        """Run one refresh of ``collector``; None when a refresh of it is already running.

        A :class:`Progressive` collector's families so far are served while it still runs; without
        ``wait_all`` its refresh may end before a slow part (a hung region) does.
        """
        lock = self._running[collector.name]
        if not lock.acquire(blocking=False):
            return None
        try:
            started = time.monotonic()
            try:
                if isinstance(collector, Progressive):
                    result = collector.collect_progressively(
                        lambda families: self._publish(collector.name, families), wait_all)
                else:
                    result = collector.collect()
            except Exception as exc:  # a collector's bug or fault must not stop the others
                log.exception("collector failed", extra={"collector": collector.name})
                result = Collection(errors=(f"{type(exc).__name__}: {exc}",))
            ok = not result.errors
            for error in result.errors:
                log.warning("collector error: %s", error, extra={"collector": collector.name})
            duration = time.monotonic() - started
            self.stats.record_run(collector.name, ok, self._clock(), duration)
            with self._swap:
                if result.families or ok:  # a failure keeps the last good series
                    self._families[collector.name] = result.families
                self._snapshot = self._build_snapshot()
            log.info("refreshed", extra={"collector": collector.name, "ok": ok,
                                         "duration_seconds": round(duration, 3)})
            return ok
        finally:
            lock.release()

    def _publish(self, name: str, families: list[Metric]) -> None:
        """Serve a collector's families found so far (its refresh is still running)."""
        with self._swap:
            self._families[name] = families
            self._snapshot = self._build_snapshot()

    def refresh_all(self) -> dict[str, bool | None]:
        """Refresh every collector once, concurrently, waiting for all of their parts; name -> success."""
        if not self.collectors:
            return {}
        with ThreadPoolExecutor(max_workers=len(self.collectors)) as pool:
            results = list(pool.map(lambda c: self.refresh(c, wait_all=True), self.collectors))
        return {c.name: r for c, r in zip(self.collectors, results, strict=True)}

    def start(self) -> None:
        """Refresh each collector in its own background thread, on its own interval; a watchdog thread marks a
        collector down and not ready when its last success is older than 3 intervals."""
        now = self._clock()
        for collector in self.collectors:
            self.stats.register(collector.name, self._intervals[collector.name], now)
        loops = [(self._loop, (c,), f"collector-{c.name}") for c in self.collectors]
        for target, args, name in [*loops, (self._watchdog, (), "watchdog")]:
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 3.0) -> None:
        """Ask every loop to stop and wait for them at most ``timeout`` seconds in all (they are daemon threads:
        one stuck in a call does not hold the process)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def check(self) -> None:
        """One watchdog pass: re-render the exposition when a collector went stale (or recovered)."""
        if self.stats.check_stale(self._clock()):
            with self._swap:
                self._snapshot = self._build_snapshot()

    def _loop(self, collector: Collector) -> None:
        """Refresh, then wait for the rest of the interval (in waits of at most a day); an error of the loop itself
        is logged and retried, it never ends the thread."""
        interval = self._intervals[collector.name]
        while not self._stop.is_set():
            try:
                started = time.monotonic()
                self.refresh(collector)
                self._stop.wait(min(MAX_INTERVAL_SECONDS, max(0.0, interval - (time.monotonic() - started))))
            except Exception:
                log.exception("collector loop error; retrying", extra={"collector": collector.name})
                self._stop.wait(self.retry_seconds)

    def _watchdog(self) -> None:
        while not self._stop.is_set():
            try:
                self._stop.wait(self.watchdog_seconds)
                self.check()
            except Exception:
                log.exception("watchdog error; retrying")
                self._stop.wait(self.retry_seconds)

    def _build_snapshot(self) -> Snapshot:
        families = [f for c in self.collectors for f in self._families.get(c.name, [])]
        body = render([*families, *self.stats.families()])
        return Snapshot(body, gzip.compress(body, compresslevel=6))


def make_handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "docqet-monitor"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                snap = exporter.snapshot()
                use_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
                self._send(200, snap.gzipped if use_gzip else snap.body, CONTENT_TYPE,
                           {"Content-Encoding": "gzip"} if use_gzip else {})
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/readyz":
                why = exporter.stats.not_ready()
                self._send(503 if why else 200, f"not ready: {'; '.join(why)}\n".encode() if why else b"ready\n")
            elif path == "/":
                self._send(200, b'<html><body><h1>docqet-monitor exporter</h1>'
                                b'<a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a> '
                                b'<a href="/readyz">/readyz</a></body></html>', "text/html")
            else:
                self._send(404, b"not found\n")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http: " + format, *args)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A failed request (e.g. the scraper hung up) goes to the log, not as a bare traceback on stderr."""
        log.warning("http request from %s failed", client_address[0], exc_info=True)


def serve(exporter: Exporter, address: str, port: int) -> ThreadingHTTPServer:
    """Bind the HTTP server (port 0 picks a free one) and serve it from a background thread."""
    httpd = _Server((address, port), make_handler(exporter))
    threading.Thread(target=httpd.serve_forever, name="http", daemon=True).start()
    return httpd
