"""Qdrant collector against a real HTTP server on 127.0.0.1 serving spec-validated fixtures."""

from __future__ import annotations

import functools
import json
import logging
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import CONTRACTS, free_port
from openapi_core import OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from qdrant_fake import API_KEY, QDRANT_FIXTURES, ROUTES_HEALTHY, FakeQdrant, Route, body_of, fixture

from docqet_monitor.core.config import Config, ConfigError, QdrantCollectorConfig, QdrantNodeConfig, parse
from docqet_monitor.core.stats import Stats
from docqet_monitor.demo import cost_qdrant as demo_cost_qdrant
from docqet_monitor.demo.aws import DemoContext
from docqet_monitor.exporters import qdrant
from docqet_monitor.exporters.metrics import Collection, render
from docqet_monitor.exporters.qdrant import Node, QdrantClient, QdrantCollector
from docqet_monitor.exporters.server import Exporter

SPECS = ("qdrant-openapi.json", "qdrant-openapi-v1.18.x.json")






# --- contract: every fixture is a response Qdrant can really send ------------------------------


@functools.cache
def openapi(spec: str) -> OpenAPI:
    return OpenAPI.from_dict(json.loads((CONTRACTS / spec).read_text()))


def validate(spec: str, fx: dict[str, Any]) -> None:
    path = fx["path"].replace("{collection_name}", "docs-chunks")
    openapi(spec).validate_response(MockRequest("http://localhost:6333", "get", path),
                                    MockResponse(body_of(fx), fx["status"], content_type=fx["content_type"]))


ALL_FIXTURES = sorted(QDRANT_FIXTURES.glob("*.json"))


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_matches_the_published_spec(spec: str, path: Path) -> None:
    fx = json.loads(path.read_text())
    if fx.get("malformed"):  # the malformed-JSON fault fixture must not pass as a valid response
        with pytest.raises(Exception, match="deserialize"):
            validate(spec, fx)
    elif spec.endswith("v1.18.x.json") and fx["path"] == "/readyz" and fx["status"] == 503:
        # 1.18 answers 503 while shards load but its spec only declares 200 and 4XX for /readyz
        with pytest.raises(ResponseNotFound):
            validate(spec, fx)
    else:
        validate(spec, fx)


def test_the_spec_check_rejects_a_wrong_fixture() -> None:
    fx = fixture("collection-green")
    fx["body"]["result"]["status"] = "purple"
    with pytest.raises(Exception, match="'purple' is not one of"):
        validate(SPECS[0], fx)


def test_the_fault_tests_use_every_fixture() -> None:
    used = {p.stem for p in ALL_FIXTURES}
    assert used == set(ROUTES_HEALTHY.values()) | {"cluster-disabled", "readyz-not-ready", "error-500", "error-401",
                                                   "error-404", "collections-malformed"}


# --- a fake Qdrant on 127.0.0.1 ---------------------------------------------------------------





@pytest.fixture
def serve() -> Iterator[Callable[..., FakeQdrant]]:
    started: list[FakeQdrant] = []

    def start(routes: dict[str, Route], api_key: str = "") -> FakeQdrant:
        started.append(FakeQdrant(routes, api_key))
        return started[-1]

    yield start
    for fake in started:
        fake.close()


def samples(result: Collection) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for f in result.families for s in f.samples}


def value(result: Collection, name: str, **labels: str) -> float | None:
    return samples(result).get((name, frozenset(labels.items())))


def collector_for(url: str, api_key: str = API_KEY, timeout: float = 5.0, concurrency: int = 4) -> QdrantCollector:
    return QdrantCollector((Node("main", url, api_key, True, timeout),), max_concurrency=concurrency)


# --- behaviour --------------------------------------------------------------------------------


