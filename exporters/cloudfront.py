"""The CloudFront collector: distributions and their traffic, errors and cache hit rate, read once per account.

Discovery: ListDistributions (100 a page). CloudFront publishes its metrics in us-east-1 only (cn-northwest-1 in
China), with the dimensions ``DistributionId`` and ``Region=Global``. CacheHitRate is one of the additional metrics
a distribution publishes only when they are turned on (at a cost): without them there is no such series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery import global_targets, selected
from docqet_monitor.core.discovery.cloudfront import BotoCloudFrontApi, CloudFrontApi, Distribution
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

LABELS = ("account", "distribution")
INFO_LABELS = (*LABELS, "domain_name", "alias", "enabled")

# family -> (CloudWatch AWS/CloudFront metric, statistic, what divides the value (None: the period), help)
FAMILIES: dict[str, tuple[str, str, float | None, str]] = {
    "docqet_cloudfront_requests_per_second": ("Requests", "Sum", None, "Viewer requests per second."),
    "docqet_cloudfront_bytes_downloaded_per_second": ("BytesDownloaded", "Sum", None,
                                                      "Bytes viewers downloaded per second (GET, HEAD, OPTIONS)."),
    "docqet_cloudfront_4xx_error_ratio": ("4xxErrorRate", "Average", 100, "Share of requests answered 4xx (0-1)."),
    "docqet_cloudfront_5xx_error_ratio": ("5xxErrorRate", "Average", 100, "Share of requests answered 5xx (0-1)."),
    "docqet_cloudfront_cache_hit_ratio": ("CacheHitRate", "Average", 100,
                                          "Share of cacheable requests served from the cache (0-1; only with the "
                                          "distribution's additional metrics)."),
}
METRIC_NAMES = ("docqet_cloudfront_distribution_info", *FAMILIES)


def _query(distribution: str, metric: str, statistic: str, period: int) -> MetricQuery:
    return MetricQuery("AWS/CloudFront", metric, (("DistributionId", distribution), ("Region", "Global")),
                       statistic, period)


def queries(distributions: Iterable[Distribution], period: int) -> list[MetricQuery]:
    """Every CloudWatch query the distributions need (pure)."""
    return [_query(d.id, metric, stat, period) for d in distributions for metric, stat, _, _ in FAMILIES.values()]


def families(account: str, distributions: Sequence[Distribution], values: MetricValues,
             period: int) -> list[Rendered]:
    """The CloudFront families of one account (pure). No datapoint, no series."""
    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in FAMILIES}
    for d in distributions:
        for name, (metric, stat, divisor, _) in FAMILIES.items():
            value = values.get(_query(d.id, metric, stat, period))
            if value is not None:
                samples[name].append(((account, d.id), value / (divisor or period)))
    info = [((account, d.id, d.domain_name, d.alias, "true" if d.enabled else "false"), 1.0) for d in distributions]
    return [gauge("docqet_cloudfront_distribution_info", "CloudFront distribution metadata; always 1.", INFO_LABELS,
                  info),
            *(gauge(name, doc, LABELS, samples[name]) for name, (_, _, _, doc) in FAMILIES.items())]


def scrape(api: CloudFrontApi, read: MetricReader, account: str, names: Sequence[str],
           period: int) -> list[Rendered]:
    """Discover the account's distributions (``names``: ids or aliases to keep, empty: all), read their
    metrics, build the families."""
    found = [d for d in api.distributions() if selected(names, d.id, d.alias, d.domain_name)]
    return families(account, found, read(queries(found, period)), period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The CloudFront collector: once per account, where its partition serves CloudFront (us-east-1 in ``aws``;
    none in GovCloud)."""
    settings, period = config.collectors.cloudfront, config.cloudwatch.period_seconds

    def scrape_account(client: Clients, read: MetricReader, account: str, _region: str) -> list[Rendered]:
        return scrape(BotoCloudFrontApi(client("cloudfront")), read, account, settings.names, period)

    return regional.collector("cloudfront", settings, config, aws, scrape_account,
                              global_data=True, target_list=global_targets(config, "cloudfront"))
