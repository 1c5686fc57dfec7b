"""The ALB collector: pure parsing and metric building, then against moto with the real AWS limits."""

from __future__ import annotations

import boto3
import pytest
from aws_limits import AwsLimits
from helpers import parsed, samples, value

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AlbCollectorConfig, AwsConfig, CollectorsConfig, Config
from docqet_monitor.core.discovery.alb import LoadBalancer, TargetGroup, parse_load_balancer, parse_target_group
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import alb

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
LB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/front/50dc6c495c0c9188"
TG_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/73e2d6bc24d8a067"


# --- pure ---------------------------------------------------------------------------------------


def test_parse_keeps_application_load_balancers_only() -> None:
    raw = {"LoadBalancerArn": LB_ARN, "LoadBalancerName": "front", "Type": "application", "Scheme": "internal"}
    lb = parse_load_balancer(raw)
    assert lb == LoadBalancer(LB_ARN, "front", "internal") and lb.dimension == "app/front/50dc6c495c0c9188"
    assert parse_load_balancer({**raw, "Type": "network"}) is None
    assert parse_load_balancer({"Type": "application"}) is None
    tg = parse_target_group({"TargetGroupArn": TG_ARN, "TargetGroupName": "api", "LoadBalancerArns": [LB_ARN, 3]})
    assert tg == TargetGroup(TG_ARN, "api", (LB_ARN,)) and tg.dimension == "targetgroup/api/73e2d6bc24d8a067"


def test_families_are_rates_with_a_real_zero_only_when_requests_were_counted() -> None:
    front, idle = LoadBalancer(LB_ARN, "front"), LoadBalancer(LB_ARN.replace("front", "idle"), "idle")
    tg, orphan = TargetGroup(TG_ARN, "api", (LB_ARN,)), TargetGroup(TG_ARN.replace("api", "orphan"), "orphan")
    values = {alb.lb_query(front, "RequestCount", 60): 600.0, alb.lb_query(front, "HTTPCode_ELB_5XX_Count", 60): 6.0,
              alb.tg_query(front, tg, "HealthyHostCount", "Minimum", 60): 2.0}
    fams = alb.families(ACCOUNT, REGION, [front, idle], [tg, orphan], values, 60)
    assert value(fams, "docqet_alb_requests_per_second", account=ACCOUNT, load_balancer="front") == 10
    assert value(fams, "docqet_alb_http_5xx_per_second", load_balancer="front") == 0.1
    assert value(fams, "docqet_alb_rejected_connections_per_second", load_balancer="front") == 0  # none published
    assert value(fams, "docqet_alb_requests_per_second", load_balancer="idle") is None  # no requests: no series
    assert value(fams, "docqet_alb_target_group_healthy_targets", load_balancer="front", target_group="api") == 2
    assert samples(fams, "docqet_alb_target_group_unhealthy_targets") == {}
    assert len(samples(fams, "docqet_alb_info")) == 2
    assert {q.metric for q in alb.queries([front], [tg, orphan], 60)} == {
        "RequestCount", "HTTPCode_ELB_5XX_Count", "RejectedConnectionCount", "HealthyHostCount", "UnHealthyHostCount"}


# --- against moto -------------------------------------------------------------------------------


def _config(names: tuple[str, ...] = ()) -> Config:
    return Config(regions=(REGION,), aws=AwsConfig(max_attempts=1),
                  collectors=CollectorsConfig(alb=AlbCollectorConfig(load_balancers=names)))


def test_seeded_staging_values(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, ahead_minutes=5, session=aws_limits.session())
    result = alb.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    fams = result.families
    lb = {"account": ACCOUNT, "region": REGION, "load_balancer": demo.CLUSTER}
    assert value(fams, "docqet_alb_info", **lb, scheme="internet-facing") == 1
    assert value(fams, "docqet_alb_requests_per_second", **lb) == (1500 + 900) / 60
    assert value(fams, "docqet_alb_http_5xx_per_second", **lb) == demo.ALB_ELB_5XX_PER_MINUTE / 60
    assert value(fams, "docqet_alb_target_group_healthy_targets", **lb, target_group="docqet-staging-api") == 3
    assert value(fams, "docqet_alb_target_group_unhealthy_targets", **lb, target_group="docqet-staging-web") == 0
    assert {s.name for f in parsed(fams) for s in f.samples} == set(alb.METRIC_NAMES)
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 1
    assert [p["PageSize"] for p in aws_limits.params["elastic-load-balancing-v2.DescribeLoadBalancers"]] == [400]


def test_pages_of_one_network_load_balancers_left_out_and_the_filter(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=1)
    env = demo.seed_staging(moto_endpoint, ahead_minutes=5)
    elbv2, ec2 = boto3.client("elbv2"), boto3.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["CidrBlock"].startswith("10.20.")]
    elbv2.create_load_balancer(Name="second", Subnets=subnets, Type="application")
    elbv2.create_load_balancer(Name="tcp", Subnets=subnets, Type="network")
    result = alb.collector(_config(), Aws(session_factory=limits.session)).collect()
    limits.assert_clean()
    assert result.errors == ()
    assert limits.calls["elastic-load-balancing-v2.DescribeLoadBalancers"] == 3  # one a page
    assert limits.calls["elastic-load-balancing-v2.DescribeTargetGroups"] == 2  # both groups, one call each page
    assert sorted(dict(k)["load_balancer"] for k in samples(result.families, "docqet_alb_info")) == [
        "docqet-staging", "second"]
    only = alb.collector(_config((env.load_balancer_arn,)), Aws()).collect()
    assert [dict(k)["load_balancer"] for k in samples(only.families, "docqet_alb_info")] == ["docqet-staging"]


def test_the_limits_layer_rejects_pages_aws_rejects(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    with pytest.raises(AssertionError, match="PageSize is 1-400"):
        aws_limits.client("elbv2").describe_load_balancers(PageSize=401)
    aws_limits.violations.clear()
