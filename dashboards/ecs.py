"""ECS services: tasks, deployments, CPU and memory, and the HTTP golden signals per service."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.ECS
TITLE = "Docqet / ECS services"

_SEL = S.matchers("account", "region", "cluster", "service")
_LEGEND = "{{cluster}}/{{service}} ({{region}} {{account}})"


def _m(metric: str) -> str:
    return f"docqet_ecs_service_{metric}{_SEL}"


# The ALB publishes no 5xx datapoint when there was none: count that as 0 for services with traffic.
_ERRORS = f"({_m('http_5xx_per_second')} or {_m('http_requests_per_second')} * 0)"


def build(t: Thresholds) -> G.Dashboard:
    rows = [
        S.Row("Tasks", [
            S.stat("Services below desired", [
                f"count(({_m('running_tasks')}) < ({_m('desired_tasks')})) or vector(0)"],
                S.COUNT, thresholds=S.above(1), w=6, h=8),
            S.timeseries("Running vs desired tasks", [
                S.Query(_m("desired_tasks"), f"desired {_LEGEND}"), S.Query(_m("running_tasks"), f"running {_LEGEND}"),
            ], S.COUNT, w=18, description="Tasks ECS wants (desired) and runs (running). Running below desired for "
                                          "15 minutes pages (EcsServiceTasksBelowDesired), none running for 3 "
                                          "minutes too (EcsServiceNoRunningTasks)."),
            S.timeseries("Pending tasks", [S.Query(_m("pending_tasks"), _LEGEND)], S.COUNT,
                         description="Tasks placed but not yet running (pulling images, waiting for capacity)."),
            S.timeseries("Deployments", [S.Query(_m("deployments"), _LEGEND)], S.COUNT,
                         description="Deployments side by side: 1 is steady state, more is a rollout in progress; "
                                     "for 30 minutes it is stuck.",
                         thresholds=t.above("EcsServiceDeploymentStuck", "deployments")),
        ]),
        S.Row("Resources", [
            S.timeseries("CPU utilization", [S.Query(_m("cpu_utilization_ratio"), _LEGEND)], S.PERCENT_RATIO,
                         description="Average CPU used, as a share of the service's reservation (AWS/ECS).",
                         thresholds=t.above("EcsServiceCpuHigh")),
            S.timeseries("Memory utilization", [S.Query(_m("memory_utilization_ratio"), _LEGEND)],
                         S.PERCENT_RATIO, description="Average memory used, as a share of the reservation.",
                         thresholds=t.above("EcsServiceMemoryHigh")),
        ]),
        S.Row("HTTP (target group of the service's load balancer)", [
            S.timeseries("Request rate", [S.Query(_m("http_requests_per_second"), _LEGEND)],
                         S.REQUESTS_PER_SECOND, w=8),
            S.timeseries("HTTP 5xx rate", [S.Query(_ERRORS, _LEGEND)], S.PER_SECOND, w=8,
                         description="Target 5xx responses per second (0 when the ALB publishes none)."),
            S.timeseries("HTTP 5xx ratio", [S.Query(f"{_ERRORS} / {_m('http_requests_per_second')}", _LEGEND)],
                         S.PERCENT_RATIO, w=8, description="Share of requests answered with a 5xx.",
                         thresholds=t.above("EcsServiceHttp5xxRatioHigh")),
            S.timeseries("p95 response time", [S.Query(_m("http_response_time_p95_seconds"), _LEGEND)], S.SECONDS,
                         description="95th percentile target response time (AWS/ApplicationELB).",
                         thresholds=t.above("EcsServiceHttpLatencyP95High"), w=24),
        ]),
        S.Row("Services", [
            S.table("Service details", [S.Query(f"docqet_ecs_service_info{_SEL}")],
                    hide=("Time", "Value", "__name__", "job", "instance"),
                    description="Task definition, launch type, status and rollout state of each service."),
        ]),
    ]
    variables = [
        S.query_variable("account", "docqet_ecs_service_desired_tasks"),
        S.query_variable("region", "docqet_ecs_service_desired_tasks", label_filter='account=~"$account"'),
        S.query_variable("cluster", "docqet_ecs_service_desired_tasks",
                         label_filter='account=~"$account", region=~"$region"'),
        S.query_variable("service", "docqet_ecs_service_desired_tasks",
                         label_filter='account=~"$account", region=~"$region", cluster=~"$cluster"'),
    ]
    return S.dashboard(UID, TITLE, rows, variables, tags=["ecs"])