def test_a_healthy_node(serve: Callable[..., FakeQdrant]) -> None:
    fake = serve(ROUTES_HEALTHY, api_key=API_KEY)
    result = collector_for(fake.url).collect()

    assert result.errors == ()
    assert value(result, "docqet_qdrant_up", qdrant="main") == 1
    assert value(result, "docqet_qdrant_info", qdrant="main", version="1.19.0") == 1
    assert value(result, "docqet_qdrant_collections", qdrant="main") == 3
    assert value(result, "docqet_qdrant_collection_points", qdrant="main", collection="docs-chunks") == 1250000
    assert value(result, "docqet_qdrant_collection_indexed_vectors", qdrant="main", collection="docs-titles") == 38000
    assert value(result, "docqet_qdrant_collection_segments", qdrant="main", collection="docs-titles") == 12
    for colour in qdrant.STATUSES:
        assert value(result, "docqet_qdrant_collection_status", qdrant="main", collection="docs-titles",
                     status=colour) == (1 if colour == "yellow" else 0)
    assert value(result, "docqet_qdrant_collection_optimizer_ok", qdrant="main", collection="docs-chunks") == 1
    assert value(result, "docqet_qdrant_collection_optimizer_ok", qdrant="main", collection="docs-titles") == 0
    assert value(result, "docqet_qdrant_cluster_enabled", qdrant="main") == 1
    assert value(result, "docqet_qdrant_cluster_peers", qdrant="main") == 3
    assert value(result, "docqet_qdrant_cluster_pending_operations", qdrant="main") == 2
    assert all(h.get("api-key") == API_KEY for h in fake.headers)
    # the optimizer's error text is not a label anywhere
    assert b"No space left" not in render(result.families)


def test_nullable_counts_produce_no_series(serve: Callable[..., FakeQdrant]) -> None:
    result = collector_for(serve(ROUTES_HEALTHY).url, api_key="").collect()
    names = {name for name, labels in samples(result) if ("collection", "support-faq") in labels}
    assert "docqet_qdrant_collection_points" not in names
    assert "docqet_qdrant_collection_indexed_vectors" not in names
    assert {"docqet_qdrant_collection_segments", "docqet_qdrant_collection_status"} <= names


def test_a_single_node_without_cluster(serve: Callable[..., FakeQdrant]) -> None:
    result = collector_for(serve({**ROUTES_HEALTHY, "/cluster": "cluster-disabled"}).url).collect()
    assert value(result, "docqet_qdrant_cluster_enabled", qdrant="main") == 0
    assert value(result, "docqet_qdrant_cluster_peers", qdrant="main") is None
    assert value(result, "docqet_qdrant_up", qdrant="main") == 1


def test_a_node_that_is_not_ready_is_down_but_still_described(serve: Callable[..., FakeQdrant]) -> None:
    result = collector_for(serve({**ROUTES_HEALTHY, "/readyz": "readyz-not-ready"}).url).collect()
    assert value(result, "docqet_qdrant_up", qdrant="main") == 0
    assert value(result, "docqet_qdrant_collections", qdrant="main") == 3
    assert result.errors == ()


def test_a_collection_deleted_while_listed_is_skipped(serve: Callable[..., FakeQdrant]) -> None:
    routes = {k: v for k, v in ROUTES_HEALTHY.items() if k != "/collections/support-faq"}
    result = collector_for(serve(routes).url).collect()
    assert result.errors == ()
    assert value(result, "docqet_qdrant_collections", qdrant="main") == 2


class Healthy:
    name, interval_seconds = "other", 60.0

    def collect(self) -> Collection:
        from prometheus_client.core import GaugeMetricFamily
        return Collection([GaugeMetricFamily("docqet_other_ok", "A collector that works.", value=1)])


def _fault_routes(fault: str, release: threading.Event) -> tuple[dict[str, Route], float]:
    def slow(_: BaseHTTPRequestHandler) -> str:
        release.wait(10)
        return "collections"

    return {
        "500": ({**ROUTES_HEALTHY, "/collections": "error-500"}, 5.0),
        "malformed": ({**ROUTES_HEALTHY, "/collections": "collections-malformed"}, 5.0),
        "timeout": ({**ROUTES_HEALTHY, "/collections": slow}, 0.3),
    }[fault]


