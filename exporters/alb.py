"""The ALB collector: application load balancers, the 5xx they generate themselves, and target health.

Discovery: DescribeLoadBalancers (type application) and DescribeTargetGroups, 400 a page. CloudWatch values
(AWS/ApplicationELB) come from one batched GetMetricData read per region. The ALB publishes its counts only
when non-zero: with requests counted and no 5xx / rejected-connection datapoint that rate is a real 0;
without requests there is no series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.discovery.alb import AlbApi, BotoAlbApi, LoadBalancer, TargetGroup, selected
from docqet_monitor.exporters import regional
from docqet_monitor.exporters.cloudwatch import MetricQuery
from docqet_monitor.exporters.metrics import Rendered, gauge
from docqet_monitor.exporters.regional import AwsCollector, Clients, MetricReader, MetricValues

NAMESPACE = "AWS/ApplicationELB"
LB_LABELS = ("account", "region", "load_balancer")
TG_LABELS = (*LB_LABELS, "target_group")

LB_METRICS = {  # family -> (CloudWatch metric, Sum / period, help)
    "docqet_alb_requests_per_second": ("RequestCount", "Requests per second the load balancer received."),
    "docqet_alb_http_5xx_per_second": ("HTTPCode_ELB_5XX_Count",
                                       "HTTP 5xx per second the load balancer generated itself (not targets)."),
    "docqet_alb_rejected_connections_per_second": (
        "RejectedConnectionCount", "Connections per second rejected because the load balancer hit its limit."),
}
TG_METRICS = {  # family -> (CloudWatch metric, statistic, help)
    "docqet_alb_target_group_healthy_targets": ("HealthyHostCount", "Minimum",
                                                "Targets passing health checks (the period's minimum)."),
    "docqet_alb_target_group_unhealthy_targets": ("UnHealthyHostCount", "Maximum",
                                                  "Targets failing health checks (the period's maximum)."),
}
METRIC_NAMES = ("docqet_alb_info", *LB_METRICS, *TG_METRICS)


# --- CloudWatch queries and metric families (pure) ----------------------------------------------


def lb_query(lb: LoadBalancer, metric: str, period: int) -> MetricQuery:
    return MetricQuery(NAMESPACE, metric, (("LoadBalancer", lb.dimension),), "Sum", period)


def tg_query(lb: LoadBalancer, tg: TargetGroup, metric: str, statistic: str, period: int) -> MetricQuery:
    return MetricQuery(NAMESPACE, metric, (("LoadBalancer", lb.dimension), ("TargetGroup", tg.dimension)),
                       statistic, period)


def pairs(lbs: Sequence[LoadBalancer], tgs: Iterable[TargetGroup]) -> list[tuple[LoadBalancer, TargetGroup]]:
    """(load balancer, target group) for every target group attached to one of ``lbs`` (pure)."""
    by_arn = {lb.arn: lb for lb in lbs}
    return [(by_arn[arn], tg) for tg in tgs for arn in tg.load_balancers if arn in by_arn]


def queries(lbs: Sequence[LoadBalancer], tgs: Iterable[TargetGroup], period: int) -> list[MetricQuery]:
    """Every CloudWatch query the load balancers and their target groups need (pure)."""
    result = [lb_query(lb, metric, period) for lb in lbs for metric, _ in LB_METRICS.values()]
    return result + [tg_query(lb, tg, metric, stat, period) for lb, tg in pairs(lbs, tgs)
                     for metric, stat, _ in TG_METRICS.values()]


def families(account: str, region: str, lbs: Sequence[LoadBalancer], tgs: Iterable[TargetGroup],
             values: MetricValues, period: int) -> list[Rendered]:
    """The ALB families of one region of one account (pure)."""
    info = [((account, region, lb.name, lb.scheme), 1.0) for lb in lbs]
    lb_samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in LB_METRICS}
    for lb in lbs:
        requests = values.get(lb_query(lb, "RequestCount", period))
        if requests is None:
            continue
        for name, (metric, _) in LB_METRICS.items():
            value = values.get(lb_query(lb, metric, period), 0.0)
            lb_samples[name].append(((account, region, lb.name), value / period))
    tg_samples: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in TG_METRICS}
    for lb, tg in pairs(lbs, tgs):
        for name, (metric, stat, _) in TG_METRICS.items():
            value = values.get(tg_query(lb, tg, metric, stat, period))
            if value is not None:
                tg_samples[name].append(((account, region, lb.name, tg.name), value))
    return [
        gauge("docqet_alb_info", "Application load balancer metadata; always 1.", (*LB_LABELS, "scheme"), info),
        *(gauge(name, doc, LB_LABELS, lb_samples[name]) for name, (_, doc) in LB_METRICS.items()),
        *(gauge(name, doc, TG_LABELS, tg_samples[name]) for name, (_, _, doc) in TG_METRICS.items()),
    ]


# --- one region, the collector ------------------------------------------------------------------


def scrape(api: AlbApi, read: MetricReader, account: str, region: str, names: Sequence[str],
           period: int) -> list[Rendered]:
    """Discover the region's application load balancers (``names`` restricts them), read, build."""
    lbs = selected(api.load_balancers(), names)
    if not lbs:
        return []
    tgs = api.target_groups()
    return families(account, region, lbs, tgs, read(queries(lbs, tgs, period)), period)


def collector(config: Config, aws: Aws) -> AwsCollector:
    """The ALB collector over every configured account and region."""
    settings, period = config.collectors.alb, config.cloudwatch.period_seconds

    def scrape_region(client: Clients, read: MetricReader, account: str, region: str) -> list[Rendered]:
        return scrape(BotoAlbApi(client("elbv2")), read, account, region, settings.load_balancers, period)

    return regional.collector("alb", settings, config, aws, scrape_region)
