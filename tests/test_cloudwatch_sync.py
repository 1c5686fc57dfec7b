"""CloudWatch alarms: desired alarms from the catalog on moto-discovered resources, plan/apply/prune against
moto's server, and the paths moto lacks (composite alarms, paging, batch limits) with botocore's Stubber."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_limits import AwsLimits
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from docqet_monitor.alerts import catalog
from docqet_monitor.alerts import cloudwatch as cw
from docqet_monitor.alerts.spec import AlertRule, CloudWatchAlarm
from docqet_monitor.cli import main
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import plan as p
from docqet_monitor.core.ids import alarm_prefix
from docqet_monitor.exporters.ecs import EcsService
from docqet_monitor.exporters.rds import DbCluster
from docqet_monitor.exporters.regional import Target

ENV = "staging"
TOPIC = "arn:aws:sns:{region}:123456789012:docqet-pages-critical"


def _config(**cloudwatch_alarms: Any) -> config_mod.Config:
    return config_mod.parse({"environment": ENV, "regions": ["eu-west-1"],
                             "cloudwatch_alarms": {"composite_alarms": False, **cloudwatch_alarms}})


LIMITS = AwsLimits(page_size=7)  # AWS's request limits enforced on moto, DescribeAlarms paged 7 at a time


def _clients(target: Target, service: str) -> Any:
    return LIMITS.client(service, region_name=target.region)


@pytest.fixture(autouse=True)
def _within_aws_limits() -> Iterator[None]:
    for record in (LIMITS.violations, LIMITS.calls, LIMITS.params):
        record.clear()
    yield
    LIMITS.assert_clean()


def _runbook(rule: AlertRule) -> str:
    return f"https://runbooks.example/{rule.runbook}"


@pytest.fixture
def world(moto_endpoint: str) -> dict[str, str]:
    """An ECS service behind an ALB target group and an Aurora cluster (writer + reader) in moto."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")
               ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    elbv2 = boto3.client("elbv2")
    lb = elbv2.create_load_balancer(Name="docqet-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name="api-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
                                   )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="docqet")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "api:1",
                                                                      "memory": 512}])
    ecs.create_service(cluster="docqet", serviceName="api", taskDefinition="api", desiredCount=2,
                       loadBalancers=[{"targetGroupArn": tg, "containerName": "api", "containerPort": 80}])
    rds = boto3.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="docqet-db", Engine="aurora-postgresql", MasterUsername="u",
                          MasterUserPassword="password123")
    for name in ("docqet-db-1", "docqet-db-2"):
        rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier="docqet-db",
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    return {"lb": lb, "tg": tg}


def _plan(config: config_mod.Config, prune: bool = False) -> p.Plan:
    return cw.make_plan(config, catalog.rules(config), _clients, prune, _runbook)


def _apply(config: config_mod.Config, prune: bool = False) -> p.Report:
    report = p.apply(_plan(config, prune), cw.writer(config, _clients))
    assert report.ok, report.render()
    return report


def test_discovery_finds_services_target_groups_and_aurora_roles(world: dict[str, str]) -> None:
    resources = cw.discover(cw.BotoEcsApi(boto3.client("ecs"), boto3.client("elbv2")),
                            cw.BotoRdsApi(boto3.client("rds")))
    kinds = {(r.kind, r.name, r.service) for r in resources}
    assert kinds == {("ecs_service", "api", "api"), ("alb_target_group", "api", "api"),
                     ("rds_writer", "docqet-db", ""), ("rds_reader", "docqet-db", ""),
                     ("rds_instance", "docqet-db-1", ""), ("rds_instance", "docqet-db-2", "")}
    tg = next(r for r in resources if r.kind == "alb_target_group")
    assert dict(tg.dimensions)["TargetGroup"].startswith("targetgroup/api-tg/")
    assert dict(tg.dimensions)["LoadBalancer"].startswith("app/docqet-alb/")


