"""Turn grafanalib's output (schemaVersion 12, legacy fields, nulls) into today's Grafana dashboard model.

The result validates against Grafana 12's dashboard JSON schema (``grafana-dashboard-schema.json``, the
classic model ``POST /api/dashboards/db`` takes). Pure: a dict in, a new dict out.
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib._gen import DashboardEncoder

from docqet_monitor.dashboards.style import DATASOURCE

# The schemaVersion of Grafana 12.3's dashboard kind (the schema's default). Grafana migrates nothing
# for a dashboard that already has it.
SCHEMA_VERSION = 42

# Fields grafanalib still writes that today's model has replaced or removed.
_LEGACY_DASHBOARD = ("__inputs", "rows", "hideControls", "sharedCrosshair", "style", "id", "version", "gnetId")
_LEGACY_TIMEPICKER = ("time_options",)
_LEGACY_PANEL = ("editable", "error", "height", "span", "minSpan", "columns", "fontSize")
_ROW_FIELDS = ("type", "collapsed", "title", "gridPos", "id", "panels", "repeat")
_LEGACY_TARGET = ("query", "target", "metric", "step", "intervalFactor")
_LEGACY_VARIABLE = ("useTags", "tagsQuery", "tagValuesQuery")
_INTERVAL_ONLY = ("auto", "auto_min", "auto_count")


def to_data(obj: Any) -> Any:
    """grafanalib objects as plain JSON data."""
    return json.loads(json.dumps(obj, cls=DashboardEncoder))


def _without_nulls(value: Any) -> Any:
    """Drop null-valued keys (the schema allows null almost nowhere); a threshold step's ``value`` stays."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None or k == "value"}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _drop(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def _target(target: dict[str, Any]) -> dict[str, Any]:
    out = _drop(target, _LEGACY_TARGET)
    out["datasource"] = DATASOURCE
    out["range"] = not out.get("instant", False)
    return out


def _panel(panel: dict[str, Any]) -> dict[str, Any]:
    if panel["type"] == "row":
        row = {k: v for k, v in panel.items() if k in _ROW_FIELDS}
        row["panels"] = [_panel(p) for p in row.get("panels", [])]
        return row
    out = _drop(panel, _LEGACY_PANEL)
    out["datasource"] = DATASOURCE
    out["targets"] = [_target(t) for t in out.get("targets", [])]
    field_config = out.setdefault("fieldConfig", {})
    defaults = field_config.setdefault("defaults", {})
    field_config.setdefault("overrides", [])
    for legacy in ("color", "mappings"):  # the v7 table kept these beside fieldConfig
        if out.get(legacy):
            defaults.setdefault(legacy, out[legacy])
        out.pop(legacy, None)
    thresholds = defaults.setdefault("thresholds", {"mode": "absolute"})
    if not thresholds.get("steps"):  # grafanalib writes [] or "": no threshold is a single base colour
        thresholds["steps"] = [{"color": "green", "value": None}]
    return out


def _variable(variable: dict[str, Any]) -> dict[str, Any]:
    out = _drop(variable, _LEGACY_VARIABLE)
    if out.get("type") != "interval":
        out = _drop(out, _INTERVAL_ONLY)
    current = out.pop("current", {})
    if current.get("text") not in (None, "", []):
        out["current"] = _drop(current, ("tags",))
    if out.get("type") == "query":
        out["definition"] = out["query"]
    return out


def normalise(raw: Any) -> dict[str, Any]:
    """The current Grafana dashboard model of a grafanalib ``Dashboard`` (or its JSON data)."""
    data = _without_nulls(to_data(raw))
    out = _drop(data, _LEGACY_DASHBOARD)
    out["schemaVersion"] = SCHEMA_VERSION
    out["timepicker"] = _drop(out.get("timepicker", {}), _LEGACY_TIMEPICKER)
    out["panels"] = [_panel(p) for p in out.get("panels", [])]
    out["templating"] = {"list": [_variable(v) for v in out.get("templating", {}).get("list", [])]}
    out.setdefault("annotations", {"list": []})
    return out
