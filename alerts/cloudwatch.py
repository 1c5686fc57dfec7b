"""CloudWatch alarms from the catalog: desired alarms per discovered resource, live alarms, and the writer.

Alarms live where the data is, so they keep paging when Prometheus is down. One alarm per catalog rule with a
``cloudwatch=`` block and per resource of its kind (discovered as the exporter does: ECS services and their ALB
target groups, Aurora writers, readers and instances, Redis nodes, load balancers and their target groups,
Aurora Global secondaries), plus a composite alarm per service and severity that pages once when several of
the service's alarms fire (its members then carry no actions of their own).

Ownership: the name prefix ``docqet-<env>-`` and the tag ``managed-by=docqet-monitor``; anything else is never
updated or deleted. API limits (names, actions per state, batch sizes, page sizes) are checked before any call.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from docqet_monitor.alerts.spec import AlertRule, CloudWatchAlarm
from docqet_monitor.core.aws import failing_as
from docqet_monitor.core.config import AccountConfig, Config
from docqet_monitor.core.discovery import Target, arn_resource, global_targets, selected, targets
from docqet_monitor.core.discovery import alb as alb_discovery
from docqet_monitor.core.discovery import aurora_global as global_discovery
from docqet_monitor.core.discovery import elasticache as elasticache_discovery
from docqet_monitor.core.discovery.alb import AlbApi, BotoAlbApi
from docqet_monitor.core.discovery.apigateway import ApiGatewayApi, BotoApiGatewayApi
from docqet_monitor.core.discovery.aurora_global import AuroraGlobalApi, BotoAuroraGlobalApi, GlobalCluster
from docqet_monitor.core.discovery.cloudfront import BotoCloudFrontApi, CloudFrontApi
from docqet_monitor.core.discovery.ecs import BotoEcsApi, EcsApi, selected_clusters
from docqet_monitor.core.discovery.elasticache import BotoElastiCacheApi, ElastiCacheApi
from docqet_monitor.core.discovery.rds import BotoRdsApi, RdsApi
from docqet_monitor.core.discovery.route53 import BotoRoute53Api, Route53Api
from docqet_monitor.core.ids import MANAGED_BY, alarm_prefix
from docqet_monitor.core.plan import Change, Desired, Live, Plan, PlanInputError, diff

log = logging.getLogger(__name__)

TARGET = "cloudwatch"
MAX_NAME = 255
MAX_ACTIONS = 5
MAX_DESCRIPTION = 1024
MAX_ALARM_RULE = 10240
MAX_METRICS = 10
PAGE_SIZE = 100  # DescribeAlarms MaxRecords
TAGGING_PAGE_SIZE = 100  # GetResources ResourcesPerPage
DELETE_BATCH = 100  # DeleteAlarms AlarmNames
KINDS = ("alarm", "composite")
ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")
METRIC_KEYS = ("AlarmName", "AlarmDescription", "ActionsEnabled", *ACTION_KEYS, "Namespace", "MetricName",
               "Dimensions", "Statistic", "ExtendedStatistic", "Period", "Metrics", "EvaluationPeriods",
               "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData")
COMPOSITE_KEYS = ("AlarmName", "AlarmDescription", "ActionsEnabled", *ACTION_KEYS, "AlarmRule")
DEFAULTS: Mapping[str, Any] = {"AlarmDescription": "", "ActionsEnabled": True, "AlarmActions": [],
                               "OKActions": [], "InsufficientDataActions": [], "TreatMissingData": "missing"}
TAG_KEYS = ("managed-by", "environment", "rule")
SEVERITY_ORDER = ("critical", "warning", "info")
SIMPLE_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


@dataclass(frozen=True)
class Resource:
    """One thing alarms are made for. ``service`` groups an ECS service with its target groups."""

    kind: str  # CloudWatchAlarm.resource
    name: str  # short name in alarm names
    dimensions: tuple[tuple[str, str], ...]
    service: str = ""
    metric_names: tuple[tuple[str, str], ...] = ()  # (catalog metric, this resource's name for it): HTTP APIs


# --- discovery ---------------------------------------------------------------------------------


def discover(ecs: EcsApi | None, rds: RdsApi | None, ecs_clusters: Sequence[str] = (),
             rds_clusters: Sequence[str] = (), *, elasticache: ElastiCacheApi | None = None,
             replication_groups: Sequence[str] = (), alb: AlbApi | None = None,
             load_balancers: Sequence[str] = (), aurora_global: AuroraGlobalApi | None = None,
             global_clusters: Sequence[str] = (), region: str = "") -> list[Resource]:
    """The ECS services (with their ALB target groups), Aurora clusters, Redis nodes, application load
    balancers with their target groups, and the Aurora Global secondaries in ``region`` of one region.

    ``ecs_clusters`` / ``rds_clusters`` / ``replication_groups`` / ``load_balancers`` / ``global_clusters`` limit
    discovery to those listed in config (empty: everything); a source that is None (its collector disabled) is
    not asked.
    """
    found: list[Resource] = []
    arns = [] if ecs is None else selected_clusters(ecs.cluster_arns(), ecs_clusters)
    services = ecs.services(arns) if arns else []  # type: ignore[union-attr]
    names = [s.name for s in services]
    load_balancers = ecs.load_balancers([tg for s in services for tg in s.target_groups]) if services else {}
    for s in services:
        name = s.name if names.count(s.name) == 1 else f"{s.cluster}-{s.name}"
        found.append(Resource("ecs_service", name, (("ClusterName", s.cluster), ("ServiceName", s.name)), name))
        for tg in s.target_groups:
            for lb in load_balancers.get(tg, ()):
                suffix = "" if len(s.target_groups) == 1 else "-" + tg.rsplit("/", 2)[-2]
                found.append(Resource("alb_target_group", name + suffix, (
                    ("LoadBalancer", arn_resource(lb).removeprefix("loadbalancer/")),
                    ("TargetGroup", arn_resource(tg))), name))
    for c in [] if rds is None else rds.clusters():
        if rds_clusters and c.name not in rds_clusters:
            continue
        found.append(Resource("rds_writer", c.name, (("DBClusterIdentifier", c.name), ("Role", "WRITER"))))
        if c.readers:
            found.append(Resource("rds_reader", c.name, (("DBClusterIdentifier", c.name), ("Role", "READER"))))
        found += [Resource("rds_instance", i, (("DBInstanceIdentifier", i),)) for i in sorted(c.writers | c.readers)]
    groups = [] if elasticache is None else elasticache.replication_groups()
    for group in elasticache_discovery.selected(groups, replication_groups):
        found += [Resource("elasticache_node", n.cache_cluster, (("CacheClusterId", n.cache_cluster),
                                                                  ("CacheNodeId", n.node_id))) for n in group.nodes]
    lbs = [] if alb is None else alb_discovery.selected(alb.load_balancers(), load_balancers)
    by_arn = {lb.arn: lb for lb in lbs}
    found += [Resource("load_balancer", lb.name, (("LoadBalancer", lb.dimension),)) for lb in lbs]
    for tg in alb.target_groups() if alb is not None and lbs else []:
        found += [Resource("load_balancer_target_group", f"{by_arn[arn].name}-{tg.name}",
                           (("LoadBalancer", by_arn[arn].dimension), ("TargetGroup", tg.dimension)))
                  for arn in tg.load_balancers if arn in by_arn]
    clusters = [] if aurora_global is None else global_discovery.selected(aurora_global.global_clusters(),
                                                                          global_clusters)
    found += [Resource("rds_global_secondary", m.db_cluster, (("DBClusterIdentifier", m.db_cluster),))
              for g in clusters for m in g.members if m.role == "secondary" and m.region == region]
    return found


HTTP_API_METRICS = (("4XXError", "4xx"), ("5XXError", "5xx"))  # what HTTP APIs (v2) call REST's error metrics


def discover_apis(apis: ApiGatewayApi | None, names: Sequence[str] = ()) -> list[Resource]:
    """The API Gateway stages of one region (``names``: API names or ids to keep, empty: all)."""
    found = []
    for s in [] if apis is None else apis.stages():
        if not selected(names, s.api, s.api_id):
            continue
        name = f"{s.api}-{s.stage.lstrip('$')}"
        if s.protocol == "rest":
            found.append(Resource("apigateway_stage", name, (("ApiName", s.api), ("Stage", s.stage))))
        else:
            found.append(Resource("apigateway_stage", name, (("ApiId", s.api_id), ("Stage", s.stage)),
                                  metric_names=HTTP_API_METRICS))
    return found


def discover_global(route53: Route53Api | None, cloudfront: CloudFrontApi | None,
                    route53_names: Sequence[str] = (), cloudfront_names: Sequence[str] = ()) -> list[Resource]:
    """The account's Route 53 health checks and CloudFront distributions (global: alarms where the partition
    serves them, us-east-1 in ``aws``)."""
    found = []
    checks = [] if route53 is None else route53.health_checks()
    tags = route53.names([c.id for c in checks]) if checks and route53 is not None else {}
    for c in checks:
        name = tags.get(c.id, "")
        if selected(route53_names, name, c.id):
            found.append(Resource("route53_health_check", name or c.id, (("HealthCheckId", c.id),)))
    for d in [] if cloudfront is None else cloudfront.distributions():
        if selected(cloudfront_names, d.id, d.alias, d.domain_name):
            found.append(Resource("cloudfront_distribution", d.alias or d.id,
                                  (("DistributionId", d.id), ("Region", "Global"))))
    return found


# --- desired alarms (pure) ----------------------------------------------------------------------


def validate(rules: Iterable[AlertRule], topics: Mapping[str, str]) -> None:
    """Catalog and config problems, all at once, before any call."""
    problems = []
    for sev, arns in sorted(topics.items()):
        if sev not in SEVERITY_ORDER:
            problems.append(f"cloudwatch_alarms.sns_topics.{sev}: expected one of {', '.join(SEVERITY_ORDER)}")
        problems += [f"cloudwatch_alarms.sns_topics.{sev}: expected SNS topic ARNs (comma-separated), got {arn!r}"
                     for arn in arns.split(",") if not arn.strip().startswith("arn:") or ":sns:" not in arn]
    for rule in rules:
        cw = rule.cloudwatch
        if cw is None:
            continue
        where = f"alert {rule.name} (cloudwatch)"
        ids = [m[0] for m in cw.metrics]
        if cw.threshold not in rule.thresholds:
            problems.append(f"{where}: threshold {cw.threshold!r} is not one of the rule's thresholds "
                            f"({', '.join(rule.thresholds) or 'none'})")
        if not cw.metrics or len(cw.metrics) + bool(cw.expression) > MAX_METRICS:
            problems.append(f"{where}: expected 1-{MAX_METRICS} metrics")
        if len(cw.metrics) > 1 and not cw.expression:
            problems.append(f"{where}: several metrics need an expression")
        if len(set(ids)) != len(ids) or not all(i[:1].islower() and i.replace("_", "").isalnum() for i in ids):
            problems.append(f"{where}: metric ids must be unique, start lower-case and be alphanumeric: {ids}")
        if not 1 <= cw.datapoints_to_alarm <= cw.evaluation_periods:
            problems.append(f"{where}: expected 1 <= datapoints_to_alarm <= evaluation_periods")
        if cw.period_seconds not in (10, 30) and cw.period_seconds % 60:
            problems.append(f"{where}: period_seconds must be 10, 30 or a multiple of 60")
    if problems:
        raise PlanInputError("invalid CloudWatch alarm input:\n  " + "\n  ".join(problems))


def _stat(statistic: str) -> dict[str, str]:
    return {"Statistic": statistic} if statistic in SIMPLE_STATISTICS else {"ExtendedStatistic": statistic}


def _alarm_name(env: str, subject: str, what: str) -> str:
    """``docqet-<env>-<resource|service>-<rule|severity>``: composites name their members with it too."""
    return f"{alarm_prefix(env)}{subject}-{what}"


def metric_alarm(rule: AlertRule, cw: CloudWatchAlarm, resource: Resource, env: str, actions: list[str],
                 description: str) -> dict[str, Any]:
    """The PutMetricAlarm parameters (without tags) of one rule on one resource (pure)."""
    dims = [{"Name": k, "Value": v} for k, v in resource.dimensions]
    renamed = dict(resource.metric_names)
    cw = dataclasses.replace(cw, metrics=tuple((mid, ns, renamed.get(metric, metric), stat)
                                               for mid, ns, metric, stat in cw.metrics))
    body: dict[str, Any] = {
        "AlarmName": _alarm_name(env, resource.name, rule.name),
        "AlarmDescription": description,
        "ActionsEnabled": True, "AlarmActions": actions, "OKActions": actions, "InsufficientDataActions": [],
        "EvaluationPeriods": cw.evaluation_periods, "DatapointsToAlarm": cw.datapoints_to_alarm,
        "Threshold": float(rule.thresholds[cw.threshold]) * cw.scale,
        "ComparisonOperator": cw.comparison, "TreatMissingData": cw.treat_missing_data,
    }
    if not cw.expression:
        _, namespace, metric, statistic = cw.metrics[0]
        return {**body, "Namespace": namespace, "MetricName": metric, "Dimensions": dims,
                "Period": cw.period_seconds, **_stat(statistic)}
    metrics: list[dict[str, Any]] = [
        {"Id": mid, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": ns, "MetricName": metric, "Dimensions": dims},
            "Period": cw.period_seconds, "Stat": statistic}}
        for mid, ns, metric, statistic in cw.metrics]
    expression = cw.expression.format(period=cw.period_seconds, **rule.thresholds)
    metrics.append({"Id": "alarmed", "Expression": expression, "Label": rule.name, "ReturnData": True})
    return {**body, "Metrics": metrics}


def _topics(topics: Mapping[str, str], severity: str, region: str) -> list[str]:
    """The SNS topic ARNs of a severity (comma-separated in config, ``{region}`` filled in)."""
    return [a.strip().replace("{region}", region) for a in topics.get(severity, "").split(",") if a.strip()]


def desired(rules: Iterable[AlertRule], resources: Iterable[Resource], config: Config, region: str,
            runbook: Callable[[AlertRule], str], scope: str = "") -> list[Desired]:
    """Every alarm the catalog wants in one region, keyed ``<scope>/<name>`` (scope: the region, or
    ``account/region`` for a role account) (pure)."""
    scope = scope or region
    composites = config.cloudwatch_alarms.composite_alarms
    env, topics = config.environment, config.cloudwatch_alarms.sns_topics
    resources = list(resources)
    members: dict[tuple[str, str], list[tuple[AlertRule, Resource]]] = defaultdict(list)
    planned: list[tuple[AlertRule, Resource]] = []
    for rule in rules:
        if rule.cloudwatch is None:
            continue
        for res in resources:
            if res.kind == rule.cloudwatch.resource:
                planned.append((rule, res))
                if res.service:
                    members[(res.service, rule.severity)].append((rule, res))
    grouped = {k: v for k, v in members.items() if composites and len(v) > 1}
    out = []
    for rule, res in planned:
        in_group = (res.service, rule.severity) in grouped
        actions = [] if in_group else _topics(topics, rule.severity, region)
        text = f"{rule.severity}: {rule.name} on {res.kind} {res.name}. Runbook: {runbook(rule)}"
        body = metric_alarm(rule, rule.cloudwatch, res, env, actions, text)  # type: ignore[arg-type]
        out.append(_desired(scope, "alarm", body, env, rule.name))
    for (service, severity), group in sorted(grouped.items()):
        names = sorted(_alarm_name(env, res.name, rule.name) for rule, res in group)
        actions = _topics(topics, severity, region)
        body = {
            "AlarmName": _alarm_name(env, service, severity),
            "AlarmDescription": f"{severity}: service {service} ({len(names)} alarms; pages once when any fire): "
                                + ", ".join(sorted(rule.name for rule, _ in group)),
            "ActionsEnabled": True, "AlarmActions": actions, "OKActions": actions,
            "InsufficientDataActions": [],
            "AlarmRule": " OR ".join(f'ALARM("{n}")' for n in names),
        }
        out.append(_desired(scope, "composite", body, env, "composite"))
    return out


def _desired(scope: str, kind: str, body: dict[str, Any], env: str, rule: str) -> Desired:
    tags = {"managed-by": MANAGED_BY[1], "environment": env, "rule": rule}
    return Desired(f"{scope}/{body['AlarmName']}", kind, normalise({**body, "Tags": tags}))


def check_limits(alarms: Iterable[Desired]) -> None:
    """CloudWatch's hard limits, checked on every desired alarm before any call."""
    problems = []
    for a in alarms:
        b, name = a.body, a.body["AlarmName"]
        if len(name) > MAX_NAME:
            problems.append(f"{name[:60]}...: name is {len(name)} characters (CloudWatch allows {MAX_NAME})")
        problems += [f"{name}: {k} has {len(b[k])} actions (CloudWatch allows {MAX_ACTIONS} per state)"
                     for k in ACTION_KEYS if len(b.get(k, ())) > MAX_ACTIONS]
        if len(b.get("AlarmDescription", "")) > MAX_DESCRIPTION:
            problems.append(f"{name}: description longer than {MAX_DESCRIPTION} characters")
        if len(b.get("AlarmRule", "")) > MAX_ALARM_RULE:
            problems.append(f"{name}: composite rule longer than {MAX_ALARM_RULE} characters")
    if problems:
        raise PlanInputError("CloudWatch limits exceeded (nothing was changed):\n  " + "\n  ".join(problems))