class _Ecs:
    def __init__(self, services: list[EcsService], lbs: dict[str, tuple[str, ...]]) -> None:
        self._services, self._lbs = services, lbs

    def cluster_arns(self) -> list[str]:
        return sorted({f"arn:aws:ecs:eu-west-1:1:cluster/{s.cluster}" for s in self._services})

    def services(self, cluster_arns: list[str]) -> list[EcsService]:
        return [s for s in self._services if any(a.endswith("/" + s.cluster) for a in cluster_arns)]

    def load_balancers(self, target_group_arns: list[str]) -> dict[str, tuple[str, ...]]:
        return {tg: self._lbs[tg] for tg in target_group_arns if tg in self._lbs}


class _Rds:
    def clusters(self) -> list[DbCluster]:
        return [DbCluster("main", writers=frozenset({"main-1"})), DbCluster("other", writers=frozenset({"o-1"}))]

    def instances(self) -> list[Any]:
        return []


def test_discovery_names_resources_uniquely_and_honours_listed_clusters() -> None:
    tg = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/{}/abc"
    lb = ("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/alb/123",)
    ecs = _Ecs([EcsService("blue", "api", target_groups=(tg.format("api-a"), tg.format("api-b"))),
                EcsService("green", "api"), EcsService("green", "worker"), EcsService("skipped", "x")],
               {tg.format("api-a"): lb, tg.format("api-b"): lb})
    found = cw.discover(ecs, _Rds(), ecs_clusters=("blue", "green"), rds_clusters=("main",))
    assert [(r.kind, r.name, r.service) for r in found] == [
        ("ecs_service", "blue-api", "blue-api"), ("alb_target_group", "blue-api-api-a", "blue-api"),
        ("alb_target_group", "blue-api-api-b", "blue-api"), ("ecs_service", "green-api", "green-api"),
        ("ecs_service", "worker", "worker"), ("rds_writer", "main", ""), ("rds_instance", "main-1", "")]
    assert dict(found[1].dimensions) == {"LoadBalancer": "app/alb/123", "TargetGroup": "targetgroup/api-a/abc"}
    assert cw.discover(None, None) == []
    by_arn = cw.discover(ecs, None, ecs_clusters=("arn:aws:ecs:eu-west-1:1:cluster/green",))  # as the exporter
    assert [r.name for r in by_arn] == ["api", "worker"]


def test_plan_apply_then_nothing_to_do(world: dict[str, str]) -> None:
    config = _config(sns_topics={"critical": TOPIC, "warning": TOPIC.replace("critical", "warning")})
    first = _plan(config)
    names = [c.key for c in first.changes]
    assert all(c.action == "create" for c in first.changes)
    assert "eu-west-1/docqet-staging-api-EcsServiceCpuHigh" in names
    assert "eu-west-1/docqet-staging-api-EcsServiceHttp5xxRatioHigh" in names
    assert "eu-west-1/docqet-staging-docqet-db-AuroraWriterCpuHigh" in names
    assert "eu-west-1/docqet-staging-docqet-db-2-AuroraFreeableMemoryLow" in names
    _apply(config)
    second = _plan(config)
    assert second.changes == () and len(second.unchanged) == len(names)
    alarm = boto3.client("cloudwatch").describe_alarms(AlarmNames=["docqet-staging-api-EcsServiceCpuHigh"])
    made = alarm["MetricAlarms"][0]
    assert made["Threshold"] == 90.0 and made["EvaluationPeriods"] == 15 and made["DatapointsToAlarm"] == 15
    assert made["AlarmActions"] == ["arn:aws:sns:eu-west-1:123456789012:docqet-pages-warning"]
    assert made["OKActions"] == made["AlarmActions"]
    ratio = boto3.client("cloudwatch").describe_alarms(
        AlarmNames=["docqet-staging-api-EcsServiceHttp5xxRatioHigh"])["MetricAlarms"][0]
    assert {m["Id"] for m in ratio["Metrics"]} == {"errors", "requests", "alarmed"}
    alarmed = next(m["Expression"] for m in ratio["Metrics"] if m["Id"] == "alarmed")
    assert alarmed == "IF(requests > 0.1 * 60, FILL(errors, 0) / requests, 0)"  # a lone failed request never pages
    assert ratio["TreatMissingData"] == "notBreaching"


