"""The demo's edge of Docqet, seeded into moto: what the CloudFront, Route 53, API Gateway and WAF collectors read.

::

    seed_edge(endpoint_url, region="eu-west-1", *, now=None, ahead_minutes=120, session=None) -> EdgeEnvironment

creates, in us-east-1 (global services): the Route 53 health check ``docqet-app`` (Name tag), the CloudFront
distribution in front of ``docs.docqet.example`` and the CLOUDFRONT web ACL ``docqet-edge`` with a rate-limit
rule; in ``region``: the REST API ``docqet-public`` (stage ``prod``), the HTTP API ``docqet-upload`` (stage
``$default``) and the REGIONAL web ACL ``docqet-api``; and one CloudWatch datapoint a minute for each metric
the collectors read (values in :data:`CLOUDFRONT`, :data:`HEALTH_CHECK`, :data:`API_METRICS`, :data:`WAF`), from
30 minutes before ``now`` to ``ahead_minutes`` after it.

moto has all of these APIs (ListHealthChecks, ListTagsForResources, ListDistributions, GetRestApis, GetStages,
GetApis, ListWebACLs, GetWebACL). It does not compute any of these metrics itself (nor do real services publish
them for an idle account): the datapoints are put with PutMetricData, as AWS would publish them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3

from docqet_monitor.demo.aws import REGION, DemoContext, Series, dimensions, minutely, put_datapoints

HOME = "us-east-1"  # where the demo's partition (aws) serves CloudFront, Route 53 and CLOUDFRONT web ACLs
HEALTH_CHECK_NAME = "docqet-app"
HEALTH_CHECK = {"HealthCheckStatus": 1.0, "HealthCheckPercentageHealthy": 100.0}
ALIAS = "docs.docqet.example"
# CloudFront: per minute (Requests, BytesDownloaded) or percent (the rates); CacheHitRate: additional metrics on
CLOUDFRONT = {"Requests": 1800.0, "BytesDownloaded": 2.4e8, "4xxErrorRate": 1.2, "5xxErrorRate": 0.1,
              "CacheHitRate": 86.0}
REST_API, REST_STAGE = "docqet-public", "prod"
HTTP_API, HTTP_STAGE = "docqet-upload", "$default"
# per minute (Count, errors) or milliseconds (latencies); the HTTP API names its errors 4xx/5xx
API_METRICS = {"Count": 600.0, "4XXError": 9.0, "5XXError": 0.6, "Latency": 140.0, "IntegrationLatency": 110.0}
EDGE_ACL, EDGE_ACL_METRIC, RATE_RULE, RATE_RULE_METRIC = "docqet-edge", "docqetEdge", "rate-limit", "docqetEdgeRate"
API_ACL, API_ACL_METRIC = "docqet-api", "docqetApi"
WAF = {"AllowedRequests": 1750.0, "BlockedRequests": 50.0}  # per minute, the whole ACL (the rule blocks them all)


@dataclass(frozen=True)
class EdgeEnvironment:
    """What :func:`seed_edge` created."""

    region: str
    health_check_id: str
    distribution_id: str
    rest_api_id: str
    http_api_id: str


def seed_edge(endpoint_url: str, region: str = REGION, *, now: float | None = None, ahead_minutes: int = 120,
              session: boto3.Session | None = None) -> EdgeEnvironment:
    """Create the edge resources and their CloudWatch datapoints in the AWS emulator at ``endpoint_url``."""
    session = session or boto3.Session()

    def client(service: str, where: str = region) -> Any:
        return session.client(service, endpoint_url=endpoint_url, region_name=where)

    health_check = _seed_health_check(client("route53", HOME))
    distribution = _seed_distribution(client("cloudfront", HOME))
    _seed_web_acl(client("wafv2", HOME), "CLOUDFRONT", EDGE_ACL, EDGE_ACL_METRIC, with_rule=True)
    _seed_web_acl(client("wafv2"), "REGIONAL", API_ACL, API_ACL_METRIC)
    rest_api = _seed_rest_api(client("apigateway"))
    http_api = client("apigatewayv2").create_api(Name=HTTP_API, ProtocolType="HTTP")["ApiId"]
    client("apigatewayv2").create_stage(ApiId=http_api, StageName=HTTP_STAGE)
    env = EdgeEnvironment(region, health_check, distribution, rest_api, http_api)
    now = now or time.time()
    put_datapoints(client("cloudwatch", HOME), minutely(global_series(env), now, ahead_minutes))
    put_datapoints(client("cloudwatch", region), minutely(regional_series(env), now, ahead_minutes))
    return env


def _seed_health_check(route53: Any) -> str:
    check = route53.create_health_check(CallerReference=f"docqet-demo-{time.time_ns()}", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": "app.docqet.example", "Port": 443, "ResourcePath": "/healthz",
        "RequestInterval": 30, "FailureThreshold": 3})["HealthCheck"]["Id"]
    route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check,
                                     AddTags=[{"Key": "Name", "Value": HEALTH_CHECK_NAME}])
    return check


def _seed_distribution(cloudfront: Any) -> str:
    return cloudfront.create_distribution(DistributionConfig={
        "CallerReference": f"docqet-demo-{time.time_ns()}", "Comment": "Docqet documents", "Enabled": True,
        "Aliases": {"Quantity": 1, "Items": [ALIAS]},
        "Origins": {"Quantity": 1, "Items": [{"Id": "app", "DomainName": "app.docqet.example", "CustomOriginConfig": {
            "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "app", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    })["Distribution"]["Id"]


def _visibility(metric: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": metric}


def _seed_web_acl(wafv2: Any, scope: str, name: str, metric: str, with_rule: bool = False) -> None:
    rules = [{"Name": RATE_RULE, "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": _visibility(
        RATE_RULE_METRIC), "Statement": {"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP"}}}]
    wafv2.create_web_acl(Name=name, Scope=scope, DefaultAction={"Allow": {}}, VisibilityConfig=_visibility(metric),
                         Rules=rules if with_rule else [])


def _seed_rest_api(apigateway: Any) -> str:
    api = apigateway.create_rest_api(name=REST_API)["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName=REST_STAGE)
    return api


def global_series(env: EdgeEnvironment) -> Series:
    """(namespace, metric, dimensions, value per minute) of the us-east-1 series (pure)."""
    result: Series = [("AWS/Route53", m, dimensions(HealthCheckId=env.health_check_id), v)
                      for m, v in HEALTH_CHECK.items()]
    result += [("AWS/CloudFront", m, dimensions(DistributionId=env.distribution_id, Region="Global"), v)
               for m, v in CLOUDFRONT.items()]
    for metric, value in WAF.items():
        result.append(("AWS/WAFV2", metric, dimensions(Rule="ALL", WebACL=EDGE_ACL_METRIC), value))
    result.append(("AWS/WAFV2", "BlockedRequests", dimensions(Rule=RATE_RULE_METRIC, WebACL=EDGE_ACL_METRIC),
                   WAF["BlockedRequests"]))
    return result


def regional_series(env: EdgeEnvironment) -> Series:
    """(namespace, metric, dimensions, value per minute) of the series in the environment's region (pure)."""
    http_names = {"4XXError": "4xx", "5XXError": "5xx"}
    result: Series = []
    for metric, value in API_METRICS.items():
        result.append(("AWS/ApiGateway", metric, dimensions(ApiName=REST_API, Stage=REST_STAGE), value))
        result.append(("AWS/ApiGateway", http_names.get(metric, metric), dimensions(ApiId=env.http_api_id,
                                                                                Stage=HTTP_STAGE), value / 2))
    result += [("AWS/WAFV2", m, dimensions(Region=env.region, Rule="ALL", WebACL=API_ACL_METRIC), v / 3)
               for m, v in WAF.items()]
    return result


def edge_step(ctx: DemoContext) -> None:
    """Demo step: seed CloudFront, Route 53, WAF (us-east-1) and API Gateway, WAF (the demo region)."""
    env = seed_edge(ctx.endpoint_url, ctx.region, now=ctx.now)
    ctx.extras["edge"] = env
    ctx.echo(f"seeded the edge: CloudFront distribution {env.distribution_id} ({ALIAS}), Route 53 health check "
             f"{HEALTH_CHECK_NAME}, web ACLs {EDGE_ACL} (CloudFront) and {API_ACL}, APIs {REST_API} (REST) and "
             f"{HTTP_API} (HTTP) in {ctx.region}")
