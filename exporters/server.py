"""The exporter service: background refreshes, an atomically swapped pre-rendered snapshot, HTTP(S).

A scrape only copies bytes out of memory: it never calls AWS or Qdrant, so its latency depends neither on
their latency nor on the number of series. The snapshot is made of parts, one per collector and one for the
self-metrics: a refresh of one collector renders and compresses only its own part.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import logging
import math
import os
import queue
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol

from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters.metrics import Collection, Collector, Families, Part, Progressive, render_part
from docqet_monitor.exporters.webconfig import BasicAuth, Watched, WebConfig

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MIN_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 86400.0  # one day: a longer (or non-finite) interval is clamped, so a wait never overflows
RETRY_SECONDS = 5.0  # after an unexpected error in a loop itself (not in a collector)
WATCHDOG_SECONDS = 5.0
WORKERS = 16  # HTTP worker threads
QUEUE_SIZE = 64  # connections waiting for a worker; more are closed at once
REQUEST_TIMEOUT_SECONDS = 10.0  # request line + headers in all, each socket read/write, an idle keep-alive, TLS
# A thread waiting for the GIL (a scrape) gets it after this long at most while a collector parses or renders
# (Python's default is 5 ms, paid at every socket operation of a request)
SWITCH_INTERVAL_SECONDS = 0.001
GC_THRESHOLDS = (10_000, 10, 100)  # Python's are (700, 10, 10)
MALLOC_ARENAS = 2  # glibc's malloc arenas for the exporter's threads (its default: up to 8 per core)
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def steady_gc() -> tuple[int, int, int]:
    """Once the first refreshes are done: the objects alive then (botocore's models and clients, modules) leave
    the cyclic garbage collector's passes (``gc.freeze``) and it runs less often (:data:`GC_THRESHOLDS`). Its full
    passes over a heap of about a million objects (100k series) hold the GIL for 0.1-0.5 s, and every scrape
    waits for them. Series have no reference cycles: reference counting frees them, frozen or not. Returns the
    thresholds before."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
    return before


def limit_malloc_arenas(environ: Mapping[str, str] = os.environ) -> bool:
    """At most :data:`MALLOC_ARENAS` glibc malloc arenas from now on, as ``MALLOC_ARENA_MAX=2`` would set: a refresh
    runs a thread per target, and each new thread would get an arena of its own that keeps what it freed (about
    13 MB less peak RSS over 20 accounts x 3 regions; the GIL serialises the threads' allocations anyway). False
    when ``$MALLOC_ARENA_MAX`` is set (it stands) or the C library is not glibc (musl, macOS)."""
    if "MALLOC_ARENA_MAX" in environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, MALLOC_ARENAS))


def bounded_interval(seconds: float) -> float:
    """A collector's interval clamped to 1 s .. 1 day (NaN: 1 day) (pure)."""
    if not math.isfinite(seconds) or seconds > MAX_INTERVAL_SECONDS:
        return MAX_INTERVAL_SECONDS
    return max(MIN_INTERVAL_SECONDS, seconds)


@dataclass(frozen=True)
class Snapshot:
    """The exposition served: the collectors' parts in their order, then the self-metrics' part. In plain text
    and in gzip alike it is the concatenation of the parts (gzip: one member per part). Build it with
    :meth:`of`."""

    parts: tuple[Part, ...]
    gzipped: bytes
    digest: str

    @classmethod
    def of(cls, parts: Iterable[Part]) -> Snapshot:
        """The snapshot of ``parts``: their gzip members joined (small), a digest of their CRC-32s and lengths."""
        parts = tuple(parts)
        digest = hashlib.blake2b(",".join(f"{p.crc:08x}:{p.size}" for p in parts).encode(), digest_size=12)
        return cls(parts, b"".join(p.gzipped for p in parts), digest.hexdigest())

    @property
    def body(self) -> bytes:
        return b"".join(p.body for p in self.parts)

    def chunks(self, gzipped: bool) -> list[bytes]:
        """The bytes to send: the gzip members, or the plain text's chunks (never joined into one copy)."""
        return [self.gzipped] if gzipped else [chunk for p in self.parts for chunk in p.chunks]

    def etag(self, gzipped: bool) -> str:
        """A strong ETag of the body; the gzip encoding has its own."""
        return f'"{self.digest}-gzip"' if gzipped else f'"{self.digest}"'