def test_environment_threshold_override_reaches_the_alarm(world: dict[str, str]) -> None:
    config = dataclasses.replace(_config(), alerts=config_mod.AlertsConfig(
        thresholds={"EcsServiceCpuHigh": {"threshold": 0.75}}))
    change = next(c for c in _plan(config).changes if c.key.endswith("-api-EcsServiceCpuHigh"))
    assert change.desired and change.desired["Threshold"] == 75.0
    guarded = dataclasses.replace(_config(), alerts=config_mod.AlertsConfig(
        thresholds={"EcsServiceHttp5xxRatioHigh": {"min_requests_per_second": 2.5}}))
    ratio = next(c for c in _plan(guarded).changes if c.key.endswith("-api-EcsServiceHttp5xxRatioHigh"))
    assert ratio.desired and ratio.desired["Metrics"][-1]["Expression"].startswith("IF(requests > 2.5 * 60,")


def test_hand_edit_shows_as_exactly_one_update_and_apply_restores_tags(world: dict[str, str]) -> None:
    config = _config()
    _apply(config)
    client = boto3.client("cloudwatch")
    name = "docqet-staging-api-EcsServiceCpuHigh"
    raw = client.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    client.put_metric_alarm(AlarmName=name, MetricName=raw["MetricName"], Namespace=raw["Namespace"],
                            Dimensions=raw["Dimensions"], Statistic="Average", Period=60, EvaluationPeriods=15,
                            DatapointsToAlarm=15, Threshold=99.0, ComparisonOperator="GreaterThanThreshold",
                            AlarmDescription=raw["AlarmDescription"], TreatMissingData="missing")
    client.untag_resource(ResourceARN=raw["AlarmArn"], TagKeys=["environment"])
    plan = _plan(config)
    assert [(c.action, c.key) for c in plan.changes] == [("update", f"eu-west-1/{name}")]
    assert dict((f, (o, n)) for f, o, n in plan.changes[0].fields) == {
        "Threshold": (99.0, 90.0), "Tags.environment": (None, ENV)}
    assert "~ update cloudwatch alarm eu-west-1/" + name in p.render_text([plan])
    _apply(config)
    tags = client.list_tags_for_resource(ResourceARN=raw["AlarmArn"])["Tags"]
    assert {"Key": "environment", "Value": ENV} in tags
    assert _plan(config).changes == ()


