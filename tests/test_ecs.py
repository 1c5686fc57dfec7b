"""The ECS collector: pure parsing and metric building, then against moto with the real AWS limits enforced."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_limits import AwsLimits
from faults import FaultyAws, unavailable, when
from helpers import parsed, samples, value

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AwsCollectorConfig, AwsConfig, CollectorsConfig, Config
from docqet_monitor.core.discovery.ecs import BotoEcsApi, EcsService, parse_service
from docqet_monitor.demo import aws as demo
from docqet_monitor.exporters import ecs
from docqet_monitor.exporters.cloudwatch import MetricQuery

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account of the default credentials
TG = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/api/abc"
TG2 = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/api-canary/def"
LB = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/front/123"






RAW_SERVICE = {
    "serviceName": "api", "clusterArn": "arn:aws:ecs:eu-west-1:1:cluster/docqet-staging", "status": "ACTIVE",
    "desiredCount": 3, "runningCount": 2, "pendingCount": 1, "launchType": "FARGATE",
    "taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/docqet-staging-api:7",
    "deployments": [{"status": "PRIMARY", "rolloutState": "IN_PROGRESS"}, {"status": "ACTIVE"}],
    "loadBalancers": [{"targetGroupArn": TG, "containerName": "api", "containerPort": 8000}],
}


# --- pure ---------------------------------------------------------------------------------------


def test_parse_service_reads_every_field() -> None:
    service = parse_service(RAW_SERVICE, "fallback")
    assert service == EcsService(
        cluster="docqet-staging", name="api", task_definition="docqet-staging-api:7", launch_type="FARGATE",
        status="ACTIVE", rollout_state="IN_PROGRESS", desired=3, running=2, pending=1, deployments=2,
        target_groups=(TG,))


def test_parse_service_tolerates_missing_and_malformed_fields() -> None:
    assert parse_service({"clusterArn": "x"}, "c") is None
    bare = parse_service({"serviceName": "worker", "desiredCount": "3", "runningCount": True,
                              "loadBalancers": [{"containerName": "w"}], "deployments": "?",
                              "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}]}, "c")
    assert bare == EcsService(cluster="c", name="worker", launch_type="FARGATE_SPOT")


def test_families_convert_units_and_sum_target_groups() -> None:
    service = EcsService("c", "api", desired=3, running=2, pending=1, deployments=1, target_groups=(TG, TG2))
    lbs = {TG: (LB,), TG2: (LB,)}
    q = {m: ecs._http(tg, LB, 60)[m] for tg in (TG,) for m in ("RequestCount", "HTTPCode_Target_5XX_Count",
                                                                 "TargetResponseTime")}
    q2 = ecs._http(TG2, LB, 60)
    values = {ecs._cpu(service, 60): 50.0, q["RequestCount"]: 600.0, q2["RequestCount"]: 60.0,
              q["HTTPCode_Target_5XX_Count"]: 6.0, q["TargetResponseTime"]: 0.2, q2["TargetResponseTime"]: 0.9}
    fams = ecs.families(ACCOUNT, REGION, [service], lbs, values, 60)
    labels = {"account": ACCOUNT, "region": REGION, "cluster": "c", "service": "api"}
    assert value(fams, "docqet_ecs_service_cpu_utilization_ratio", **labels) == 0.5
    assert value(fams, "docqet_ecs_service_memory_utilization_ratio", **labels) is None  # no datapoint
    assert value(fams, "docqet_ecs_service_http_requests_per_second", **labels) == 11.0  # (600 + 60) / 60
    assert value(fams, "docqet_ecs_service_http_5xx_per_second", **labels) == 0.1
    assert value(fams, "docqet_ecs_service_http_response_time_p95_seconds", **labels) == 0.9  # the worst
    assert value(fams, "docqet_ecs_service_running_tasks", **labels) == 2


def test_families_without_traffic_or_load_balancer_have_no_http_series() -> None:
    with_lb = EcsService("c", "web", target_groups=(TG,))
    no_lb = EcsService("c", "worker")
    fams = ecs.families(ACCOUNT, REGION, [with_lb, no_lb], {TG: (LB,)}, {}, 60)
    assert samples(fams, "docqet_ecs_service_http_requests_per_second") == {}
    assert samples(fams, "docqet_ecs_service_http_5xx_per_second") == {}
    assert samples(fams, "docqet_ecs_service_desired_tasks") == {}  # unknown counts: no series
    assert len(samples(fams, "docqet_ecs_service_info")) == 2


def test_5xx_rate_is_zero_when_requests_were_seen_without_a_5xx_datapoint() -> None:
    service = EcsService("c", "web", target_groups=(TG,))
    fams = ecs.families(ACCOUNT, REGION, [service], {TG: (LB,)}, {ecs._http(TG, LB, 60)["RequestCount"]: 120.0}, 60)
    assert value(fams, "docqet_ecs_service_http_5xx_per_second", service="web") == 0.0


def test_queries_use_cloudwatch_dimension_values() -> None:
    service = EcsService("docqet-staging", "api", target_groups=(TG,))
    got = set(ecs.queries([service], {TG: (LB,)}, 60))
    assert MetricQuery("AWS/ECS", "CPUUtilization", (("ClusterName", "docqet-staging"), ("ServiceName", "api")),
                       "Average", 60) in got
    assert MetricQuery("AWS/ApplicationELB", "TargetResponseTime",
                       (("LoadBalancer", "app/front/123"), ("TargetGroup", "targetgroup/api/abc")), "p95", 60) in got
    assert len(got) == 5


def test_scrape_restricts_discovery_to_configured_clusters() -> None:
    class Api:
        described: list[str] = []

        def cluster_arns(self) -> list[str]:
            return ["arn:aws:ecs:r:1:cluster/a", "arn:aws:ecs:r:1:cluster/b"]

        def services(self, cluster_arns: Any) -> list[EcsService]:
            self.described += cluster_arns
            return [EcsService(arn.rsplit("/", 1)[1], "svc", desired=1) for arn in cluster_arns]

        def load_balancers(self, arns: Any) -> dict[str, tuple[str, ...]]:
            raise AssertionError("no target groups, no call")

    api = Api()
    fams = ecs.scrape(api, lambda qs: {}, ACCOUNT, REGION, ["b"], 60)
    assert api.described == ["arn:aws:ecs:r:1:cluster/b"]
    assert list(samples(fams, "docqet_ecs_service_desired_tasks").values()) == [1.0]


# --- against moto -------------------------------------------------------------------------------


def _config(regions: tuple[str, ...] = (REGION,), clusters: tuple[str, ...] = ()) -> Config:
    return Config(regions=regions, aws=AwsConfig(max_attempts=1),
                  collectors=CollectorsConfig(ecs=AwsCollectorConfig(clusters=clusters)))


def test_seeded_staging_values(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, degraded=("worker",), ahead_minutes=5, session=aws_limits.session())
    result = ecs.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    fams = result.families
    api = {"account": ACCOUNT, "region": REGION, "cluster": "docqet-staging", "service": "api"}
    assert value(fams, "docqet_ecs_service_desired_tasks", **api) == 3
    assert value(fams, "docqet_ecs_service_running_tasks", **api) == 3
    assert value(fams, "docqet_ecs_service_running_tasks", service="worker") == 0
    assert value(fams, "docqet_ecs_service_pending_tasks", service="worker") == 2
    assert value(fams, "docqet_ecs_service_cpu_utilization_ratio", **api) == pytest.approx(0.42)
    assert value(fams, "docqet_ecs_service_memory_utilization_ratio", service="worker") == pytest.approx(0.48)
    assert value(fams, "docqet_ecs_service_http_requests_per_second", **api) == 1500 / 60
    assert value(fams, "docqet_ecs_service_http_5xx_per_second", **api) == 3 / 60
    assert value(fams, "docqet_ecs_service_http_response_time_p95_seconds", **api) == pytest.approx(0.18)
    assert value(fams, "docqet_ecs_service_http_5xx_per_second", service="web") == 0.0
    assert value(fams, "docqet_ecs_service_http_requests_per_second", service="worker") is None
    info = dict(samples(fams, "docqet_ecs_service_info"))
    assert (("account", ACCOUNT), ("cluster", "docqet-staging"), ("launch_type", "FARGATE"), ("region", REGION),
            ("rollout_state", "IN_PROGRESS"), ("service", "api"), ("status", "ACTIVE"),
            ("task_definition", "docqet-staging-api:1")) in info
    assert {name for f in parsed(fams) for s in f.samples for name in [s.name]} == set(ecs.METRIC_NAMES)
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 1  # one batched read for the region


def test_pagination_is_followed_with_small_pages(moto_endpoint: str) -> None:
    limits = AwsLimits(page_size=1)
    demo.seed_staging(moto_endpoint, ahead_minutes=5)
    boto3.client("ecs").create_cluster(clusterName="empty")
    result = ecs.collector(_config(), Aws(session_factory=limits.session)).collect()
    limits.assert_clean()
    assert result.errors == ()
    assert len(samples(result.families, "docqet_ecs_service_desired_tasks")) == 3
    assert limits.calls["ecs.ListClusters"] == 2  # one cluster a page
    assert limits.calls["ecs.ListServices"] == 3 + 1  # three services in staging, the empty cluster
    assert limits.calls["elastic-load-balancing-v2.DescribeTargetGroups"] == 2  # 2 target groups, 1 a page


def test_more_than_100_services_are_listed_in_pages_and_described_10_at_a_time(
        moto_endpoint: str, aws_limits: AwsLimits) -> None:
    client = boto3.client("ecs")
    client.create_cluster(clusterName="big")
    client.register_task_definition(family="t", containerDefinitions=[{"name": "t", "image": "t", "memory": 64}])
    for i in range(105):
        client.create_service(cluster="big", serviceName=f"svc-{i:03}", taskDefinition="t", desiredCount=1)
    result = ecs.collector(_config(), Aws(session_factory=aws_limits.session)).collect()
    assert result.errors == ()
    assert len(samples(result.families, "docqet_ecs_service_desired_tasks")) == 105
    assert aws_limits.calls["ecs.ListServices"] == 2  # 100 + 5
    assert [p["maxResults"] for p in aws_limits.params["ecs.ListServices"]] == [100, 100]
    assert aws_limits.calls["ecs.DescribeServices"] == 11  # ceil(105 / 10)
    assert aws_limits.calls["cloudwatch.GetMetricData"] == 1  # 210 queries fit in one call


def test_the_limits_layer_fails_a_describe_of_more_than_10_services(moto_endpoint: str,
                                                                      aws_limits: AwsLimits) -> None:
    """The enforcement itself: the collector's chunking is what keeps the other tests green."""
    client = aws_limits.client("ecs")
    with pytest.raises(AssertionError, match="at most 10 services"):
        client.describe_services(cluster="default", services=[f"s{i}" for i in range(11)])
    aws_limits.violations.clear()


