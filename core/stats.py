"""The exporter's own metrics: collector health and what the AWS calls cost."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# USD per unit, from the AWS price list (us-east-1).
GET_METRIC_DATA_USD_PER_METRIC = 0.01 / 1000
CLOUDWATCH_USD_PER_REQUEST = 0.01 / 1000
COST_EXPLORER_USD_PER_REQUEST = 0.01

METRIC_NAMES = (
    "docqet_exporter_build_info",
    "docqet_exporter_account_info",
    "docqet_exporter_collector_up",
    "docqet_exporter_collector_last_success_timestamp_seconds",
    "docqet_exporter_collector_duration_seconds",
    "docqet_exporter_aws_requests_total",
    "docqet_exporter_aws_request_errors_total",
    "docqet_exporter_aws_estimated_cost_usd_total",
)


@dataclass
class CollectorState:
    up: bool = False
    completed: bool = False
    last_success: float | None = None
    duration: float | None = None


@dataclass
class Stats:
    """Thread-safe counters shared by every collector and AWS client."""

    version: str = "unknown"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    cost_usd: float = 0.0
    collectors: dict[str, CollectorState] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> name
    shard: str = ""  # "K/N" when sharded: a `shard` label on the self-metrics (not on account_info: shard 1's)

    def name_account(self, account: str, name: str) -> None:
        """Name an AWS account in ``docqet_exporter_account_info`` (the first name given wins)."""
        with self._lock:
            self.accounts.setdefault(account, name)

    def count_request(self, service: str, operation: str, error_code: str | None = None) -> None:
        with self._lock:
            self.requests[service, operation] += 1
            if error_code:
                self.errors[service, operation, error_code] += 1

    def count_error(self, service: str, operation: str, error_code: str) -> None:
        """An error found after the request was counted (a malformed response)."""
        with self._lock:
            self.errors[service, operation, error_code] += 1

    def add_cost(self, usd: float) -> None:
        with self._lock:
            self.cost_usd += usd

    def register(self, collector: str) -> None:
        with self._lock:
            self.collectors.setdefault(collector, CollectorState())

    def record_run(self, collector: str, ok: bool, finished_at: float, duration: float) -> None:
        with self._lock:
            state = self.collectors.setdefault(collector, CollectorState())
            state.up, state.completed, state.duration = ok, True, duration
            if ok:
                state.last_success = finished_at

    def ready(self) -> bool:
        with self._lock:
            return all(s.completed for s in self.collectors.values())

    def families(self) -> list[Metric]:
        """The self-metrics as metric families (a consistent copy taken under the lock).

        Sharded, every family but ``account_info`` carries ``shard``; ``account_info`` is shard 1's alone (the
        union of the shards' expositions names each account once).
        """
        extra = ["shard"] if self.shard else []
        more = [self.shard] if self.shard else []
        with self._lock:
            build = GaugeMetricFamily("docqet_exporter_build_info", "Build information of docqet-monitor.",
                                      labels=["version", *extra])
            build.add_metric([self.version, *more], 1)
            accounts = GaugeMetricFamily("docqet_exporter_account_info",
                                         "The AWS accounts the exporter reads, by id and name; always 1.",
                                         labels=["account", "name"])
            if not self.shard or self.shard.startswith("1/"):
                for account, name in sorted(self.accounts.items()):
                    accounts.add_metric([account, name], 1)
            up = GaugeMetricFamily("docqet_exporter_collector_up",
                                   "1 when the collector's last refresh succeeded, 0 when it failed.",
                                   labels=["collector", *extra])
            last = GaugeMetricFamily("docqet_exporter_collector_last_success_timestamp_seconds",
                                     "Unix time of the collector's last successful refresh.",
                                     labels=["collector", *extra])
            duration = GaugeMetricFamily("docqet_exporter_collector_duration_seconds",
                                         "Wall time of the collector's last refresh.", labels=["collector", *extra])
            for name, state in sorted(self.collectors.items()):
                up.add_metric([name, *more], 1 if state.up else 0)
                if state.last_success is not None:
                    last.add_metric([name, *more], state.last_success)
                if state.duration is not None:
                    duration.add_metric([name, *more], state.duration)
            requests = CounterMetricFamily("docqet_exporter_aws_requests",
                                           "AWS API requests sent, retries included.",
                                           labels=["service", "operation", *extra])
            for (service, operation), n in sorted(self.requests.items()):
                requests.add_metric([service, operation, *more], n)
            errors = CounterMetricFamily("docqet_exporter_aws_request_errors",
                                         "AWS API requests that failed, by error code.",
                                         labels=["service", "operation", "code", *extra])
            for (service, operation, code), n in sorted(self.errors.items()):
                errors.add_metric([service, operation, code, *more], n)
            cost = CounterMetricFamily("docqet_exporter_aws_estimated_cost_usd",
                                       "Estimated AWS charges of the exporter's own API calls, in USD.",
                                       labels=extra)
            cost.add_metric(more, self.cost_usd)
            return [build, accounts, up, last, duration, requests, errors, cost]
