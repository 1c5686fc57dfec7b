"""The alerting pipeline on this machine: real Prometheus and Alertmanager processes and a PagerDuty stand-in.

Used by the end-to-end test, ``docqet-monitor demo --alerts-pipeline`` and ``demo --stack``. The rules and
configs are the rendered ones, with short intervals and ``for`` durations (so an alert arrives within seconds)
and the PagerDuty URL pointed at :class:`PagerDutySink`; the routing key is a local dummy in a key file.
"""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from docqet_monitor.alerts import alertmanager, prometheus
from docqet_monitor.alerts.render import ToolMissing
from docqet_monitor.core.config import Config

DUMMY_ROUTING_KEY = "0123456789abcdef0123456789abcdef"  # local stand-in only, never a real key
LOCAL_TIMINGS = alertmanager.Timings(group_wait="1s", group_interval="1s", repeat_interval="1m",
                                     watchdog_repeat_interval="1m")


class PagerDutySink:
    """A local HTTP server standing in for PagerDuty's Events API v2: records each POSTed JSON body.

    ``GET /events`` lists the received bodies (newest first, without the routing key) and ``GET /`` shows them as
    a page; ``on_event(body)`` is called with each body as it arrives. ``address``: where it listens.
    """

    def __init__(self, address: str = "127.0.0.1",
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
                with sink._lock:
                    sink.events.append({"path": self.path, "body": body})
                    sink._lock.notify_all()
                self._send(202, json.dumps({"status": "success", "message": "Event processed"}), "application/json")
                if on_event is not None and isinstance(body, dict):
                    on_event(body)

            def do_GET(self) -> None:
                with sink._lock:
                    bodies = [{k: v for k, v in e["body"].items() if k != "routing_key"}
                              for e in reversed(sink.events) if isinstance(e["body"], dict)]
                if self.path == "/events":
                    self._send(200, json.dumps(bodies), "application/json")
                elif self.path == "/":
                    self._send(200, events_page(bodies), "text/html; charset=utf-8")
                else:
                    self._send(404, json.dumps({"status": "not found"}), "application/json")

            def _send(self, status: int, text: str, content_type: str) -> None:
                reply = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((address, 0), Handler)
        self.url = f"http://{connect_host(address)}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PagerDutySink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any] | None:
        """The first received body matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = next((e["body"] for e in self.events if predicate(e["body"])), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._lock.wait(remaining)


def events_page(bodies: list[dict[str, Any]]) -> str:
    """An HTML page listing Events API v2 bodies: what would have paged."""
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in (
            body.get("event_action"), (body.get("payload") or {}).get("severity"),
            (body.get("payload") or {}).get("summary") or body.get("dedup_key"))) + "</tr>"
        for body in bodies)
    return ("<!doctype html><title>PagerDuty stand-in</title>"
            f"<h1>What would have paged ({len(bodies)})</h1><table border=1 cellpadding=4>"
            f"<tr><th>action</th><th>severity</th><th>summary</th></tr>{rows}</table>"
            "<p><a href='/events'>JSON</a>, newest first</p>")


def connect_host(address: str) -> str:
    """The host to connect to for a server listening on the IPv4 ``address``: loopback for the wildcard."""
    return "127.0.0.1" if address in ("", "0.0.0.0") else address


@dataclass(frozen=True)
class Pipeline:
    prometheus_url: str
    alertmanager_url: str
    sink: PagerDutySink
    processes: tuple[subprocess.Popen[bytes], ...] = ()  # Alertmanager, Prometheus (and the agent), running


def binary(*names: str) -> str:
    """The first of ``names`` on PATH (Debian installs Alertmanager as ``prometheus-alertmanager``)."""
    for name in names:
        if path := shutil.which(name):
            return path
    raise ToolMissing(f"{' or '.join(names)} not found on PATH; install Debian's prometheus and "
                      "prometheus-alertmanager packages (`make tools`)")


def free_port(address: str = "127.0.0.1") -> int:
    """A port free on ``address`` now (the process given it binds it a moment later)."""
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


@contextmanager
def process(argv: list[str], log: Path, ready_url: str, timeout: float = 30.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until the context exits (terminate, then kill); wait until ``ready_url`` answers 200."""
    with log.open("wb") as out:
        # a session of its own: a terminal's Ctrl-C reaches only us, and we stop it (not mid-start by the signal)
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _ready(ready_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{Path(argv[0]).name} did not become ready at {ready_url}:\n{tail}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def local_config(config: Config, sink_url: str, key_file: Path) -> Config:
    """``config`` paging the local sink (pages enabled, the dummy key in ``key_file``)."""
    settings = dataclasses.replace(config.alerts.alertmanager, pages_enabled=True,
                                   pagerduty_url=f"{sink_url}/v2/enqueue", pagerduty_routing_key_file=str(key_file))
    return dataclasses.replace(config, alerts=dataclasses.replace(config.alerts, alertmanager=settings))


@contextmanager
def run(config: Config, exporter_target: str, workdir: Path, for_: str = "5s",
        interval: str = "1s", two_tier: bool = False, address: str = "127.0.0.1",
        on_event: Callable[[dict[str, Any]], None] | None = None) -> Iterator[Pipeline]:
    """Prometheus scraping ``exporter_target`` (host:port) with the rendered rules, Alertmanager, the sink.

    ``two_tier``: as ``prometheus-config`` deploys at scale instead: a Prometheus agent scrapes the exporter and
    remote-writes to a central Prometheus, which evaluates the rules (``prometheus_url`` is the central one).
    ``address``: where Prometheus, Alertmanager and the sink listen (their URLs name loopback for a wildcard);
    ``on_event``: called with each body the sink receives.
    """
    prometheus_bin = binary("prometheus")
    alertmanager_bin = binary("alertmanager", "prometheus-alertmanager")
    host = connect_host(address)
    with ExitStack() as stack:
        sink = stack.enter_context(PagerDutySink(address, on_event))
        procs: list[subprocess.Popen[bytes]] = []
        key_file = workdir / "pagerduty-routing-key"
        key_file.write_text(DUMMY_ROUTING_KEY)
        local = local_config(config, sink.url, key_file)
        rules_dir = workdir / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True)
        for name, doc in prometheus.rule_files(local, for_override=for_).items():
            (rules_dir / name).write_text(prometheus.dump(doc, "local pipeline"), encoding="utf-8")
        am_port, prom_port = free_port(address), free_port(address)
        (workdir / "alertmanager.yml").write_text(prometheus.dump(
            alertmanager.alertmanager_config(local, timings=LOCAL_TIMINGS), "local pipeline"), encoding="utf-8")
        am_url, prom_url = f"http://{host}:{am_port}", f"http://{host}:{prom_port}"
        procs.append(stack.enter_context(process(
            [alertmanager_bin, f"--config.file={workdir / 'alertmanager.yml'}",
             f"--storage.path={workdir / 'alertmanager-data'}", f"--web.listen-address={address}:{am_port}",
             "--cluster.listen-address="], workdir / "alertmanager.log", f"{am_url}/-/ready")))
        if two_tier:
            doc = prometheus.central_config(config.environment, str(rules_dir), [am_url], evaluation_interval=interval)
            extra = ["--web.enable-remote-write-receiver"]
        else:
            doc = prometheus.prometheus_config(
                exporter_targets=[exporter_target], qdrant_targets=(), alertmanager_targets=[f"{host}:{am_port}"],
                scrape_interval=interval, evaluation_interval=interval)
            extra = []
        (workdir / "prometheus.yml").write_text(prometheus.dump(doc, "local pipeline"), encoding="utf-8")
        procs.append(stack.enter_context(process(
            [prometheus_bin, f"--config.file={workdir / 'prometheus.yml'}", *extra,
             f"--storage.tsdb.path={workdir / 'prometheus-data'}", f"--web.listen-address={address}:{prom_port}"],
            workdir / "prometheus.log", f"{prom_url}/-/ready")))
        if two_tier:
            agent_port = free_port()
            (workdir / "agent.yml").write_text(prometheus.dump(prometheus.agent_config(
                config.environment, [exporter_target], f"{prom_url}/api/v1/write", "local-agent",
                scrape_interval=interval), "local pipeline"), encoding="utf-8")
            procs.append(stack.enter_context(process(
                [prometheus_bin, "--enable-feature=agent", f"--config.file={workdir / 'agent.yml'}",
                 f"--storage.agent.path={workdir / 'agent-data'}", f"--web.listen-address=127.0.0.1:{agent_port}"],
                workdir / "agent.log", f"http://127.0.0.1:{agent_port}/-/ready")))
        yield Pipeline(prom_url, am_url, sink, tuple(procs))
