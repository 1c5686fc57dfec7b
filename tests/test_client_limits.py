"""HTTP clients (Qdrant, Grafana, Sentry) under hostile servers: a total deadline whatever the server drips, a
response size cap, a JSON depth cap, and docqet_qdrant_up 0 (never a missing series) for any failure. SIGTERM
stops the exporter while its Qdrant client is stuck on a dripping server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers import free_port, samples
from hostile_http import RawServer, dripping, respond
from qdrant_fake import ROUTES_HEALTHY, FakeQdrant

from docqet_monitor.core import http
from docqet_monitor.core.config import ConfigError, QdrantCollectorConfig, QdrantNodeConfig
from docqet_monitor.dashboards.publish import Grafana, GrafanaError
from docqet_monitor.exporters import qdrant
from docqet_monitor.exporters.qdrant import Node, QdrantCollector

VENV_BIN = Path(sys.executable).parent
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("in_headers", [True, False], ids=["headers", "body"])
def test_a_dripping_server_is_cut_off_at_the_deadline(stop: threading.Event, in_headers: bool) -> None:
    server = RawServer(dripping(stop, in_headers))
    with pytest.raises(http.DeadlineExceeded, match="within 1 s"):
        http.request(http.session(), "GET", server.url + "/", deadline_seconds=1)
    server.close()


class _StarvedTimer(threading.Timer):
    """A timer whose thread never gets to run (a loaded machine, at worst)."""

    def start(self) -> None:
        pass


@pytest.mark.timeout(60)
def test_a_socket_timeout_at_the_deadline_is_the_deadline(stop: threading.Event,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http.threading, "Timer", _StarvedTimer)
    server = RawServer(dripping(stop, in_headers=True))
    with pytest.raises(http.DeadlineExceeded, match=r"within 0\.5 s"):  # not requests' ReadTimeout
        http.request(http.session(), "GET", server.url + "/", deadline_seconds=0.5)  # a byte a second: it times out
    server.close()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_body_past_the_cap_is_refused(declared: bool) -> None:
    def handle(conn: object, _head: bytes) -> None:
        length = b"Content-Length: 5000000\r\n" if declared else b""
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + length + b"Connection: close\r\n\r\n")  # type: ignore[attr-defined]
        conn.sendall(b" " * 5_000_000)  # type: ignore[attr-defined]

    server = RawServer(handle)
    with pytest.raises(http.ResponseTooLarge):
        http.request(http.session(), "GET", server.url + "/", deadline_seconds=10, max_bytes=1_000_000)
    assert http.request(http.session(), "GET", server.url + "/", deadline_seconds=10,
                        max_bytes=6_000_000).content == b" " * 5_000_000
    server.close()


def test_json_depth_is_checked_before_parsing() -> None:
    assert http.json_depth(b'{"a": [1, {"b": "[[[[[[{{{{"}], "c": "\\"]]"}') == 3
    assert http.loads(b'{"a": [[1]]}', max_depth=3) == {"a": [[1]]}
    with pytest.raises(http.TooDeep):
        http.loads(b'{"a": [[1]]}', max_depth=2)
    with pytest.raises(http.TooDeep):
        http.loads(DEEP)  # json.loads alone: RecursionError


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0, -1, 1e300, 301])
def test_an_unusable_timeout_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="expected seconds > 0 and <= 300"):
        http.check_timeout(value)
    config = QdrantCollectorConfig(nodes=(QdrantNodeConfig("a", "http://q:6333", timeout_seconds=value),))
    with pytest.raises(ConfigError, match=r"collectors.qdrant.nodes\[0\].timeout_seconds"):
        qdrant.nodes_from(config, {})


def test_an_infinite_qdrant_timeout_is_exit_2_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("collectors:\n  ecs: {enabled: false}\n  rds: {enabled: false}\n  cost: {enabled: false}\n"
                      "  qdrant:\n    nodes:\n      - {name: a, url: 'http://127.0.0.1:9', timeout_seconds: .inf}\n")
    result = subprocess.run([str(VENV_BIN / "docqet-monitor"), "--config", str(config), "exporter", "once"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "timeout_seconds" in result.stderr


# --- the Qdrant collector: every failure reads docqet_qdrant_up 0 -------------------------------------------


def _collect(url: str, timeout: float = 5.0) -> tuple[float | None, set[str]]:
    collector = QdrantCollector((Node("n1", url, timeout_seconds=timeout),))
    result = collector.collect()
    up = samples(result.families, "docqet_qdrant_up").get((("qdrant", "n1"),))
    codes = {dict(labels)["code"] for labels in samples(result.families, "docqet_qdrant_request_errors_total")}
    return up, codes


@pytest.mark.timeout(60)
def test_qdrant_dripping_is_a_timeout_and_up_0(stop: threading.Event) -> None:
    server = RawServer(dripping(stop))
    assert _collect(server.url, timeout=1) == (0, {"timeout"})
    server.close()


@pytest.mark.parametrize(("body", "code"), [
    (DEEP, "too_deep"),
    (b'{"result": {"collections": [' + b'{"name": "c"},' * 800_000 + b'{"name": "c"}]}}', "too_large"),
], ids=["deep", "huge"])
def test_qdrant_hostile_listing_is_refused_and_up_0(body: bytes, code: str) -> None:
    routes = {**ROUTES_HEALTHY, "/collections": {"status": 200, "content_type": "application/json",
                                                  "raw": body.decode()}}
    fake = FakeQdrant(routes)
    try:
        assert _collect(fake.url) == (0, {code})
    finally:
        fake.close()


def test_an_unexpected_qdrant_error_is_up_0_not_a_missing_series(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeQdrant(ROUTES_HEALTHY)

    def boom(self: object) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(qdrant.QdrantClient, "version", boom)
    try:
        assert _collect(fake.url) == (0, {"internal"})
    finally:
        fake.close()


def test_grafana_answers_past_the_limits_are_clear_errors() -> None:
    def handle(conn: object, head: bytes) -> None:
        respond(conn, 200, DEEP)  # type: ignore[arg-type]

    server = RawServer(handle)
    with pytest.raises(GrafanaError, match="not usable JSON"):
        Grafana(server.url, "glsa_token_value").dashboard("x")
    server.close()


# --- SIGTERM while a client is stuck --------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_sigterm_stops_the_exporter_while_qdrant_drips(stop: threading.Event, tmp_path: Path) -> None:
    server = RawServer(dripping(stop))
    config = tmp_path / "monitor.yaml"
    config.write_text("collectors:\n  ecs: {enabled: false}\n  rds: {enabled: false}\n  cost: {enabled: false}\n"
                      f"  qdrant:\n    nodes:\n      - {{name: a, url: '{server.url}', timeout_seconds: 300}}\n")
    port = free_port()
    proc = subprocess.Popen([str(VENV_BIN / "docqet-monitor"), "--config", str(config), "exporter", "serve",
                             "--address", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert server.connected.wait(30), "the exporter never asked Qdrant"
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 503  # first refresh pending
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)  # a bound, not a benchmark: before the fix it waited for Qdrant
        assert proc.returncode == 0, err
        assert "stopping" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.close()
