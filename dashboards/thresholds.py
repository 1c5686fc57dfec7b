"""Panel thresholds read from the alert catalog: one source for the alert and the line on the panel.

``Thresholds(config)`` resolves the catalog for the environment of ``config`` (its ``alerts.thresholds``
overrides applied, see :func:`alerts.catalog.rules`). Each panel that shows a threshold says which alert
and key it comes from in its description (``alert `Name` threshold `key` = value``), so people and tests
can trace it.
"""

from __future__ import annotations

import re

from docqet_monitor.alerts import catalog
from docqet_monitor.core.config import Config
from docqet_monitor.core.promql import number
from docqet_monitor.dashboards import style
from docqet_monitor.dashboards.style import Limit

SEVERITY_COLORS = {"critical": "red", "warning": "orange", "info": "blue"}
CITATION = re.compile(r"alert `(?P<alert>\w+)` threshold `(?P<key>\w+)` = (?P<value>[-\d.e+]+)")


class Thresholds:
    """Alert thresholds of one environment (the defaults without a config file)."""

    def __init__(self, config: Config | None = None) -> None:
        config = config or Config()
        self._slo = config.alerts.slo
        self._rules = catalog.thresholds(config)

    def value(self, alert: str, key: str = "threshold") -> float:
        """The threshold ``key`` of catalog alert ``alert`` in this environment."""
        return float(self._rules[alert][1][key])

    def _limit(self, alert: str, key: str, high_is_bad: bool) -> Limit:
        severity = self._rules[alert][0]
        value, color = self.value(alert, key), SEVERITY_COLORS[severity]
        steps = style.above(value, color) if high_is_bad else style.below(value, color)
        side = "above" if high_is_bad else "below"
        return Limit(steps, f"Dashed line: alert `{alert}` threshold `{key}` = {number(value)} "
                            f"({severity} {side} it).")

    def above(self, alert: str, key: str = "threshold") -> Limit:
        """Steps where values at or above the alert threshold are bad."""
        return self._limit(alert, key, high_is_bad=True)

    def below(self, alert: str, key: str = "threshold") -> Limit:
        """Steps where values below the alert threshold are bad."""
        return self._limit(alert, key, high_is_bad=False)

    def slo(self, name: str) -> Limit:
        """Steps for an SLI ratio (``availability`` or ``latency``): red below its objective."""
        objective = getattr(self._slo, f"{name}_objective")
        return Limit(style.below(objective),
                     f"Red below the objective alerts.slo.{name}_objective = {number(objective)}.")

