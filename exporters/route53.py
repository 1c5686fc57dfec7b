"""The Route 53 collector: health checks and their status, read once per account (a global service).

Discovery: ListHealthChecks (1,000 a page) and ListTagsForResources (10 health checks a call) for the Name
tags, in us-east-1 (the partition's home of Route 53: cn-northwest-1 in China, us-gov-west-1 in GovCloud), where
Route 53 also publishes its CloudWatch metrics: HealthCheckStatus (Minimum over the
period: 1 only if every checker saw it healthy) and HealthCheckPercentageHealthy (endpoint checks only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery import global_targets, selected
from docqet_monitor.core.discovery.route53 import BotoRoute53Api, HealthCheck, Route53Api
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

LABELS = ("account", "health_check")
INFO_LABELS = (*LABELS, "name", "type", "target")

# family -> (CloudWatch AWS/Route53 metric, statistic, divisor to base units, help)
FAMILIES = {
    "docqet_route53_health_check_up": ("HealthCheckStatus", "Minimum", 1,
                                       "1 if the Route 53 health check was healthy for the whole period, else 0."),
    "docqet_route53_health_check_healthy_ratio": ("HealthCheckPercentageHealthy", "Average", 100,
                                                  "Share of Route 53 health checkers seeing the endpoint healthy "
                                                  "(0-1)."),
}
METRIC_NAMES = ("docqet_route53_health_check_info", *FAMILIES)


def _query(health_check: str, metric: str, statistic: str, period: int) -> MetricQuery:
    return MetricQuery("AWS/Route53", metric, (("HealthCheckId", health_check),), statistic, period)


def queries(checks: Iterable[HealthCheck], period: int) -> list[MetricQuery]:
    """Every CloudWatch query the health checks need (pure)."""
    return [_query(c.id, metric, stat, period) for c in checks for metric, stat, _, _ in FAMILIES.values()]


def families(account: str, checks: Sequence[HealthCheck], values: MetricValues, period: int) -> list[Rendered]:
    """The Route 53 families of one account (pure). A health check without a datapoint has its info series only."""
    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in FAMILIES}
    for c in checks:
        for name, (metric, stat, divisor, _) in FAMILIES.items():
            value = values.get(_query(c.id, metric, stat, period))
            if value is not None:
                samples[name].append(((account, c.id), value / divisor))
    info = [((account, c.id, c.name, c.type, c.target), 1.0) for c in checks]
    return [gauge("docqet_route53_health_check_info", "Route 53 health check metadata; always 1.", INFO_LABELS,
                  info),
            *(gauge(name, doc, LABELS, samples[name]) for name, (_, _, _, doc) in FAMILIES.items())]


def scrape(api: Route53Api, read: MetricReader, account: str, names: Sequence[str], period: int) -> list[Rendered]:
    """Discover the account's health checks (``names``: ids or Name tags to keep, empty: all), read their
    status, build the families."""
    checks = api.health_checks()
    tags = api.names([c.id for c in checks]) if checks else {}
    checks = [HealthCheck(c.id, c.type, c.target, tags.get(c.id, "")) for c in checks]
    checks = [c for c in checks if selected(names, c.name, c.id)]
    return families(account, checks, read(queries(checks, period)), period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The Route 53 collector: once per account, where its partition serves Route 53 (us-east-1 in ``aws``)."""
    settings, period = config.collectors.route53, config.cloudwatch.period_seconds

    def scrape_account(client: Clients, read: MetricReader, account: str, _region: str) -> list[Rendered]:
        return scrape(BotoRoute53Api(client("route53")), read, account, settings.names, period)

    return regional.collector("route53", settings, config, aws, scrape_account, global_data=True,
                              target_list=global_targets(config, "route53"))