@pytest.mark.parametrize(("fault", "code"), [("down", "connection"), ("timeout", "timeout"), ("500", "http_500"),
                                             ("wrong-key", "http_401"), ("malformed", "invalid_json")])
def test_faults_mark_the_node_down_count_and_spare_the_others(
        serve: Callable[..., FakeQdrant], caplog: pytest.LogCaptureFixture, fault: str, code: str) -> None:
    release = threading.Event()
    if fault == "down":
        url, timeout = f"http://127.0.0.1:{free_port()}", 2.0
    elif fault == "wrong-key":
        url, timeout = serve(ROUTES_HEALTHY, api_key="the-right-key").url, 5.0
    else:
        routes, timeout = _fault_routes(fault, release)
        url = serve(routes).url
    collector = collector_for(url, timeout=timeout)
    exporter = Exporter([collector, Healthy()], Stats())
    caplog.set_level(logging.DEBUG)
    try:
        results = exporter.refresh_all()
    finally:
        release.set()

    assert results == {"qdrant": False, "other": True}
    body = exporter.snapshot().body.decode()
    assert 'docqet_qdrant_up{qdrant="main"} 0.0' in body
    assert re.search(f'^docqet_qdrant_request_errors_total{{code="{code}",qdrant="main"}} [1-9]', body, re.M)
    assert "docqet_other_ok 1.0" in body
    assert 'docqet_exporter_collector_up{collector="other"} 1.0' in body
    assert 'docqet_exporter_collector_up{collector="qdrant"} 0.0' in body
    assert API_KEY not in body + caplog.text
    assert code in caplog.text  # the fault is shown in the log


