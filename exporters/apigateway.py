"""The API Gateway collector: REST (v1) and HTTP (v2) API stages, their traffic, errors and latency.

Discovery: GetRestApis + GetStages and GetApis + GetStages (v2) per region. CloudWatch (AWS/ApiGateway)
knows a REST stage by ``ApiName`` and ``Stage`` with the metrics 4XXError/5XXError, an HTTP stage by ``ApiId``
and ``Stage`` with 4xx/5xx; Count, Latency and IntegrationLatency (milliseconds) are common to both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery import selected
from docqet_monitor.core.discovery.apigateway import ApiGatewayApi, ApiStage, BotoApiGatewayApi
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

LABELS = ("account", "region", "api", "stage")
INFO_LABELS = ("account", "region", "api", "api_id", "protocol", "stage")

# family -> (REST metric, HTTP metric, statistic, what divides the value (None: the period), help)
FAMILIES: dict[str, tuple[str, str, str, float | None, str]] = {
    "docqet_apigateway_requests_per_second": ("Count", "Count", "Sum", None, "API requests per second."),
    "docqet_apigateway_4xx_per_second": ("4XXError", "4xx", "Sum", None,
                                         "Client errors (4xx, including throttling) per second."),
    "docqet_apigateway_5xx_per_second": ("5XXError", "5xx", "Sum", None, "Server errors (5xx) per second."),
    "docqet_apigateway_latency_p95_seconds": ("Latency", "Latency", "p95", 1000,
                                              "95th percentile of the time API Gateway took to answer (seconds)."),
    "docqet_apigateway_integration_latency_p95_seconds": (
        "IntegrationLatency", "IntegrationLatency", "p95", 1000,
        "95th percentile of the backend (integration) response time (seconds)."),
}
METRIC_NAMES = ("docqet_apigateway_api_info", *FAMILIES)


def dimensions(stage: ApiStage) -> tuple[tuple[str, str], ...]:
    """The CloudWatch dimensions of a stage: REST by API name, HTTP by API id (pure)."""
    key, value = ("ApiName", stage.api) if stage.protocol == "rest" else ("ApiId", stage.api_id)
    return ((key, value), ("Stage", stage.stage))


def _query(stage: ApiStage, family: str, period: int) -> MetricQuery:
    rest, http, statistic, _, _ = FAMILIES[family]
    return MetricQuery("AWS/ApiGateway", rest if stage.protocol == "rest" else http, dimensions(stage), statistic,
                       period)


def queries(stages: Iterable[ApiStage], period: int) -> list[MetricQuery]:
    """Every CloudWatch query the stages need (pure)."""
    return [_query(stage, family, period) for stage in stages for family in FAMILIES]


def families(account: str, region: str, stages: Sequence[ApiStage], values: MetricValues,
             period: int) -> list[Rendered]:
    """The API Gateway families of one region of one account (pure). No datapoint, no series."""
    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in FAMILIES}
    for stage in stages:
        for name, (_, _, _, divisor, _) in FAMILIES.items():
            value = values.get(_query(stage, name, period))
            if value is not None:
                samples[name].append(((account, region, stage.api, stage.stage), value / (divisor or period)))
    info = [((account, region, s.api, s.api_id, s.protocol, s.stage), 1.0) for s in stages]
    return [gauge("docqet_apigateway_api_info", "API Gateway stage metadata; always 1.", INFO_LABELS, info),
            *(gauge(name, doc, LABELS, samples[name]) for name, (_, _, _, _, doc) in FAMILIES.items())]


def scrape(api: ApiGatewayApi, read: MetricReader, account: str, region: str, names: Sequence[str],
           period: int) -> list[Rendered]:
    """Discover the region's API stages (``names``: API names or ids to keep, empty: all), read their metrics,
    build the families."""
    stages = [s for s in api.stages() if selected(names, s.api, s.api_id)]
    return families(account, region, stages, read(queries(stages, period)), period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The API Gateway collector over every configured account and region."""
    settings, period = config.collectors.apigateway, config.cloudwatch.period_seconds

    def scrape_region(client: Clients, read: MetricReader, account: str, region: str) -> list[Rendered]:
        api = BotoApiGatewayApi(client("apigateway"), client("apigatewayv2"), config.aws.max_concurrency)
        return scrape(api, read, account, region, settings.names, period)

    return regional.collector("apigateway", settings, config, aws, scrape_region)
