"""HTTP requests with a total deadline, a response size cap and a JSON depth cap (Qdrant, Grafana, Sentry,
Alertmanager, PagerDuty).

requests' ``timeout`` bounds each socket read, not the request: a server that drips one byte a second never
trips it. Here every request gets a :class:`Deadline`; when it passes, the sockets the request uses are shut
down, whatever phase it is in (headers or body), and :class:`DeadlineExceeded` is raised. The body is streamed
and dropped past ``max_bytes``; JSON nested deeper than ``max_depth`` is refused before it is parsed.
:func:`abort_all` expires every request in flight: the exporter calls it on SIGTERM.

Every attempt is logged at debug on ``docqet_monitor.requests`` (shown with ``-vv``): service, method, path (no
query string), status, outcome, attempt and duration; never headers, parameters or bodies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import socket
import threading
import time
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_TIMEOUT_SECONDS = 300.0
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
CHUNK = 64 * 1024
requests_log = logging.getLogger("docqet_monitor.requests")  # one debug line per AWS/HTTP attempt (-vv)


class HttpLimitError(Exception):
    """A response refused by a limit; ``code`` is a short label value."""

    code = "limit"


class DeadlineExceeded(HttpLimitError):
    code = "timeout"


class ResponseTooLarge(HttpLimitError):
    code = "too_large"


class TooDeep(HttpLimitError):
    code = "too_deep"


def check_timeout(seconds: float, what: str = "timeout") -> float:
    """``seconds`` when it is a usable timeout (finite, > 0, <= 300 s); ValueError otherwise (pure)."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds) \
            or not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"{what}: expected seconds > 0 and <= {MAX_TIMEOUT_SECONDS:g}")
    return float(seconds)


class Deadline:
    """The end of one request; its sockets are shut down when it expires (from a timer or :func:`abort_all`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        """Expired, or its time is up (a socket timeout can beat a timer thread slowed by load)."""
        return self.expired or time.monotonic() >= self.at

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired and not self._done
        if expired:
            _shutdown(sock)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def finish(self) -> None:
        with self._lock:
            self._done = True


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv(), unlike close()


_current = threading.local()
_active: set[Deadline] = set()
_active_lock = threading.Lock()


def abort_all() -> None:
    """Expire every request in flight (shutdown: nothing waits for a slow server)."""
    with _active_lock:
        deadlines = list(_active)
    for deadline in deadlines:
        deadline.expire()


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_current, "deadline", None)
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    getresponse = _WatchedHTTPConnection.getresponse


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections register their socket with the calling request's deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def session(pool_size: int = 10) -> requests.Session:
    """A requests session whose connections honour :func:`request`'s deadlines."""
    s = requests.Session()
    for prefix in ("http://", "https://"):
        s.mount(prefix, DeadlineAdapter(pool_maxsize=pool_size))
    return s


def request(s: requests.Session, method: str, url: str, *, deadline_seconds: float,
            max_bytes: int = DEFAULT_MAX_BYTES, service: str = "http", attempt: int = 1,
            **kwargs: Any) -> requests.Response:
    """``s.request(method, url, **kwargs)`` finished within ``deadline_seconds`` (connect, headers and body) with at
    most ``max_bytes`` of body, read into the returned response. Raises DeadlineExceeded, ResponseTooLarge or
    requests' own exceptions. Redirects are not followed unless ``allow_redirects`` says so. The attempt is
    logged (:func:`log_attempt`) as ``service``'s ``attempt``-th try (callers that retry count them)."""
    started = time.monotonic()
    status, outcome = None, "ok"
    try:
        resp = _request(s, method, url, deadline_seconds, max_bytes, **kwargs)
    except HttpLimitError as exc:
        outcome = exc.code
        raise
    except (requests.RequestException, OSError) as exc:
        outcome = type(exc).__name__
        raise
    else:
        status = resp.status_code
        outcome = "ok" if status < 300 else f"http_{status}"
        return resp
    finally:
        log_attempt(service, method, url, status=status, outcome=outcome, attempt=attempt,
                    seconds=time.monotonic() - started)


def log_attempt(service: str, method: str, url: str, *, status: int | None, outcome: str, attempt: int,
                seconds: float) -> None:
    """One debug line for one HTTP attempt: the URL's path only (no host, credentials or query string)."""
    if requests_log.isEnabledFor(logging.DEBUG):
        path = urlsplit(url).path or "/"
        requests_log.debug("http %s %s %s", service, method, path, extra={
            "service": service, "method": method, "path": path, "status": status, "outcome": outcome,
            "attempt": attempt, "duration_ms": round(seconds * 1000, 1)})


def _request(s: requests.Session, method: str, url: str, deadline_seconds: float, max_bytes: int,
             **kwargs: Any) -> requests.Response:
    deadline = Deadline(check_timeout(deadline_seconds, "deadline"))
    timer = threading.Timer(deadline.seconds, deadline.expire)
    timer.daemon = True
    with _active_lock:
        _active.add(deadline)
    _current.deadline = deadline
    timer.start()
    try:
        kwargs.setdefault("allow_redirects", False)
        resp = s.request(method, url, timeout=(deadline.seconds, deadline.seconds), stream=True, **kwargs)
        with resp:
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ResponseTooLarge(f"the response declares {int(declared)} bytes (limit {max_bytes})")
            body, size = [], 0
            for chunk in resp.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ResponseTooLarge(f"the response is larger than {max_bytes} bytes")
                if deadline.expired:
                    break
                body.append(chunk)
            if deadline.expired:
                raise DeadlineExceeded(f"no complete answer within {deadline.seconds:g} s")
            resp._content = b"".join(body)  # read: resp.content, .text and .json() work as usual
        return resp
    except (requests.RequestException, OSError) as exc:
        if deadline.passed():
            raise DeadlineExceeded(f"no complete answer within {deadline.seconds:g} s") from None
        raise exc from None
    finally:
        deadline.finish()
        timer.cancel()
        _current.deadline = None
        with _active_lock:
            _active.discard(deadline)


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(data: bytes) -> int:
    """How deeply ``data``'s arrays and objects nest (strings skipped; pure, linear)."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


def loads(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` (TooDeep) instead of recursing; ValueError
    for anything that is not JSON."""
    raw = data.encode() if isinstance(data, str) else data
    if json_depth(raw) > max_depth:
        raise TooDeep(f"the JSON nests deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except RecursionError:
        raise TooDeep(f"the JSON nests deeper than {max_depth} levels") from None
