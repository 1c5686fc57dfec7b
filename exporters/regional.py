"""AWS collectors that read every (account, region) target: independent scrapes, per-target last good series.

A target that fails (timeout, throttled beyond retries, 5xx, a bug in parsing) keeps the series of its last
successful scrape and reports the error, so the collector's up-metric is 0 while the other regions stay fresh.

Targets do not wait for each other: up to ``aws.max_concurrency_total`` worker threads per collector scrape them
(a worker takes the next queued target when it is done), the families found so far are handed
to the exporter every few seconds while others are still running, and a refresh in the background ends after
``interval_seconds`` even if a target is still busy (a hung region): that target keeps running, is not started
again until it ends, and counts as failed only once its attempts have run out. The in-flight AWS request limits
are :class:`~core.aws.Aws`'s (per account, region and service, under ``aws.max_concurrency_total``); a collector
scrapes up to ``aws.max_concurrency_total`` targets at once, so that it alone can keep that many requests in flight.

Shards: by default a shard scrapes only the (account, region) pairs it owns; a collector that splits finer
(``per_resource``) scrapes every pair and keeps the resources it owns (e.g. ECS clusters); a collector of
global data (``global_data``) runs on shard 1 only (see :mod:`core.shard`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from docqet_monitor.core.aws import Aws, explain
from docqet_monitor.core.config import CollectorSchedule, Config
from docqet_monitor.core.discovery import Target, targets
from docqet_monitor.core.shard import Shard
from docqet_monitor.exporters import cloudwatch
from docqet_monitor.exporters.metrics import Collection, Publish, Rendered

log = logging.getLogger(__name__)

PUBLISH_SECONDS = 5.0  # while targets are still running, hand over the finished ones' families this often


Clients = Callable[[str], Any]  # service name -> boto3 client for the target being scraped
Scrape = Callable[[Target, Clients], list[Rendered]]
MetricValues = Mapping[cloudwatch.MetricQuery, float]


class AwsCollector:
    """A :class:`~exporters.metrics.Collector` running ``scrape`` once per target on each refresh.

    ``global_data``: the collector reads account-wide or global data, so only shard 1 runs it.
    """

    def __init__(self, name: str, interval_seconds: float, aws: Aws, target_list: Sequence[Target],
                 scrape: Scrape, global_data: bool = False) -> None:
        self.name = name
        self.interval_seconds = interval_seconds
        self.global_data = global_data
        self._aws = aws
        self._targets = tuple(dict.fromkeys(target_list))
        self._scrape = scrape
        self._lock = threading.Lock()
        self._last: dict[Target, list[Rendered]] = {}  # rendered when the target's scrape ended
        self._errors: dict[Target, str] = {}  # targets whose last completed scrape failed
        self._running: dict[Target, Future[None]] = {}  # queued or being scraped
        self._queue: deque[Target] = deque()
        self._workers = 0
        # as many targets at once as requests may be in flight in all: one collector alone can fill the cap
        self._max_workers = aws.settings.max_concurrency_total

    @property
    def targets(self) -> tuple[Target, ...]:
        """The (account, region) pairs it reads."""
        return self._targets

    def collect(self) -> Collection:
        """Scrape every target and wait for all of them."""
        return self.collect_progressively(lambda _: None, wait_all=True)

    def collect_progressively(self, publish: Publish, wait_all: bool = False) -> Collection:
        """Start every target not already running; ``publish`` the families so far while some run.

        Waits for every running target with ``wait_all``, else at most ``interval_seconds``.
        """
        with self._lock:  # a target still running from an earlier refresh is not started, nor waited for, again
            carried = set(self._running.values())
            started = {self._start(t) for t in self._targets if t not in self._running}
        if wait_all:
            started |= carried
        deadline = None if wait_all else time.monotonic() + self.interval_seconds
        last_publish, fresh = time.monotonic(), False
        while started:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            timeouts = [deadline - now] if deadline is not None else []
            if fresh:
                timeouts.append(max(0.0, last_publish + PUBLISH_SECONDS - now))
            done, started = wait(started, timeout=min(timeouts) if timeouts else None, return_when=FIRST_COMPLETED)
            fresh = fresh or bool(done)
            if started and fresh and time.monotonic() - last_publish >= PUBLISH_SECONDS:
                publish(self._collection().families)
                last_publish, fresh = time.monotonic(), False
        return self._collection()

    def _collection(self) -> Collection:
        """The targets' last good families in target order (the exporter joins the families of one name)."""
        with self._lock:
            families = [f for t in self._targets for f in self._last.get(t, [])]
            errors = tuple(self._errors[t] for t in self._targets if t in self._errors)
        return Collection(families, errors)

    def _start(self, target: Target) -> Future[None]:
        """Queue ``target`` for a worker: a daemon thread (a hung region never blocks the process's exit) that
        scrapes queued targets until none is left. At most ``aws.max_concurrency_total`` workers per collector, so
        the threads do not grow with the targets (a container's pids limit). ``_lock`` held."""
        future: Future[None] = Future()
        self._running[target] = future
        self._queue.append(target)
        if self._workers < self._max_workers:
            try:
                threading.Thread(target=self._work, name=f"{self.name} worker", daemon=True).start()
            except RuntimeError as exc:  # can't start new thread: the running workers take the queue
                if not self._workers:  # none: the queued targets fail now, and are queued again next refresh
                    self._fail_queued(f"cannot start a thread: {exc}")
            else:
                self._workers += 1
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._workers -= 1
                    return
                target = self._queue.popleft()
            threading.current_thread().name = f"{self.name} {target}"  # what a thread dump shows it doing
            try:
                families = self._scrape(target, self._client_factory(target))
            except Exception as exc:  # one region's fault must not lose the others
                # the server logs each error as a warning; the traceback only with -vv
                log.debug("scrape failed, keeping the last good series", exc_info=True,
                          extra={"collector": self.name, "target": str(target)})
                with self._lock:
                    self._errors[target] = f"cannot read {self.name} metrics in {target}: {explain(exc)}"
            else:
                with self._lock:
                    self._last[target] = families
                    self._errors.pop(target, None)
            finally:
                with self._lock:
                    future = self._running.pop(target)
                future.set_result(None)

    def _fail_queued(self, error: str) -> None:
        """Every queued target fails with ``error`` (``_lock`` held)."""
        while self._queue:
            target = self._queue.popleft()
            self._errors[target] = f"cannot read {self.name} metrics in {target}: {error}"
            self._running.pop(target).set_result(None)

    def _client_factory(self, target: Target) -> Clients:
        return lambda service: self._aws.client(service, target.region, target.account)