def test_unowned_alarms_are_never_touched_and_prune_deletes_only_ours(world: dict[str, str]) -> None:
    config = _config()
    client = boto3.client("cloudwatch")
    common = {"MetricName": "CPUUtilization", "Namespace": "AWS/ECS", "Statistic": "Average", "Period": 60,
              "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"}
    client.put_metric_alarm(AlarmName="docqet-staging-hand-made", **common)  # our prefix, no tag
    client.put_metric_alarm(AlarmName="someone-elses", Tags=[{"Key": "managed-by", "Value": "docqet-monitor"}],
                            **common)  # our tag, another prefix
    gone = [f"docqet-staging-old-{i:03}-Gone" for i in range(101)]  # ours, not desired: two DeleteAlarms calls
    for name in gone:
        client.put_metric_alarm(AlarmName=name, **common, Tags=[{"Key": "managed-by", "Value": "docqet-monitor"},
                                                                {"Key": "environment", "Value": ENV}])
    plan = _plan(config)
    assert plan.orphans == tuple(f"eu-west-1/{n}" for n in gone)
    assert not any(c.action == "delete" for c in plan.changes)
    _apply(config, prune=True)
    left = {a["AlarmName"] for a in client.describe_alarms(MaxRecords=100)["MetricAlarms"]}
    assert {"docqet-staging-hand-made", "someone-elses"} <= left
    assert not left & set(gone)
    assert [len(c["AlarmNames"]) for c in LIMITS.params["cloudwatch.DeleteAlarms"]] == [100, 1]
    listed = len(gone) + 1  # our prefix: the orphans and the hand-made one, listed 7 a page by both plans
    # plus one empty page in us-east-1 per plan, where the alarms of global services (Route 53, CloudFront) live
    assert LIMITS.calls["cloudwatch.DescribeAlarms"] == 2 * (-(-listed // 7) + 1)
    assert _plan(config, prune=True).changes == ()


def test_alarms_of_an_environment_whose_name_extends_ours_are_not_ours(world: dict[str, str]) -> None:
    """``docqet-staging-`` is also the start of ``docqet-staging-eu-``: the environment tag tells them apart."""
    client = boto3.client("cloudwatch")
    name = "docqet-staging-eu-api-EcsServiceCpuHigh"
    client.put_metric_alarm(AlarmName=name, MetricName="CPUUtilization", Namespace="AWS/ECS", Statistic="Average",
                            Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
                            Tags=[{"Key": "managed-by", "Value": "docqet-monitor"},
                                  {"Key": "environment", "Value": "staging-eu"}])
    plan = _plan(_config(), prune=True)
    assert f"eu-west-1/{name}" not in [c.key for c in plan.changes]
    _apply(_config(), prune=True)
    assert client.describe_alarms(AlarmNames=[name])["MetricAlarms"]


def test_an_alarm_without_an_environment_tag_is_never_pruned(world: dict[str, str]) -> None:
    """Tagged managed-by but not environment: ``docqet-staging-eu-...`` may be staging-eu's, so staging never
    deletes it; an alarm staging wants by its exact name is still updated, and gets its environment tag."""
    client = boto3.client("cloudwatch")
    common = {"MetricName": "CPUUtilization", "Namespace": "AWS/ECS", "Statistic": "Average", "Period": 60,
              "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold",
              "Tags": [{"Key": "managed-by", "Value": "docqet-monitor"}]}
    other = "docqet-staging-eu-api-EcsServiceCpuHigh"
    ours = "docqet-staging-api-EcsServiceCpuHigh"
    client.put_metric_alarm(AlarmName=other, **common)
    client.put_metric_alarm(AlarmName=ours, **common)
    plan = _plan(_config(), prune=True)
    assert f"eu-west-1/{other}" not in [c.key for c in plan.changes] + list(plan.orphans)
    assert ("update", f"eu-west-1/{ours}") in [(c.action, c.key) for c in plan.changes]
    _apply(_config(), prune=True)
    assert client.describe_alarms(AlarmNames=[other])["MetricAlarms"]
    arn = client.describe_alarms(AlarmNames=[ours])["MetricAlarms"][0]["AlarmArn"]
    assert {"Key": "environment", "Value": ENV} in client.list_tags_for_resource(ResourceARN=arn)["Tags"]


def test_tags_are_read_in_bulk_not_per_alarm(world: dict[str, str]) -> None:
    """One ListTagsForResource per alarm failed under throttling; GetResources pages 100 alarms at a time."""
    _apply(_config())
    LIMITS.calls.clear()
    _plan(_config())
    assert LIMITS.calls["resource-groups-tagging-api.GetResources"] >= 1
    assert "cloudwatch.ListTagsForResource" not in LIMITS.calls
    assert all(c["ResourcesPerPage"] == 100 and c["ResourceTypeFilters"] == ["cloudwatch:alarm"]
               for c in LIMITS.params["resource-groups-tagging-api.GetResources"])


def test_duplicate_regions_are_planned_once(world: dict[str, str]) -> None:
    config = dataclasses.replace(_config(), regions=("eu-west-1", "eu-west-1"))
    LIMITS.calls.clear()
    plan = _plan(config)
    assert LIMITS.calls["cloudwatch.DescribeAlarms"] == 2  # eu-west-1 once, us-east-1 for the global services
    assert len({c.key for c in plan.changes}) == len(plan.changes)


def test_global_databases_are_listed_once_per_account_and_alarmed_in_the_secondarys_region(
        world: dict[str, str]) -> None:
    rds = boto3.client("rds")
    rds.create_global_cluster(GlobalClusterIdentifier="docqet-global", Engine="aurora-postgresql")
    rds.create_db_cluster(DBClusterIdentifier="docqet-main", Engine="aurora-postgresql", MasterUsername="u",
                          MasterUserPassword="password123", GlobalClusterIdentifier="docqet-global")  # the primary
    boto3.client("rds", region_name="us-east-1").create_db_cluster(
        DBClusterIdentifier="docqet-dr", Engine="aurora-postgresql", GlobalClusterIdentifier="docqet-global")
    config = dataclasses.replace(_config(), regions=("eu-west-1", "us-east-1"))
    LIMITS.calls.clear()
    plan = _plan(config)
    assert LIMITS.calls["rds.DescribeGlobalClusters"] == 1  # account-wide: not once per region
    rpo = [c.key for c in plan.changes if c.key.endswith("-AuroraGlobalRpoLagHigh")]
    assert rpo == [f"us-east-1/{alarm_prefix(ENV)}docqet-dr-AuroraGlobalRpoLagHigh"]


def test_an_unowned_alarm_with_our_name_is_an_error_not_an_overwrite(world: dict[str, str]) -> None:
    client = boto3.client("cloudwatch")
    client.put_metric_alarm(AlarmName="docqet-staging-api-EcsServiceCpuHigh", MetricName="x", Namespace="y",
                            Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="GreaterThanThreshold")
    with pytest.raises(p.PlanError, match="without our ownership mark"):
        _plan(_config())
    assert client.describe_alarms(AlarmNames=["docqet-staging-api-EcsServiceCpuHigh"]
                                  )["MetricAlarms"][0]["Threshold"] == 1.0


def test_composite_alarms_setting_is_validated() -> None:
    with pytest.raises(config_mod.ConfigError, match=r"cloudwatch_alarms\.composite_alarms: expected true or false"):
        config_mod.parse({"cloudwatch_alarms": {"composite_alarms": "yes"}})
    assert config_mod.Config().cloudwatch_alarms.composite_alarms is True


# --- input checked before any call -----------------------------------------------------------------


def _no_calls(target: Target, service: str) -> Any:
    raise AssertionError(f"no AWS call expected, got a {service} client for {target}")


def test_invalid_catalog_input_fails_before_any_call() -> None:
    bad = AlertRule(name="Broken", severity="warning", summary="s", description="d", runbook="r", dashboard="x",
                    thresholds={"threshold": 1},
                    cloudwatch=CloudWatchAlarm(resource="ecs_service", comparison="GreaterThanThreshold",
                                               treat_missing_data="missing",
                                               threshold="missing", datapoints_to_alarm=9, evaluation_periods=3,
                                               metrics=(("A", "AWS/ECS", "CPUUtilization", "Average"),
                                                        ("b", "AWS/ECS", "MemoryUtilization", "Average"))))
    config = _config()  # the config file refuses a malformed ARN; a Config built in code reaches the plan
    config = dataclasses.replace(config, cloudwatch_alarms=dataclasses.replace(
        config.cloudwatch_alarms, sns_topics={"critical": "not-an-arn"}))
    with pytest.raises(p.PlanError) as err:
        cw.make_plan(config, [bad], _no_calls, False, _runbook)
    text = str(err.value)
    for expected in ("cloudwatch_alarms.sns_topics.critical: expected SNS topic ARNs",
                     "threshold 'missing' is not one of the rule's thresholds",
                     "several metrics need an expression", "metric ids must be unique",
                     "datapoints_to_alarm <= evaluation_periods"):
        assert expected in text


def test_names_and_actions_over_the_limits_fail_before_any_cloudwatch_call(world: dict[str, str]) -> None:
    boto3.client("ecs").create_service(cluster="docqet", serviceName="s" * 240, taskDefinition="api")
    topics = {"warning": ",".join([TOPIC] * 6)}

    def discovery_only(target: Target, service: str) -> Any:
        assert service != "cloudwatch", "CloudWatch was called before the limits were checked"
        return _clients(target, service)

    with pytest.raises(p.PlanError) as err:
        cw.make_plan(_config(sns_topics=topics), catalog.rules(_config()), discovery_only, False, _runbook)
    name = f"docqet-{ENV}-{'s' * 240}-EcsServiceCpuHigh"
    assert f"name is {len(name)} characters (CloudWatch allows 255)" in str(err.value)
    assert "AlarmActions has 6 actions (CloudWatch allows 5 per state)" in str(err.value)


# --- what moto lacks: composite alarms, paging, batch limits (botocore Stubber) ----------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def tagging() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("resourcegroupstaggingapi", region_name="eu-west-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


TAGGING_PARAMS = {"ResourceTypeFilters": ["cloudwatch:alarm"], "ResourcesPerPage": 100,
                  "TagFilters": [{"Key": "managed-by", "Values": ["docqet-monitor"]}]}


def _mappings(tags_by_name: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    return [{"ResourceARN": _arn(n), "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            for n, tags in tags_by_name.items()]


def _arn(name: str) -> str:
    return f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"


def _described(name: str) -> dict[str, Any]:
    return {"AlarmName": name, "AlarmArn": _arn(name), "MetricName": "CPUUtilization", "Namespace": "AWS/ECS",
            "Statistic": "Average", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanThreshold", "StateValue": "OK"}


API = cw.Resource("ecs_service", "api", (("ClusterName", "docqet"), ("ServiceName", "api")), "api")


def _cpu_and_memory_with_composite() -> list[p.Desired]:
    """Service api's CPU and memory alarms and the composite that pages for both (warning topic)."""
    config = _config(composite_alarms=True, sns_topics={"warning": TOPIC})
    rules = [r for r in catalog.rules(config) if r.name in ("EcsServiceCpuHigh", "EcsServiceMemoryHigh")]
    return cw.desired(rules, [API], config, "eu-west-1", _runbook)


def test_composites_paging_and_delete_batches_within_aws_limits(stubbed: tuple[Any, Stubber],
                                                               tagging: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    tags_client, tags_stub = tagging
    wanted = _cpu_and_memory_with_composite()
    composite = next(d for d in wanted if d.kind == "composite")
    assert composite.key == "eu-west-1/docqet-staging-api-warning"
    assert composite.body["AlarmRule"] == ('ALARM("docqet-staging-api-EcsServiceCpuHigh") OR '
                                           'ALARM("docqet-staging-api-EcsServiceMemoryHigh")')
    assert composite.body["AlarmActions"] == ["arn:aws:sns:eu-west-1:123456789012:docqet-pages-critical"]
    assert all(d.body["AlarmActions"] == [] for d in wanted if d.kind == "alarm")  # the composite pages

    old = [f"docqet-staging-old-{i:03}" for i in range(150)]
    owned = {n: {"managed-by": "docqet-monitor", "environment": ENV} for n in old}
    tags_stub.add_response("get_resources", {"ResourceTagMappingList": _mappings(dict(list(owned.items())[:100])),
                                             "PaginationToken": "p2"}, TAGGING_PARAMS)
    tags_stub.add_response("get_resources", {"ResourceTagMappingList": _mappings(dict(list(owned.items())[100:])),
                                             "PaginationToken": ""}, {**TAGGING_PARAMS, "PaginationToken": "p2"})
    prefix = {"AlarmNamePrefix": "docqet-staging-", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    stub.add_response("describe_alarms", {"MetricAlarms": [_described(n) for n in old[:100]], "NextToken": "t2"},
                      {**prefix, "MaxRecords": 100})
    stub.add_response("describe_alarms", {"MetricAlarms": [_described(n) for n in old[100:]]},
                      {**prefix, "MaxRecords": 100, "NextToken": "t2"})
    plan = p.diff(cw.TARGET, wanted, cw.live(client, tags_client, "eu-west-1", ENV), prune=True, kinds=cw.KINDS)
    assert (plan.count("create"), plan.count("delete")) == (3, 150)
    assert [c.kind for c in plan.changes][:3] == ["alarm", "alarm", "composite"]  # members before composite

    for d in wanted:
        body = {k: v for k, v in d.body.items() if k != "Tags"}
        op = "put_composite_alarm" if d.kind == "composite" else "put_metric_alarm"
        stub.add_response(op, {}, {**body, "Tags": ANY})
    stub.add_response("delete_alarms", {}, {"AlarmNames": old[:100]})
    stub.add_response("delete_alarms", {}, {"AlarmNames": old[100:]})
    report = p.apply(plan, cw.Writer({"eu-west-1": client}))
    assert report.ok and len(report.applied) == 153


def test_described_composites_and_members_compare_equal_to_the_catalog(stubbed: tuple[Any, Stubber],
                                                                      tagging: tuple[Any, Stubber]) -> None:
    """What DescribeAlarms gives back for alarms we made (server fields, no empty keys) is no change."""
    client, stub = stubbed
    tags_client, tags_stub = tagging
    wanted = _cpu_and_memory_with_composite()
    server = {"StateValue": "OK", "StateReason": "ok", "StateUpdatedTimestamp": "2026-11-25T18:00:00Z",
              "AlarmConfigurationUpdatedTimestamp": "2026-11-25T18:00:00Z"}
    metric, composite = [], []
    for d in wanted:
        body = {k: v for k, v in d.body.items() if k != "Tags" and v not in ([], "")}  # AWS leaves empty lists out
        (composite if d.kind == "composite" else metric).append({**body, **server, "AlarmArn": _arn(body["AlarmName"])})
    stub.add_response("describe_alarms", {"MetricAlarms": metric, "CompositeAlarms": composite}, {
        "AlarmNamePrefix": "docqet-staging-", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100})
    tags_stub.add_response("get_resources", {"ResourceTagMappingList": _mappings(
        {d.body["AlarmName"]: d.body["Tags"] for d in wanted})}, TAGGING_PARAMS)
    plan = p.diff(cw.TARGET, wanted, cw.live(client, tags_client, "eu-west-1", ENV), prune=True, kinds=cw.KINDS)
    assert plan.changes == () and len(plan.unchanged) == 3


def test_update_enforces_tags_with_tag_resource(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    rule = next(r for r in catalog.rules(_config()) if r.name == "EcsServiceCpuHigh")
    [want] = cw.desired([rule], [API], _config(), "eu-west-1", _runbook)
    live = p.Live(want.key, "alarm", {**want.body, "Threshold": 1.0}, True, _arn("docqet-staging-api-x"))
    plan = p.diff(cw.TARGET, [want], [live], prune=False)
    stub.add_response("put_metric_alarm", {}, {**{k: v for k, v in want.body.items() if k != "Tags"}, "Tags": ANY})
    stub.add_response("tag_resource", {}, {"ResourceARN": _arn("docqet-staging-api-x"), "Tags": [
        {"Key": "environment", "Value": ENV}, {"Key": "managed-by", "Value": "docqet-monitor"},
        {"Key": "rule", "Value": "EcsServiceCpuHigh"}]})
    assert p.apply(plan, cw.Writer({"eu-west-1": client})).ok


# --- the commands ----------------------------------------------------------------------------------


def test_alerts_plan_and_apply_commands(world: dict[str, str], tmp_path: Any) -> None:
    cfg = tmp_path / "staging.yaml"
    cfg.write_text(f"environment: {ENV}\nregions: [eu-west-1]\ncloudwatch_alarms: {{composite_alarms: false}}\n")
    runner = CliRunner()
    args = ["--config", str(cfg), "alerts"]
    first = runner.invoke(main, [*args, "plan", "--target", "cloudwatch", "--detailed-exitcode"])
    assert first.exit_code == 2, first.output
    assert "+ create cloudwatch alarm eu-west-1/docqet-staging-api-EcsServiceCpuHigh" in first.output
    assert "Plan: " in first.output and " to add, 0 to change, 0 to destroy." in first.output
    refused = runner.invoke(main, [*args, "apply", "--target", "cloudwatch"])
    assert refused.exit_code == 1 and "--yes" in refused.output
    applied = runner.invoke(main, [*args, "apply", "--target", "cloudwatch", "--yes"])
    assert applied.exit_code == 0, applied.output
    again = runner.invoke(main, [*args, "plan", "--target", "cloudwatch", "--detailed-exitcode",
                                 "--output", "json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["summary"] == {"create": 0, "update": 0, "delete": 0}


def test_with_detailed_exitcode_a_bad_config_exits_1_not_2(tmp_path: Any) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cloudwatch_alarms: {sns_topics: [nope]}\n")
    args = ["--config", str(bad), "alerts", "plan", "--target", "cloudwatch"]
    assert CliRunner().invoke(main, args).exit_code == 2
    result = CliRunner().invoke(main, [*args, "--detailed-exitcode"])
    assert result.exit_code == 1 and "cloudwatch_alarms.sns_topics" in result.output


def test_no_config_runs_as_development_on_discovery(world: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["alerts", "plan", "--target", "cloudwatch", "--output", "json"])
    # moto has no composite alarms, but planning needs none of their API
    assert result.exit_code == 0, result.output
    keys = [c["key"] for c in json.loads(result.output)["changes"]]
    assert "eu-west-1/docqet-development-api-EcsServiceCpuHigh" in keys
    assert "eu-west-1/docqet-development-api-warning" in keys
