"""Benchmark: one full refresh of every AWS collector at production size, and /metrics at that size (prints,
asserts nothing).

Topology: 1,000 ECS services in 10 clusters (every second one behind an ALB target group) and 50 Aurora
clusters with 3 instances each, 20 Redis replication groups (a primary and a replica each), 30 application
load balancers (the 10 of the ECS clusters and 20 more with 2 target groups each), 200 S3 buckets (every
fourth replicating) and 5 Aurora Global databases (their secondaries in this region), in one region; at the
edge 10 CloudFront distributions, 20 Route 53 health checks, 20 APIs (10 REST, 10 HTTP, one stage each) and 5
web ACLs (3 REGIONAL, 2 CLOUDFRONT, one rule each). AWS is an in-process fake answering at the HTTP layer
(query, JSON, rest-JSON and rest-XML protocols) through botocore's ``before-send`` event, so the real client
path runs: the exporter's accounting and in-flight limit,
retries, response parsing, and the AWS limits layer of the tests (real page sizes and batch limits; moto
ignores them and is far too slow for GetMetricData at this size).

Run from the repository root::

    .venv/bin/python benchmarks/exporter_refresh.py [--latency-ms 50] [--scrapes 500]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import re
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # aws_limits, faults: test support

from aws_limits import AwsLimits
from faults import Body

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import CollectorsConfig, Config, CostCollectorConfig, QdrantCollectorConfig
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.server import Exporter, serve

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ECS_CLUSTERS, SERVICES_PER_CLUSTER = 10, 100
AURORA_CLUSTERS, INSTANCES_PER_CLUSTER = 50, 3
ECS_METRICS, ALB_METRICS, RDS_CLUSTER_METRICS, RDS_INSTANCE_METRICS = 2, 3, 1, 8
DISTRIBUTIONS, HEALTH_CHECKS, REST_APIS, HTTP_APIS, REGIONAL_ACLS, CLOUDFRONT_ACLS = 10, 20, 10, 10, 3, 2
# CloudWatch metrics read per resource: CloudFront 5, Route 53 2, an API stage 5, a WAF rule dimension 2
# (Allowed, Blocked) for the whole ACL and for its one rule
CLOUDFRONT_METRICS, ROUTE53_METRICS, API_METRICS, WAF_METRICS_PER_ACL = 5, 2, 5, 2 * 2

REDIS_GROUPS, REDIS_NODES_PER_GROUP, REDIS_NODE_METRICS = 20, 2, 10
EXTRA_LOAD_BALANCERS, TARGET_GROUPS_PER_EXTRA_LB, ALB_LB_METRICS, ALB_TG_METRICS = 20, 2, 3, 2
BUCKETS, REPLICATING_EVERY, REPLICATION_METRICS = 200, 4, 3
GLOBAL_CLUSTERS, GLOBAL_LAG_METRICS = 5, 2

# AWS limits: items a page / a call (API Gateway v2 documents no maximum page: its default, 100)
PAGE = {"ListClusters": 100, "ListServices": 100, "DescribeServices": 10, "DescribeTargetGroups": 400,
        "DescribeDBClusters": 100, "DescribeDBInstances": 100, "GetMetricData": 500,
        "ListHealthChecks": 1000, "ListTagsForResources": 10, "ListDistributions": 100, "GetRestApis": 500,
        "GetApis": 100, "ListWebACLs": 100}
# the same for the platform collectors' operations (botocore models / AWS docs)
PLATFORM_PAGE = {"DescribeReplicationGroups": 100, "DescribeCacheClusters": 100, "DescribeLoadBalancers": 400,
                 "DescribeTargetGroups": 400, "ListBuckets": 10_000, "ListMetrics": 500,
                 "DescribeGlobalClusters": 100}


# --- the synthetic topology, as AWS would describe it -------------------------------------------------


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


class Topology:
    def __init__(self) -> None:
        self.clusters = [f"cluster-{c:02d}" for c in range(ECS_CLUSTERS)]
        self.services: dict[str, dict[str, dict[str, Any]]] = {}  # cluster -> name -> service
        self.target_groups: dict[str, dict[str, Any]] = {}
        for c, cluster in enumerate(self.clusters):
            lb = _arn("elasticloadbalancing", f"loadbalancer/app/alb-{c:02d}/{c:016x}")
            self.services[cluster] = {}
            for s in range(SERVICES_PER_CLUSTER):
                name = f"svc-{s:03d}"
                lbs = []
                if s % 2 == 0:
                    tg = _arn("elasticloadbalancing", f"targetgroup/c{c:02d}-{name}/{c * 1000 + s:016x}")
                    self.target_groups[tg] = {"TargetGroupArn": tg, "TargetGroupName": f"c{c:02d}-{name}",
                                              "LoadBalancerArns": [lb]}
                    lbs = [{"targetGroupArn": tg, "containerName": name, "containerPort": 8080}]
                self.services[cluster][name] = {
                    "serviceArn": _arn("ecs", f"service/{cluster}/{name}"), "serviceName": name,
                    "clusterArn": _arn("ecs", f"cluster/{cluster}"), "status": "ACTIVE", "launchType": "FARGATE",
                    "taskDefinition": _arn("ecs", f"task-definition/{name}:7"), "desiredCount": 2,
                    "runningCount": 2, "pendingCount": 0, "loadBalancers": lbs,
                    "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED"}]}
        self.db_clusters = []
        self.db_instances = []
        for c in range(AURORA_CLUSTERS):
            cluster = f"aurora-{c:02d}"
            members = [f"{cluster}-{i}" for i in range(INSTANCES_PER_CLUSTER)]
            self.db_clusters.append({
                "DBClusterIdentifier": cluster, "Engine": "aurora-postgresql", "EngineVersion": "15.4",
                "Status": "available", "BackupRetentionPeriod": 7,
                "LatestRestorableTime": datetime.now(UTC).replace(microsecond=0),
                "DBClusterMembers": [{"DBInstanceIdentifier": m, "IsClusterWriter": i == 0}
                                     for i, m in enumerate(members)]})
            self.db_instances += [{"DBInstanceIdentifier": m, "DBClusterIdentifier": cluster,
                                   "DBInstanceClass": "db.r6g.large", "DBInstanceStatus": "available"}
                                  for m in members]
        self._platform()
        self._edge_topology()

    def _platform(self) -> None:
        """Redis, load balancers, buckets and global databases (AWS's answers, unpaged)."""
        self.replication_groups, self.cache_clusters = [], []
        for g in range(REDIS_GROUPS):
            group = f"cache-{g:02d}"
            members = [{"CacheClusterId": f"{group}-{n + 1:03d}", "CacheNodeId": "0001",
                        "CurrentRole": "primary" if n == 0 else "replica", "PreferredAvailabilityZone": f"{REGION}a"}
                       for n in range(REDIS_NODES_PER_GROUP)]
            self.replication_groups.append({
                "ReplicationGroupId": group, "ClusterEnabled": False, "AutomaticFailover": "enabled",
                "MultiAZ": "enabled", "CacheNodeType": "cache.r7g.large",
                "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": members}]})
            self.cache_clusters += [{"CacheClusterId": m["CacheClusterId"], "ReplicationGroupId": group,
                                     "Engine": "redis", "EngineVersion": "7.1"} for m in members]
        ecs_lbs = sorted({lb for tg in self.target_groups.values() for lb in tg["LoadBalancerArns"]})
        extra = [_arn("elasticloadbalancing", f"loadbalancer/app/edge-{i:02d}/{i + 100:016x}")
                 for i in range(EXTRA_LOAD_BALANCERS)]
        self.load_balancers = [{"LoadBalancerArn": arn, "LoadBalancerName": arn.split("/")[-2], "Type": "application",
                                "Scheme": "internet-facing"} for arn in ecs_lbs + extra]
        for i, lb in enumerate(extra):
            for t in range(TARGET_GROUPS_PER_EXTRA_LB):
                tg = _arn("elasticloadbalancing", f"targetgroup/edge-{i:02d}-{t}/{i * 10 + t + 10**6:016x}")
                self.target_groups[tg] = {"TargetGroupArn": tg, "TargetGroupName": f"edge-{i:02d}-{t}",
                                          "LoadBalancerArns": [lb]}
        self.buckets = [f"docs-{b:03d}" for b in range(BUCKETS)]
        self.replicating = set(self.buckets[::REPLICATING_EVERY])
        self.global_clusters = [{
            "GlobalClusterIdentifier": f"global-{g}", "Engine": "aurora-postgresql", "EngineVersion": "15.4",
            "GlobalClusterMembers": [
                {"DBClusterArn": f"arn:aws:rds:eu-central-1:{ACCOUNT}:cluster:primary-{g}", "IsWriter": True},
                {"DBClusterArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:secondary-{g}", "IsWriter": False}]}
            for g in range(GLOBAL_CLUSTERS)]

    def storage_types(self, bucket: str) -> list[str]:
        """The storage classes CloudWatch lists for a bucket: every fifth also has infrequent-access data."""
        return ["StandardStorage", "StandardIAStorage"] if int(bucket[-3:]) % 5 == 0 else ["StandardStorage"]

    def _edge_topology(self) -> None:
        """CloudFront, Route 53, API Gateway and WAF (AWS's answers, unpaged)."""
        self.distributions = [{
            "Id": f"E{d:013d}", "ARN": f"arn:aws:cloudfront::{ACCOUNT}:distribution/E{d:013d}", "Status": "Deployed",
            "DomainName": f"d{d:04d}.cloudfront.net", "Enabled": True,
            "Aliases": {"Quantity": 1, "Items": [f"site-{d:02d}.docqet.example"]}} for d in range(DISTRIBUTIONS)]
        self.health_checks = [{
            "Id": f"{h:08x}-0000-4000-8000-{h:012x}", "CallerReference": f"hc-{h}", "HealthCheckVersion": 1,
            "HealthCheckConfig": {"Type": "HTTPS", "FullyQualifiedDomainName": f"app-{h:02d}.docqet.example",
                                  "Port": 443, "ResourcePath": "/healthz"}} for h in range(HEALTH_CHECKS)]
        self.rest_apis = [{"id": f"rest{a:06d}", "name": f"rest-api-{a:02d}"} for a in range(REST_APIS)]
        self.http_apis = [{"ApiId": f"http{a:04d}", "Name": f"http-api-{a:02d}", "ProtocolType": "HTTP"}
                          for a in range(HTTP_APIS)]
        self.web_acls = {scope: [{"Name": f"{scope.lower()}-acl-{w}", "Id": f"{w:08x}-0000-4000-8000-{w:012x}",
                                  "ARN": f"arn:aws:wafv2:{REGION}:{ACCOUNT}:{scope.lower()}/webacl/acl-{w}",
                                  "LockToken": "lock"} for w in range(count)]
                         for scope, count in (("REGIONAL", REGIONAL_ACLS), ("CLOUDFRONT", CLOUDFRONT_ACLS))}

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The full answer (no pagination: the limits layer pages it, as moto would need)."""
        if operation == "GetCallerIdentity":  # the default account's id (the `account` label), once per process
            return {"UserId": "AIDABENCHMARK", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/benchmark"}
        edge = self._edge(operation, params)
        if edge is not None:
            return edge
        if operation == "ListClusters":
            return {"clusterArns": [_arn("ecs", f"cluster/{c}") for c in self.clusters]}
        if operation == "ListServices":
            cluster = params["cluster"].rsplit("/", 1)[-1]
            return {"serviceArns": [s["serviceArn"] for s in self.services[cluster].values()]}
        if operation == "DescribeServices":
            cluster = params["cluster"].rsplit("/", 1)[-1]
            return {"services": [self.services[cluster][a.rsplit("/", 1)[-1]] for a in params["services"]],
                    "failures": []}
        if operation == "DescribeTargetGroups":  # by ARN (ECS) or every one (ALB collector; the limits layer pages)
            arns = params.get("TargetGroupArns") or list(self.target_groups)
            return {"TargetGroups": [self.target_groups[a] for a in arns]}
        if operation == "DescribeLoadBalancers":
            return {"LoadBalancers": self.load_balancers}
        if operation == "DescribeReplicationGroups":
            return {"ReplicationGroups": self.replication_groups}
        if operation == "DescribeCacheClusters":
            return {"CacheClusters": self.cache_clusters}
        if operation == "DescribeGlobalClusters":
            return {"GlobalClusters": self.global_clusters}
        if operation == "ListBuckets":
            return {"Buckets": [{"Name": b, "BucketRegion": REGION} for b in self.buckets]}
        if operation == "GetBucketVersioning":
            return {"Status": "Enabled"}
        if operation == "GetBucketReplication":
            bucket = params["Bucket"]
            if bucket not in self.replicating:
                raise LookupError("ReplicationConfigurationNotFoundError")
            return {"ReplicationConfiguration": {"Role": _arn("iam", "role/replication"), "Rules": [{
                "ID": "to-dr", "Status": "Enabled", "Priority": 1,
                "Destination": {"Bucket": f"arn:aws:s3:::{bucket}-dr"}}]}}
        if operation == "ListMetrics":
            return {"Metrics": [{"Namespace": "AWS/S3", "MetricName": "BucketSizeBytes", "Dimensions": [
                {"Name": "BucketName", "Value": b}, {"Name": "StorageType", "Value": t}]}
                for b in self.buckets for t in self.storage_types(b)]}
        if operation == "DescribeDBClusters":
            return {"DBClusters": self.db_clusters}
        if operation == "DescribeDBInstances":
            return {"DBInstances": self.db_instances}
        if operation == "GetMetricData":
            end = params["EndTime"] - 60
            return {"MetricDataResults": [{"Id": q["Id"], "StatusCode": "Complete", "Timestamps": [end],
                                           "Values": [float(i % 97)]}
                                          for i, q in enumerate(params["MetricDataQueries"])]}
        raise ValueError(f"the fake does not know {operation}")

    def _edge(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """CloudFront, Route 53, API Gateway and WAF; rest protocols pass ``url`` and ``body`` (None: not one)."""
        visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True}
        if operation == "ListHealthChecks":
            return {"HealthChecks": self.health_checks, "Marker": "", "IsTruncated": False, "MaxItems": "1000"}
        if operation == "ListTagsForResources":
            ids = re.findall(r"<ResourceId>([^<]+)</ResourceId>", params["body"])
            return {"ResourceTagSets": [{"ResourceType": "healthcheck", "ResourceId": i,
                                         "Tags": [{"Key": "Name", "Value": f"check-{i[:8]}"}]} for i in ids]}
        if operation == "ListDistributions":
            return {"DistributionList": {"Marker": "", "MaxItems": 100, "IsTruncated": False,
                                         "Quantity": len(self.distributions), "Items": self.distributions}}
        if operation == "GetRestApis":
            return {"items": self.rest_apis}
        if operation == "GetStages" and "/restapis/" in params["url"]:
            return {"item": [{"stageName": "prod", "deploymentId": "d1"}]}
        if operation == "GetApis":
            return {"Items": self.http_apis}
        if operation == "GetStages":
            return {"Items": [{"StageName": "$default"}]}
        if operation == "ListWebACLs":
            return {"WebACLs": self.web_acls[params["Scope"]]}
        if operation == "GetWebACL":
            rule = {"Name": "rate-limit", "Priority": 1, "Action": {"Block": {}},
                    "Statement": {"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP"}},
                    "VisibilityConfig": {**visibility, "MetricName": f"{params['Name']}-rate"}}
            return {"WebACL": {"Name": params["Name"], "Id": params["Id"], "ARN": "arn:aws:wafv2:::webacl",
                               "DefaultAction": {"Allow": {}}, "Rules": [rule],
                               "VisibilityConfig": {**visibility, "MetricName": params["Name"]}},
                    "LockToken": "lock"}
        return None


# --- answering at the HTTP layer ------------------------------------------------------------------


def _xml(shape: Any, value: Any, name: str) -> str:
    """Query-protocol XML for ``value`` of botocore ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        inner = "".join(_xml(m, value[k], m.serialization.get("name", k))
                        for k, m in shape.members.items() if k in value)
    elif kind == "list" and shape.serialization.get("flattened"):  # S3: the items repeat under the list's name
        return "".join(_xml(shape.member, v, name) for v in value)
    elif kind == "list":
        inner = "".join(_xml(shape.member, v, shape.member.serialization.get("name", "member")) for v in value)
    elif kind == "timestamp":
        inner = value.isoformat().replace("+00:00", "Z")
    elif kind == "boolean":
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def _rest_json(shape: Any, value: Any) -> Any:
    """rest-json for ``value`` of botocore ``shape``: members under their wire names (``locationName``)."""
    kind = shape.type_name
    if kind == "structure":
        return {m.serialization.get("name", k): _rest_json(m, value[k]) for k, m in shape.members.items()
                if k in value}
    if kind == "list":
        return [_rest_json(shape.member, v) for v in value]
    if kind == "map":
        return {k: _rest_json(shape.value, v) for k, v in value.items()}
    return value.timestamp() if isinstance(value, datetime) else value


