"""House style on top of grafanalib: one way to make variables, panels, thresholds, links and the grid.

Every query goes to the data source chosen by the ``datasource`` variable (no data source name is written
anywhere). Panel ids derive from panel titles, so they stay the same when panels move or are added, and
links to a panel (``viewPanel``) keep working. Layout is rows of panels packed left to right on the
24-column grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import attr
from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.core.ids import panel_id

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TOOL_TAG = ids.TOOL  # ownership: publish --prune only ever deletes dashboards with this tag
GRID_WIDTH = 24

# Grafana unit ids
PERCENT_RATIO = "percentunit"  # a 0-1 ratio shown as a percentage
BYTES = "bytes"
BYTES_PER_SECOND = "Bps"
SECONDS = "s"
USD = "currencyUSD"
REQUESTS_PER_SECOND = "reqps"
PER_SECOND = "cps"
COUNT = "short"
NONE = "none"

GREEN, YELLOW, ORANGE, RED, BLUE, GREY = "green", "yellow", "orange", "red", "blue", "text"


# --- variables ------------------------------------------------------------------------------------


def datasource_variable() -> G.Template:
    """The ``datasource`` variable: pick any Prometheus data source of the Grafana instance."""
    return G.Template(name="datasource", label="Data source", type="datasource", query="prometheus",
                      refresh=G.REFRESH_ON_DASHBOARD_LOAD)


def query_variable(name: str, metric: str, label_filter: str = "", label: str = "", title: str = "") -> G.Template:
    """A multi-select variable (with All = ``.*``) of the values of ``label`` (default: ``name``) on
    ``metric{label_filter}``, shown as ``title`` (default: the label, capitalised)."""
    label = label or name
    selector = f"{metric}{{{label_filter}}}" if label_filter else metric
    return G.Template(name=name, label=title or label.capitalize(), query=f"label_values({selector}, {label})",
                      dataSource=DATASOURCE, multi=True, includeAll=True, allValue=".*",
                      refresh=G.REFRESH_ON_TIME_RANGE_CHANGE, sort=G.SORT_ALPHA_IGNORE_CASE_ASC)


def matchers(*names: str, extra: str = "") -> str:
    """``{a=~"$a", b=~"$b"}`` for the given variables (plus ``extra`` matchers)."""
    parts = [f'{n}=~"${n}"' for n in names] + ([extra] if extra else [])
    return "{" + ", ".join(parts) + "}"


# --- thresholds -----------------------------------------------------------------------------------


def above(value: float, color: str = RED) -> list[dict[str, Any]]:
    """Threshold steps where high is bad: green below ``value``, ``color`` from it."""
    return [{"color": GREEN, "value": None}, {"color": color, "value": value}]


def below(value: float, color: str = RED) -> list[dict[str, Any]]:
    """Threshold steps where low is bad: ``color`` below ``value``, green from it."""
    return [{"color": color, "value": None}, {"color": GREEN, "value": value}]


def state_mappings(states: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
    """A value mapping ``{value: (text, color)}``, e.g. ``{1: ("up", GREEN), 0: ("down", RED)}``."""
    return [{"type": "value", "options": {str(v): {"text": text, "color": color, "index": i}
                                          for i, (v, (text, color)) in enumerate(sorted(states.items()))}}]


UP_DOWN = state_mappings({1: ("up", GREEN), 0: ("down", RED)})


# --- panels ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


def _targets(queries: Sequence[Query | str], table: bool = False) -> list[G.Target]:
    out = []
    for i, q in enumerate(queries):
        q = Query(q) if isinstance(q, str) else q
        out.append(G.Target(expr=q.expr, legendFormat=q.legend, refId=chr(ord("A") + i), instant=table,
                            format="table" if table else "time_series", datasource=DATASOURCE))
    return out


def _grid(w: int, h: int) -> G.GridPos:
    return G.GridPos(h=h, w=w, x=0, y=0)


def link_to(uid: str, title: str) -> G.DashboardLink:
    """A panel link to another dashboard with the same time range and data source (panel links take them in
    the URL; ``keepTime``/``includeVars`` are what dashboard links use)."""
    url = f"/d/{uid}?${{__url_time_range}}&var-datasource=${{datasource}}"
    return G.DashboardLink(title=title, type="link", uri=url, icon="dashboard", keepTime=True, includeVars=True,
                           tooltip=f"Open {title}")


Steps = list[dict[str, Any]]


@dataclass(frozen=True)
class Limit:
    """Threshold steps for a panel and the sentence that says where they come from."""

    steps: Steps
    note: str


def _common(title: str, description: str, thresholds: Limit | Steps | None, w: int, h: int,
            links: Sequence[G.DashboardLink]) -> dict[str, Any]:
    """Fields every panel shares; a catalog :class:`Limit` adds its source to the description."""
    steps = thresholds.steps if isinstance(thresholds, Limit) else thresholds
    if isinstance(thresholds, Limit):
        description = f"{description} {thresholds.note}".strip()
    return {"title": title, "description": description or None, "gridPos": _grid(w, h), "dataSource": DATASOURCE,
            "links": list(links), "maxDataPoints": None, "thresholds": steps or []}


def timeseries(title: str, queries: Sequence[Query | str], unit: str, *, description: str = "",
               thresholds: Limit | Steps | None = None, stack: bool = False, w: int = 12, h: int = 8,
               links: Sequence[G.DashboardLink] = ()) -> G.TimeSeries:
    """A time series; thresholds are drawn as dashed lines."""
    return G.TimeSeries(
        targets=_targets(queries), unit=unit,
        thresholdsStyleMode="dashed" if thresholds else "off", stacking={"mode": "normal"} if stack else {},
        fillOpacity=60 if stack else 10, lineWidth=1, showPoints="never", spanNulls=True, axisSoftMin=0,
        legendDisplayMode="table", legendPlacement="bottom", legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi", tooltipSort="desc", **_common(title, description, thresholds, w, h, links))


def stat(title: str, queries: Sequence[Query | str], unit: str, *, description: str = "",
         thresholds: Limit | Steps | None = None, mappings: Steps | None = None,
         text_mode: str = "auto", w: int = 6, h: int = 5, links: Sequence[G.DashboardLink] = ()) -> G.Stat:
    """A single value (the last one), coloured by its thresholds."""
    return G.Stat(targets=_targets(queries), format=unit, mappings=mappings or [], reduceCalc="lastNotNull",
                  colorMode="background" if thresholds else "value",
                  graphMode="none", textMode=text_mode, noValue="no data", color={"mode": "thresholds"},
                  **_common(title, description, thresholds, w, h, links))


def state_timeline(title: str, queries: Sequence[Query | str], mappings: Steps, *, description: str = "",
                   w: int = 12, h: int = 8, links: Sequence[G.DashboardLink] = ()) -> G.StateTimeline:
    """States over time (up/down, status colours), one row per series."""
    return G.StateTimeline(targets=_targets(queries), mappings=mappings, showValue="never", rowHeight=0.8,
                           fillOpacity=80, **_common(title, description, None, w, h, links))


def table(title: str, queries: Sequence[Query | str], *, unit: str = "", description: str = "",
          hide: Sequence[str] = ("Time",), w: int = 24, h: int = 8,
          links: Sequence[G.DashboardLink] = ()) -> G.Table:
    """A table of the current series (instant queries), labels as columns, ``hide`` columns hidden."""
    exclude = {name: True for name in hide}
    return G.Table(targets=_targets(queries, table=True), unit=unit, filterable=True,
                   transformations=[{"id": "merge", "options": {}},
                                    {"id": "organize", "options": {"excludeByName": exclude}}],
                   **_common(title, description, None, w, h, links))


# --- layout ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    title: str
    panels: list[Any] = field(default_factory=list)


def layout(rows: Sequence[Row]) -> list[Any]:
    """Rows and their panels with grid positions and ids: panels fill each row left to right, then wrap."""
    out: list[Any] = []
    y = 0
    for row in rows:
        position = G.GridPos(h=1, w=GRID_WIDTH, x=0, y=y)
        out.append(G.RowPanel(title=row.title, id=panel_id(f"row: {row.title}"), gridPos=position))
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            w, h = panel.gridPos.w, panel.gridPos.h
            if x + w > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            out.append(attr.evolve(panel, id=panel_id(panel.title), gridPos=G.GridPos(h=h, w=w, x=x, y=y)))
            x, line_height = x + w, max(line_height, h)
        y += line_height
    return out


def dashboard(uid: str, title: str, rows: Sequence[Row], variables: Sequence[G.Template] = (),
              tags: Sequence[str] = (), time_from: str = "now-6h", refresh: str = "1m") -> G.Dashboard:
    """A dashboard in house style: read-only, UTC, shared crosshair, the ``datasource`` variable first,
    a dropdown of the other Docqet dashboards, tagged with the ownership tag.

    The dropdown and the overview's links carry the variables along (the data source above all), so a
    variable name means the same label on every dashboard (``region``, ECS ``cluster``, ``db_cluster``...)."""
    return G.Dashboard(
        uid=uid, title=title, tags=sorted({TOOL_TAG, "docqet", *tags}), panels=layout(rows),
        templating=G.Templating(list=[datasource_variable(), *variables]), time=G.Time(time_from, "now"),
        timezone="utc", refresh=refresh, editable=False, graphTooltip=G.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        links=[G.DashboardLink(title="Docqet dashboards", type="dashboards", tags=[TOOL_TAG], asDropdown=True,
                               keepTime=True, includeVars=True, icon="dashboard")])