# --- normalisation (pure) -----------------------------------------------------------------------


def _metric_query(m: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: m[k] for k in ("Id", "Expression", "Label") if m.get(k)}
    out["ReturnData"] = m.get("ReturnData", True)
    if m.get("MetricStat"):
        stat = m["MetricStat"]
        metric = stat.get("Metric", {})
        out["MetricStat"] = {"Metric": {"Namespace": metric.get("Namespace"), "MetricName": metric.get("MetricName"),
                                        "Dimensions": metric.get("Dimensions", [])},
                             "Period": stat.get("Period"), "Stat": stat.get("Stat")}
    return out


def normalise(alarm: Mapping[str, Any]) -> dict[str, Any]:
    """A desired or a described alarm in one comparable shape: our keys only, API defaults filled in."""
    keys = COMPOSITE_KEYS if alarm.get("AlarmRule") else METRIC_KEYS
    out: dict[str, Any] = {}
    for k in keys:
        value = alarm.get(k)
        if value in (None, [], ""):
            value = DEFAULTS.get(k)
        if value is not None:
            out[k] = value
    if "EvaluationPeriods" in out:
        out.setdefault("DatapointsToAlarm", out["EvaluationPeriods"])
    if "Metrics" in out:
        out["Metrics"] = [_metric_query(m) for m in out["Metrics"]]
    if "Threshold" in out:
        out["Threshold"] = float(out["Threshold"])
    out["Tags"] = {k: v for k, v in (alarm.get("Tags") or {}).items() if k in TAG_KEYS}
    return out


