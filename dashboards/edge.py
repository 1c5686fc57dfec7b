"""Edge: what users reach first — CloudFront, the WAF in front of it, Route 53 health checks (the outside view),
API Gateway and the Application Load Balancer. One function per row; each system's row reads only its own
exported families."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.EDGE
TITLE = "Docqet / Edge"

_DIST = S.matchers("account", "distribution")
_CHECK = S.matchers("account", "health_check")
_STAGE = S.matchers("account", "region", "api", "stage")
_ACL = S.matchers("account", "web_acl")
_LB = S.matchers("account", "region", "load_balancer")
_TG = S.matchers("account", "region", "load_balancer", "target_group")
# the `region` variable: the regions of the regional edge systems (load balancers and API stages)
_REGIONAL_INFO = ("docqet_alb_info", "docqet_apigateway_api_info")


def _cf(metric: str) -> str:
    return f"docqet_cloudfront_{metric}{_DIST}"


def _api(metric: str) -> str:
    return f"docqet_apigateway_{metric}{_STAGE}"


def _alb(metric: str) -> str:
    return f"docqet_alb_{metric}{_LB}"


def cloudfront_row(t: Thresholds) -> S.Row:
    legend = "{{distribution}}"
    return S.Row("CloudFront", [
        S.timeseries("CloudFront requests", [S.Query(_cf("requests_per_second"), legend)], S.REQUESTS_PER_SECOND,
                     w=8, description="Viewer requests per second of each distribution."),
        S.timeseries("CloudFront 5xx error ratio", [S.Query(_cf("5xx_error_ratio"), legend)], S.PERCENT_RATIO, w=8,
                     thresholds=t.above("CloudFront5xxErrorRatioHigh"),
                     description="Share of viewer requests answered with a 5xx (origin failures, timeouts, "
                                 "CloudFront errors)."),
        S.timeseries("CloudFront 4xx error ratio", [S.Query(_cf("4xx_error_ratio"), legend)], S.PERCENT_RATIO, w=8,
                     thresholds=t.above("CloudFront4xxErrorRatioUnusual", "min_ratio"),
                     description="Share of viewer requests answered with a 4xx; the alert compares it with the "
                                 "last day's average."),
        S.timeseries("CloudFront cache hit ratio", [S.Query(_cf("cache_hit_ratio"), legend)], S.PERCENT_RATIO, w=8,
                     description="Share of cacheable requests served from the edge cache. Empty for "
                                 "distributions without CloudFront's additional metrics."),
        S.timeseries("CloudFront bytes downloaded", [S.Query(_cf("bytes_downloaded_per_second"), legend)],
                     "Bps", w=8, description="Bytes per second viewers downloaded."),
        S.table("CloudFront distributions", [S.Query(f"docqet_cloudfront_distribution_info{_DIST}")], w=8,
                hide=("Time", "Value", "__name__", "job", "instance"),
                description="Domain name, first alias (CNAME) and whether each distribution is enabled."),
    ])


def waf_row(t: Thresholds) -> S.Row:
    legend = "{{web_acl}} {{rule}} ({{region}} {{account}})"
    whole = 'rule="ALL"'
    return S.Row("WAF", [
        S.timeseries("WAF allowed requests", [
            S.Query(f'docqet_waf_allowed_requests_per_second{S.matchers("account", "web_acl", extra=whole)}', legend)],
            S.REQUESTS_PER_SECOND, w=8, description="Requests each web ACL let through (whole ACL)."),
        S.timeseries("WAF blocked requests", [S.Query(f"docqet_waf_blocked_requests_per_second{_ACL}", legend)],
                     S.REQUESTS_PER_SECOND, w=10, thresholds=t.above("WafBlockedRequestsSpike", "min_per_second"),
                     description="Requests blocked by each web ACL (rule ALL) and by each of its rules. Several "
                                 "times the last day's average notifies (WafBlockedRequestsSpike)."),
        S.table("WAF web ACLs", [S.Query(f"docqet_waf_web_acl_info{_ACL}")], w=6,
                hide=("Time", "Value", "__name__", "job", "instance"),
                description="Web ACLs by scope; CLOUDFRONT ones have the region `global`."),
    ])


def route53_row(t: Thresholds) -> S.Row:
    named = f"* on(account, health_check) group_left(name) docqet_route53_health_check_info{_CHECK}"
    legend = "{{name}} ({{health_check}})"
    return S.Row("Route 53 health checks", [
        S.state_timeline("Route 53 health check status", [
            S.Query(f"docqet_route53_health_check_up{_CHECK} {named}", legend)], S.UP_DOWN, w=10,
            description="Healthy (1) or not (0), as Route 53's checkers see each endpoint from the internet. "
                        "Unhealthy for 2 minutes pages (Route53HealthCheckFailing)."),
        S.timeseries("Route 53 healthy checkers", [
            S.Query(f"docqet_route53_health_check_healthy_ratio{_CHECK} {named}", legend)], S.PERCENT_RATIO, w=7,
            description="Share of Route 53 checkers (in several regions) that see the endpoint healthy; a dip "
                        "without a failure is one region's path to the endpoint."),
        S.table("Route 53 health checks", [S.Query(f"docqet_route53_health_check_info{_CHECK}")], w=7,
                hide=("Time", "Value", "__name__", "job", "instance"),
                description="Name tag, type and target (protocol://host:port/path) of each health check."),
    ])


def apigateway_row(t: Thresholds) -> S.Row:
    legend = "{{api}}/{{stage}} ({{region}} {{account}})"
    return S.Row("API Gateway", [
        S.timeseries("API Gateway requests", [S.Query(_api("requests_per_second"), legend)], S.REQUESTS_PER_SECOND,
                     w=6, description="Requests per second of each API stage."),
        S.timeseries("API Gateway 5xx ratio", [
            S.Query(f"{_api('5xx_per_second')} / {_api('requests_per_second')}", legend)], S.PERCENT_RATIO, w=6,
            thresholds=t.above("ApiGateway5xxRatioHigh"),
            description="Share of requests failing with a 5xx (integration errors and timeouts)."),
        S.timeseries("API Gateway 4xx ratio", [
            S.Query(f"{_api('4xx_per_second')} / {_api('requests_per_second')}", legend)], S.PERCENT_RATIO, w=6,
            thresholds=t.above("ApiGateway4xxRatioHigh"),
            description="Share of requests rejected with a 4xx: throttling (429), authorisation, bad requests."),
        S.timeseries("API Gateway p95 latency", [
            S.Query(_api("latency_p95_seconds"), f"total {legend}"),
            S.Query(_api("integration_latency_p95_seconds"), f"integration {legend}")], S.SECONDS, w=6,
            thresholds=t.above("ApiGatewayLatencyP95High"),
            description="95th percentile of the whole request and of the backend (integration) alone; the "
                        "difference is API Gateway's own overhead (authorisers, mapping)."),
        S.table("API Gateway stages", [S.Query(f"docqet_apigateway_api_info{_STAGE}")], w=24, h=6,
                hide=("Time", "Value", "__name__", "job", "instance"),
                description="Each deployed stage with its API id and protocol (rest: v1, http: v2)."),
    ])


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
    rows = [cloudfront_row(t), waf_row(t), route53_row(t), apigateway_row(t), alb_row(t)]
    acc = 'account=~"$account"'
    regional = f'__name__=~"{"|".join(_REGIONAL_INFO)}", {acc}'
    variables = [
        S.query_variable("account", "docqet_exporter_account_info"),
        S.query_variable("region", "", label_filter=regional),
        S.query_variable("distribution", "docqet_cloudfront_distribution_info", label_filter=acc),
        S.query_variable("web_acl", "docqet_waf_web_acl_info", label_filter=acc),
        S.query_variable("health_check", "docqet_route53_health_check_info", label_filter=acc),
        S.query_variable("api", "docqet_apigateway_api_info", label_filter=f'{acc}, region=~"$region"'),
        S.query_variable("stage", "docqet_apigateway_api_info", label_filter=f'{acc}, region=~"$region", api=~"$api"'),
        S.query_variable("load_balancer", "docqet_alb_info", label_filter=f'{acc}, region=~"$region"',
                         title="Load balancer"),
        S.query_variable("target_group", "docqet_alb_target_group_healthy_targets", title="Target group",
                         label_filter=f'{acc}, region=~"$region", load_balancer=~"$load_balancer"'),
    ]
    return S.dashboard(UID, TITLE, rows, variables,
                       tags=["edge", "cloudfront", "waf", "route53", "apigateway", "alb"])
