"""Qdrant collector: per-collection health from the REST API of one or more Qdrant nodes.

Qdrant's own ``/metrics`` lacks what on-call needs per collection (status colour, optimizer state, segments),
so this reads ``/readyz``, ``/``, ``/collections``, ``/collections/{name}`` and ``/cluster``. The API key
travels only in the ``api-key`` header and is scrubbed from every error message.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from docqet_monitor.core import http, secrets
from docqet_monitor.core.config import ConfigError, QdrantCollectorConfig, is_url, short
from docqet_monitor.core.errors import RunError
from docqet_monitor.exporters.metrics import Collection

log = logging.getLogger(__name__)

STATUSES = ("green", "yellow", "grey", "red")
URL_ENV, API_KEY_ENV, DEFAULT_NODE = "QDRANT_URL", "QDRANT_API_KEY", "default"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a listing of ~100k collections; a bigger answer is refused (too_large)

METRIC_NAMES = (
    "docqet_qdrant_up",
    "docqet_qdrant_info",
    "docqet_qdrant_collections",
    "docqet_qdrant_collection_points",
    "docqet_qdrant_collection_indexed_vectors",
    "docqet_qdrant_collection_segments",
    "docqet_qdrant_collection_status",
    "docqet_qdrant_collection_optimizer_ok",
    "docqet_qdrant_cluster_enabled",
    "docqet_qdrant_cluster_peers",
    "docqet_qdrant_cluster_pending_operations",
    "docqet_qdrant_request_errors_total",
)


@dataclass(frozen=True)
class Node:
    """One Qdrant node to scrape. The API key is kept out of ``repr``."""

    name: str
    url: str
    api_key: str = field(default="", repr=False)
    verify_tls: bool = True
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class CollectionStats:
    name: str
    status: str
    optimizer_ok: bool
    segments: int
    points: int | None  # nullable in the spec: no series when None
    indexed_vectors: int | None


@dataclass(frozen=True)
class ClusterStats:
    enabled: bool
    peers: int | None = None
    pending_operations: int | None = None


@dataclass(frozen=True)
class NodeReport:
    """What one refresh learnt about a node; ``errors`` holds ``(code, message)`` pairs."""

    node: str
    ready: bool = False
    version: str | None = None
    collections: tuple[CollectionStats, ...] | None = None
    cluster: ClusterStats | None = None
    errors: tuple[tuple[str, str], ...] = ()

    @property
    def up(self) -> bool:
        return self.ready and not self.errors


class QdrantError(RunError):
    """A failed Qdrant request; ``code`` is a short label value (``timeout``, ``http_500`` ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- configuration ----------------------------------------------------------------------------


def nodes_from(config: QdrantCollectorConfig, environ: Mapping[str, str] = os.environ) -> tuple[Node, ...]:
    """The nodes to scrape: ``collectors.qdrant.nodes``, else one node ``default`` from ``$QDRANT_URL``."""
    if config.nodes:
        nodes = tuple(Node(n.name, n.url.rstrip("/"), _api_key(environ, n.api_key_env) if n.api_key_env else "",
                           n.verify_tls, n.timeout_seconds) for n in config.nodes)
    else:
        url = environ.get(URL_ENV, "")
        if not url:
            return ()
        if not is_url(url):
            raise ConfigError(f"${URL_ENV}", "", f"expected an http(s) URL, got {short(secrets.without_password(url))}")
        nodes = (Node(DEFAULT_NODE, url.rstrip("/"), _api_key(environ, API_KEY_ENV)),)
    for i, node in enumerate(nodes):
        try:
            http.check_timeout(node.timeout_seconds)
        except ValueError:
            raise ConfigError("<config>", f"collectors.qdrant.nodes[{i}].timeout_seconds",
                              f"expected seconds > 0 and <= {http.MAX_TIMEOUT_SECONDS:g}") from None
    return nodes


def _api_key(environ: Mapping[str, str], name: str) -> str:
    try:
        return secrets.env_token(environ, name)
    except ValueError as exc:
        raise ConfigError(f"${name}", "", str(exc)) from None


# --- the client -------------------------------------------------------------------------------


class QdrantClient:
    """A narrow read-only client for one node, speaking our dataclasses. Each request has a total deadline of the
    node's ``timeout_seconds``, a body cap of :data:`MAX_RESPONSE_BYTES` and a JSON depth cap."""

    def __init__(self, node: Node, pool_size: int = 8, session: requests.Session | None = None) -> None:
        self.node = node
        secrets.register(node.api_key, secrets.url_password(node.url))
        self._session = session or http.session(pool_size)
        if node.api_key:
            self._session.headers["api-key"] = node.api_key
        self._session.verify = node.verify_tls

    def close(self) -> None:
        self._session.close()

    def _get(self, path: str) -> requests.Response:
        try:
            # no redirects: requests would carry the api-key header to wherever a redirect points
            return http.request(self._session, "GET", self.node.url + path, deadline_seconds=self.node.timeout_seconds,
                                max_bytes=MAX_RESPONSE_BYTES, service="qdrant")
        except http.HttpLimitError as exc:
            raise QdrantError(exc.code, f"GET {path}: {exc}") from None
        except requests.Timeout as exc:
            raise QdrantError("timeout", secrets.redact(f"GET {path}: timed out ({exc})")) from None
        except requests.RequestException as exc:
            raise QdrantError("connection", secrets.redact(f"GET {path}: {type(exc).__name__}: {exc}")) from None

    def _result(self, path: str) -> Any:
        response = self._get(path)
        if response.status_code != 200:
            raise QdrantError(f"http_{response.status_code}",
                              f"GET {path}: HTTP {response.status_code} {_error_text(response)}")
        try:
            body = http.loads(response.content)
        except http.TooDeep as exc:
            raise QdrantError(exc.code, f"GET {path}: {exc}") from None
        except ValueError:
            raise QdrantError("invalid_json", f"GET {path}: the response is not JSON") from None
        if not isinstance(body, dict):
            raise QdrantError("invalid_response", f"GET {path}: expected a JSON object")
        return body.get("result", body)

    def ready(self) -> bool:
        """``GET /readyz``: True on 200, False on 503 (shards not ready); other answers raise."""
        response = self._get("/readyz")
        if response.status_code in (200, 503):
            return response.status_code == 200
        raise QdrantError(f"http_{response.status_code}", f"GET /readyz: HTTP {response.status_code}")

    def version(self) -> str:
        return _field(self._result("/"), "version", str, "/")

    def collection_names(self) -> list[str]:
        collections = _field(self._result("/collections"), "collections", list, "/collections")
        return [_field(c, "name", str, "/collections") for c in collections]

    def collection(self, name: str) -> CollectionStats | None:
        """``GET /collections/{name}``; None when it was deleted since it was listed (404)."""
        path = f"/collections/{requests.utils.quote(name, safe='')}"
        try:
            return parse_collection(name, self._result(path), path)
        except QdrantError as exc:
            if exc.code == "http_404":
                return None
            raise

    def cluster(self) -> ClusterStats:
        return parse_cluster(self._result("/cluster"))


def _error_text(response: requests.Response) -> str:
    """Qdrant's own error description (``status.error``), when the body carries one, secrets redacted (a server
    or a proxy may echo the request's api-key)."""
    try:
        return secrets.redact(str(http.loads(response.content)["status"]["error"])[:200])
    except (ValueError, KeyError, TypeError, http.TooDeep):
        return ""


def _field(data: Any, key: str, kind: type | tuple[type, ...], path: str, optional: bool = False) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise QdrantError("invalid_response", f"GET {path}: field {key!r} missing or of the wrong type")
    return value


def parse_collection(name: str, result: Any, path: str) -> CollectionStats:
    """A ``CollectionInfo`` result as :class:`CollectionStats` (pure)."""
    status = _field(result, "status", str, path)
    if status not in STATUSES:
        raise QdrantError("invalid_response", f"GET {path}: unknown status {status!r}")
    optimizer = _field(result, "optimizer_status", (str, dict), path)
    return CollectionStats(
        name=name, status=status, optimizer_ok=optimizer == "ok",
        segments=_field(result, "segments_count", int, path),
        points=_field(result, "points_count", int, path, optional=True),
        indexed_vectors=_field(result, "indexed_vectors_count", int, path, optional=True))


def parse_cluster(result: Any) -> ClusterStats:
    """A ``ClusterStatus`` result as :class:`ClusterStats` (pure)."""
    if _field(result, "status", str, "/cluster") != "enabled":
        return ClusterStats(enabled=False)
    raft = _field(result, "raft_info", dict, "/cluster")
    return ClusterStats(enabled=True, peers=len(_field(result, "peers", dict, "/cluster")),
                        pending_operations=_field(raft, "pending_operations", int, "/cluster"))


# --- one refresh ------------------------------------------------------------------------------


def scrape(client: QdrantClient, max_concurrency: int) -> NodeReport:
    """Everything about one node. An unreachable node stops early; other faults are noted and skipped. Never
    raises: an unexpected error is a report with code ``internal`` (the node reads ``docqet_qdrant_up 0``)."""
    try:
        return _scrape(client, max_concurrency)
    except Exception as exc:
        log.warning("qdrant %s: unexpected error", client.node.name, exc_info=True)
        return NodeReport(client.node.name, errors=(("internal", secrets.redact(f"{type(exc).__name__}: {exc}")),))


def _scrape(client: QdrantClient, max_concurrency: int) -> NodeReport:
    name, errors = client.node.name, []
    try:
        ready = client.ready()
    except QdrantError as exc:
        return NodeReport(name, errors=((exc.code, str(exc)),))

    def attempt(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except QdrantError as exc:
            errors.append((exc.code, str(exc)))
            return None

    version = attempt(client.version)
    cluster = attempt(client.cluster)
    names = attempt(client.collection_names)
    collections = None
    if names is not None:
        with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="qdrant") as pool:
            fetched = list(pool.map(lambda n: attempt(lambda: client.collection(n)), names))
        collections = tuple(c for c in fetched if c is not None)
    return NodeReport(name, ready, version, collections, cluster, tuple(errors))


def families(reports: list[NodeReport], error_counts: Mapping[tuple[str, str], int]) -> list[Metric]:
    """The Qdrant metric families of one refresh (pure)."""
    def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=labels)

    up = gauge("docqet_qdrant_up", "1 when the node answered every request and is ready, 0 otherwise.",
               ["qdrant"])
    info = gauge("docqet_qdrant_info", "Qdrant version of the node (always 1).", ["qdrant", "version"])
    count = gauge("docqet_qdrant_collections", "Number of collections on the node.", ["qdrant"])
    per = ["qdrant", "collection"]
    points = gauge("docqet_qdrant_collection_points", "Approximate number of points in the collection.", per)
    indexed = gauge("docqet_qdrant_collection_indexed_vectors",
                    "Approximate number of vectors in the collection's vector index.", per)
    segments = gauge("docqet_qdrant_collection_segments", "Number of segments of the collection.", per)
    status = gauge("docqet_qdrant_collection_status",
                   "1 for the collection's current status colour, 0 for the others.", [*per, "status"])
    optimizer = gauge("docqet_qdrant_collection_optimizer_ok",
                      "1 when the collection's optimizer status is ok, 0 when it reports an error.", per)
    enabled = gauge("docqet_qdrant_cluster_enabled", "1 when distributed (cluster) mode is enabled.", ["qdrant"])
    peers = gauge("docqet_qdrant_cluster_peers", "Peers in the cluster, as seen by this node.", ["qdrant"])
    pending = gauge("docqet_qdrant_cluster_pending_operations",
                    "Consensus operations pending to be applied on this node.", ["qdrant"])
    for report in reports:
        node = report.node
        up.add_metric([node], 1 if report.up else 0)
        if report.version is not None:
            info.add_metric([node, report.version], 1)
        if report.cluster is not None:
            enabled.add_metric([node], 1 if report.cluster.enabled else 0)
            if report.cluster.peers is not None:
                peers.add_metric([node], report.cluster.peers)
            if report.cluster.pending_operations is not None:
                pending.add_metric([node], report.cluster.pending_operations)
        if report.collections is None:
            continue
        count.add_metric([node], len(report.collections))
        for c in report.collections:
            if c.points is not None:
                points.add_metric([node, c.name], c.points)
            if c.indexed_vectors is not None:
                indexed.add_metric([node, c.name], c.indexed_vectors)
            segments.add_metric([node, c.name], c.segments)
            for colour in STATUSES:
                status.add_metric([node, c.name, colour], 1 if c.status == colour else 0)
            optimizer.add_metric([node, c.name], 1 if c.optimizer_ok else 0)
    errors = CounterMetricFamily("docqet_qdrant_request_errors", "Failed Qdrant requests by node and cause.",
                                 labels=["qdrant", "code"])
    for (node, code), n in sorted(error_counts.items()):
        errors.add_metric([node, code], n)
    return [up, info, count, points, indexed, segments, status, optimizer, enabled, peers, pending, errors]


