"""The edge collectors (CloudFront, Route 53, API Gateway, WAF): pure parsing and families, then against moto
with the real AWS limits (pages of one item, so every pagination loop runs)."""

from __future__ import annotations

import dataclasses
from typing import Any

import boto3
import pytest
from aws_limits import AwsLimits
from helpers import parsed, samples, value

from docqet_monitor.alerts import catalog
from docqet_monitor.alerts import cloudwatch as cw
from docqet_monitor.alerts.spec import AlertRule
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import plan as p
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AwsConfig, CollectorsConfig, Config, EdgeCollectorConfig, ExporterConfig
from docqet_monitor.core.discovery import Target
from docqet_monitor.core.discovery.apigateway import ApiStage, http_apis, rest_apis, stage_names
from docqet_monitor.core.discovery.cloudfront import Distribution, parse_distribution
from docqet_monitor.core.discovery.route53 import HealthCheck, parse_health_check, target
from docqet_monitor.core.discovery.waf import WebAcl, parse_web_acl
from docqet_monitor.demo import edge as demo
from docqet_monitor.exporters import apigateway, cloudfront, collectors, route53, waf

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account

# --- pure ---------------------------------------------------------------------------------------


def test_health_check_targets() -> None:
    assert target({"Type": "HTTPS", "FullyQualifiedDomainName": "app.docqet.example", "Port": 443,
                   "ResourcePath": "/healthz"}) == "https://app.docqet.example:443/healthz"
    assert target({"Type": "HTTP_STR_MATCH", "IPAddress": "10.0.0.1", "Port": 80, "ResourcePath": "status"}) \
        == "http://10.0.0.1:80/status"
    assert target({"Type": "TCP", "IPAddress": "2001:db8::1", "Port": 5432}) == "tcp://[2001:db8::1]:5432"
    assert target({"Type": "CALCULATED", "ChildHealthChecks": ["a"]}) == ""
    assert parse_health_check({"HealthCheckConfig": {"Type": "HTTPS"}}) is None
    assert parse_health_check({"Id": "abc", "HealthCheckConfig": {"Type": "CALCULATED"}}) == \
        HealthCheck("abc", "CALCULATED", "")


def test_route53_families_convert_and_leave_out_what_has_no_data() -> None:
    checks = [HealthCheck("hc-1", "HTTPS", "https://a:443/", "app"), HealthCheck("hc-2", "CALCULATED", "", "")]
    values = {route53._query("hc-1", "HealthCheckStatus", "Minimum", 60): 0.0,
              route53._query("hc-1", "HealthCheckPercentageHealthy", "Average", 60): 37.5,
              route53._query("hc-2", "HealthCheckStatus", "Minimum", 60): 1.0}
    fams = route53.families(ACCOUNT, checks, values, 60)
    assert value(fams, "docqet_route53_health_check_up", health_check="hc-1") == 0
    assert value(fams, "docqet_route53_health_check_healthy_ratio", health_check="hc-1") == 0.375
    assert value(fams, "docqet_route53_health_check_up", health_check="hc-2") == 1
    assert value(fams, "docqet_route53_health_check_healthy_ratio", health_check="hc-2") is None
    assert samples(fams, "docqet_route53_health_check_info")[
        (("account", ACCOUNT), ("health_check", "hc-2"), ("name", ""), ("target", ""), ("type", "CALCULATED"))] == 1


def test_cloudfront_without_additional_metrics_has_no_cache_hit_series() -> None:
    dist = parse_distribution({"Id": "E1", "DomainName": "d1.cloudfront.net", "Enabled": False,
                               "Aliases": {"Quantity": 2, "Items": ["docs.docqet.example", "www.docqet.example"]}})
    assert dist == Distribution("E1", "d1.cloudfront.net", "docs.docqet.example", False)
    values = {cloudfront._query("E1", "Requests", "Sum", 60): 600.0,
              cloudfront._query("E1", "5xxErrorRate", "Average", 60): 2.5}
    fams = cloudfront.families(ACCOUNT, [dist], values, 60)
    assert value(fams, "docqet_cloudfront_requests_per_second", distribution="E1") == 10
    assert value(fams, "docqet_cloudfront_5xx_error_ratio", distribution="E1") == 0.025
    assert samples(fams, "docqet_cloudfront_cache_hit_ratio") == {}
    assert value(fams, "docqet_cloudfront_distribution_info", alias="docs.docqet.example", enabled="false") == 1
    query = cloudfront._query("E1", "Requests", "Sum", 60)
    assert query.dimensions == (("DistributionId", "E1"), ("Region", "Global"))