def _json(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else str(value)


def _query_params(body: bytes | str) -> dict[str, Any]:
    """The few query-protocol parameters the fake needs (TargetGroupArns.member.N)."""
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)
    keys = [k for k in form if k.startswith("TargetGroupArns.member.")]
    arns = [form[k][0] for k in sorted(keys, key=lambda k: int(k.rsplit(".", 1)[-1]))]
    return {"TargetGroupArns": arns}


class FakeAwsHttp(Aws):
    """:class:`Aws` whose clients never reach the network: the topology answers after ``latency`` seconds,
    while the request holds its in-flight slot."""

    def __init__(self, topology: Topology, latency: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topology, self.latency = topology, latency

    def instrument(self, client: Any, account: str = "") -> None:
        super().instrument(client, account)  # first: the accounting and the in-flight slot
        model = client.meta.service_model
        client.meta.events.register("before-send.*.*", lambda request, event_name, **_: self._answer(
            model, event_name.rsplit(".", 1)[-1], request))

    def _answer(self, model: Any, operation: str, request: Any) -> AWSResponse:
        time.sleep(self.latency)
        op = model.operation_model(operation)
        protocol = model.resolved_protocol
        if protocol == "rest-xml" and model.service_name == "s3":  # path-style on the fake endpoint
            return self._rest_xml(op, operation, request)
        if protocol in ("rest-json", "rest-xml"):  # API Gateway; Route 53 and CloudFront
            body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
            result = self.topology.answer(operation, {"url": request.url, "body": body})
            if protocol == "rest-json":
                payload = json.dumps(_rest_json(op.output_shape, result)).encode()
                return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, Body(payload))
            member = op.output_shape.serialization.get("payload")
            xml = (_xml(op.output_shape.members[member], result[member], member) if member
                   else _xml(op.output_shape, result, f"{operation}Response"))
            return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, Body(xml.encode()))
        if protocol == "query":
            result = self.topology.answer(operation, _query_params(request.body))
            wrapper = op.output_shape.serialization["resultWrapper"]
            body = (f"<{operation}Response>{_xml(op.output_shape, result, wrapper)}"
                    f"<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></{operation}Response>")
            return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, Body(body.encode()))
        params = json.loads(request.body)
        body = json.dumps(self.topology.answer(operation, params), default=_json)
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, Body(body.encode()))


    def _rest_xml(self, op: Any, operation: str, request: Any) -> AWSResponse:
        bucket = urlsplit(request.url).path.strip("/").split("/", 1)[0]
        try:
            result = self.topology.answer(operation, {"Bucket": bucket})
        except LookupError as missing:
            body = f"<Error><Code>{missing.args[0]}</Code><Message>none</Message></Error>"
            return AWSResponse(request.url, 404, {"Content-Type": "application/xml"}, Body(body.encode()))
        shape, payload = op.output_shape, op.output_shape.serialization.get("payload")
        body = (_xml(shape.members[payload], result[payload], payload) if payload
                else _xml(shape, result, f"{operation}Result"))
        return AWSResponse(request.url, 200, {"Content-Type": "application/xml"}, Body(body.encode()))