SELF = ""  # the part of the self-metrics (a collector's name is never empty)
# called with every new snapshot and the names of its parts (SELF last), inside the swap: no I/O, no blocking
SwapListener = Callable[[tuple[str, ...], Snapshot], None]


class Source(Protocol):
    """What the HTTP handler serves: the :class:`Exporter` in-process, the front process's mirror of it."""

    def snapshot(self) -> Snapshot: ...

    def not_ready(self) -> list[str]: ...


class Exporter:
    """Runs collectors, keeps the latest good families of each as that collector's rendered part of the
    exposition (rendered once per refresh of that collector, never per scrape), and serves the parts together.

    A family belongs to one part: to the self-metrics, or to the first collector exporting it until that one stops
    doing so; another collector's families of that name are dropped, with a warning (each collector module
    declares its own family names; a test checks they do not overlap).
    """

    retry_seconds = RETRY_SECONDS
    watchdog_seconds = WATCHDOG_SECONDS

    def __init__(self, collectors: Iterable[Collector], stats: Stats,
                 clock: Callable[[], float] = time.time) -> None:
        self.collectors = list(collectors)
        self.stats = stats
        self._clock = clock
        self._intervals = {c.name: bounded_interval(c.interval_seconds) for c in self.collectors}
        self._parts: dict[str, Part] = {}
        self._owners = dict.fromkeys((f.name for f in stats.families()), SELF)  # family name -> collector
        self._warned: set[tuple[str, str]] = set()
        self._running = {c.name: threading.Lock() for c in self.collectors}
        self._claims = threading.Lock()
        self._swap = threading.Lock()
        self._listeners: list[SwapListener] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._gc_before: tuple[int, int, int] | None = None  # steady_gc() ran (when started, once ready)
        for collector in self.collectors:
            stats.register(collector.name)
            if self._intervals[collector.name] != collector.interval_seconds:
                log.warning("interval clamped", extra={"collector": collector.name,
                                                       "interval_seconds": self._intervals[collector.name]})
        self._snapshot = Snapshot.of([render_part(stats.families())])
        self._names: tuple[str, ...] = (SELF,)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def not_ready(self) -> list[str]:
        """Why the exporter is not ready (empty: ready): see :meth:`Stats.not_ready`."""
        return self.stats.not_ready()

    def watch(self, listener: SwapListener) -> None:
        """Call ``listener(names, snapshot)`` with the current snapshot now and with every new one (the front
        process's link: it passes the changed parts on)."""
        with self._swap:
            self._listeners.append(listener)
            listener(self._names, self._snapshot)

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
            if result.families or ok:  # a failure keeps the last good series
                self._update(collector.name, result.families)
            else:
                self._swap_snapshot()
            log.info("refreshed", extra={"collector": collector.name, "ok": ok,
                                         "duration_seconds": round(duration, 3)})
            return ok
        finally:
            lock.release()

    def _publish(self, name: str, families: Families) -> None:
        """Serve a collector's families found so far (its refresh is still running)."""
        self._update(name, families)

    def _update(self, name: str, families: Families) -> None:
        """Render the families of collector ``name`` as its part (outside the swap lock: one refresh of a
        collector runs at a time) and serve it with the others."""
        part = render_part(self._claim(name, families))
        self._swap_snapshot((name, part))

    def _claim(self, collector: str, families: Families) -> Families:
        """The families ``collector`` may export: the names it owns or claims now (it releases the ones it no
        longer exports); a family name another part owns is dropped, with one warning per collector and name."""
        names = {f.name for f in families}
        kept: list = []  # of the one kind ``families`` is
        dropped: dict[str, str] = {}
        with self._claims:
            for name in [n for n, owner in self._owners.items() if owner == collector and n not in names]:
                del self._owners[name]
            for family in families:
                if self._owners.setdefault(family.name, collector) == collector:
                    kept.append(family)
                elif (collector, family.name) not in self._warned:
                    self._warned.add((collector, family.name))
                    dropped[family.name] = self._owners[family.name] or "self-metrics"
        for name, owner in sorted(dropped.items()):
            log.warning("family %s is exported by %s already; dropping it from this collector", name, owner,
                        extra={"collector": collector})
        return kept

    def _swap_snapshot(self, part: tuple[str, Part] | None = None) -> None:
        """Serve a new snapshot: ``part`` (collector name, part) replaced, the self-metrics' part re-rendered
        (small: a few series per collector and AWS operation)."""
        with self._swap:
            if part is not None:
                self._parts[part[0]] = part[1]
            names = [c.name for c in self.collectors if c.name in self._parts]
            self._snapshot = Snapshot.of((*(self._parts[n] for n in names), render_part(self.stats.families())))
            self._names = (*names, SELF)
            for listener in self._listeners:
                listener(self._names, self._snapshot)

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
        if self._gc_before is not None:
            gc.unfreeze()
            gc.set_threshold(*self._gc_before)
            self._gc_before = None

    def check(self) -> None:
        """One watchdog pass: re-render the self-metrics when a collector went stale (or recovered) and, when
        processes are watched (``exporter serve``), with their CPU and memory read now; started (:meth:`start`),
        once every collector has refreshed once: :func:`steady_gc`."""
        stale_changed = self.stats.check_stale(self._clock())
        if self.stats.sample_processes() or stale_changed:
            self._swap_snapshot()
        if self._threads and self._gc_before is None and self.stats.ready():
            self._gc_before = steady_gc()

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


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip: listed (or ``*``) with a q-value above 0 (pure)."""
    ranks: dict[str, float] = {}
    for part in (header or "").split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not math.isfinite(q):
                    q = 0.0
        if coding:
            ranks[coding.lower()] = q
    q = ranks.get("gzip", ranks.get("x-gzip", ranks.get("*", 0.0)))
    return q > 0


OPEN_PATHS = ("/healthz", "/readyz")  # probes answer without credentials: they carry no inventory or cost data


def make_handler(source: Source, timeout_seconds: float = REQUEST_TIMEOUT_SECONDS) -> type[BaseHTTPRequestHandler]:
    """The request handler of :class:`_Server`: basic auth as the server's web configuration says for the
    connection (:meth:`_Server.auth`)."""
    class Handler(BaseHTTPRequestHandler):
        server_version = "docqet-monitor"
        # protocol_version stays HTTP/1.0: one request per connection, so no worker waits on an idle keep-alive
        timeout = timeout_seconds  # per socket operation: an idle or stalled connection is closed

        def handle_one_request(self) -> None:
            """One request; the request line and headers must arrive within ``timeout_seconds`` in all."""
            deadline = self.server.deadlines.arm(self.connection, timeout_seconds)  # type: ignore[attr-defined]
            try:
                self.raw_requestline = self.rfile.readline(65537)
                if len(self.raw_requestline) > 65536:
                    self._refuse(414, "request line too long")
                    return
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():
                    return
            except TimeoutError:
                self.close_connection = True
                return
            finally:
                self.server.deadlines.disarm(deadline)  # type: ignore[attr-defined]
            method = getattr(self, f"do_{self.command}", None)
            if method is None:
                self.send_error(501, f"unsupported method {self.command[:20]!r}")
                return
            method()
            self.wfile.flush()

        def parse_request(self) -> bool:
            """HTTP/1.x only: an HTTP/0.9 request line (no version) or anything else gets 400 and the connection
            closed at once (the standard handler would wait for headers that never come)."""
            words = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n").split()
            if len(words) != 3 or not re.fullmatch(r"HTTP/1\.[01]", words[2]):
                self._refuse(400, "expected an HTTP/1.0 or HTTP/1.1 request line")
                return False
            return super().parse_request()

        def _refuse(self, status: int, message: str) -> None:
            self.command, self.request_version, self.close_connection = None, "HTTP/1.0", True
            self.requestline = self.raw_requestline[:80].decode("iso-8859-1").rstrip("\r\n")
            self.send_error(status, message)

        def do_GET(self) -> None:
            self._answer(head=False)

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def _answer(self, head: bool) -> None:
            path = self.path.split("?", 1)[0]
            auth = self.server.auth()  # type: ignore[attr-defined]
            if auth is not None and path not in OPEN_PATHS and not auth.check(self.headers.get("Authorization")):
                self._send(401, b"unauthorized\n", head=head,
                           headers={"WWW-Authenticate": 'Basic realm="docqet-monitor", charset="UTF-8"'})
            elif path == "/metrics":
                snap = source.snapshot()
                use_gzip = accepts_gzip(self.headers.get("Accept-Encoding"))
                headers = {"Vary": "Accept-Encoding", "ETag": snap.etag(use_gzip)}
                if use_gzip:
                    headers["Content-Encoding"] = "gzip"
                if _entity_tags(self.headers.get("If-None-Match")) & {headers["ETag"], "*"}:
                    self._send(304, [], CONTENT_TYPE, headers, head=True)
                else:
                    self._send(200, snap.chunks(use_gzip), CONTENT_TYPE, headers, head=head)
            elif path == "/healthz":
                self._send(200, b"ok\n", head=head)
            elif path == "/readyz":
                why = source.not_ready()
                self._send(503 if why else 200, f"not ready: {'; '.join(why)}\n".encode() if why else b"ready\n",
                           head=head)
            elif path == "/":
                self._send(200, b'<html><body><h1>docqet-monitor exporter</h1>'
                                b'<a href="/metrics">/metrics</a> <a href="/healthz">/healthz</a> '
                                b'<a href="/readyz">/readyz</a></body></html>', "text/html", head=head)
            else:
                self._send(404, b"not found\n", head=head)

        def _send(self, status: int, body: bytes | list[bytes], content_type: str = "text/plain; charset=utf-8",
                  headers: dict[str, str] | None = None, head: bool = False) -> None:
            """Answer ``body`` (bytes, or chunks sent one after the other); a 304 has no body nor length."""
            chunks = [body] if isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if status != 304:
                self.send_header("Content-Length", str(sum(len(chunk) for chunk in chunks)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                for chunk in chunks:
                    self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http: " + format, *args)

    return Handler


def _entity_tags(header: str | None) -> set[str]:
    """The entity tags of an ``If-None-Match`` value, ``*`` included, weak ones as strong (the weak comparison
    RFC 9110 asks for there) (pure)."""
    return {tag.strip().removeprefix("W/") for tag in (header or "").split(",") if tag.strip()}


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Deadlines:
    """One thread that shuts down the sockets whose deadline has passed (not a timer thread per request, which
    costs a thread start and several hand-overs of the GIL on every scrape)."""

    def __init__(self) -> None:
        self._due: dict[int, tuple[float, socket.socket]] = {}
        self._next = 0
        self._wake_at = math.inf
        self._closed = False
        self._changed = threading.Condition()
        threading.Thread(target=self._run, name="http-deadlines", daemon=True).start()

    def arm(self, sock: socket.socket, seconds: float) -> int:
        """Shut ``sock`` down in ``seconds`` unless disarmed first; the token for :meth:`disarm`."""
        with self._changed:
            self._next += 1
            due = time.monotonic() + seconds
            self._due[self._next] = (due, sock)
            if due < self._wake_at:
                self._changed.notify()
            return self._next

    def disarm(self, token: int) -> None:
        with self._changed:
            self._due.pop(token, None)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                for token in [t for t, (due, _) in self._due.items() if due <= now]:
                    _shutdown(self._due.pop(token)[1])
                # idle, it looks again each second, so arming a deadline (10 s ahead) does not have to wake it
                self._wake_at = min((due for due, _ in self._due.values()), default=now + 1.0)
                self._changed.wait(self._wake_at - now)


class _Server(HTTPServer):
    """An HTTP(S) server with a bounded pool of daemon worker threads and a bounded queue: a connection beyond
    both is closed at once (not a thread per connection). TLS handshakes happen in the workers, under the same
    timeout; TLS bytes on a plain port are answered by closing the connection."""

    def __init__(self, sock: socket.socket, handler: type[BaseHTTPRequestHandler], workers: int,
                 queue_size: int, web: Watched | None, timeout_seconds: float) -> None:
        self.web, self.timeout_seconds = web, timeout_seconds
        self._connection = threading.local()  # the basic auth of the connection a worker serves
        self._queue: queue.Queue[tuple[socket.socket, Any] | None] = queue.Queue(queue_size)
        self.deadlines = _Deadlines()
        super().__init__(sock.getsockname()[:2], handler, bind_and_activate=False)
        self.socket.close()  # the one socketserver made: ``sock`` listens already (see :func:`listen`)
        self.socket, self.server_address = sock, sock.getsockname()
        self._workers = [threading.Thread(target=self._work, name=f"http-{i}", daemon=True) for i in range(workers)]
        for worker in self._workers:
            worker.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self._queue.put_nowait((request, client_address))
        except queue.Full:
            log.debug("http: all workers busy and the queue full; closing a connection from %s", client_address[0])
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            request, client_address = item
            conn: socket.socket | None = request
            try:
                request.settimeout(self.timeout_seconds)
                tls, self._connection.auth = self.web.current() if self.web else (None, None)
                conn = self._secure(request, tls) if tls else self._plain(request)
                if conn is not None:
                    self.finish_request(conn, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(conn if conn is not None else request)

    def _plain(self, request: socket.socket) -> socket.socket | None:
        """None (close it) when the client starts a TLS handshake on the plain port, or sends nothing in time."""
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return None
        if first == b"\x16":
            log.debug("http: a TLS handshake on the plain-HTTP port; closing")
            return None
        return request if first else None

    def auth(self) -> BasicAuth | None:
        """The basic auth of the connection the calling worker serves."""
        return getattr(self._connection, "auth", None)

    def _secure(self, request: socket.socket, tls: ssl.SSLContext) -> ssl.SSLSocket | None:
        """The TLS connection, or None (closed) when the handshake fails or takes over the timeout."""
        deadline = self.deadlines.arm(request, self.timeout_seconds)
        try:
            return tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("http: TLS handshake failed: %s", exc)
            return None
        finally:
            self.deadlines.disarm(deadline)

    def server_close(self) -> None:
        super().server_close()
        self.deadlines.close()
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A failed request (e.g. the scraper hung up) goes to the log, not as a bare traceback on stderr."""
        log.warning("http request from %s failed", client_address[0], exc_info=True)


