"""Edge: what users reach first — CloudFront, WAF, Route 53, API Gateway and the Application Load Balancer.

Shared by two features: one function per row, each reading only its own system's exported families. This module
starts with the ALB row; the CloudFront, WAF, Route 53 and API Gateway rows join it as functions of their own.
"""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.EDGE
TITLE = "Docqet / Edge"

_LB = S.matchers("account", "region", "load_balancer")
_TG = S.matchers("account", "region", "load_balancer", "target_group")


def _alb(metric: str) -> str:
    return f"docqet_alb_{metric}{_LB}"


# The ALB publishes no 5xx datapoint when there was none; the exporter then reports 0 for load balancers with
# traffic, so the ratio needs no `or` here.
def alb_row(t: Thresholds) -> S.Row:
    legend, tg_legend = "{{load_balancer}} ({{region}})", "{{load_balancer}}/{{target_group}} ({{region}})"
    return S.Row("Application Load Balancer", [
        S.timeseries("ALB requests", [S.Query(_alb("requests_per_second"), legend)], S.REQUESTS_PER_SECOND, w=8,
                     description="Requests per second each load balancer received."),
        S.timeseries("ALB 5xx ratio", [S.Query(f"{_alb('http_5xx_per_second')} / {_alb('requests_per_second')}",
                                               legend)], S.PERCENT_RATIO, w=8,
                     thresholds=t.above("AlbHttp5xxRatioHigh"),
                     description="Share of requests the load balancer itself answered with a 5xx (no healthy "
                                 "target, timeouts, connection errors; targets' own 5xx are on the ECS dashboard)."),
        S.timeseries("ALB rejected connections", [S.Query(_alb("rejected_connections_per_second"), legend)],
                     S.PER_SECOND, w=8, thresholds=t.above("AlbRejectedConnections"),
                     description="Connections per second refused because the load balancer hit its limit."),
        S.timeseries("ALB target health", [
            S.Query(f"docqet_alb_target_group_healthy_targets{_TG}", f"healthy {tg_legend}"),
            S.Query(f"docqet_alb_target_group_unhealthy_targets{_TG}", f"unhealthy {tg_legend}")], S.COUNT, w=16,
                     description="Healthy (minimum) and unhealthy (maximum) targets of each target group. Unhealthy "
                                 "targets for 10 minutes warn (AlbTargetGroupUnhealthyTargets); no healthy target "
                                 "while some are registered pages (AlbTargetGroupNoHealthyTargets)."),
        S.table("Load balancers", [S.Query(f"docqet_alb_info{_LB}")], w=8,
                hide=("Time", "Value", "__name__", "job", "instance"),
                description="Scheme (internet-facing or internal) of each application load balancer."),
    ])


def build(t: Thresholds) -> G.Dashboard:
    rows = [alb_row(t)]
    variables = [
        S.query_variable("account", "docqet_alb_info"),
        S.query_variable("region", "docqet_alb_info", label_filter='account=~"$account"'),
        S.query_variable("load_balancer", "docqet_alb_info", label_filter='account=~"$account", region=~"$region"',
                         title="Load balancer"),
        S.query_variable("target_group", "docqet_alb_target_group_healthy_targets", title="Target group",
                         label_filter='account=~"$account", region=~"$region", load_balancer=~"$load_balancer"'),
    ]
    return S.dashboard(UID, TITLE, rows, variables, tags=["edge", "alb"])