# --- live alarms and the writer (I/O) -----------------------------------------------------------


class Client(Protocol):
    """The boto3 CloudWatch client calls used here."""

    def describe_alarms(self, **kwargs: Any) -> dict[str, Any]: ...

    def put_metric_alarm(self, **kwargs: Any) -> dict[str, Any]: ...

    def put_composite_alarm(self, **kwargs: Any) -> dict[str, Any]: ...

    def tag_resource(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_alarms(self, **kwargs: Any) -> dict[str, Any]: ...


class Tagging(Protocol):
    """The boto3 Resource Groups Tagging API client call used here."""

    def get_resources(self, **kwargs: Any) -> dict[str, Any]: ...


def alarm_tags(tagging: Tagging) -> dict[str, dict[str, str]]:
    """The tags of every alarm carrying our ``managed-by`` tag in one region, by ARN: a few paged
    ``tag:GetResources`` calls instead of one ``ListTagsForResource`` per alarm (which fails under throttling
    long before a large account's plan is complete)."""
    found: dict[str, dict[str, str]] = {}
    params: dict[str, Any] = {"ResourceTypeFilters": ["cloudwatch:alarm"], "ResourcesPerPage": TAGGING_PAGE_SIZE,
                              "TagFilters": [{"Key": MANAGED_BY[0], "Values": [MANAGED_BY[1]]}]}
    while True:
        page = tagging.get_resources(**params)
        for item in page.get("ResourceTagMappingList", []):
            found[item["ResourceARN"]] = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
        token = page.get("PaginationToken")
        if not token:
            return found
        params["PaginationToken"] = token


def live(client: Client, tagging: Tagging, scope: str, env: str) -> list[Live]:
    """Our environment's alarms in one region (paged), normalised, with ownership from their tags: ``managed-by``
    and ``environment``. An alarm tagged ``managed-by`` but without ``environment`` is updated when this
    environment wants its exact name, but never pruned (the prefix ``docqet-<env>-`` also starts
    ``docqet-<env>-eu-...``: it may be another environment's)."""
    tags_by_arn = alarm_tags(tagging)
    found: list[Live] = []
    params: dict[str, Any] = {"AlarmNamePrefix": alarm_prefix(env), "MaxRecords": PAGE_SIZE,
                              "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    while True:
        page = client.describe_alarms(**params)
        for kind, key in (("alarm", "MetricAlarms"), ("composite", "CompositeAlarms")):
            for raw in page.get(key, []):
                arn = raw["AlarmArn"]
                tags = tags_by_arn.get(arn, {})
                owned = tags.get(MANAGED_BY[0]) == MANAGED_BY[1] and tags.get("environment", env) == env
                found.append(Live(f"{scope}/{raw['AlarmName']}", kind, normalise({**raw, "Tags": tags}), owned, arn,
                                  prunable=owned and tags.get("environment") == env))
        if not page.get("NextToken"):
            return found
        params["NextToken"] = page["NextToken"]


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


class Writer:
    """Applies CloudWatch changes; ``clients`` maps each scope (region) -> its boto3 CloudWatch client."""

    delete_batch = DELETE_BATCH

    def __init__(self, clients: Mapping[str, Client]) -> None:
        self._clients = clients

    def _put(self, change: Change) -> Client:
        client = self._clients[change.key.rsplit("/", 1)[0]]
        body = dict(change.desired or {})
        tags = _tag_list(body.pop("Tags"))
        with failing_as():  # the report says which alarm failed
            if change.kind == "composite":
                client.put_composite_alarm(**body, Tags=tags)
            else:
                client.put_metric_alarm(**body, Tags=tags)
        return client

    def create(self, change: Change) -> None:
        self._put(change)

    def update(self, change: Change) -> None:
        client = self._put(change)
        # PutMetricAlarm / PutCompositeAlarm ignore Tags when the alarm exists: enforce them
        tags = _tag_list((change.desired or {})["Tags"])
        with failing_as("the alarm was written, its tags were not"):
            client.tag_resource(ResourceARN=change.live.ref, Tags=tags)  # type: ignore[union-attr]

    def delete(self, changes: Sequence[Change]) -> None:
        by_scope: dict[str, list[str]] = defaultdict(list)
        for c in changes:
            scope, name = c.key.rsplit("/", 1)
            by_scope[scope].append(name)
        for scope, names in by_scope.items():
            for i in range(0, len(names), DELETE_BATCH):
                with failing_as():
                    self._clients[scope].delete_alarms(AlarmNames=names[i:i + DELETE_BATCH])


# --- the whole target ---------------------------------------------------------------------------


class _ListedOnce:
    """An :class:`AuroraGlobalApi` asking its source once: every region answers the same global databases."""

    def __init__(self, api: AuroraGlobalApi) -> None:
        self._api = api
        self._found: list[GlobalCluster] | None = None

    def global_clusters(self) -> list[GlobalCluster]:
        if self._found is None:
            self._found = self._api.global_clusters()
        return self._found

Clients = Callable[[Target, str], Any]  # (target, service name) -> boto3 client


def make_plan(config: Config, rules: Sequence[AlertRule], clients: Clients, prune: bool,
              runbook: Callable[[AlertRule], str]) -> Plan:
    """Validate, discover, build the desired alarms, check limits, then list the live ones and diff."""
    rules = [r for r in rules if r.cloudwatch is not None]
    validate(rules, config.cloudwatch_alarms.sns_topics)
    wanted: list[Desired] = []
    found: list[Live] = []
    ecs_cfg, rds_cfg, api_cfg = config.collectors.ecs, config.collectors.rds, config.collectors.apigateway
    global_dbs: dict[AccountConfig | None, AuroraGlobalApi] = {}
    for t in targets(config):
        with failing_as(f"cannot discover the resources to alarm on in {where(t)}"):
            ecs = (BotoEcsApi(clients(t, "ecs"), clients(t, "elbv2"), config.aws.max_concurrency)
                   if ecs_cfg.enabled else None)
            rds = BotoRdsApi(clients(t, "rds")) if rds_cfg.enabled else None
            redis_cfg = config.collectors.elasticache
            redis = BotoElastiCacheApi(clients(t, "elasticache")) if redis_cfg.enabled else None
            alb_cfg = config.collectors.alb
            alb = BotoAlbApi(clients(t, "elbv2")) if alb_cfg.enabled else None
            global_cfg = config.collectors.aurora_global
            if global_cfg.enabled and t.account not in global_dbs:  # account-wide: listed once per account
                global_dbs[t.account] = _ListedOnce(BotoAuroraGlobalApi(clients(t, "rds")))
            aurora_global = global_dbs.get(t.account)
            apis = (BotoApiGatewayApi(clients(t, "apigateway"), clients(t, "apigatewayv2"),
                                      config.aws.max_concurrency) if api_cfg.enabled else None)
            resources = discover(ecs, rds, ecs_cfg.clusters, rds_cfg.clusters, elasticache=redis,
                                 replication_groups=redis_cfg.replication_groups, alb=alb,
                                 load_balancers=alb_cfg.load_balancers, aurora_global=aurora_global,
                                 global_clusters=global_cfg.global_clusters, region=t.region)
            resources += discover_apis(apis, api_cfg.names)
        wanted += desired(rules, resources, config, t.region, runbook, scope=str(t))
    r53_cfg, cf_cfg = config.collectors.route53, config.collectors.cloudfront
    r53_scopes, cf_scopes = _global_scopes(config, "route53"), _global_scopes(config, "cloudfront")
    for t in dict.fromkeys(r53_scopes + cf_scopes):
        with failing_as(f"cannot discover the Route 53 health checks and CloudFront distributions in {where(t)}"):
            route53 = BotoRoute53Api(clients(t, "route53")) if t in r53_scopes else None
            cloudfront = BotoCloudFrontApi(clients(t, "cloudfront")) if t in cf_scopes else None
            resources = discover_global(route53, cloudfront, r53_cfg.names, cf_cfg.names)
        wanted += desired(rules, resources, config, t.region, runbook, scope=str(t))
    check_limits(wanted)
    for t in _scopes(config):
        with failing_as(f"cannot read CloudWatch alarms in {where(t)}"):
            found += live(clients(t, "cloudwatch"), clients(t, "resourcegroupstaggingapi"), str(t),
                          config.environment)
    return diff(TARGET, wanted, found, prune, KINDS)


def where(t: Target) -> str:
    """``eu-west-1``, or ``eu-west-1 of account prod`` for a role account, in messages."""
    return t.region if t.account is None else f"{t.region} of account {t.account.name or t.account.role_arn}"


def _global_scopes(config: Config, service: str) -> tuple[Target, ...]:
    """Where the alarms of a global service (``route53``, ``cloudfront``) live, per account: us-east-1 in ``aws``
    (none when its collector is off or the partition does not offer it)."""
    return global_targets(config, service) if getattr(config.collectors, service).enabled else ()


def _scopes(config: Config) -> tuple[Target, ...]:
    """Every (account, region) holding alarms: the configured ones and the global services' homes."""
    return tuple(dict.fromkeys(targets(config) + _global_scopes(config, "route53")
                               + _global_scopes(config, "cloudfront")))


def writer(config: Config, clients: Clients) -> Writer:
    found = {}
    for t in _scopes(config):
        with failing_as(f"cannot reach CloudWatch in {where(t)}"):  # a role account assumes its role here
            found[str(t)] = clients(t, "cloudwatch")
    return Writer(found)