def listen(address: str, port: int) -> socket.socket:
    """A TCP socket listening on ``address``:``port`` (0: a free port): an IPv4 or IPv6 address, or a name (its
    first address); ``::`` takes IPv6 and IPv4 connections both. OSError (``socket.gaierror`` for a name that does
    not resolve) when it cannot. ``exporter serve`` binds it and hands it to its front process."""
    family, kind, proto, _, where = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::": IPv4 clients too
        sock.bind(where)
        sock.listen(_Server.request_queue_size)
    except OSError:
        sock.close()
        raise
    return sock


def serve(source: Source, address: str, port: int, web: WebConfig | None = None, **options: Any) -> HTTPServer:
    """Bind ``address``:``port`` (:func:`listen`) and serve ``source`` there (:func:`serve_socket`)."""
    return serve_socket(source, listen(address, port), web, **options)


def serve_socket(source: Source, sock: socket.socket, web: WebConfig | None = None, workers: int = WORKERS,
                 queue_size: int = QUEUE_SIZE, timeout_seconds: float = REQUEST_TIMEOUT_SECONDS) -> HTTPServer:
    """Serve ``source`` on the listening ``sock`` from a background thread; TLS and basic auth when ``web``
    (``--web.config.file``) says so, read again when its files change (:class:`~exporters.webconfig.Watched`).
    Sets the process's GIL switch interval to ``SWITCH_INTERVAL_SECONDS`` (a request waits less for the process's
    other threads)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    handler = make_handler(source, timeout_seconds)
    httpd = _Server(sock, handler, workers, queue_size, Watched(web) if web else None, timeout_seconds)
    threading.Thread(target=httpd.serve_forever, name="http", daemon=True).start()
    return httpd
