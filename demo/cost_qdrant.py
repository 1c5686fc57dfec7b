"""Demo steps for the cost and Qdrant collectors.

:func:`cost_step` queues sample Cost Explorer answers in moto (its ``moto-api`` endpoint) and teaches the
in-process moto server GetCostForecast, which moto lacks; the exporter then reads them like the real bill, and
the demo says they are samples. Its cache goes to the demo's output directory, never the configured path.
:func:`qdrant_step` scrapes the Qdrant named by ``$QDRANT_URL`` (or the config) once and says what it found;
without one it says Qdrant is not configured. Nothing about Qdrant is made up.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from docqet_monitor.demo.aws import DemoContext
from docqet_monitor.exporters import cost, qdrant

# A Docqet staging account's unblended cost of one day, by Cost Explorer service name (USD).
DAILY_USD = {
    "Amazon Relational Database Service": 63.75,
    "Amazon Elastic Container Service": 41.20,
    "EC2 - Other": 4.50,
    "Amazon ElastiCache": 8.30,
    "Amazon Elastic Load Balancing": 5.40,
    "AmazonCloudWatch": 3.10,
    "Amazon Simple Storage Service": 1.25,
}
# 127.50 USD a day: 3,952.50 in a 31-day month, under the staging example's budget of 4,000 (the demo's platform
# is healthy but for its broken service; CostMonthForecastOverBudget must not fire)
UNTAGGED_SHARE = 0.06  # of the daily cost on resources without the cost-allocation tag


@dataclass(frozen=True)
class DemoCosts:
    day: tuple[date, date]
    by_service: dict[str, float]
    by_tag: dict[str, float]  # tag value -> USD
    month_to_date: float
    forecast_rest_of_month: float


def demo_costs(today: date, environment: str) -> DemoCosts:
    """The sample bill for ``today`` (pure): every day costs the same."""
    spans = cost.periods(today)
    daily = round(sum(DAILY_USD.values()), 4)
    untagged = round(daily * UNTAGGED_SHARE, 4)
    days_done = (spans.month_to_date[1] - spans.month_to_date[0]).days if spans.month_to_date else 0
    days_left = (spans.forecast[1] - spans.forecast[0]).days
    return DemoCosts(spans.day, dict(DAILY_USD), {environment: round(daily - untagged, 4), cost.UNTAGGED: untagged},
                     round(daily * days_done, 4), round(daily * days_left, 4))


def _usd(amount: float) -> dict[str, dict[str, str]]:
    return {cost.COST_METRIC: {"Amount": f"{amount:.4f}", "Unit": "USD"}}


def usage_answers(costs: DemoCosts, tag_key: str) -> list[dict[str, Any]]:
    """GetCostAndUsage answers in the order the collector asks: daily by service over this month's complete days
    (yesterday alone on the 1st), yesterday by tag."""
    def result(day: date, groups: dict[str, float]) -> dict[str, Any]:
        period = {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()}
        return {"TimePeriod": period, "Total": {}, "Estimated": True,
                "Groups": [{"Keys": [key], "Metrics": _usd(usd)} for key, usd in groups.items()]}

    def grouped(days: list[date], groups: dict[str, float], group_by: dict[str, str]) -> dict[str, Any]:
        return {"GroupDefinitions": [group_by], "DimensionValueAttributes": [],
                "ResultsByTime": [result(day, groups) for day in days]}

    yesterday = costs.day[0]
    month_start = costs.day[1].replace(day=1)
    days = [month_start + timedelta(days=n) for n in range((costs.day[1] - month_start).days)] or [yesterday]
    tag_groups = {f"{tag_key}${'' if value == cost.UNTAGGED else value}": usd for value, usd in costs.by_tag.items()}
    return [grouped(days, costs.by_service, {"Type": "DIMENSION", "Key": "SERVICE"}),
            grouped([yesterday], tag_groups, {"Type": "TAG", "Key": tag_key})]


def patch_moto_cost_forecast(amount: float) -> None:
    """Teach the in-process moto server GetCostForecast: it answers ``amount`` for any period."""
    from moto.ce.responses import CostExplorerResponse

    def get_cost_forecast(self: CostExplorerResponse) -> str:
        period = json.loads(self.body)["TimePeriod"]
        value = f"{amount:.4f}"
        return json.dumps({"Total": {"Amount": value, "Unit": "USD"},
                           "ForecastResultsByTime": [{"TimePeriod": period, "MeanValue": value}]})

    CostExplorerResponse.get_cost_forecast = get_cost_forecast  # type: ignore[attr-defined]


def seed_costs(endpoint_url: str, today: date, environment: str, tag_key: str) -> DemoCosts:
    """Queue the sample bill in moto's Cost Explorer and answer forecasts; returns what was seeded."""
    costs = demo_costs(today, environment)
    answer = requests.post(f"{endpoint_url}/moto-api/static/ce/cost-and-usage-results",
                           json={"results": usage_answers(costs, tag_key)}, timeout=10)
    answer.raise_for_status()
    patch_moto_cost_forecast(costs.forecast_rest_of_month)
    return costs


def cost_step(ctx: DemoContext) -> None:
    """Demo step: sample Cost Explorer data in moto; the cost cache goes to the demo's output directory."""
    settings = ctx.config.collectors.cost
    if not settings.enabled:
        ctx.echo("Cost: collector disabled in the config")
        return
    collectors = dataclasses.replace(ctx.config.collectors, cost=dataclasses.replace(
        settings, cache_path=str(ctx.out_dir / "cost.json")))
    ctx.config = dataclasses.replace(ctx.config, collectors=collectors)
    costs = seed_costs(ctx.endpoint_url, datetime.fromtimestamp(ctx.now, UTC).date(), ctx.config.environment,
                       settings.tag_key)
    ctx.echo(f"seeded Cost Explorer (sample data, not a real bill): {costs.day[0]} cost "
             f"${sum(costs.by_service.values()):,.2f} over {len(costs.by_service)} services, month to date "
             f"${costs.month_to_date:,.2f}, forecast to month end ${costs.forecast_rest_of_month:,.2f} more")


def qdrant_step(ctx: DemoContext) -> None:
    """Demo step: say which Qdrant the exporter scrapes and what one scrape found, or that there is none."""
    settings = ctx.config.collectors.qdrant
    if not settings.enabled:
        ctx.echo("Qdrant: collector disabled in the config")
        return
    nodes = qdrant.nodes_from(settings, os.environ)  # a bad $QDRANT_URL: ConfigError (the CLI exits 2)
    if not nodes:
        ctx.echo(f"Qdrant: not configured (set {qdrant.URL_ENV})")
        return
    for node in nodes:
        client = qdrant.QdrantClient(node, pool_size=settings.max_concurrency)
        try:
            report = qdrant.scrape(client, settings.max_concurrency)
        finally:
            client.close()
        where = urlsplit(node.url)._replace(netloc=urlsplit(node.url).netloc.rpartition("@")[2]).geturl()
        ctx.echo(f"Qdrant {node.name} at {where}: {describe(report)}")


def describe(report: qdrant.NodeReport) -> str:
    """One line about a scraped node (pure)."""
    if report.up:
        return f"up, Qdrant {report.version}, {len(report.collections or ())} collection(s); the exporter scrapes it"
    if report.errors:
        return "down: " + "; ".join(message for _, message in report.errors)
    return "reachable but not ready"