# --- the numbers -------------------------------------------------------------------------------------


def expected(topology: Topology) -> dict[str, tuple[int, int]]:
    """operation -> (minimum calls the AWS limits allow, calls with one GetMetricStatistics per metric)."""
    services = [s for by_name in topology.services.values() for s in by_name.values()]
    behind_alb = sum(1 for s in services if s["loadBalancers"])
    ecs_queries = len(services) * ECS_METRICS + behind_alb * ALB_METRICS
    rds_queries = len(topology.db_clusters) * RDS_CLUSTER_METRICS + len(topology.db_instances) * RDS_INSTANCE_METRICS

    def calls(items: int, operation: str) -> int:
        return math.ceil(items / PAGE[operation])

    # the edge: CloudWatch reads per collector and region (global services in us-east-1, WAF in both)
    edge_reads = [DISTRIBUTIONS * CLOUDFRONT_METRICS, HEALTH_CHECKS * ROUTE53_METRICS,
                  (REST_APIS + HTTP_APIS) * API_METRICS, REGIONAL_ACLS * WAF_METRICS_PER_ACL,
                  CLOUDFRONT_ACLS * WAF_METRICS_PER_ACL]

    discovery = {
        "ecs ListClusters": calls(len(topology.clusters), "ListClusters"),
        "ecs ListServices": sum(calls(len(s), "ListServices") for s in topology.services.values()),
        "ecs DescribeServices": sum(calls(len(s), "DescribeServices") for s in topology.services.values()),
        "elbv2 DescribeTargetGroups": calls(behind_alb, "DescribeTargetGroups"),  # the ECS services' groups
        "rds DescribeDBClusters": calls(len(topology.db_clusters), "DescribeDBClusters"),
        "rds DescribeDBInstances": calls(len(topology.db_instances), "DescribeDBInstances"),
        "route53 ListHealthChecks": calls(HEALTH_CHECKS, "ListHealthChecks"),
        "route53 ListTagsForResources": calls(HEALTH_CHECKS, "ListTagsForResources"),
        "cloudfront ListDistributions": calls(DISTRIBUTIONS, "ListDistributions"),
        "apigateway GetRestApis": calls(REST_APIS, "GetRestApis"),
        "apigateway GetStages": REST_APIS,  # one per REST API: no batch form exists
        "apigatewayv2 GetApis": calls(HTTP_APIS, "GetApis"),
        "apigatewayv2 GetStages": HTTP_APIS,
        "wafv2 ListWebACLs": calls(REGIONAL_ACLS, "ListWebACLs") + calls(CLOUDFRONT_ACLS, "ListWebACLs"),
        "wafv2 GetWebACL": REGIONAL_ACLS + CLOUDFRONT_ACLS,  # the metric names are only in GetWebACL
    }
    result = {op: (n, n) for op, n in discovery.items()}
    platform, platform_queries = platform_expected(topology)
    for op, n in platform.items():
        result[op] = (result.get(op, (0, 0))[0] + n, result.get(op, (0, 0))[1] + n)
    # the collectors refresh on their own schedules, so each batches its own queries (and each period its own)
    queries = [ecs_queries, rds_queries, *platform_queries, *edge_reads]
    result["cloudwatch GetMetricData"] = (sum(calls(q, "GetMetricData") for q in queries if q),
                                          sum(queries))  # as GetMetricStatistics calls
    return result