def test_the_api_key_is_scrubbed_from_request_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    class Leaky(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
            raise requests.ConnectionError(f"cannot send {request.url} headers={dict(request.headers)}")

        def close(self) -> None:
            pass

    session = requests.Session()
    node = Node("main", "http://qdrant.invalid:6333", API_KEY)
    client = QdrantClient(node, session=session)
    session.mount("http://", Leaky())
    session.adapters.pop(node.url, None)
    with pytest.raises(qdrant.QdrantError) as info:
        client.version()
    assert "<redacted>" in str(info.value)
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(node)


def test_collections_are_fetched_with_bounded_concurrency(serve: Callable[..., FakeQdrant]) -> None:
    limit, names = 4, [f"tenant-{i:03d}" for i in range(300)]
    fake: FakeQdrant
    gate_open = threading.Event()

    def held(_: BaseHTTPRequestHandler) -> str:
        # The first requests wait at a gate for one more than `limit` to be in flight at once; a bounded client
        # never gets there (the gate opens after a grace period), an unbounded one does at once.
        with fake.lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
            fake.lock.notify_all()
            if not gate_open.is_set():
                fake.lock.wait_for(lambda: fake.in_flight > limit, timeout=2)
                gate_open.set()
            fake.in_flight -= 1
        return "collection-green"

    listing = {"path": "/collections", "status": 200, "content_type": "application/json",
               "body": {"result": {"collections": [{"name": n} for n in names]}, "status": "ok", "time": 0.001}}
    validate(SPECS[0], listing)
    validate(SPECS[1], listing)
    fake = serve({**ROUTES_HEALTHY, "/collections": listing, **{f"/collections/{n}": held for n in names}})
    result = collector_for(fake.url, concurrency=limit).collect()
    assert result.errors == ()
    assert value(result, "docqet_qdrant_collections", qdrant="main") == 300
    assert fake.max_in_flight == limit


# --- configuration ----------------------------------------------------------------------------


def test_nodes_come_from_config_else_from_the_environment() -> None:
    config = QdrantCollectorConfig(nodes=(QdrantNodeConfig("eu", "https://q.eu:6333/", "EU_KEY", False, 3.0),))
    assert qdrant.nodes_from(config, {"EU_KEY": "k1", "QDRANT_URL": "http://ignored"}) == (
        Node("eu", "https://q.eu:6333", "k1", False, 3.0),)
    assert qdrant.nodes_from(QdrantCollectorConfig(), {"QDRANT_URL": "http://q:6333", "QDRANT_API_KEY": "k2"}) == (
        Node("default", "http://q:6333", "k2"),)
    assert qdrant.nodes_from(QdrantCollectorConfig(), {}) == ()
    with pytest.raises(ConfigError, match=r"\$QDRANT_URL.*http\(s\) URL"):
        qdrant.nodes_from(QdrantCollectorConfig(), {"QDRANT_URL": "q:6333"})


def test_an_api_key_is_trimmed_and_one_no_header_can_carry_is_refused_at_start() -> None:
    """A key file's trailing newline is trimmed (the ``api-key`` header carries the key alone); a line break or a
    space inside is a setting to fix (exit 2 at start, the key not shown): requests refused the header at every
    scrape, and the node read as down."""
    env = {"QDRANT_URL": "http://q:6333", "QDRANT_API_KEY": " k2-secret-key\n"}
    assert qdrant.nodes_from(QdrantCollectorConfig(), env)[0].api_key == "k2-secret-key"
    config = QdrantCollectorConfig(nodes=(QdrantNodeConfig("eu", "https://q.eu:6333/", "EU_KEY"),))
    for nodes, name in ((QdrantCollectorConfig(), "QDRANT_API_KEY"), (config, "EU_KEY")):
        with pytest.raises(ConfigError) as err:
            qdrant.nodes_from(nodes, {**env, name: "k2-secret\nkey"})
        assert str(err.value) == (f"${name}: expected a token of printable ASCII without spaces, got a line break at "
                                  "character 10 (the value is not shown)")


def test_the_collector_is_off_without_nodes_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert qdrant.build(parse({}).collectors.qdrant, {}) is None
    assert "qdrant collector off" in caplog.text and "QDRANT_URL" in caplog.text
    on = qdrant.build(parse({}).collectors.qdrant, {"QDRANT_URL": "http://127.0.0.1:6333"})
    assert on is not None and on.name == "qdrant"


def test_the_exposition_passes_promtool(serve: Callable[..., FakeQdrant]) -> None:
    result = collector_for(serve(ROUTES_HEALTHY).url).collect()
    check = subprocess.run(["promtool", "check", "metrics"], input=render(result.families),
                           capture_output=True, check=False)
    assert check.returncode == 0 and not check.stdout and not check.stderr, check.stdout + check.stderr
    exported = {s.name for f in result.families for s in f.samples}
    assert exported == set(qdrant.METRIC_NAMES) - {"docqet_qdrant_request_errors_total"}  # no error: no series


# --- the demo step ----------------------------------------------------------------------------


def test_the_demo_reports_qdrant_not_configured(tmp_path: Path) -> None:
    lines: list[str] = []
    demo_cost_qdrant.qdrant_step(DemoContext("http://127.0.0.1:1", Config(), echo=lines.append, out_dir=tmp_path))
    assert lines == ["Qdrant: not configured (set QDRANT_URL)"]


def test_the_demo_scrapes_the_qdrant_of_qdrant_url(serve: Callable[..., FakeQdrant],
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = serve(ROUTES_HEALTHY, api_key=API_KEY)
    monkeypatch.setenv("QDRANT_URL", fake.url)
    monkeypatch.setenv("QDRANT_API_KEY", API_KEY)
    lines: list[str] = []
    demo_cost_qdrant.qdrant_step(DemoContext("http://127.0.0.1:1", Config(), echo=lines.append, out_dir=tmp_path))
    assert lines == [f"Qdrant default at {fake.url}: up, Qdrant 1.19.0, 3 collection(s); the exporter scrapes it"]
    assert fake.headers  # it really asked
    monkeypatch.setenv("QDRANT_API_KEY", "wrong")
    lines.clear()
    demo_cost_qdrant.qdrant_step(DemoContext("http://127.0.0.1:1", Config(), echo=lines.append, out_dir=tmp_path))
    assert lines[0].startswith(f"Qdrant default at {fake.url}: down: ") and "HTTP 401" in lines[0]