def test_configured_clusters_restrict_discovery(moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, ahead_minutes=5)
    client = boto3.client("ecs")
    client.create_cluster(clusterName="other")
    client.register_task_definition(family="t", containerDefinitions=[{"name": "t", "image": "t", "memory": 64}])
    client.create_service(cluster="other", serviceName="intruder", taskDefinition="t", desiredCount=1)
    result = ecs.collector(_config(clusters=("docqet-staging",)),
                           Aws(session_factory=aws_limits.session)).collect()
    services = {dict(k)["service"] for k in samples(result.families, "docqet_ecs_service_info")}
    assert services == {"api", "worker", "web"}


def test_a_failing_region_keeps_its_last_good_series_and_the_others_stay_fresh(
        moto_endpoint: str, aws_limits: AwsLimits) -> None:
    demo.seed_staging(moto_endpoint, REGION, ahead_minutes=5)
    demo.seed_staging(moto_endpoint, "us-east-1", ahead_minutes=5)
    config, failing = _config(regions=(REGION, "us-east-1")), set()
    aws = FaultyAws(settings=config.aws, session_factory=aws_limits.session,
                    fault=when(lambda request: request.region in failing, unavailable))
    collector = ecs.collector(config, aws)

    first = collector.collect()
    assert first.errors == ()
    desired = samples(first.families, "docqet_ecs_service_desired_tasks")
    assert {dict(k)["region"] for k in desired} == {REGION, "us-east-1"}

    boto3.client("ecs", region_name=REGION).update_service(cluster="docqet-staging", service="api", desiredCount=5)
    boto3.client("ecs", region_name="us-east-1").update_service(cluster="docqet-staging", service="api",
                                                                desiredCount=7)
    failing.add("us-east-1")
    second = collector.collect()
    assert len(second.errors) == 1 and "us-east-1" in second.errors[0] and "ServiceUnavailable" in second.errors[0]
    assert value(second.families, "docqet_ecs_service_desired_tasks", region=REGION, service="api") == 5  # fresh
    assert value(second.families, "docqet_ecs_service_desired_tasks", region="us-east-1", service="api") == 3
    assert value(second.families, "docqet_ecs_service_cpu_utilization_ratio", region="us-east-1",
                 service="api") == pytest.approx(0.42)  # kept, CloudWatch values too

    failing.clear()
    third = collector.collect()
    assert third.errors == ()
    assert value(third.families, "docqet_ecs_service_desired_tasks", region="us-east-1", service="api") == 7


def test_target_groups_are_described_400_at_a_time() -> None:
    """botocore's model caps no ARN list and a page holds 400: 450 target groups take two calls, not 23."""
    calls: list[dict[str, Any]] = []

    class Elbv2:
        def describe_target_groups(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return {"TargetGroups": [{"TargetGroupArn": arn, "LoadBalancerArns": [LB]}
                                     for arn in params["TargetGroupArns"]]}

    arns = [f"{TG}{i:03}" for i in range(450)]
    found = BotoEcsApi(ecs=None, elbv2=Elbv2()).load_balancers(arns)
    assert [len(c["TargetGroupArns"]) for c in calls] == [400, 50]
    assert all(c["PageSize"] == len(c["TargetGroupArns"]) for c in calls)
    assert found == {arn: (LB,) for arn in arns}
