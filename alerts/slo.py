"""API SLOs: recording rules and multi-window, multi-burn-rate alerts (as sloth and the SRE workbook do).

The exporter serves per-second *gauges* (the latest CloudWatch period), not counters, so ``rate()`` does not
apply. The SLIs are built from what is sampled:

- availability: good = non-5xx requests. The error ratio over a window is
  ``sum_over_time(5xx/s) / sum_over_time(requests/s)``: every sample is one CloudWatch period's rate, and
  summing both over the same samples weights each period by its traffic, so this is the request-weighted
  error ratio (up to the sampling of periods by the scrape). No 5xx series (ALB publishes no zero) counts as 0.
- latency: only the p95 response time per period exists, so the SLI is time-based: the share of sampled periods
  whose p95 was at or under ``latency_threshold_seconds``. The objective reads "99 % of minutes have a p95
  under 500 ms", not "99 % of requests are faster than 500 ms".

Burn-rate factors scale with ``window_days``: a page when 2 % (1h) or 5 % (6h) of the budget burns, a ticket
at 10 % in 1 day or 3 days; for 30 days these are the classic 14.4, 6, 3 and 1.
"""

from __future__ import annotations

from docqet_monitor.alerts.spec import AlertRule
from docqet_monitor.core import ids
from docqet_monitor.core.config import SloConfig
from docqet_monitor.core.promql import number

ERRORS = "docqet:ecs_service_http_errors_per_second"
SLOW = "docqet:ecs_service_http_p95_over_threshold"
ERROR_RATIO = ids.SLO_ERROR_RATIO  # :rate<window>, label slo
OBJECTIVE = ids.SLO_OBJECTIVE
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
_HOURS = {"1h": 1, "6h": 6, "1d": 24, "3d": 72}
# (severity, for, ((long window, short window, share of the budget burnt in the long window), ...))
POLICIES = (
    ("critical", "2m", (("1h", "5m", 0.02), ("6h", "30m", 0.05))),
    ("warning", "15m", (("1d", "2h", 0.10), ("3d", "6h", 0.10))),
)


def recording_rule_names() -> frozenset[str]:
    return frozenset({ERRORS, SLOW, OBJECTIVE} | {f"{ERROR_RATIO}:rate{w}" for w in WINDOWS})


def recording_rules(config: SloConfig) -> list[dict[str, object]]:
    """The recording rules, as Prometheus rule-file entries."""
    rules: list[dict[str, object]] = [
        {"record": ERRORS,
         "expr": "docqet_ecs_service_http_5xx_per_second or docqet_ecs_service_http_requests_per_second * 0"},
        {"record": SLOW, "expr": "docqet_ecs_service_http_response_time_p95_seconds > bool "
                                 + number(config.latency_threshold_seconds)},
    ]
    for window in WINDOWS:
        rules.append({"record": f"{ERROR_RATIO}:rate{window}", "labels": {"slo": "availability"},
                      "expr": f"sum_over_time({ERRORS}[{window}])"
                              f" / sum_over_time(docqet_ecs_service_http_requests_per_second[{window}])"})
        rules.append({"record": f"{ERROR_RATIO}:rate{window}", "labels": {"slo": "latency"},
                      "expr": f"avg_over_time({SLOW}[{window}])"})
    for name, objective in _objectives(config):
        rules.append({"record": OBJECTIVE, "labels": {"slo": name}, "expr": f"vector({number(objective)})"})
    return rules


def _objectives(config: SloConfig) -> tuple[tuple[str, float], ...]:
    return ("availability", config.availability_objective), ("latency", config.latency_objective)


def burn_factor(config: SloConfig, long_window: str, budget_share: float) -> float:
    """How many times faster than sustainable the budget burns when ``budget_share`` goes in ``long_window``."""
    return round(budget_share * config.window_days * 24 / _HOURS[long_window], 4)


def alert_rules(config: SloConfig) -> tuple[AlertRule, ...]:
    """Page (critical) and ticket (warning) burn-rate alerts for both SLOs."""
    what = {"availability": ("Availability", "5xx responses"),
            "latency": ("Latency", f"periods with a p95 over {number(config.latency_threshold_seconds)}s")}
    alerts = []
    for name, objective in _objectives(config):
        title, errors = what[name]
        budget = 1 - objective
        for severity, for_, windows in POLICIES:
            speed = "Fast" if severity == "critical" else "Slow"
            terms = []
            for long_w, short_w, share in windows:
                limit = number(burn_factor(config, long_w, share) * budget)
                terms.append(f'({ERROR_RATIO}:rate{long_w}{{slo="{name}"}} > {limit}'
                             f' and {ERROR_RATIO}:rate{short_w}{{slo="{name}"}} > {limit})')
            factors = " / ".join(f"{number(burn_factor(config, lw, s))}x over {lw}/{sw}" for lw, sw, s in windows)
            alerts.append(AlertRule(
                name=f"Api{title}ErrorBudgetBurn{speed}", severity=severity,
                summary=f"{title} SLO of {{{{ $labels.service }}}}: error budget burning {speed.lower()}",
                description=f"{{{{ $labels.cluster }}}}/{{{{ $labels.service }}}} ({{{{ $labels.region }}}}, "
                            f"account {{{{ $labels.account }}}}): "
                            f"{errors} at {{{{ $value | humanizePercentage }}}} burn the {config.window_days}-day "
                            f"budget of the {number(objective * 100)} % objective ({factors}).",
                runbook=f"slo/{name}-burn", dashboard="docqet-overview", panel=f"{title} SLO",
                expr=" or ".join(terms), for_=for_, labels={"slo": name},
            ))
    return tuple(alerts)
