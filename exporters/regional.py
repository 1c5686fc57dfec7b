"""AWS collectors that read every (account, region) target: concurrent scrapes, per-target last good series.

A target that fails (timeout, throttled beyond retries, 5xx, a bug in parsing) keeps the series of its last
successful scrape and reports the error, so the collector's up-metric is 0 while the other regions stay fresh.
The in-flight AWS request limit is :class:`~exporters.aws.Aws`'s; targets only run side by side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AwsCollectorConfig, Config
from docqet_monitor.core.discovery import Target, targets
from docqet_monitor.exporters import cloudwatch
from docqet_monitor.exporters.metrics import Collection, dedupe

log = logging.getLogger(__name__)

MAX_PARALLEL_TARGETS = 16


Clients = Callable[[str], Any]  # service name -> boto3 client for the target being scraped
Scrape = Callable[[Target, Clients], list[Metric]]
MetricValues = Mapping[cloudwatch.MetricQuery, float]


class AwsCollector:
    """A :class:`~exporters.metrics.Collector` running ``scrape`` once per target on each refresh."""

    def __init__(self, name: str, interval_seconds: float, aws: Aws, target_list: Sequence[Target],
                 scrape: Scrape) -> None:
        self.name = name
        self.interval_seconds = interval_seconds
        self._aws = aws
        self._targets = tuple(dict.fromkeys(target_list))
        self._scrape = scrape
        self._last: dict[Target, list[Metric]] = {}

    def collect(self) -> Collection:
        if not self._targets:
            return Collection()
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_TARGETS, len(self._targets))) as pool:
            futures = {t: pool.submit(self._scrape, t, self._client_factory(t)) for t in self._targets}
        families: list[Metric] = []
        errors: list[str] = []
        for target, future in futures.items():
            try:
                self._last[target] = future.result()
            except Exception as exc:  # one region's fault must not lose the others
                # the server logs each error as a warning; the traceback only with -vv
                log.debug("scrape failed, keeping the last good series", exc_info=True,
                          extra={"collector": self.name, "target": str(target)})
                errors.append(f"{self.name} {target}: {type(exc).__name__}: {exc}")
            families.extend(self._last.get(target, []))
        return Collection(dedupe(families), tuple(errors))

    def _client_factory(self, target: Target) -> Clients:
        return lambda service: self._aws.client(service, target.region, target.account)


MetricReader = Callable[[Sequence[cloudwatch.MetricQuery]], MetricValues]
# (clients, read, account id, region) -> families
RegionScrape = Callable[[Clients, MetricReader, str, str], list[Metric]]


def collector(name: str, settings: AwsCollectorConfig, config: Config, aws: Aws, scrape: RegionScrape,
              clock: Callable[[], float] = time.time) -> AwsCollector:
    """An :class:`AwsCollector` over the configured targets; ``scrape`` reads CloudWatch through the batcher."""
    cw = config.cloudwatch

    def scrape_target(target: Target, client: Clients) -> list[Metric]:
        def read(queries: Sequence[cloudwatch.MetricQuery]) -> dict[cloudwatch.MetricQuery, float]:
            return cloudwatch.fetch_all(client("cloudwatch"), queries, clock(), cw.delay_seconds,
                                        cw.lookback_periods, config.aws.max_concurrency)
        return scrape(client, read, aws.account_id(target.account, target.region), target.region)

    for account in config.accounts:
        aws.stats.name_account(account.account_id, account.name or account.account_id)
    return AwsCollector(name, settings.interval_seconds, aws, targets(config), scrape_target)


def gauge(name: str, documentation: str, labels: Sequence[str],
          samples: Sequence[tuple[Sequence[str], float]]) -> GaugeMetricFamily:
    """A gauge family from ``(label values, value)`` pairs (pure)."""
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for label_values, value in samples:
        family.add_metric(list(label_values), value)
    return family
