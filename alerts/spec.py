"""The alert spec types: one rule, evaluated by one or more systems (Prometheus, CloudWatch, Sentry).

The catalog (``alerts/catalog.py``) is a list of :class:`AlertRule`. Renderers and sync backends read these
plain, frozen values; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from docqet_monitor.core.ids import Severity
from docqet_monitor.core.promql import number

Comparison = Literal[
    "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
]
TreatMissingData = Literal["breaching", "notBreaching", "ignore", "missing"]


@dataclass(frozen=True)
class CloudWatchAlarm:
    """How the rule is evaluated as a CloudWatch alarm, per discovered resource.

    ``resource`` says what one alarm is made for; ``metrics`` are (id, namespace, metric, statistic) tuples,
    their dimensions filled in per resource; ``expression`` (metric math over those ids) is optional and then
    the alarmed value; its ``{name}`` placeholders take the rule's thresholds and ``{period}`` the period.
    ``threshold`` names a key of the rule's thresholds; ``scale`` converts it to the unit
    CloudWatch uses (a 0-1 ratio threshold becomes a percent with scale 100).
    """

    resource: Literal["ecs_service", "alb_target_group", "rds_writer", "rds_instance", "rds_reader",
                      "elasticache_node", "load_balancer", "load_balancer_target_group", "rds_global_secondary",
                      "cloudfront_distribution", "route53_health_check", "apigateway_stage"]
    metrics: tuple[tuple[str, str, str, str], ...]
    comparison: Comparison
    treat_missing_data: TreatMissingData  # no default: what a gap in the data means is decided per alarm
    threshold: str = "threshold"
    scale: float = 1.0
    expression: str = ""
    period_seconds: int = 60
    evaluation_periods: int = 5
    datapoints_to_alarm: int = 5


@dataclass(frozen=True)
class SentryAlert:
    """How the rule is evaluated in Sentry, per configured project.

    ``kind`` picks the Sentry rule type: an issue alert (``new_issue``, ``regression``, ``event_frequency``)
    or a metric alert (``metric``: ``aggregate`` such as ``p95(transaction.duration)`` or
    ``failure_rate()`` over ``dataset`` in a ``time_window_minutes`` window, above ``threshold``).
    """

    kind: Literal["new_issue", "regression", "event_frequency", "metric"]
    threshold: str = ""  # a key of the rule's thresholds (event count or metric value)
    aggregate: str = ""
    dataset: Literal["events", "transactions", "metrics"] = "events"
    query: str = ""
    time_window_minutes: int = 60
    environment: str = ""  # empty: the environment the tool runs for


@dataclass(frozen=True)
class AlertRule:
    """One alert of the platform, whatever system evaluates it.

    ``expr`` is PromQL (empty when Prometheus does not evaluate it) with ``{name}`` placeholders for the
    thresholds, filled from ``thresholds`` overridden per environment by ``alerts.thresholds.<name>`` in
    ``monitoring/environments/<env>.yaml``. ``summary``/``description`` are Prometheus templates.
    ``dashboard`` is the uid of the dashboard that explains the alert, ``panel`` the title of its panel.
    """

    name: str
    severity: Severity
    summary: str
    description: str
    runbook: str  # the page monitoring/runbooks/<runbook>.md, linked as <alerts.runbook_base_url>/<runbook>.md
    dashboard: str
    panel: str = ""
    expr: str = ""
    for_: str = "5m"
    thresholds: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    cloudwatch: CloudWatchAlarm | None = None
    sentry: SentryAlert | None = None

    def promql(self) -> str:
        """``expr`` with each ``{threshold}`` placeholder replaced by its value (label matchers untouched)."""
        return PLACEHOLDER.sub(lambda m: number(self.thresholds[m.group(1)]) if m.group(1) in self.thresholds
                               else m.group(0), self.expr)


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