def platform_expected(topology: Topology) -> tuple[dict[str, int], list[int]]:
    """The platform collectors' minimum calls from the AWS limits alone (operation -> calls), and the
    GetMetricData queries of each (collector, period) batch."""
    def calls(items: int, operation: str) -> int:
        return math.ceil(items / PLATFORM_PAGE[operation])

    nodes = len(topology.cache_clusters)
    pairs = sum(len(tg["LoadBalancerArns"]) for tg in topology.target_groups.values())
    listed = sum(len(topology.storage_types(b)) for b in topology.buckets)
    secondaries = sum(1 for g in topology.global_clusters for m in g["GlobalClusterMembers"] if not m["IsWriter"])
    minimum = {
        "elasticache DescribeReplicationGroups": calls(len(topology.replication_groups), "DescribeReplicationGroups"),
        "elasticache DescribeCacheClusters": calls(nodes, "DescribeCacheClusters"),
        "elbv2 DescribeLoadBalancers": calls(len(topology.load_balancers), "DescribeLoadBalancers"),
        "elbv2 DescribeTargetGroups": calls(len(topology.target_groups), "DescribeTargetGroups"),
        "s3 ListBuckets": calls(len(topology.buckets), "ListBuckets"),
        "s3 GetBucketVersioning": len(topology.buckets),  # one bucket a call
        "s3 GetBucketReplication": len(topology.buckets),
        "cloudwatch ListMetrics": calls(listed, "ListMetrics"),
        "rds DescribeGlobalClusters": calls(len(topology.global_clusters), "DescribeGlobalClusters"),
    }
    batches = [nodes * REDIS_NODE_METRICS,
               len(topology.load_balancers) * ALB_LB_METRICS + pairs * ALB_TG_METRICS,
               len(topology.buckets) + listed,  # daily: objects and sizes
               len(topology.replicating) * REPLICATION_METRICS,  # per-minute replication
               secondaries * GLOBAL_LAG_METRICS]
    return minimum, batches


