"""A scriptable AWS JSON-protocol endpoint on 127.0.0.1 for faults moto cannot produce.

Each request is answered by ``respond(operation, attempt)`` -> ``(status, body)`` (``None`` body: never
answer, so the client times out). The server records every operation and the peak number of requests it
was serving at once. With ``tls`` (a certificate and its key) it serves HTTPS, keeping connections alive as AWS
does.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Responder = Callable[[str, int], tuple[int, dict[str, Any] | None]]

THROTTLED = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


class FakeAws:
    def __init__(self, respond: Responder, hold_seconds: float = 0.0) -> None:
        self.respond = respond
        self.hold = threading.Event()  # set: stop holding requests (and release never-answered ones)
        self.hold_seconds = hold_seconds
        self.operations: list[str] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()

    def handle(self, operation: str) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            self.operations.append(operation)
            attempt = self.operations.count(operation)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            self.hold.wait(self.hold_seconds)
            status, body = self.respond(operation, attempt)
            if body is None:
                self.hold.wait(30)
            return status, body
        finally:
            with self._lock:
                self.in_flight -= 1


def _handler(fake: FakeAws, keep_alive: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
            status, body = fake.handle(operation)
            if body is None:
                return
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_aws(respond: Responder, hold_seconds: float = 0.0,
             tls: tuple[Path, Path] | None = None) -> Iterator[tuple[FakeAws, str]]:
    """Serve a :class:`FakeAws`; yields it and its URL (``https://localhost:PORT`` with ``tls``)."""
    fake = FakeAws(respond, hold_seconds)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake, keep_alive=tls is not None))
    httpd.daemon_threads = True
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        port = httpd.server_address[1]
        yield fake, f"https://localhost:{port}" if tls is not None else f"http://127.0.0.1:{port}"
    finally:
        fake.hold.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