class QdrantCollector:
    """Collector ``qdrant``: every configured node, one after the other; collections fetched concurrently."""

    name = "qdrant"
    global_data = True  # not per account and region: sharded, only shard 1 reads the nodes

    def __init__(self, nodes: tuple[Node, ...], max_concurrency: int = 8, interval_seconds: float = 60.0) -> None:
        self.interval_seconds = interval_seconds
        self.max_concurrency = max_concurrency
        self.clients = [QdrantClient(node, pool_size=max_concurrency) for node in nodes]
        self.error_counts: Counter[tuple[str, str]] = Counter()

    def collect(self) -> Collection:
        reports = [scrape(client, self.max_concurrency) for client in self.clients]
        errors = []
        for report in reports:
            for code, message in report.errors:
                self.error_counts[report.node, code] += 1
                errors.append(f"qdrant {report.node} ({code}): {message}")
        return Collection(families(reports, self.error_counts), tuple(errors))


def build(config: QdrantCollectorConfig, environ: Mapping[str, str] = os.environ) -> QdrantCollector | None:
    """The Qdrant collector, or None (and a log line saying why) when it is off."""
    if not config.enabled:
        log.warning("qdrant collector off: collectors.qdrant.enabled is false")
        return None
    nodes = nodes_from(config, environ)
    if not nodes:
        log.warning("qdrant collector off: no collectors.qdrant.nodes configured and $%s is not set", URL_ENV)
        return None
    return QdrantCollector(nodes, config.max_concurrency, config.interval_seconds)
