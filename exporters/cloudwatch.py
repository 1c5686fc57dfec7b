"""The CloudWatch batcher: many metric queries -> few GetMetricData calls -> latest complete datapoints.

Queries are de-duplicated, grouped by period, sent 500 to a call (the AWS limit) over a time window aligned
to the period and shifted back by a delay for late data (daily periods: at least three days back). No
datapoint means no value (never a fake 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

MAX_QUERIES_PER_CALL = 500
DAY = 86400
DAILY_LOOKBACK_DAYS = 3  # daily metrics (S3 storage) arrive late: look at least this many days back


class MetricQuery(NamedTuple):
    """One CloudWatch metric and statistic (a tuple: hashed, compared and ordered by its fields, in C)."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str  # Average, Sum, Maximum, Minimum, SampleCount or a percentile such as p95
    period: int = 60


@dataclass(frozen=True)
class Call:
    """One GetMetricData call: its queries, in order (query i has Id ``q{i}``)."""

    period: int
    start: datetime
    end: datetime
    queries: tuple[MetricQuery, ...]

    def params(self) -> dict[str, Any]:
        return {
            "MetricDataQueries": [
                {"Id": f"q{i}", "ReturnData": True, "MetricStat": {
                    "Metric": {"Namespace": q.namespace, "MetricName": q.metric,
                               "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions]},
                    "Period": q.period, "Stat": q.statistic}}
                for i, q in enumerate(self.queries)
            ],
            "StartTime": self.start,
            "EndTime": self.end,
            "ScanBy": "TimestampDescending",
        }


def window(now: float, period: int, delay: int, lookback_periods: int) -> tuple[datetime, datetime]:
    """[start, end) aligned to ``period``, ending at least ``delay`` seconds before ``now``."""
    end = math.floor((now - delay) / period) * period
    start = end - lookback_periods * period
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


def plan(queries: Iterable[MetricQuery], now: float, delay: int, lookback_periods: int) -> list[Call]:
    """The fewest GetMetricData calls for ``queries`` (pure): unique queries, by period, 500 a call."""
    by_period: dict[int, list[MetricQuery]] = {}
    for query in sorted(set(queries)):
        by_period.setdefault(query.period, []).append(query)
    calls = []
    for period, group in sorted(by_period.items()):
        lookback = max(lookback_periods, DAILY_LOOKBACK_DAYS) if period >= DAY else lookback_periods
        start, end = window(now, period, delay, lookback)
        for i in range(0, len(group), MAX_QUERIES_PER_CALL):
            calls.append(Call(period, start, end, tuple(group[i:i + MAX_QUERIES_PER_CALL])))
    return calls


def latest_values(call: Call, pages: Iterable[dict[str, Any]]) -> dict[MetricQuery, float]:
    """The newest finite datapoint of each query from GetMetricData response pages (pure).

    A result for an id the call did not send is a malformed response: ValueError.
    """
    by_id = {f"q{i}": query for i, query in enumerate(call.queries)}
    newest: dict[MetricQuery, tuple[datetime, float]] = {}
    for page in pages:
        for result in page.get("MetricDataResults", []):
            query = by_id.get(result.get("Id", ""))
            if query is None:
                raise ValueError(f"GetMetricData answered an unknown query id {result.get('Id')!r}")
            best = newest.get(query)
            for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                if (best is None or ts > best[0]) and math.isfinite(value):
                    best = (ts, value)
            if best is not None:
                newest[query] = best
    return {query: value for query, (_, value) in newest.items()}


def fetch(client: Any, call: Call) -> dict[MetricQuery, float]:
    """Send one planned call, following NextToken."""
    params = call.params()
    pages = []
    while True:
        page = client.get_metric_data(**params)
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            break
        params["NextToken"] = token
    return latest_values(call, pages)


def fetch_all(client: Any, queries: Sequence[MetricQuery], now: float, delay: int, lookback_periods: int,
              max_concurrency: int = 5) -> dict[MetricQuery, float]:
    """Latest values of all queries through one client (one region), calls in parallel."""
    calls = plan(queries, now, delay, lookback_periods)
    values: dict[MetricQuery, float] = {}
    if len(calls) <= 1:  # no thread for a single call
        return fetch(client, calls[0]) if calls else values
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(calls))) as pool:
        for part in pool.map(lambda c: fetch(client, c), calls):
            values.update(part)
    return values
