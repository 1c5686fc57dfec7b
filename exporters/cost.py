"""Cost collector: AWS spend from Cost Explorer, fetched rarely and cached on disk.

Cost Explorer bills $0.01 per request (each page) and its data changes a few times a day, so a refresh (3 requests
plus extra pages: daily by service over the month, which gives yesterday and month to date, daily by tag for
yesterday, forecast) runs every ``collectors.cost.interval_seconds`` (6 h by default, never under 1 h, failed
attempts included) and its result is kept in a JSON file: a restart within the interval pays nothing. Cost Explorer
is a global service served from us-east-1 (cn-northwest-1 in China; none in GovCloud), whatever ``regions`` says.
The default credential chain is used: point it at the account whose bill you want (the management account sees the
whole organisation).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client.core import GaugeMetricFamily, Metric

from docqet_monitor.core.aws import Aws, explain
from docqet_monitor.core.config import CostCollectorConfig
from docqet_monitor.core.errors import RunError
from docqet_monitor.core.partitions import global_region
from docqet_monitor.exporters.metrics import Collection

log = logging.getLogger(__name__)

COST_METRIC = "UnblendedCost"  # GetCostAndUsage spelling; GetCostForecast wants UNBLENDED_COST
UNTAGGED = "(untagged)"  # the by-tag value of resources without the tag (Cost Explorer's empty value)
CHECK_SECONDS = 300.0  # how often the collector looks whether the data is stale (memory only)
RETRY_SECONDS = 3600.0  # after a failed refresh: Cost Explorer is never asked more than once an hour
CACHE_VERSION = 1

METRIC_NAMES = (
    "docqet_cost_daily_usd",
    "docqet_cost_daily_by_tag_usd",
    "docqet_cost_month_to_date_usd",
    "docqet_cost_month_forecast_usd",
    "docqet_cost_budget_usd",
    "docqet_cost_last_refresh_timestamp_seconds",
)


# --- what to ask for (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Periods:
    """Cost Explorer date ranges for ``today`` (UTC); starts inclusive, ends exclusive."""

    day: tuple[date, date]  # the last complete day
    month_to_date: tuple[date, date] | None  # complete days of this month; None on the 1st (empty range)
    forecast: tuple[date, date]  # today to the end of the month; start >= today and end > start always


def periods(today: date) -> Periods:
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return Periods(day=(today - timedelta(days=1), today),
                   month_to_date=(month_start, today) if today > month_start else None,
                   forecast=(today, next_month))


def _interval(span: tuple[date, date]) -> dict[str, str]:
    return {"Start": span[0].isoformat(), "End": span[1].isoformat()}


def _results(pages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (result for page in pages for result in page.get("ResultsByTime", []))


def _amount(group: dict[str, Any]) -> Decimal:
    """A group's cost in USD, exact (sums of many days stay exact)."""
    amount = group["Metrics"][COST_METRIC]["Amount"]
    try:
        return Decimal(amount)
    except (InvalidOperation, TypeError) as exc:
        raise CostExplorerError(f"GetCostAndUsage answered the amount {amount!r}, expected a number") from exc


def split_by_service(pages: list[dict[str, Any]], day: date) -> tuple[dict[str, float], float]:
    """From DAILY-by-SERVICE pages (pure): the cost of ``day`` by service, and the sum of every group of every
    day of the pages (month to date when they span the month's complete days)."""
    by_service: dict[str, Decimal] = defaultdict(Decimal)
    total = Decimal(0)
    for result in _results(pages):
        on_day = result["TimePeriod"]["Start"] == day.isoformat()
        for group in result.get("Groups", []):
            amount = _amount(group)
            total += amount
            if on_day:
                by_service[group["Keys"][0]] += amount
    return {service: float(usd) for service, usd in by_service.items()}, float(total)


# --- the client -------------------------------------------------------------------------------


class CostExplorerError(RunError):
    """Cost Explorer answered something unusable (a repeated page token, a missing amount)."""