def aws_only_config() -> Config:
    return Config(regions=(REGION,), collectors=CollectorsConfig(
        qdrant=QdrantCollectorConfig(enabled=False), cost=CostCollectorConfig(enabled=False)))


def build() -> tuple[Exporter, FakeAwsHttp, AwsLimits]:
    config = aws_only_config()
    limits = AwsLimits()
    stats = Stats(version="benchmark")
    aws = FakeAwsHttp(Topology(), 0.0, settings=config.aws, stats=stats, session_factory=limits.session)
    return Exporter(collectors.build(config, aws), stats), aws, limits


def refresh(exporter: Exporter) -> float:
    """One full refresh of every collector; its wall seconds."""
    started = time.perf_counter()
    results = exporter.refresh_all()
    wall = time.perf_counter() - started
    if not all(results.values()):
        raise SystemExit(f"a collector failed: {results}")
    return wall


def peak_memory() -> int:
    """Peak bytes traced by tracemalloc while building the exporter and running its first refresh."""
    tracemalloc.start()
    try:
        refresh(build()[0])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def scrape_latency(exporter: Exporter, scrapes: int, gzipped: bool) -> tuple[float, float]:
    """Median and p99 seconds of ``scrapes`` GET /metrics over one keep-alive-less connection each."""
    httpd = serve(exporter, "127.0.0.1", 0)
    port = httpd.server_address[1]
    headers = {"Accept-Encoding": "gzip"} if gzipped else {}
    times = []
    try:
        for _ in range(scrapes):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/metrics", headers=headers)
            conn.getresponse().read()
            conn.close()
            times.append(time.perf_counter() - started)
    finally:
        httpd.shutdown()
        httpd.server_close()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--latency-ms", type=float, default=50.0, help="injected latency per AWS call")
    parser.add_argument("--scrapes", type=int, default=500, help="GET /metrics requests to time")
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="benchmark", AWS_SECRET_ACCESS_KEY="benchmark", AWS_DEFAULT_REGION=REGION,
                      AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    topology = Topology()
    services = sum(len(s) for s in topology.services.values())
    print(f"topology: {services} ECS services in {len(topology.clusters)} clusters "
          f"({services // 2} behind ALB target groups), {len(topology.db_clusters)} Aurora clusters "
          f"with {len(topology.db_instances)} instances, {len(topology.replication_groups)} Redis groups "
          f"({len(topology.cache_clusters)} nodes), {len(topology.load_balancers)} load balancers "
          f"({len(topology.target_groups)} target groups), {len(topology.buckets)} buckets "
          f"({len(topology.replicating)} replicating), {len(topology.global_clusters)} Aurora Global databases, "
          f"region {REGION}; {DISTRIBUTIONS} CloudFront distributions, {HEALTH_CHECKS} Route 53 health checks, "
          f"{REST_APIS + HTTP_APIS} APIs, {REGIONAL_ACLS + CLOUDFRONT_ACLS} web ACLs")

    exporter, aws, limits = build()
    wall_cold = refresh(exporter)  # creates the clients
    wall_fast = refresh(exporter)
    requests_before, cost_before, limit_calls_before = Counter(aws.stats.requests), aws.stats.cost_usd, \
        sum(limits.calls.values())
    aws.latency = args.latency_ms / 1000
    wall = refresh(exporter)
    limits.assert_clean()
    calls = Counter({f"{service} {op}": n for (service, op), n in (aws.stats.requests - requests_before).items()})
    cost = aws.stats.cost_usd - cost_before
    api_calls = sum(limits.calls.values()) - limit_calls_before
    print(f"\nAWS calls of one full refresh (HTTP requests; the limits layer saw {api_calls} API calls)")
    print(f"{'operation':<38} {'calls':>7} {'minimum':>8} {'ratio':>6} {'per metric per resource':>24} {'ratio':>7}")
    totals = [0, 0, 0]
    for operation, (minimum, per_metric) in expected(topology).items():
        made = calls.pop(operation, 0)
        totals = [totals[0] + made, totals[1] + minimum, totals[2] + per_metric]
        print(f"{operation:<38} {made:>7} {minimum:>8} {made / minimum:>6.2f} {per_metric:>24} "
              f"{per_metric / made if made else math.inf:>6.1f}x")
    for operation, made in sorted(calls.items()):
        totals[0] += made
        print(f"{operation:<38} {made:>7} {'-':>8} {'':>6} {'-':>24}  (not expected)")
    print(f"{'total':<38} {totals[0]:>7} {totals[1]:>8} {totals[0] / totals[1]:>6.2f} {totals[2]:>24} "
          f"{totals[2] / totals[0]:>6.1f}x")
    interval = aws_only_config().collectors.ecs.interval_seconds
    print(f"estimated AWS cost: ${cost:.4f} a refresh, "
          f"${cost * 30 * 86400 / interval:,.0f} per 30 days at one refresh every {interval:.0f} s "
          f"(GetMetricData: $0.01 per 1,000 metrics; GetMetricStatistics: $0.01 per 1,000 requests, the same)")

    body = exporter.snapshot().body
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(f"\nrefresh wall time: {wall:.2f} s with {args.latency_ms:.0f} ms per AWS call "
          f"(in-flight limit {aws.settings.max_concurrency}); {wall_fast:.2f} s with none "
          f"({wall_cold:.2f} s for the first refresh, which creates the clients)")
    print(f"exposition: {series} series, {len(body) / 1e6:.2f} MB, {len(gzip.compress(body)) / 1e3:.0f} kB gzipped")
    print(f"peak traced memory of a refresh: {peak_memory() / 1e6:.1f} MB "
          "(tracemalloc; the clients and the in-process fake included)")
    for gzipped in (False, True):
        median, p99 = scrape_latency(exporter, args.scrapes, gzipped)
        print(f"/metrics{' (gzip)' if gzipped else '':<7} over {args.scrapes} scrapes: median {median * 1e3:.2f} ms, "
              f"p99 {p99 * 1e3:.2f} ms")
    print(f"(python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