def test_apigateway_dimensions_and_metric_names_per_protocol() -> None:
    assert rest_apis([{"name": "public", "id": "r1"}, {"id": "nameless"}]) == [("public", "r1")]
    assert http_apis([{"Name": "up", "ApiId": "h1", "ProtocolType": "HTTP"},
                      {"Name": "ws", "ApiId": "w1", "ProtocolType": "WEBSOCKET"}]) == [("up", "h1")]
    assert stage_names([{"stageName": "prod"}, {}], "stageName") == ["prod"]
    rest, http = ApiStage("public", "r1", "rest", "prod"), ApiStage("up", "h1", "http", "$default")
    by_metric = {(q.metric, q.dimensions) for q in apigateway.queries([rest, http], 60)}
    assert ("5XXError", (("ApiName", "public"), ("Stage", "prod"))) in by_metric
    assert ("5xx", (("ApiId", "h1"), ("Stage", "$default"))) in by_metric
    values = {apigateway._query(rest, "docqet_apigateway_latency_p95_seconds", 60): 250.0,
              apigateway._query(http, "docqet_apigateway_5xx_per_second", 60): 30.0}
    fams = apigateway.families(ACCOUNT, REGION, [rest, http], values, 60)
    assert value(fams, "docqet_apigateway_latency_p95_seconds", api="public", stage="prod") == 0.25
    assert value(fams, "docqet_apigateway_5xx_per_second", api="up", stage="$default") == 0.5
    assert samples(fams, "docqet_apigateway_requests_per_second") == {}


def test_waf_dimensions_by_scope() -> None:
    raw = {"Name": "edge", "Id": "1", "VisibilityConfig": {"MetricName": "edgeM", "CloudWatchMetricsEnabled": True},
           "Rules": [{"Name": "rate", "VisibilityConfig": {"MetricName": "rateM", "CloudWatchMetricsEnabled": True}},
                     {"Name": "quiet", "VisibilityConfig": {"MetricName": "q", "CloudWatchMetricsEnabled": False}}]}
    edge = parse_web_acl(raw, "CLOUDFRONT")
    assert edge == WebAcl("edge", "1", "CLOUDFRONT", "edgeM", (("rate", "rateM"),))
    api = WebAcl("api", "2", "REGIONAL", "apiM")
    dims = {q.dimensions for q in waf.queries([edge, api], "us-east-1", 60)}
    assert (("Rule", "ALL"), ("WebACL", "edgeM")) in dims
    assert (("Region", "us-east-1"), ("Rule", "ALL"), ("WebACL", "apiM")) in dims
    values = {waf._query(edge, "us-east-1", "rateM", "BlockedRequests", 60): 120.0,
              waf._query(api, "us-east-1", "ALL", "AllowedRequests", 60): 60.0}
    fams = waf.families(ACCOUNT, "us-east-1", [edge, api], values, 60)
    assert value(fams, "docqet_waf_blocked_requests_per_second", region="global", web_acl="edge", rule="rate") == 2
    assert value(fams, "docqet_waf_allowed_requests_per_second", region="us-east-1", web_acl="api", rule="ALL") == 1
    assert value(fams, "docqet_waf_web_acl_info", region="global", web_acl="edge", scope="CLOUDFRONT") == 1
    assert waf.queries([WebAcl("no-metrics", "3", "REGIONAL")], "us-east-1", 60) == []


# --- against moto -------------------------------------------------------------------------------


def _config(regions: tuple[str, ...] = (REGION,), names: tuple[str, ...] = ()) -> Config:
    edge = EdgeCollectorConfig(names=names)
    return Config(regions=regions, aws=AwsConfig(max_attempts=1), collectors=CollectorsConfig(
        cloudfront=edge, route53=edge, apigateway=edge, waf=edge))


