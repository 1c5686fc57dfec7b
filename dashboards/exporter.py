"""Exporter health: collectors, scrape, AWS requests and errors by operation, the exporter's own AWS bill, its
processes' CPU and memory."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.EXPORTER
TITLE = "Docqet / Exporter health"

_AGE = "time() - docqet_exporter_collector_last_success_timestamp_seconds"
# sharded exporters (--shard K/N) label their self-metrics with shard="K/N"; unsharded the label is absent
# and Grafana writes nothing for it
_BY_COLLECTOR = "{{collector}} {{shard}}"
_JOB = f'{{job="{ids.EXPORTER_JOB}"}}'  # the process metrics' names are every client's: the exporter's job only
_BY_PROCESS = "{{process}} {{shard}}"


def build(t: Thresholds) -> G.Dashboard:
    rows = [
        S.Row("Collectors", [
            S.state_timeline("Collector up", [S.Query("docqet_exporter_collector_up", _BY_COLLECTOR)], S.UP_DOWN,
                             description="1 when the collector's last refresh succeeded. A failing collector "
                                         "keeps serving its last good series."),
            S.state_timeline("Scrape up", [S.Query(f"up{_JOB}", "{{instance}}")], S.UP_DOWN,
                             description="Whether Prometheus can scrape the exporter (job docqet-monitor)."),
            S.timeseries("Time since last success", [S.Query(_AGE + '{collector!="cost"}', _BY_COLLECTOR)],
                         S.SECONDS, thresholds=t.above("ExporterDataStale"), w=8,
                         description="Age of each collector's data (the cost collector is beside)."),
            S.timeseries("Time since last success (cost)", [S.Query(_AGE + '{collector="cost"}', "cost {{shard}}")],
                         S.SECONDS, thresholds=t.above("ExporterDataStale", "cost_threshold"), w=8,
                         description="Cost Explorer is read every 6 hours by default, so its data ages slowly."),
            S.timeseries("Refresh duration", [S.Query("docqet_exporter_collector_duration_seconds", _BY_COLLECTOR)],
                         S.SECONDS, w=8, description="Wall time of each collector's last refresh."),
        ]),
        S.Row("AWS API", [
            S.timeseries("AWS requests by operation", [
                S.Query("sum by (service, operation, shard) "
                        "(rate(docqet_exporter_aws_requests_total[$__rate_interval]))",
                        "{{service}} {{operation}} {{shard}}")], S.REQUESTS_PER_SECOND, stack=True,
                description="AWS requests per second, retries included."),
            S.timeseries("AWS errors by operation", [
                S.Query("sum by (service, operation, code, shard) "
                        "(rate(docqet_exporter_aws_request_errors_total[$__rate_interval]))",
                        "{{service}} {{operation}} {{code}} {{shard}}")], S.REQUESTS_PER_SECOND, stack=True,
                description="Failed AWS requests per second by error code (throttling, timeouts, 5xx)."),
            S.stat("Estimated API spend per day", [
                "sum(increase(docqet_exporter_aws_estimated_cost_usd_total[1d]))"], S.USD, w=8,
                description="What the exporter's own AWS calls cost over the last 24 hours (GetMetricData, "
                            "other CloudWatch calls, Cost Explorer)."),
            S.timeseries("Estimated API spend (daily rate)", [
                S.Query("sum by (shard) (rate(docqet_exporter_aws_estimated_cost_usd_total[$__rate_interval])) * 86400",
                        "USD per day {{shard}}")], S.USD, w=16),
        ]),
        S.Row("Processes", [
            S.timeseries("CPU", [
                S.Query(f"sum by (process, shard) (rate(process_cpu_seconds_total{_JOB}[$__rate_interval]))",
                        _BY_PROCESS),
                S.Query("docqet_exporter_cpu_limit_cores", "limit {{shard}}")], S.PERCENT_RATIO, w=8,
                description="CPU time per second of the exporter's two processes (exporter: the collectors; "
                            "front: the HTTP server), 100 % = one core, and the container's CPU limit when one "
                            "is known. The exporter process's Python code runs on one core at a time: near 100 % "
                            "(or near the limit) its refreshes are bound by its own CPU, not by AWS; run more "
                            "shards (docs: Scaling out)."),
            S.timeseries("Resident memory", [
                S.Query(f"process_resident_memory_bytes{_JOB}", _BY_PROCESS),
                S.Query(f"sum by (instance, shard) (process_resident_memory_bytes{_JOB})", "both {{shard}}"),
                S.Query("docqet_exporter_memory_limit_bytes", "limit {{shard}}")], S.BYTES, w=8,
                description="Resident memory of each process and of both, against the container's memory limit "
                            "when one is known: both must stay below it, or the container is killed."),
            S.timeseries("File descriptors in use", [
                S.Query(f"process_open_fds{_JOB} / process_max_fds{_JOB}", _BY_PROCESS)], S.PERCENT_RATIO, w=4,
                description="Open file descriptors of the process's limit (sockets to AWS, scrapes)."),
            S.timeseries("Uptime", [S.Query(f"time() - process_start_time_seconds{_JOB}", _BY_PROCESS)],
                         S.SECONDS, w=4, description="Since each process started: a drop is a restart."),
        ]),
        S.Row("Build", [
            S.table("Exporter versions", [S.Query("docqet_exporter_build_info")], hide=("Time", "Value", "__name__"),
                    w=12, h=5),
            S.table("AWS accounts", [S.Query("docqet_exporter_account_info")],
                    hide=("Time", "Value", "__name__", "job", "instance"), w=12, h=5,
                    description="The accounts the exporter reads: the series' account label and its name."),
        ]),
    ]
    return S.dashboard(UID, TITLE, rows, tags=["exporter"])
