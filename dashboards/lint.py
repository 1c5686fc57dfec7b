"""Checks of the built dashboards beyond the JSON schema (pure: models in, findings out).

Every PromQL expression (panel queries and variable queries) reads only series that exist (``known``: what
the exporter exports, Prometheus' ``up`` and our recording rules); every template variable a panel or a
variable query uses is defined on its dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from docqet_monitor.core.promql import metric_names, variable_query_expr, variables


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _checked(model: Mapping[str, Any]) -> Iterator[tuple[str, list[str], str]]:
    """(where, PromQL expressions, text that may use variables) of each panel and query variable."""
    for panel in _panels(model.get("panels", [])):
        exprs = [target["expr"] for target in panel.get("targets", []) if target.get("expr")]
        yield f"panel {panel.get('title', '')!r}", exprs, json.dumps(panel)
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = str(variable.get("query", ""))
            yield f"variable ${variable['name']}", [variable_query_expr(query)], query


def lint(models: Mapping[str, Mapping[str, Any]], known: frozenset[str]) -> list[str]:
    """Findings as ``"<uid>: <where>: <problem>"``; empty when every dashboard is consistent."""
    findings = []
    for uid, model in sorted(models.items()):
        defined = {variable["name"] for variable in model.get("templating", {}).get("list", [])}
        for where, exprs, text in _checked(model):
            unknown = sorted({name for expr in exprs for name in metric_names(expr)} - known)
            if unknown:
                findings.append(f"{uid}: {where}: reads metrics the exporter does not export: {', '.join(unknown)}")
            undefined = sorted(variables(text) - defined)
            if undefined:
                findings.append(f"{uid}: {where}: uses undefined variables: "
                                + ", ".join(f"${name}" for name in undefined))
    return findings
