"""A PagerDuty stand-in for the compose stack: what would have paged, without a PagerDuty account.

Accepts PagerDuty Events API v2 requests (``POST /v2/enqueue``, answered 202 as PagerDuty does), prints one JSON
line per event on stdout (``docker compose logs -f pagerduty``) and lists the events at ``GET /`` (a page,
newest first) and ``GET /events`` (JSON). Standard library only; the events live in memory.

    python pagerduty-stand-in.py [PORT]        # default 8080, on every interface
"""

from __future__ import annotations

import html
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENTS: list[dict[str, Any]] = []
LOCK = threading.Lock()


def summarise(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of an Events v2 request an on-call engineer would see (the routing key left out)."""
    payload = body.get("payload") or {}
    return {"received": datetime.now(UTC).isoformat(timespec="seconds"), "event_action": body.get("event_action"),
            "dedup_key": body.get("dedup_key"), "severity": payload.get("severity"),
            "summary": payload.get("summary"), "source": payload.get("source"), "class": payload.get("class"),
            "links": [link.get("href") for link in body.get("links") or [] if isinstance(link, dict)]}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != "/v2/enqueue":
            self._reply(404, {"status": "not found", "message": f"no {self.path}; PagerDuty's is /v2/enqueue"})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self._reply(400, {"status": "invalid event", "message": "Event object is invalid"})
            return
        event = summarise(body)
        with LOCK:
            EVENTS.append(event)
        print(json.dumps(event), flush=True)
        self._reply(202, {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]})

    def do_GET(self) -> None:
        with LOCK:
            events = list(reversed(EVENTS))
        if self.path == "/events":
            self._reply(200, events)
        elif self.path == "/":
            rows = "".join(f"<tr><td>{html.escape(str(e['received']))}</td><td>{html.escape(str(e['event_action']))}"
                           f"</td><td>{html.escape(str(e['severity']))}</td><td>{html.escape(str(e['summary']))}</td>"
                           "</tr>" for e in events)
            page = (f"<!doctype html><title>PagerDuty stand-in</title><h1>What would have paged ({len(events)})</h1>"
                    "<table border=1 cellpadding=4><tr><th>received (UTC)</th><th>action</th><th>severity</th>"
                    f"<th>summary</th></tr>{rows}</table><p><a href='/events'>JSON</a></p>")
            self._send(200, page.encode(), "text/html; charset=utf-8")
        else:
            self._reply(404, {"status": "not found"})

    def _reply(self, status: int, doc: object) -> None:
        self._send(status, json.dumps(doc).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per event on stdout instead of an access log


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 in a container: stop at once on SIGTERM
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"PagerDuty stand-in listening on :{server.server_address[1]} (POST /v2/enqueue; GET / lists events)",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
