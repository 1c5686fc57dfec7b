"""A fake Qdrant on 127.0.0.1 serving the spec-validated fixtures under tests/fixtures/qdrant/."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from helpers import FIXTURES

QDRANT_FIXTURES = FIXTURES / "qdrant"


API_KEY = "qk-7f3a9c1e-do-not-print"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((QDRANT_FIXTURES / f"{name}.json").read_text())


def body_of(fx: dict[str, Any]) -> bytes:
    return fx["raw"].encode() if "raw" in fx else json.dumps(fx["body"]).encode()


Route = str | dict[str, Any] | Callable[[BaseHTTPRequestHandler], str]  # fixture name, fixture, or a callable


ROUTES_HEALTHY: dict[str, str] = {
    "/": "root", "/readyz": "readyz", "/collections": "collections", "/cluster": "cluster-enabled",
    "/collections/docs-chunks": "collection-green", "/collections/docs-titles": "collection-yellow-optimizer-error",
    "/collections/support-faq": "collection-grey-null-counts",
}


class FakeQdrant:
    """Serves fixtures by path (a callable route decides per request); records request headers."""

    def __init__(self, routes: dict[str, Route], api_key: str = "") -> None:
        self.routes, self.api_key = dict(routes), api_key
        self.headers: list[dict[str, str]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with fake.lock:
                    fake.headers.append(dict(self.headers))
                route = fake.routes.get(self.path, "error-404")
                if fake.api_key and self.path != "/readyz" and self.headers.get("api-key") != fake.api_key:
                    route = "error-401"  # health endpoints are exempt from auth in Qdrant
                if callable(route):
                    route = route(self)
                self._send(fixture(route) if isinstance(route, str) else route)

            def _send(self, fx: dict[str, Any]) -> None:
                body = body_of(fx)
                self.send_response(fx["status"])
                self.send_header("Content-Type", fx["content_type"])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
