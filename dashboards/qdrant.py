"""Qdrant: node health and version, per collection status, optimizer, points, indexing, segments, cluster."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.QDRANT
TITLE = "Docqet / Qdrant"

_NODE = S.matchers("qdrant")
_COLL = S.matchers("qdrant", "collection")
_LEGEND = "{{qdrant}}/{{collection}}"
STATUS_CODES = {0: ("green", S.GREEN), 1: ("yellow", S.YELLOW), 2: ("grey", S.GREY), 3: ("red", S.RED)}


def _status(colour: str) -> str:
    selector = S.matchers("qdrant", "collection", extra='status="' + colour + '"')
    return f"sum without (status) (docqet_qdrant_collection_status{selector})"


# One number per collection: 0 green, 1 yellow, 2 grey, 3 red (the colour whose series is 1).
STATUS_EXPR = f'{_status("yellow")} + 2 * {_status("grey")} + 3 * {_status("red")}'


def build(t: Thresholds) -> G.Dashboard:
    rows = [
        S.Row("Nodes", [
            S.stat("Up", [S.Query(f"docqet_qdrant_up{_NODE}", "{{qdrant}}")], S.NONE, mappings=S.UP_DOWN,
                   thresholds=S.below(1), w=6, description="1 when the node answers /readyz."),
            S.stat("Version", [S.Query(f"docqet_qdrant_info{_NODE}", "{{qdrant}} {{version}}")], S.NONE,
                   text_mode="name", w=6, description="Qdrant version of each node (GET /)."),
            S.stat("Collections", [S.Query(f"docqet_qdrant_collections{_NODE}", "{{qdrant}}")], S.COUNT, w=6),
            S.stat("Collections not green", [f"count({_status('green')} == 0) or vector(0)"], S.COUNT,
                   thresholds=S.above(1, S.ORANGE), w=6),
        ]),
        S.Row("Collections", [
            S.state_timeline("Collection status", [S.Query(STATUS_EXPR, _LEGEND)],
                             S.state_mappings(STATUS_CODES),
                             description="Status colour of each collection (yellow: optimizing, grey: optimizations "
                                         "pending, red: failed). Not green for 30 minutes warns."),
            S.state_timeline("Optimizer status", [S.Query(f"docqet_qdrant_collection_optimizer_ok{_COLL}", _LEGEND)],
                             S.state_mappings({1: ("ok", S.GREEN), 0: ("error", S.RED)}),
                             description="Optimizer status of each collection; an error for 10 minutes warns."),
            S.timeseries("Points", [S.Query(f"docqet_qdrant_collection_points{_COLL}", _LEGEND)], S.COUNT, w=8),
            S.timeseries("Indexed vectors vs points", [
                S.Query(f"docqet_qdrant_collection_indexed_vectors{_COLL} / docqet_qdrant_collection_points{_COLL}",
                        _LEGEND)], S.PERCENT_RATIO, w=8,
                description="Share of the points whose vectors are in the HNSW index (below 100 % while "
                            "indexing or under the indexing threshold)."),
            S.timeseries("Segments", [S.Query(f"docqet_qdrant_collection_segments{_COLL}", _LEGEND)], S.COUNT, w=8),
        ]),
        S.Row("Cluster", [
            S.stat("Cluster mode", [S.Query(f"docqet_qdrant_cluster_enabled{_NODE}", "{{qdrant}}")], S.NONE,
                   mappings=S.state_mappings({1: ("enabled", S.BLUE), 0: ("single node", S.GREY)}), w=6),
            S.timeseries("Cluster peers", [S.Query(f"docqet_qdrant_cluster_peers{_NODE}", "{{qdrant}}")], S.COUNT,
                         w=9),
            S.timeseries("Pending operations", [
                S.Query(f"docqet_qdrant_cluster_pending_operations{_NODE}", "{{qdrant}}")], S.COUNT, w=9,
                description="Raft operations not yet applied; growing means the cluster does not converge."),
            S.timeseries("Request errors", [
                S.Query(f"sum by (qdrant, code) (rate(docqet_qdrant_request_errors_total{_NODE}[$__rate_interval]))",
                        "{{qdrant}} {{code}}")], S.REQUESTS_PER_SECOND, stack=True, w=24,
                description="Failed requests of the exporter to each node (timeouts, HTTP errors, bad JSON)."),
        ]),
    ]
    variables = [
        S.query_variable("qdrant", "docqet_qdrant_up"),
        S.query_variable("collection", "docqet_qdrant_collection_points", label_filter='qdrant=~"$qdrant"'),
    ]
    return S.dashboard(UID, TITLE, rows, variables, tags=["qdrant"])