class CostExplorer:
    """A narrow Cost Explorer client: sums in USD, pagination inside."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.source: str = client.meta.endpoint_url  # cached data from another endpoint is not used

    def _pages(self, **params: Any) -> Iterator[dict[str, Any]]:
        token, seen = None, set()
        while True:
            page = self.client.get_cost_and_usage(**params, **({"NextPageToken": token} if token else {}))
            yield page
            token = page.get("NextPageToken")
            if not token:
                return
            if token in seen:  # every page costs $0.01: never loop
                raise CostExplorerError(f"GetCostAndUsage repeated the page token {token!r}")
            seen.add(token)

    def daily(self, span: tuple[date, date], group_type: str, key: str) -> list[dict[str, Any]]:
        """Every page of the DAILY cost over ``span`` grouped by one key (e.g. ``DIMENSION`` ``SERVICE``)."""
        return list(self._pages(TimePeriod=_interval(span), Granularity="DAILY", Metrics=[COST_METRIC],
                                GroupBy=[{"Type": group_type, "Key": key}]))

    def grouped(self, span: tuple[date, date], group_type: str, key: str) -> dict[str, float]:
        """Cost per group key (e.g. service name, ``Tag$value``) over ``span``."""
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for result in _results(self.daily(span, group_type, key)):
            for group in result.get("Groups", []):
                sums[group["Keys"][0]] += _amount(group)
        return {name: float(usd) for name, usd in sums.items()}

    def forecast(self, span: tuple[date, date]) -> float | None:
        """Forecast cost over ``span``; None when Cost Explorer has too little history to forecast."""
        try:
            answer = self.client.get_cost_forecast(TimePeriod=_interval(span), Metric="UNBLENDED_COST",
                                                     Granularity="MONTHLY")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "DataUnavailableException":
                return None
            raise
        return float(answer["Total"]["Amount"])


# --- one refresh ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostReport:
    fetched_at: float  # Unix time
    source: str  # the Cost Explorer endpoint: the demo's emulator data never passes for the real bill
    day: str  # the reported day (ISO date)
    tag_key: str
    daily_by_service: dict[str, float]
    daily_by_tag: dict[str, float]  # tag value -> USD
    month_to_date: float
    forecast_rest_of_month: float | None

    @property
    def month_forecast(self) -> float | None:
        if self.forecast_rest_of_month is None:
            return None
        return self.month_to_date + self.forecast_rest_of_month


def fetch(explorer: CostExplorer, tag_key: str, now: float) -> CostReport:
    """Ask Cost Explorer for everything the metrics need, in this order: daily by service over this month's
    complete days (yesterday's column and, summed, month to date; on the 1st yesterday alone and month to date
    0), yesterday by tag, the forecast."""
    spans = periods(datetime.fromtimestamp(now, UTC).date())
    pages = explorer.daily(spans.month_to_date or spans.day, "DIMENSION", "SERVICE")
    by_service, summed = split_by_service(pages, spans.day[0])
    month_to_date = summed if spans.month_to_date else 0.0
    prefix = f"{tag_key}$"  # Cost Explorer's tag group keys read "Environment$staging"
    by_tag = {(key[len(prefix):] if key.startswith(prefix) else key) or UNTAGGED: usd
              for key, usd in explorer.grouped(spans.day, "TAG", tag_key).items()}
    return CostReport(fetched_at=now, source=explorer.source, day=spans.day[0].isoformat(), tag_key=tag_key,
                      daily_by_service=by_service, daily_by_tag=by_tag, month_to_date=month_to_date,
                      forecast_rest_of_month=explorer.forecast(spans.forecast))


def families(report: CostReport | None, budget_usd: float | None) -> list[Metric]:
    """The cost metric families (pure); without a report only the budget."""
    budget = GaugeMetricFamily("docqet_cost_budget_usd", "Monthly AWS budget from the config, in USD.")
    if budget_usd is not None:
        budget.add_metric([], budget_usd)
    if report is None:
        return [budget]
    daily = GaugeMetricFamily("docqet_cost_daily_usd", "Unblended cost of the last complete day (UTC) by service.",
                              labels=["service"])
    for service, usd in sorted(report.daily_by_service.items()):
        daily.add_metric([service], usd)
    by_tag = GaugeMetricFamily("docqet_cost_daily_by_tag_usd",
                               "Unblended cost of the last complete day by cost-allocation tag value.",
                               labels=["tag", "value"])
    for value, usd in sorted(report.daily_by_tag.items()):
        by_tag.add_metric([report.tag_key, value], usd)
    mtd = GaugeMetricFamily("docqet_cost_month_to_date_usd",
                            "Unblended cost of this month's complete days (UTC), in USD.", value=report.month_to_date)
    forecast = GaugeMetricFamily("docqet_cost_month_forecast_usd",
                                 "Month-to-date cost plus Cost Explorer's forecast to the end of the month, in USD.")
    if report.month_forecast is not None:
        forecast.add_metric([], report.month_forecast)
    refreshed = GaugeMetricFamily("docqet_cost_last_refresh_timestamp_seconds",
                                  "Unix time the cost data was fetched from Cost Explorer.", value=report.fetched_at)
    return [daily, by_tag, mtd, forecast, budget, refreshed]


# --- the cache --------------------------------------------------------------------------------


def load_cache(path: Path) -> CostReport | None:
    """The cached report, or None when there is none or it is unreadable (with a warning)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("version") != CACHE_VERSION:
            raise ValueError("unknown cache version")
        return CostReport(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("ignoring the cost cache %s: %s", path, exc)
        return None


def save_cache(path: Path, report: CostReport) -> None:
    """Write the report atomically (temporary file in the same directory, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                     encoding="utf-8") as tmp:
        json.dump({"version": CACHE_VERSION, **asdict(report)}, tmp, indent=1, sort_keys=True)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)


# --- the collector ----------------------------------------------------------------------------


class CostCollector:
    """Collector ``cost``: serves the last report; asks Cost Explorer again once it is ``interval`` old."""

    name = "cost"
    global_data = True  # the bill, not one region's: sharded, only shard 1 reads it

    def __init__(self, settings: CostCollectorConfig, explorer: CostExplorer,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.interval_seconds = min(CHECK_SECONDS, settings.interval_seconds)
        self.explorer, self._clock = explorer, clock
        self._cache = Path(settings.cache_path)
        self._report: CostReport | None = None
        self._loaded = False
        self._failure: tuple[float, str] | None = None  # when the last attempt failed, and why

    def _fresh(self, report: CostReport | None, now: float) -> bool:
        return report is not None and 0 <= now - report.fetched_at < self.settings.interval_seconds

    def _load(self, now: float) -> CostReport | None:
        """The cached report when it answers the same question (endpoint, tag key); it may be stale."""
        report = load_cache(self._cache)
        if report is None or (report.source, report.tag_key) != (self.explorer.source, self.settings.tag_key):
            return None
        if self._fresh(report, now):
            log.info("serving cost data from the cache %s", self._cache)
        return report

    def collect(self) -> Collection:
        now = self._clock()
        if not self._loaded:
            self._loaded, self._report = True, self._load(now)
        if not self._fresh(self._report, now):
            if self._failure and 0 <= now - self._failure[0] < RETRY_SECONDS:
                return Collection(families(self._report, self.settings.monthly_budget_usd), (self._failure[1],))
            try:
                self._report = fetch(self.explorer, self.settings.tag_key, now)
            except (ClientError, BotoCoreError, CostExplorerError, KeyError, ValueError, TypeError) as exc:
                self._failure = (now, f"cannot read the costs from Cost Explorer: {explain(exc)}")
                return Collection(families(self._report, self.settings.monthly_budget_usd), (self._failure[1],))
            self._failure = None
            try:
                save_cache(self._cache, self._report)
            except OSError as exc:
                log.warning("cannot write the cost cache %s: %s", self._cache, exc)
        return Collection(families(self._report, self.settings.monthly_budget_usd))


def build(config: CostCollectorConfig, aws: Aws, region: str = "us-east-1",
          clock: Callable[[], float] = time.time) -> CostCollector | None:
    """The cost collector (on by default), reaching Cost Explorer where its partition serves it: the
    :func:`~core.partitions.global_region` of ``region``, a region of the default credentials (none: off)."""
    if not config.enabled:
        log.info("cost collector off: collectors.cost.enabled is false")
        return None
    home = global_region("ce", region)
    if home is None:
        log.info("cost collector off: Cost Explorer has no endpoint in the AWS partition of %s", region)
        return None
    return CostCollector(config, CostExplorer(aws.client("ce", home)), clock)