def _second_of_each(endpoint: str) -> None:
    """One more resource of each kind, so pages of one item need two calls."""
    r53 = boto3.client("route53", region_name="us-east-1")
    r53.create_health_check(CallerReference="second", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "192.0.2.10", "Port": 5432, "RequestInterval": 30, "FailureThreshold": 3})
    cf = boto3.client("cloudfront", region_name="us-east-1")
    cf.create_distribution(DistributionConfig={
        "CallerReference": "second", "Comment": "", "Enabled": False,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "o.docqet.example", "CustomOriginConfig": {
            "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})
    boto3.client("apigateway", region_name=REGION).create_rest_api(name="no-stages")
    v2 = boto3.client("apigatewayv2", region_name=REGION)
    v2.create_api(Name="sockets", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    api = v2.create_api(Name="two-stages", ProtocolType="HTTP")["ApiId"]
    for stage in ("blue", "green"):
        v2.create_stage(ApiId=api, StageName=stage)
    boto3.client("wafv2", region_name=REGION).create_web_acl(
        Name="dark", Scope="REGIONAL", DefaultAction={"Allow": {}}, Rules=[], VisibilityConfig={
            "SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": True, "MetricName": "dark"})


def test_seeded_edge_with_pages_of_one(moto_endpoint: str) -> None:
    env = demo.seed_edge(moto_endpoint, REGION)
    _second_of_each(moto_endpoint)
    limits = AwsLimits(page_size=1)
    aws = Aws(session_factory=limits.session)
    config = _config()
    results = {c.name: c.collect() for c in (route53.collector(config, aws), cloudfront.collector(config, aws),
                                              apigateway.collector(config, aws), waf.collector(config, aws))}
    limits.assert_clean()
    assert {name: r.errors for name, r in results.items()} == dict.fromkeys(results, ())
    fams = [f for r in results.values() for f in r.families]

    assert value(fams, "docqet_route53_health_check_up", health_check=env.health_check_id) == 1
    assert value(fams, "docqet_route53_health_check_healthy_ratio", health_check=env.health_check_id) == 1
    info = {dict(k)["name"]: dict(k) for k in samples(fams, "docqet_route53_health_check_info")}
    assert info["docqet-app"]["target"] == "https://app.docqet.example:443/healthz"
    assert info[""]["target"] == "tcp://192.0.2.10:5432"
    assert limits.calls["route-53.ListHealthChecks"] == 2
    assert limits.calls["route-53.ListTagsForResources"] == 1  # both ids in one call

    d = env.distribution_id
    assert value(fams, "docqet_cloudfront_requests_per_second", distribution=d) == demo.CLOUDFRONT["Requests"] / 60
    assert value(fams, "docqet_cloudfront_5xx_error_ratio", distribution=d) == pytest.approx(0.001)
    assert value(fams, "docqet_cloudfront_cache_hit_ratio", distribution=d) == pytest.approx(0.86)
    assert len(samples(fams, "docqet_cloudfront_distribution_info")) == 2
    assert limits.calls["cloudfront.ListDistributions"] == 2

    stages = {(dict(k)["api"], dict(k)["stage"], dict(k)["protocol"])
              for k in samples(fams, "docqet_apigateway_api_info")}
    assert stages == {("docqet-public", "prod", "rest"), ("docqet-upload", "$default", "http"),
                      ("two-stages", "blue", "http"), ("two-stages", "green", "http")}
    assert value(fams, "docqet_apigateway_requests_per_second", api="docqet-public", stage="prod") == 10
    assert value(fams, "docqet_apigateway_latency_p95_seconds", api="docqet-public") == pytest.approx(0.14)
    assert value(fams, "docqet_apigateway_5xx_per_second", api="docqet-upload") == pytest.approx(0.005)
    assert limits.calls["api-gateway.GetRestApis"] == 2 and limits.calls["api-gateway.GetStages"] == 2
    assert limits.calls["apigatewayv2.GetApis"] == 3 and limits.calls["apigatewayv2.GetStages"] == 1 + 2

    blocked = samples(fams, "docqet_waf_blocked_requests_per_second")
    assert {(dict(k)["region"], dict(k)["web_acl"], dict(k)["rule"]) for k in blocked} == {
        (REGION, "docqet-api", "ALL"), ("global", "docqet-edge", "ALL"), ("global", "docqet-edge", "rate-limit")}
    assert {dict(k)["web_acl"] for k in samples(fams, "docqet_waf_web_acl_info")} == {"docqet-api", "docqet-edge",
                                                                                        "dark"}
    assert limits.calls["wafv2.ListWebACLs"] == 2 + 1 and limits.calls["wafv2.GetWebACL"] == 3
    assert {s.name for f in parsed(fams) for s in f.samples} == {
        *route53.METRIC_NAMES, *cloudfront.METRIC_NAMES, *apigateway.METRIC_NAMES, *waf.METRIC_NAMES}
    assert {s.labels["account"] for f in parsed(fams) for s in f.samples} == {ACCOUNT}  # every series, global ones too


def test_global_services_are_read_once_per_account_in_us_east_1(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_edge(moto_endpoint, REGION)
    aws = Aws(session_factory=aws_limits.session)
    config = _config(regions=(REGION, "us-west-2"))
    for build in (route53.collector, cloudfront.collector):
        assert build(config, aws).collect().errors == ()
    assert aws_limits.calls["route-53.ListHealthChecks"] == 1
    assert aws_limits.calls["cloudfront.ListDistributions"] == 1
    regions = {p["MetricDataQueries"][0]["MetricStat"]["Metric"]["Namespace"]
               for p in aws_limits.params["cloudwatch.GetMetricData"]}
    assert regions == {"AWS/Route53", "AWS/CloudFront"}
    result = waf.collector(config, aws).collect()
    assert result.errors == ()
    scopes = sorted(p["Scope"] for p in aws_limits.params["wafv2.ListWebACLs"])
    assert scopes == ["CLOUDFRONT", "REGIONAL", "REGIONAL"]  # two regions, one global read


def test_names_filter(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    env = demo.seed_edge(moto_endpoint, REGION)
    _second_of_each(moto_endpoint)
    config = _config(names=("docqet-app", env.distribution_id, "docqet-upload", "docqet-edge"))
    aws = Aws(session_factory=aws_limits.session)
    fams = [f for build in (route53.collector, cloudfront.collector, apigateway.collector, waf.collector)
            for f in build(config, aws).collect().families]
    assert [dict(k)["name"] for k in samples(fams, "docqet_route53_health_check_info")] == ["docqet-app"]
    assert [dict(k)["distribution"] for k in samples(fams, "docqet_cloudfront_distribution_info")] == [
        env.distribution_id]
    assert {dict(k)["api"] for k in samples(fams, "docqet_apigateway_api_info")} == {"docqet-upload"}
    assert {dict(k)["web_acl"] for k in samples(fams, "docqet_waf_web_acl_info")} == {"docqet-edge"}
    assert aws_limits.calls["wafv2.GetWebACL"] == 1  # ACLs filtered out are not described


def test_nothing_found_means_no_series_and_no_metric_reads(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    aws = Aws(session_factory=aws_limits.session)
    for build in (route53.collector, cloudfront.collector, apigateway.collector, waf.collector):
        result = build(_config(), aws).collect()
        assert result.errors == ()
        assert [s for f in parsed(result.families) for s in f.samples] == []
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 0
    assert aws_limits.calls["route-53.ListTagsForResources"] == 0


# --- CloudWatch alarms (sync) -------------------------------------------------------------------


def test_edge_alarms_global_ones_in_us_east_1(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    env = demo.seed_edge(moto_endpoint, REGION)
    config = config_mod.parse({"environment": "staging", "regions": [REGION],
                               "cloudwatch_alarms": {"composite_alarms": False}})
    session = aws_limits.session()

    def clients(t: Target, service: str) -> Any:
        return session.client(service, region_name=t.region)

    def runbook(rule: AlertRule) -> str:
        return f"https://rb/{rule.runbook}"

    plan = cw.make_plan(config, catalog.rules(config), clients, False, runbook)
    alarms = {c.key: c.desired for c in plan.changes if c.desired}
    health = alarms["us-east-1/docqet-staging-docqet-app-Route53HealthCheckFailing"]
    assert (health["Namespace"], health["MetricName"], health["Statistic"], health["Threshold"]) == (
        "AWS/Route53", "HealthCheckStatus", "Minimum", 1.0)
    assert health["Dimensions"] == [{"Name": "HealthCheckId", "Value": env.health_check_id}]
    edge = alarms["us-east-1/docqet-staging-docs.docqet.example-CloudFront5xxErrorRatioHigh"]
    assert edge["Threshold"] == 5.0  # percent
    assert edge["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "DistributionId", "Value": env.distribution_id}, {"Name": "Region", "Value": "Global"}]
    rest = alarms[f"{REGION}/docqet-staging-docqet-public-prod-ApiGateway5xxRatioHigh"]
    http = alarms[f"{REGION}/docqet-staging-docqet-upload-default-ApiGateway5xxRatioHigh"]
    assert [m["MetricStat"]["Metric"]["MetricName"] for m in rest["Metrics"] if "MetricStat" in m] == [
        "5XXError", "Count"]
    assert [m["MetricStat"]["Metric"]["MetricName"] for m in http["Metrics"] if "MetricStat" in m] == ["5xx", "Count"]
    assert http["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"][0] == {"Name": "ApiId", "Value": env.http_api_id}
    report = p.apply(plan, cw.writer(config, clients))
    assert report.ok, report.render()
    names = {a["AlarmName"] for a in session.client("cloudwatch", region_name="us-east-1")
             .describe_alarms(MaxRecords=100)["MetricAlarms"]}
    assert names == {"docqet-staging-docqet-app-Route53HealthCheckFailing",
                     "docqet-staging-docs.docqet.example-CloudFront5xxErrorRatioHigh"}
    assert cw.make_plan(config, catalog.rules(config), clients, False, runbook).changes == ()


def test_sharded_global_services_run_on_shard_1_and_the_union_is_the_whole(moto_endpoint: str,
                                                                             aws_limits: AwsLimits) -> None:
    demo.seed_edge(moto_endpoint, REGION)

    def run(shard: str) -> tuple[set[str], set[tuple[tuple[str, str], ...]]]:
        config = dataclasses.replace(_config(regions=(REGION, "us-east-1")), exporter=ExporterConfig(shard=shard))
        built = collectors.build(config, Aws(session_factory=aws_limits.session))
        edge = [c for c in built if c.name in ("cloudfront", "route53", "apigateway", "waf")]
        found = {(s.name, *sorted(s.labels.items()))
                 for c in edge for f in parsed(c.collect().families) for s in f.samples}
        return {c.name for c in edge}, found

    names_1, whole_1 = run("1/2")
    names_2, whole_2 = run("2/2")
    assert names_1 == {"cloudfront", "route53", "apigateway", "waf"} and names_2 == {"apigateway", "waf"}
    assert not any(dict(s[1:]).get("region") == "global" for s in whole_2)  # CloudFront ACLs: shard 1's
    _, whole = run("")
    assert whole_1 | whole_2 == whole and not whole_1 & whole_2


@pytest.mark.parametrize(("region", "home"), [("cn-north-1", "cn-northwest-1"), ("us-gov-east-1", "us-gov-west-1")])
def test_global_services_are_read_where_the_partition_serves_them(region: str, home: str, moto_endpoint: str,
                                                                  aws_limits: AwsLimits) -> None:
    """China serves CloudFront, Route 53 and Cost Explorer from cn-northwest-1; GovCloud serves Route 53 from
    us-gov-west-1 and has no CloudFront (nor CLOUDFRONT web ACLs) and no Cost Explorer: those collectors are off
    there, instead of failing every refresh against us-east-1, which the partition's credentials cannot reach."""
    boto3.client("route53", region_name=home).create_health_check(CallerReference="r", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "192.0.2.10", "Port": 5432, "RequestInterval": 30, "FailureThreshold": 3})
    aws = Aws(session_factory=aws_limits.session)
    built = {c.name: c for c in collectors.build(_config(regions=(region,)), aws)}
    china = region.startswith("cn-")
    assert built["route53"].targets == (Target(home),)
    assert ("cloudfront" in built, "cost" in built) == (china, china)
    assert built["waf"].targets == ((Target(region), Target(home)) if china else (Target(region),))
    for name in ("route53", "waf", *(("cloudfront",) if china else ())):
        assert built[name].collect().errors == (), name
    fams = built["route53"].collect().families
    assert len(samples(fams, "docqet_route53_health_check_info")) == 1
    assert sorted(p["Scope"] for p in aws_limits.params["wafv2.ListWebACLs"]) == (
        ["CLOUDFRONT", "REGIONAL"] if china else ["REGIONAL"])
    if china:
        assert built["cost"].explorer.client.meta.region_name == home


def test_edge_alarms_live_where_the_partition_serves_the_service(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    """GovCloud: the Route 53 alarm in us-gov-west-1 (Route 53's home there), no CloudFront read at all."""
    boto3.client("route53", region_name="us-gov-west-1").create_health_check(CallerReference="r", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "192.0.2.10", "Port": 5432, "RequestInterval": 30, "FailureThreshold": 3})
    config = config_mod.parse({"environment": "staging", "regions": ["us-gov-east-1"],
                               "cloudwatch_alarms": {"composite_alarms": False}})
    session = aws_limits.session()

    def clients(t: Target, service: str) -> Any:
        return session.client(service, region_name=t.region)

    plan = cw.make_plan(config, catalog.rules(config), clients, False, lambda rule: f"https://rb/{rule.runbook}")
    route53_alarms = [c.key for c in plan.changes if c.desired and "Route53" in c.key]
    assert [key.split("/")[0] for key in route53_alarms] == ["us-gov-west-1"]
    assert aws_limits.calls["cloudfront.ListDistributions"] == 0
    assert {key.split("/")[0] for key in (c.key for c in plan.changes)} <= {"us-gov-east-1", "us-gov-west-1"}
