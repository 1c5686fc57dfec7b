"""The exporter's own metrics: collector health, what the AWS calls cost, and its processes' CPU and memory."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

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
    "docqet_exporter_cpu_limit_cores",
    "docqet_exporter_memory_limit_bytes",
    # the standard process metrics of prometheus_client, one series per process of `exporter serve` (Linux;
    # not process_virtual_memory_bytes: a thread's stack reserves 8 MB of it, and a refresh runs hundreds)
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
    "process_max_fds",
)


STALE_INTERVALS = 3  # a collector without a success for this many intervals is down and not ready


@dataclass
class CollectorState:
    up: bool = False
    completed: bool = False
    last_success: float | None = None
    duration: float | None = None
    interval: float | None = None  # seconds between refreshes; None: never stale (one-shot runs)
    since: float | None = None  # when the watchdog started counting (registration)
    stale: bool = False


@dataclass
class Stats:
    """Thread-safe counters shared by every collector and AWS client."""

    version: str = "unknown"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    cost_nano_usd: int = 0  # an integer: 30 float additions of 1e-05 make 0.00030000000000000014
    collectors: dict[str, CollectorState] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> name
    shard: str = ""  # "K/N" when sharded: a `shard` label on the self-metrics (not on account_info: shard 1's)
    cpu_limit: float | None = None  # cores the container may use, when known (exporters/limits.py)
    memory_limit: float | None = None  # bytes the container may use, when known
    _processes: dict[str, ProcessCollector] = field(default_factory=dict, repr=False)
    _process_families: list[Metric] = field(default_factory=list, repr=False)

    def watch_processes(self, pids: Mapping[str, int]) -> None:
        """Export the CPU, memory and file descriptors of these processes (name -> pid; the ``process`` label),
        as read by :meth:`sample_processes`."""
        with self._lock:
            self._processes = {name: ProcessCollector(pid=lambda pid=pid: pid, registry=None)
                               for name, pid in pids.items()}
        self.sample_processes()

    def sample_processes(self) -> bool:
        """Read the watched processes' /proc now (nothing on a system without it; a process that has ended has no
        series); the next :meth:`families` carry it. Whether any process is watched."""
        extra, more = self._shard_label()
        merged: dict[str, Metric] = {}
        for name, collector in self._processes.items():
            for family in collector.collect():
                if family.name == "process_virtual_memory_bytes":
                    continue
                kind = CounterMetricFamily if family.type == "counter" else GaugeMetricFamily
                out = merged.setdefault(family.name, kind(family.name, family.documentation,
                                                          labels=["process", *extra]))
                for sample in family.samples:
                    out.add_metric([name, *more], sample.value)
        with self._lock:
            self._process_families = list(merged.values())
        return bool(self._processes)

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
            self.cost_nano_usd += round(usd * 1e9)

    @property
    def cost_usd(self) -> float:
        """The estimated cost so far, in USD."""
        return self.cost_nano_usd / 1e9

    def register(self, collector: str, interval: float | None = None, now: float | None = None) -> None:
        with self._lock:
            state = self.collectors.setdefault(collector, CollectorState())
            state.interval, state.since = interval, now

    def check_stale(self, now: float) -> list[str]:
        """The watchdog: mark collectors whose last success (or registration) is older than
        ``STALE_INTERVALS`` intervals stale, whatever the reason (a dead thread, a hung client, failures);
        return the names whose staleness changed."""
        changed = []
        with self._lock:
            for name, state in self.collectors.items():
                since = state.last_success if state.last_success is not None else state.since
                stale = (state.interval is not None and since is not None
                         and now - since > STALE_INTERVALS * state.interval)
                if stale != state.stale:
                    state.stale = stale
                    changed.append(name)
        return changed

    def record_run(self, collector: str, ok: bool, finished_at: float, duration: float) -> None:
        with self._lock:
            state = self.collectors.setdefault(collector, CollectorState())
            state.up, state.completed, state.duration = ok, True, duration
            if ok:
                state.last_success, state.stale = finished_at, False

    def ready(self) -> bool:
        return not self.not_ready()

    def not_ready(self) -> list[str]:
        """Why the exporter is not ready: collectors whose first refresh is pending or that went stale."""
        with self._lock:
            return [f"{name}: first refresh pending" if not s.completed else
                    f"{name}: no successful refresh for over {STALE_INTERVALS} intervals"
                    for name, s in sorted(self.collectors.items()) if not s.completed or s.stale]

    def _shard_label(self) -> tuple[list[str], list[str]]:
        """The ``shard`` label's name and value for the self-metrics' series; none when not sharded."""
        return (["shard"], [self.shard]) if self.shard else ([], [])

    def families(self) -> list[Metric]:
        """The self-metrics as metric families (a consistent copy taken under the lock).

        Sharded, every family but ``account_info`` carries ``shard``; ``account_info`` is shard 1's alone (the
        union of the shards' expositions names each account once).
        """
        extra, more = self._shard_label()
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
                                   "1 when the collector's last refresh succeeded, 0 when it failed or when it has "
                                   "not succeeded for 3 intervals.",
                                   labels=["collector", *extra])
            last = GaugeMetricFamily("docqet_exporter_collector_last_success_timestamp_seconds",
                                     "Unix time of the collector's last successful refresh.",
                                     labels=["collector", *extra])
            duration = GaugeMetricFamily("docqet_exporter_collector_duration_seconds",
                                         "Wall time of the collector's last refresh.", labels=["collector", *extra])
            for name, state in sorted(self.collectors.items()):
                up.add_metric([name, *more], 1 if state.up and not state.stale else 0)
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
            limit = GaugeMetricFamily("docqet_exporter_cpu_limit_cores",
                                      "CPU the exporter's container may use, in cores (its ECS task's or cgroup's "
                                      "quota); absent when none is known.", labels=extra)
            if self.cpu_limit is not None:
                limit.add_metric(more, self.cpu_limit)
            memory = GaugeMetricFamily("docqet_exporter_memory_limit_bytes",
                                       "Memory the exporter's container may use, in bytes (its ECS task's or "
                                       "cgroup's limit); absent when none is known.", labels=extra)
            if self.memory_limit is not None:
                memory.add_metric(more, self.memory_limit)
            return [build, accounts, up, last, duration, requests, errors, cost, limit, memory,
                    *self._process_families]