MetricReader = Callable[[Sequence[cloudwatch.MetricQuery]], MetricValues]
# (clients, read, account id, region) -> families
RegionScrape = Callable[[Clients, MetricReader, str, str], list[Rendered]]


def collector(name: str, settings: CollectorSchedule, config: Config, aws: Aws, scrape: RegionScrape,
              clock: Callable[[], float] = time.time, per_resource: bool = False,
              global_data: bool = False, target_list: Sequence[Target] | None = None) -> AwsCollector:
    """An :class:`AwsCollector` over ``target_list`` (default: the configured targets; global services pass
    :func:`~core.discovery.global_targets` with ``global_data``); ``scrape`` reads CloudWatch through the batcher.

    Sharded, the collector scrapes only the (account, region) pairs its shard owns, unless ``per_resource``:
    then it scrapes every pair and ``scrape`` keeps the resources the shard owns (:func:`owner`).
    ``global_data``: only shard 1 runs it (and then scrapes every target it is given).
    """
    shard = Shard.parse(config.exporter.shard)

    def scrape_target(target: Target, client: Clients) -> list[Rendered]:
        account = aws.account_id(target.account, target.region)
        if not (per_resource or global_data) and not shard.owns(account, target.region):
            return []
        return scrape(client, reader(client, config, clock), account, target.region)

    name_accounts(config, aws)
    chosen = targets(config) if target_list is None else target_list
    return AwsCollector(name, settings.interval_seconds, aws, chosen, scrape_target, global_data)


def reader(client: Clients, config: Config, clock: Callable[[], float] = time.time) -> MetricReader:
    """CloudWatch reads of one target through the batcher."""
    cw = config.cloudwatch

    def read(queries: Sequence[cloudwatch.MetricQuery]) -> dict[cloudwatch.MetricQuery, float]:
        return cloudwatch.fetch_all(client("cloudwatch"), queries, clock(), cw.delay_seconds,
                                    cw.lookback_periods, config.aws.max_concurrency)
    return read


def name_accounts(config: Config, aws: Aws) -> None:
    """Name the role accounts of ``accounts[]`` for ``docqet_exporter_account_info``."""
    for account in config.accounts:
        aws.stats.name_account(account.account_id, account.name or account.account_id)


def owner(config: Config, kind: str) -> Callable[[str, str, str], bool]:
    """``owns(account, region, resource)`` for a ``per_resource`` collector's resources of ``kind`` (e.g. ``ecs``
    clusters): whether this exporter's shard keeps them (always true unsharded)."""
    shard = Shard.parse(config.exporter.shard)
    return lambda account, region, resource: shard.owns(account, region, kind, resource)

