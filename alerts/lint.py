"""Our own checks of the catalog, beyond what promtool and amtool check (pure: rules in, findings out).

Every alert has a severity, a summary and a runbook; every Prometheus alert a ``for`` (except the Watchdog,
which fires at once by design); every expression reads only metric names the exporter exports (or Prometheus
itself, or our recording rules); no two rules share a name; every threshold placeholder is filled.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from docqet_monitor.alerts import alertmanager, slo
from docqet_monitor.alerts.spec import PLACEHOLDER, AlertRule
from docqet_monitor.core.config import Config
from docqet_monitor.core.ids import SEVERITIES
from docqet_monitor.core.promql import metric_names

PROMETHEUS_METRICS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
NO_FOR = frozenset({"Watchdog"})
_CAMEL = re.compile(r"[A-Z][A-Za-z0-9]+")


def known_series(exported: Iterable[str]) -> frozenset[str]:
    """What an expression may read: the exporter's metric names, Prometheus' own series, our recording rules."""
    return frozenset(exported) | PROMETHEUS_METRICS | slo.recording_rule_names()


def lint_rules(rules: Sequence[AlertRule], known_metrics: Iterable[str]) -> list[str]:
    """Findings as ``"<AlertName>: <problem>"``; empty when the catalog is clean."""
    known = known_series(known_metrics)
    findings = [f"{name}: {count} rules share this name"
                for name, count in Counter(rule.name for rule in rules).items() if count > 1]
    for rule in rules:
        findings += [f"{rule.name}: {problem}" for problem in _problems(rule, known)]
    return findings


def _problems(rule: AlertRule, known: frozenset[str]) -> list[str]:
    problems = []
    if not _CAMEL.fullmatch(rule.name):
        problems.append("name is not CamelCase")
    if rule.severity not in SEVERITIES:
        problems.append(f"severity {rule.severity!r} is not one of {', '.join(SEVERITIES)}")
    if not rule.summary.strip():
        problems.append("no summary")
    if not rule.runbook.strip():
        problems.append("no runbook")
    if not (rule.expr or rule.cloudwatch or rule.sentry):
        problems.append("evaluated nowhere (no expr, cloudwatch or sentry)")
    if rule.expr:
        expr = rule.promql()
        if not rule.for_ and rule.name not in NO_FOR:
            problems.append("no 'for' duration")
        if PLACEHOLDER.search(expr):
            problems.append(f"unfilled threshold placeholder in {expr!r}")
        unknown = sorted(metric_names(expr) - known)
        if unknown:
            problems.append(f"reads metrics the exporter does not export: {', '.join(unknown)}")
    return problems


def lint_recording_rules(rules: Iterable[dict[str, object]], known_metrics: Iterable[str]) -> list[str]:
    known = known_series(known_metrics)
    return [f"recording rule {rule['record']}: reads metrics the exporter does not export: {', '.join(unknown)}"
            for rule in rules if (unknown := sorted(metric_names(str(rule["expr"])) - known))]


def lint(config: Config, rules: Sequence[AlertRule], known_metrics: Iterable[str]) -> list[str]:
    """Everything: the alert rules, the SLO recording rules and the names Alertmanager's config relies on."""
    known = frozenset(known_metrics)
    return (lint_rules(rules, known) + lint_recording_rules(slo.recording_rules(config.alerts.slo), known)
            + [f"alertmanager.yml: routes or inhibits unknown alert {name}"
               for name in alertmanager.unknown_alert_names(config)])
