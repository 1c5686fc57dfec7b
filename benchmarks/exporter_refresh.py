"""Benchmark: the exporter at 100, 1,000 and 10,000 ECS services (one account, one region) and at 10,000
services over 20 accounts x 3 regions, each as 1, 2 and 4 shards (prints numbers and ratios, asserts nothing).

For each row: AWS calls of one refresh against the minimum the AWS limits alone allow (page sizes and batch
limits from the AWS API references / botocore models, written down here, never taken from the exporter's code),
the refresh's wall time against its floor, peak RSS (the exporter process's plus its HTTP front's), scrape
latency (p50/p99, answered by the front process as in ``exporter serve``) idle and during a refresh, and
the exporter's AWS bill per month at the default intervals. Sharded rows run each shard as its own process,
one after the other: calls and the bill are the shards' sum, the other columns the worst shard.

Topology of one (account, region) pair with S ECS services: ceil(S/100) ECS clusters (every second service
behind an ALB target group), and per 1,000 services 50 Aurora clusters of 3 instances, 20 Redis replication
groups (a primary and a replica), 20 more application load balancers with 2 target groups each, 200 S3 buckets
(every fourth replicating) and 5 Aurora Global databases (their secondaries here) — at least one of each —,
20 APIs (10 REST, 10 HTTP, one stage each) and 3 REGIONAL web ACLs; and per account, at the edge (us-east-1),
10 CloudFront distributions, 20 Route 53 health checks and 2 CLOUDFRONT web ACLs (one rule each).
AWS is a fake in a process of its own (one per shard), answering at the HTTP layer (query, JSON, rest-JSON and
rest-XML protocols): botocore's ``before-send`` event forwards the prepared request over a Unix socket and
returns the fake's bytes no sooner than the injected latency after sending, while the request holds its in-flight
slot. Building AWS's answers is AWS's work, done on its own machines: in the exporter's process it would hold the
exporter's GIL (it was a tenth of its CPU over 20 accounts x 3 regions). The real client path runs in the
exporter's process (botocore's validation, serialisation, signing, retries and parsing, the exporter's accounting
and per-(account, region, service) limits), and so does the AWS limits layer of the tests, which rejects what AWS
would reject and pages the answers as AWS would. Role accounts are reached with AssumeRole, as in production.

Run from the repository root (a full run takes a while; the machine should be otherwise idle)::

    .venv/bin/python benchmarks/exporter_refresh.py [--latency-ms 50] [--rows 100,1000,10000,20x3]
        [--shards 1,2,4] [--idle-scrapes 300]
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import math
import os
import platform
import queue
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse
from botocore.session import get_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # aws_limits, faults: test support

from aws_limits import AwsLimits
from faults import Body

from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import (
    AccountConfig,
    CollectorsConfig,
    Config,
    CostCollectorConfig,
    ExporterConfig,
    QdrantCollectorConfig,
)
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.front import Front
from docqet_monitor.exporters.server import Exporter, limit_malloc_arenas, listen, steady_gc

DEFAULT_ACCOUNT = "123456789012"
ROLE_ACCOUNTS = [f"{210000000000 + a:012d}" for a in range(1, 20)]  # with the default one: 20 accounts
REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
ROWS = {"100": (100, 1, 1), "1000": (1000, 1, 1), "10000": (10_000, 1, 1), "20x3": (10_000, 20, 3)}
SERVICES_PER_CLUSTER = 100

# CloudWatch metrics the collectors read per resource (what each collector documents it reads)
ECS_METRICS, ALB_METRICS, RDS_CLUSTER_METRICS, RDS_INSTANCE_METRICS = 2, 3, 1, 8
REDIS_NODE_METRICS, ALB_LB_METRICS, ALB_TG_METRICS, REPLICATION_METRICS, GLOBAL_LAG_METRICS = 10, 3, 2, 3, 2
DISTRIBUTIONS, HEALTH_CHECKS, REST_APIS, HTTP_APIS, REGIONAL_ACLS, CLOUDFRONT_ACLS = 10, 20, 10, 10, 3, 2
# CloudFront 5, Route 53 2, an API stage 5, a web ACL 2 (Allowed, Blocked) for the whole ACL and for its one rule
CLOUDFRONT_METRICS, ROUTE53_METRICS, API_METRICS, WAF_METRICS_PER_ACL = 5, 2, 5, 2 * 2
EDGE_REGION = "us-east-1"  # CloudFront, Route 53 and CLOUDFRONT web ACLs are read there, once per account

# AWS limits, items a page / a call, from the API references and botocore's models (not the exporter's code)
PAGE = {"ListClusters": 100, "ListServices": 100, "DescribeServices": 10, "DescribeTargetGroups": 400,
        "DescribeDBClusters": 100, "DescribeDBInstances": 100, "GetMetricData": 500,
        "DescribeReplicationGroups": 100, "DescribeCacheClusters": 100, "DescribeLoadBalancers": 400,
        "ListBuckets": 10_000, "ListMetrics": 500, "DescribeGlobalClusters": 100,
        # API Gateway v2 documents no maximum page: its default, 100
        "ListHealthChecks": 1000, "ListTagsForResources": 10, "ListDistributions": 100, "GetRestApis": 500,
        "GetApis": 100, "ListWebACLs": 100}

# AWS prices (us-east-1, aws.amazon.com/cloudwatch/pricing and /s3/pricing, S3 Standard): USD per unit
PRICE_GET_METRIC_DATA_PER_METRIC = 0.01 / 1000
PRICE_CLOUDWATCH_PER_REQUEST = 0.01 / 1000  # ListMetrics (like GetMetricStatistics)
PRICE_S3_GET_PER_REQUEST = 0.0004 / 1000  # GET and other requests: GetBucketVersioning, GetBucketReplication
PRICE_S3_LIST_PER_REQUEST = 0.005 / 1000  # LIST requests: ListBuckets
# ECS, RDS, ElastiCache, ELB and STS API calls are free. Cost Explorer is off here: 3 requests a refresh at
# $0.01 every 6 hours (its default) add $3.60 a month to any row.
COST_EXPLORER_MONTH = 3 * 0.01 * 4 * 30
MONTH_SECONDS = 30 * 86400
# ListClusters, ListServices, DescribeServices, DescribeTargetGroups (the services' groups), GetMetricData: each
# needs the previous one's answer, so no refresh is shorter than this many latencies (≤ 100 services a cluster)
DEPENDENT_CALLS = 5
Answer = tuple[int, dict[str, str], bytes]  # the fake's HTTP answer: status, headers, body
BUSY_SECONDS = 5.0  # refreshes back to back for at least this long while the scraper scrapes


# --- the synthetic topology of one (account, region), as AWS would describe it ----------------------------


def _scaled(per_thousand: int, services: int) -> int:
    return max(1, round(per_thousand * services / 1000))


class Topology:
    """One (account, region): its regional resources (``regional``) and, in the account's edge home, its
    global ones (``edge_home``)."""

    def __init__(self, account: str, region: str, services: int, regional: bool = True,
                 edge_home: bool = False) -> None:
        self.account, self.region, self.regional, self.edge_home = account, region, regional, edge_home
        arn = self.arn
        n_clusters = math.ceil(services / SERVICES_PER_CLUSTER)
        self.clusters = [f"cluster-{c:03d}" for c in range(n_clusters)]
        self.services: dict[str, dict[str, dict[str, Any]]] = {}  # cluster -> name -> service
        self.target_groups: dict[str, dict[str, Any]] = {}
        for c, cluster in enumerate(self.clusters):
            lb = arn("elasticloadbalancing", f"loadbalancer/app/alb-{c:03d}/{c:016x}")
            self.services[cluster] = {}
            for s in range(services // n_clusters + (c < services % n_clusters)):
                name = f"svc-{s:03d}"
                lbs = []
                if s % 2 == 0:
                    tg = arn("elasticloadbalancing", f"targetgroup/c{c:03d}-{name}/{c * 1000 + s:016x}")
                    self.target_groups[tg] = {"TargetGroupArn": tg, "TargetGroupName": f"c{c:03d}-{name}",
                                              "LoadBalancerArns": [lb]}
                    lbs = [{"targetGroupArn": tg, "containerName": name, "containerPort": 8080}]
                self.services[cluster][name] = {
                    "serviceArn": arn("ecs", f"service/{cluster}/{name}"), "serviceName": name,
                    "clusterArn": arn("ecs", f"cluster/{cluster}"), "status": "ACTIVE", "launchType": "FARGATE",
                    "taskDefinition": arn("ecs", f"task-definition/{name}:7"), "desiredCount": 2,
                    "runningCount": 2, "pendingCount": 0, "loadBalancers": lbs,
                    "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED"}]}
        self.db_clusters, self.db_instances = [], []
        for c in range(_scaled(50, services)):
            cluster = f"aurora-{c:03d}"
            members = [f"{cluster}-{i}" for i in range(3)]
            self.db_clusters.append({
                "DBClusterIdentifier": cluster, "Engine": "aurora-postgresql", "EngineVersion": "15.4",
                "Status": "available", "BackupRetentionPeriod": 7,
                "LatestRestorableTime": datetime.now(UTC).replace(microsecond=0),
                "DBClusterMembers": [{"DBInstanceIdentifier": m, "IsClusterWriter": i == 0}
                                     for i, m in enumerate(members)]})
            self.db_instances += [{"DBInstanceIdentifier": m, "DBClusterIdentifier": cluster,
                                   "DBInstanceClass": "db.r6g.large", "DBInstanceStatus": "available"}
                                  for m in members]
        self._platform(services)
        self._edge_topology()

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def _platform(self, services: int) -> None:
        """Redis, load balancers, buckets and global databases (AWS's answers, unpaged)."""
        arn, region = self.arn, self.region
        self.replication_groups, self.cache_clusters = [], []
        for g in range(_scaled(20, services)):
            group = f"cache-{g:03d}"
            members = [{"CacheClusterId": f"{group}-{n + 1:03d}", "CacheNodeId": "0001",
                        "CurrentRole": "primary" if n == 0 else "replica", "PreferredAvailabilityZone": f"{region}a"}
                       for n in range(2)]
            self.replication_groups.append({
                "ReplicationGroupId": group, "ClusterEnabled": False, "AutomaticFailover": "enabled",
                "MultiAZ": "enabled", "CacheNodeType": "cache.r7g.large",
                "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": members}]})
            self.cache_clusters += [{"CacheClusterId": m["CacheClusterId"], "ReplicationGroupId": group,
                                     "Engine": "redis", "EngineVersion": "7.1"} for m in members]
        ecs_lbs = sorted({lb for tg in self.target_groups.values() for lb in tg["LoadBalancerArns"]})
        extra = [arn("elasticloadbalancing", f"loadbalancer/app/edge-{i:03d}/{i + 100:016x}")
                 for i in range(_scaled(20, services))]
        self.load_balancers = [{"LoadBalancerArn": a, "LoadBalancerName": a.split("/")[-2], "Type": "application",
                                "Scheme": "internet-facing"} for a in ecs_lbs + extra]
        for i, lb in enumerate(extra):
            for t in range(2):
                tg = arn("elasticloadbalancing", f"targetgroup/edge-{i:03d}-{t}/{i * 10 + t + 10**6:016x}")
                self.target_groups[tg] = {"TargetGroupArn": tg, "TargetGroupName": f"edge-{i:03d}-{t}",
                                          "LoadBalancerArns": [lb]}
        self.buckets = [f"docs-{self.account[-4:]}-{region}-{b:04d}" for b in range(_scaled(200, services))]
        self.replicating = set(self.buckets[::4])
        self.global_clusters = [{  # DescribeGlobalClusters is account-wide: FakeAwsHttp answers every region's
            "GlobalClusterIdentifier": f"global-{region}-{g}", "Engine": "aurora-postgresql", "EngineVersion": "15.4",
            "GlobalClusterMembers": [
                {"DBClusterArn": f"arn:aws:rds:eu-central-1:{self.account}:cluster:primary-{region}-{g}",
                 "IsWriter": True},
                {"DBClusterArn": arn("rds", f"cluster:secondary-{g}"), "IsWriter": False}]}
            for g in range(_scaled(5, services))]

    def storage_types(self, bucket: str) -> list[str]:
        """The storage classes CloudWatch lists for a bucket: every fifth also has infrequent-access data."""
        return ["StandardStorage", "StandardIAStorage"] if int(bucket[-4:]) % 5 == 0 else ["StandardStorage"]

    def _edge_topology(self) -> None:
        """CloudFront, Route 53, API Gateway and WAF (AWS's answers, unpaged)."""
        account = self.account
        self.distributions = [{
            "Id": f"E{d:013d}", "ARN": f"arn:aws:cloudfront::{account}:distribution/E{d:013d}", "Status": "Deployed",
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
                                  "ARN": self.arn("wafv2", f"{scope.lower()}/webacl/acl-{w}"),
                                  "LockToken": "lock"} for w in range(count)]
                         for scope, count in (("REGIONAL", REGIONAL_ACLS), ("CLOUDFRONT", CLOUDFRONT_ACLS))}

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

    def answer(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The full answer (no pagination: the limits layer pages it, as moto would need)."""
        edge = self._edge(operation, params)
        if edge is not None:
            return edge
        if operation == "ListClusters":
            return {"clusterArns": [self.arn("ecs", f"cluster/{c}") for c in self.clusters]}
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
            return {"Buckets": [{"Name": b, "BucketRegion": self.region} for b in self.buckets]}
        if operation == "GetBucketVersioning":
            return {"Status": "Enabled"}
        if operation == "GetBucketReplication":
            bucket = params["Bucket"]
            if bucket not in self.replicating:
                raise LookupError("ReplicationConfigurationNotFoundError")
            return {"ReplicationConfiguration": {"Role": self.arn("iam", "role/replication"), "Rules": [{
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
        if operation == "GetMetricData":  # a datapoint every period of the window, newest first, as AWS sends
            start, end = params["StartTime"], params["EndTime"]
            results = []
            for i, q in enumerate(params["MetricDataQueries"]):
                period = q["MetricStat"]["Period"]
                stamps = list(range(end - period, start - 1, -period))
                results.append({"Id": q["Id"], "Label": q["MetricStat"]["Metric"]["MetricName"],
                                "StatusCode": "Complete", "Timestamps": stamps, "Values": [i % 97.0] * len(stamps)})
            return {"MetricDataResults": results, "Messages": []}
        if operation == "GetCallerIdentity":
            return {"Account": DEFAULT_ACCOUNT, "Arn": f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/benchmark",
                    "UserId": "AIDABENCHMARK"}
        if operation == "AssumeRole":
            return {"Credentials": {"AccessKeyId": "ASIABENCHMARK", "SecretAccessKey": "benchmark",
                                    "SessionToken": "benchmark", "Expiration": datetime.now(UTC) + timedelta(hours=1)},
                    "AssumedRoleUser": {"AssumedRoleId": "AROA:docqet", "Arn": "arn:aws:sts::1:assumed-role/x/y"}}
        raise ValueError(f"the fake does not know {operation}")


def minimum_calls(t: Topology) -> Counter[str]:
    """"service Operation" -> the fewest calls one refresh of this pair needs, from the AWS limits alone."""
    def calls(items: int, operation: str) -> int:
        return math.ceil(items / PAGE[operation])

    minimum = _edge_minimum(t, calls)
    if t.regional:
        minimum += _regional_minimum(t, calls)
    return minimum


def _edge_minimum(t: Topology, calls: Callable[[int, str], int]) -> Counter[str]:
    """The edge collectors' calls: API Gateway and REGIONAL web ACLs in every pair, CloudFront, Route 53 and
    CLOUDFRONT web ACLs once per account (its edge home)."""
    minimum = Counter[str]()
    batches = []
    if t.regional:
        minimum.update({"apigateway GetRestApis": calls(REST_APIS, "GetRestApis"),
                        "apigateway GetStages": REST_APIS,  # one per REST API: no batch form exists
                        "apigatewayv2 GetApis": calls(HTTP_APIS, "GetApis"), "apigatewayv2 GetStages": HTTP_APIS,
                        "wafv2 ListWebACLs": calls(REGIONAL_ACLS, "ListWebACLs"),
                        "wafv2 GetWebACL": REGIONAL_ACLS})  # the metric names are only in GetWebACL
        batches += [(REST_APIS + HTTP_APIS) * API_METRICS, REGIONAL_ACLS * WAF_METRICS_PER_ACL]
    if t.edge_home:
        minimum.update({"route53 ListHealthChecks": calls(HEALTH_CHECKS, "ListHealthChecks"),
                        "route53 ListTagsForResources": calls(HEALTH_CHECKS, "ListTagsForResources"),
                        "cloudfront ListDistributions": calls(DISTRIBUTIONS, "ListDistributions"),
                        "wafv2 ListWebACLs": calls(CLOUDFRONT_ACLS, "ListWebACLs"),
                        "wafv2 GetWebACL": CLOUDFRONT_ACLS})
        batches += [DISTRIBUTIONS * CLOUDFRONT_METRICS, HEALTH_CHECKS * ROUTE53_METRICS,
                    CLOUDFRONT_ACLS * WAF_METRICS_PER_ACL]
    minimum["cloudwatch GetMetricData"] = sum(calls(q, "GetMetricData") for q in batches)
    return minimum


def _regional_minimum(t: Topology, calls: Callable[[int, str], int]) -> Counter[str]:
    """ECS, RDS, ElastiCache, ALB, S3 and Aurora Global in one pair."""

    services = [s for by_name in t.services.values() for s in by_name.values()]
    behind_alb = sum(1 for s in services if s["loadBalancers"])
    nodes = len(t.cache_clusters)
    pairs = sum(len(tg["LoadBalancerArns"]) for tg in t.target_groups.values())
    listed = sum(len(t.storage_types(b)) for b in t.buckets)
    secondaries = sum(1 for g in t.global_clusters for m in g["GlobalClusterMembers"] if not m["IsWriter"])
    minimum = Counter({
        "ecs ListClusters": calls(len(t.clusters), "ListClusters"),
        "ecs ListServices": sum(calls(len(s), "ListServices") for s in t.services.values()),
        "ecs DescribeServices": sum(calls(len(s), "DescribeServices") for s in t.services.values()),
        "rds DescribeDBClusters": calls(len(t.db_clusters), "DescribeDBClusters"),
        "rds DescribeDBInstances": calls(len(t.db_instances), "DescribeDBInstances"),
        "elasticache DescribeReplicationGroups": calls(len(t.replication_groups), "DescribeReplicationGroups"),
        "elasticache DescribeCacheClusters": calls(nodes, "DescribeCacheClusters"),
        "elbv2 DescribeLoadBalancers": calls(len(t.load_balancers), "DescribeLoadBalancers"),
        # the ALB collector lists every group; the ECS collector asks for its services' groups by ARN
        "elbv2 DescribeTargetGroups": calls(len(t.target_groups), "DescribeTargetGroups")
        + calls(behind_alb, "DescribeTargetGroups"),
        "s3 ListBuckets": calls(len(t.buckets), "ListBuckets"),
        "s3 GetBucketVersioning": len(t.buckets),  # one bucket a call: no batch form exists
        "s3 GetBucketReplication": len(t.buckets),
        "cloudwatch ListMetrics": calls(listed, "ListMetrics"),
    })
    # each collector refreshes on its own schedule, so each batches its own queries (S3: daily and per-minute
    # metrics have different periods, one batch each)
    batches = [len(services) * ECS_METRICS + behind_alb * ALB_METRICS,
               len(t.db_clusters) * RDS_CLUSTER_METRICS + len(t.db_instances) * RDS_INSTANCE_METRICS,
               nodes * REDIS_NODE_METRICS,
               len(t.load_balancers) * ALB_LB_METRICS + pairs * ALB_TG_METRICS,
               len(t.buckets) + listed, len(t.replicating) * REPLICATION_METRICS,
               secondaries * GLOBAL_LAG_METRICS]
    minimum["cloudwatch GetMetricData"] = sum(calls(q, "GetMetricData") for q in batches if q)
    return minimum


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
    """The few query-protocol parameters the fake needs (TargetGroupArns.member.N, paging)."""
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)
    keys = [k for k in form if k.startswith("TargetGroupArns.member.")]
    arns = [form[k][0] for k in sorted(keys, key=lambda k: int(k.rsplit(".", 1)[-1]))]
    return {"TargetGroupArns": arns, **{k: form[k][0] for k in ("Marker", "MaxRecords", "PageSize") if k in form}}


# Operations the fake pages itself (the tests' limits layer leaves them to moto, which pages them):
# operation -> (list key, token in, token out, page size parameter, AWS's maximum page)
FAKE_PAGED = {"DescribeReplicationGroups": ("ReplicationGroups", "Marker", "Marker", "MaxRecords", 100),
              "DescribeCacheClusters": ("CacheClusters", "Marker", "Marker", "MaxRecords", 100),
              "DescribeLoadBalancers": ("LoadBalancers", "Marker", "NextMarker", "PageSize", 400),
              "ListMetrics": ("Metrics", "NextToken", "NextToken", "", 500)}


def paged(operation: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """One page of ``answer`` as AWS would give it: at most the page size asked, or AWS's maximum."""
    if operation not in FAKE_PAGED:
        return answer
    items, token_in, token_out, size_param, most = FAKE_PAGED[operation]
    offset = int(params.get(token_in) or 0)
    size = min(int(params.get(size_param) or most), most)
    page = {**answer, items: answer[items][offset:offset + size]}
    if offset + size < len(answer[items]):
        page[token_out] = str(offset + size)
    return page


@dataclass
class Bill:
    """What the fake answered: calls by (account, region, service) and by "service Operation", and USD a
    month at the collectors' default intervals."""

    by_key: Counter[tuple[str, str, str]]
    by_operation: Counter[str]
    month_usd: float = 0.0


class FakeAws:
    """AWS for the benchmark, in a process of its own (:func:`serve_fake`): answers a forwarded request from the
    (account, region) pair's topology in the wire format of its service's protocol, and counts what it answered
    (:class:`Bill`). Its CPU is AWS's, not the exporter's: it never holds the exporter's GIL."""

    def __init__(self, topologies: dict[tuple[str, str], Topology], intervals: dict[str, float]) -> None:
        self.topologies, self.intervals = topologies, intervals
        self.bill = Bill(Counter(), Counter())
        self._counting = threading.Lock()
        self._botocore = get_session()
        self._models: dict[str, Any] = {}

    def serve(self, conn: Connection) -> None:
        """Answer one connection's requests, one at a time, until the exporter closes it."""
        with conn:
            while True:
                try:
                    message = conn.recv()
                except EOFError:
                    return
                if message == "bill":  # the bill so far (plain data: no class crosses), and a new one
                    with self._counting:
                        bill, self.bill = self.bill, Bill(Counter(), Counter())
                    conn.send((dict(bill.by_key), dict(bill.by_operation), bill.month_usd))
                    continue
                key, operation, url, body = message
                response = self.answer(key, operation, url, body)
                conn.send(response)

    def _model(self, service: str) -> Any:
        with self._counting:
            if service not in self._models:
                self._models[service] = self._botocore.get_service_model(service)
            return self._models[service]

    def _count(self, key: tuple[str, str, str], operation: str, params: dict[str, Any]) -> None:
        """Count the call and add what AWS bills for it, at the interval of the collector that makes it."""
        service = key[2]
        usd, collector = 0.0, "s3"
        if operation == "GetMetricData":
            queries = params["MetricDataQueries"]
            usd = len(queries) * PRICE_GET_METRIC_DATA_PER_METRIC
            collector = "s3" if queries[0]["MetricStat"]["Metric"]["Namespace"] == "AWS/S3" else "ecs"
        elif service == "cloudwatch":  # ListMetrics
            usd = PRICE_CLOUDWATCH_PER_REQUEST
        elif service == "s3":
            usd = PRICE_S3_LIST_PER_REQUEST if operation == "ListBuckets" else PRICE_S3_GET_PER_REQUEST
        with self._counting:
            self.bill.by_key[key] += 1
            self.bill.by_operation[f"{service} {operation}"] += 1
            self.bill.month_usd += usd * MONTH_SECONDS / self.intervals[collector]

    def answer(self, key: tuple[str, str, str], operation: str, url: str, raw: bytes | str | None) -> Answer:
        """(status, headers, body) for ``operation`` of ``key``'s (account, region, service)."""
        body = raw.decode() if isinstance(raw, bytes) else (raw or "")
        topology = self.topologies[key[0], key[1]]
        model = self._model(key[2])
        op = model.operation_model(operation)
        protocol = model.resolved_protocol
        if protocol == "rest-xml" and model.service_name == "s3":  # path-style on the fake endpoint
            self._count(key, operation, {})
            return self._rest_xml(topology, op, operation, url)
        if protocol in ("rest-json", "rest-xml"):  # API Gateway; Route 53 and CloudFront
            self._count(key, operation, {})
            result = topology.answer(operation, {"url": url, "body": body})
            if protocol == "rest-json":
                payload = json.dumps(_rest_json(op.output_shape, result))
                return 200, {"Content-Type": "application/json"}, payload.encode()
            member = op.output_shape.serialization.get("payload")
            xml = (_xml(op.output_shape.members[member], result[member], member) if member
                   else _xml(op.output_shape, result, f"{operation}Response"))
            return 200, {"Content-Type": "text/xml"}, xml.encode()
        if protocol == "query":
            self._count(key, operation, {})
            params = _query_params(body)
            result = paged(operation, params, topology.answer(operation, params))
            if operation == "DescribeGlobalClusters":  # account-wide: the global databases of every region
                result = {"GlobalClusters": [g for (account, _), t in self.topologies.items() if account == key[0]
                                             for g in t.global_clusters if t.regional]}
            wrapper = op.output_shape.serialization["resultWrapper"]
            xml = (f"<{operation}Response>{_xml(op.output_shape, result, wrapper)}"
                   f"<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></{operation}Response>")
            return 200, {"Content-Type": "text/xml"}, xml.encode()
        params = json.loads(body)
        self._count(key, operation, params)
        answer = json.dumps(paged(operation, params, topology.answer(operation, params)), default=_json)
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, answer.encode()

    def _rest_xml(self, topology: Topology, op: Any, operation: str, url: str) -> Answer:
        bucket = urlsplit(url).path.strip("/").split("/", 1)[0]
        try:
            result = topology.answer(operation, {"Bucket": bucket})
        except LookupError as missing:
            error = f"<Error><Code>{missing.args[0]}</Code><Message>none</Message></Error>"
            return 404, {"Content-Type": "application/xml"}, error.encode()
        shape, payload = op.output_shape, op.output_shape.serialization.get("payload")
        xml = (_xml(shape.members[payload], result[payload], payload) if payload
               else _xml(shape, result, f"{operation}Result"))
        return 200, {"Content-Type": "application/xml"}, xml.encode()


def serve_fake(row: str, address: str) -> None:
    """The fake AWS process: builds the row's topologies, listens on the Unix socket ``address`` (a thread per
    connection), says ``ready`` on stdout and serves until its standard input closes (its parent is gone)."""
    services, accounts, regions = ROWS[row]
    fake = FakeAws(topologies_of(services, accounts, regions), intervals_of(config_of(accounts, regions, "")))
    listener = Listener(address, family="AF_UNIX")

    def accept() -> None:
        while True:
            threading.Thread(target=fake.serve, args=(listener.accept(),), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()


class ForwardingAws(Aws):
    """:class:`Aws` whose clients never reach the network: ``before-send`` forwards each prepared request to the
    fake AWS process (:func:`serve_fake`) and returns its answer no sooner than ``latency`` seconds after it was
    sent, while the request holds its in-flight slot. The client path up to the wire and back (botocore's
    validation, serialisation, signing, retries and parsing, the exporter's accounting and per-(account, region,
    service) limits) runs here; so do the AWS limits layer's checks, on role accounts' sessions too."""

    def __init__(self, address: str, latency: float, limits: AwsLimits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.address, self.latency, self.limits = address, latency, limits
        self._connections: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._equipped: set[int] = set()

    def _session(self, account: AccountConfig | None, region: str) -> Any:
        session = super()._session(account, region)
        if account is not None and id(session) not in self._equipped:
            self._equipped.add(id(session))
            self.limits.install(session)
        return session

    def instrument(self, client: Any, account: str = "") -> None:
        super().instrument(client, account)  # first: the accounting and the in-flight slot
        account_id = account.split(":")[4] if account else DEFAULT_ACCOUNT
        key = (account_id, client.meta.region_name, client.meta.service_model.service_name)
        client.meta.events.register("before-send.*.*", lambda request, event_name, **_: self._forward(
            key, event_name.rsplit(".", 1)[-1], request))

    def _forward(self, key: tuple[str, str, str], operation: str, request: Any) -> AWSResponse:
        sent = time.monotonic()
        status, headers, body = self._ask((key, operation, request.url, request.body))
        time.sleep(max(0.0, self.latency - (time.monotonic() - sent)))
        return AWSResponse(request.url, status, headers, Body(body))

    def bill(self) -> Bill:
        """What the fake answered since the last call."""
        by_key, by_operation, month_usd = self._ask("bill")
        return Bill(Counter(by_key), Counter(by_operation), month_usd)

    def _ask(self, message: Any) -> Any:
        try:
            conn = self._connections.get_nowait()
        except queue.Empty:
            conn = Client(self.address, family="AF_UNIX")
        conn.send(message)
        answer = conn.recv()
        self._connections.put(conn)
        return answer


# --- one shard of one row, in its own process ------------------------------------------------------------


def config_of(accounts: int, regions: int, shard: str) -> Config:
    roles = tuple(AccountConfig(role_arn=f"arn:aws:iam::{a}:role/docqet-monitor", name=f"team-{i + 2:02d}")
                  for i, a in enumerate(ROLE_ACCOUNTS[:accounts - 1]))
    return Config(regions=REGIONS[:regions], accounts=roles, exporter=ExporterConfig(shard=shard),
                  collectors=CollectorsConfig(qdrant=QdrantCollectorConfig(enabled=False),
                                              cost=CostCollectorConfig(enabled=False)))


def topologies_of(services: int, accounts: int, regions: int) -> dict[tuple[str, str], Topology]:
    """Each (account, region) pair's topology, ``services`` ECS services spread evenly over the pairs; each
    account's edge home (us-east-1) holds its global resources (only those when it is not one of the regions)."""
    names = [DEFAULT_ACCOUNT, *ROLE_ACCOUNTS[:accounts - 1]]
    pairs = [(a, r) for a in names for r in REGIONS[:regions]]
    found = {(a, r): Topology(a, r, services // len(pairs) + (i < services % len(pairs)), edge_home=r == EDGE_REGION)
             for i, (a, r) in enumerate(pairs)}
    for account in names:
        found.setdefault((account, EDGE_REGION), Topology(account, EDGE_REGION, 0, regional=False, edge_home=True))
    return found


def intervals_of(config: Config) -> dict[str, float]:
    return {"ecs": config.collectors.ecs.interval_seconds, "s3": config.collectors.s3.interval_seconds}


class Scraper:
    """GET /metrics (gzip, as Prometheus asks) from another process, every ``pause`` seconds, until stopped."""

    def __init__(self, port: int, pause: float, count: int = 0) -> None:
        self.count = count
        self.proc = subprocess.Popen([sys.executable, __file__, "--scrape", str(port), "--pause-ms",
                                      str(pause * 1000), "--count", str(count)], stdout=subprocess.PIPE, text=True)
        if not count:
            assert self.proc.stdout is not None
            self.proc.stdout.readline()  # it runs: the first scrape is done (and not counted)

    def stop(self) -> list[float]:
        """The latencies in seconds (a ``count`` scraper: once it has made them all)."""
        if not self.count:
            self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=600)
        return [float(line) for line in out.split()]


def scrape_loop(port: int, pause: float, count: int) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    n = 0
    while count == 0 or n < count:
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        conn.getresponse().read()
        conn.close()
        print(time.perf_counter() - started, flush=True)
        n += 1
        time.sleep(pause)


def run_shard(row: str, shard: str, latency: float, idle_scrapes: int) -> dict[str, Any]:
    """One exporter process: a first refresh (clients, credentials), then the measured one while a scraper
    scrapes, then idle scrapes."""
    _, accounts, regions = ROWS[row]
    config = config_of(accounts, regions, shard)
    limits = AwsLimits(keep_params=False)  # the parameters of every call would be most of the peak RSS
    stats = Stats(version="benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        address = str(Path(tmp) / "aws.sock")
        fake = subprocess.Popen([sys.executable, __file__, "--fake", row, "--socket", address],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert fake.stdout is not None and fake.stdout.readline().strip() == "ready"
            return _measure(config, ForwardingAws(address, latency, limits, settings=config.aws, stats=stats,
                                                  session_factory=limits.session), limits, idle_scrapes)
        finally:
            fake.kill()
            fake.wait()


def _measure(config: Config, aws: ForwardingAws, limits: AwsLimits, idle_scrapes: int) -> dict[str, Any]:
    latency = aws.latency
    stats = aws.stats
    importlib.import_module("docqet_monitor.cli")  # all that `exporter serve` has loaded (Sentry, click, ...)
    before_mb = _rss_mb()  # Python, botocore and the CLI, before the exporter exists
    limit_malloc_arenas()  # as `exporter serve` does before it builds the exporter
    exporter = Exporter(collectors.build(config, aws), stats)
    with listen("127.0.0.1", 0) as sock:  # served by the front process, as `exporter serve` does
        port = sock.getsockname()[1]
        front = Front(exporter, sock)
        front.start()
    aws.latency = 0.0
    first = _refresh(exporter)  # creates the clients and assumes the roles (no latency: it is not measured)
    aws.latency = latency
    steady_gc()  # what `exporter serve` does once every collector has refreshed
    aws.bill()
    busy = Scraper(port, 0.02)
    started = time.perf_counter()
    cpu = time.process_time()
    wall = _refresh(exporter)
    cpu = time.process_time() - cpu  # every thread of the exporter's process (the HTTP front has its own)
    bill = aws.bill()
    while time.perf_counter() - started < BUSY_SECONDS:  # back-to-back refreshes: enough scrapes during them
        _refresh(exporter)
    during = busy.stop()
    idle = Scraper(port, 0.01, idle_scrapes).stop()
    limits.assert_clean()
    snap = exporter.snapshot()
    series = sum(1 for chunk in snap.chunks(False) for line in chunk.splitlines() if not line.startswith(b"#"))
    front_mb = _peak_rss_mb(front.pid)
    front.stop()
    return {"wall": wall, "cpu": cpu, "first_wall": first, "by_key": [[*k, n] for k, n in bill.by_key.items()],
            "by_operation": dict(bill.by_operation), "month_usd": bill.month_usd,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + front_mb, "before_mb": before_mb,
            "front_mb": front_mb,
            "series": series,
            "body_mb": sum(map(len, snap.chunks(False))) / 1e6, "gzip_kb": len(snap.gzipped) / 1e3,
            "idle": idle, "during": during, "max_concurrency": config.aws.max_concurrency,
            "max_concurrency_total": config.aws.max_concurrency_total}


def _rss_mb() -> float:
    """The process's resident memory now (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def _peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmHWM for process {pid}")


def _refresh(exporter: Exporter) -> float:
    started = time.perf_counter()
    results = exporter.refresh_all()
    wall = time.perf_counter() - started
    if not all(results.values()):
        raise SystemExit(f"a collector failed: {results}")
    return wall


# --- the table ----------------------------------------------------------------------------------------


def floor_seconds(by_key: Counter[tuple[str, str, str]], per_key: int, total_cap: int, latency: float) -> float:
    """The least wall time the calls need at ``latency`` each: calls / concurrency x latency, where no
    (account, region, AWS service) has more than ``per_key`` in flight and all of them together no more than
    ``total_cap``; and never less than the chain of :data:`DEPENDENT_CALLS`."""
    if not by_key:
        return 0.0
    load = max(max(n / per_key for n in by_key.values()), sum(by_key.values()) / total_cap)
    return latency * max(load, DEPENDENT_CALLS)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)] if ordered else math.nan


def row_result(row: str, shards: int, latency: float, idle_scrapes: int) -> dict[str, Any]:
    runs = []
    for k in range(1, shards + 1):
        spec = f"{k}/{shards}" if shards > 1 else ""
        out = subprocess.run([sys.executable, __file__, "--run", row, "--shard", spec, "--latency-ms",
                              str(latency * 1000), "--idle-scrapes", str(idle_scrapes)],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise SystemExit(f"row {row} shard {spec or '-'} failed:\n{out.stderr[-3000:]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    services, accounts, regions = ROWS[row]
    minimum = Counter[str]()
    topologies = topologies_of(services, accounts, regions)
    for topology in topologies.values():
        minimum += minimum_calls(topology)
    for account in {a for a, _ in topologies}:  # account-wide: once per account, whatever the region
        databases = sum(len(t.global_clusters) for (a, _), t in topologies.items() if a == account and t.regional)
        minimum["rds DescribeGlobalClusters"] += math.ceil(databases / PAGE["DescribeGlobalClusters"])
    operations = Counter[str]()
    for run in runs:
        operations += Counter(run["by_operation"])
    floors = [floor_seconds(Counter({tuple(k[:3]): k[3] for k in run["by_key"]}), run["max_concurrency"],
                            run["max_concurrency_total"], latency) for run in runs]
    worst = max(range(len(runs)), key=lambda i: runs[i]["wall"] / floors[i] if floors[i] else 0)
    # every shard refreshes side by side (on machines of their own): the data is fresh once the slowest is done,
    # and that cannot be sooner than the largest of their floors
    return {"row": row, "shards": shards, "series": sum(r["series"] for r in runs),
            "calls": sum(operations.values()), "minimum": sum(minimum.values()),
            "operations": operations, "minimum_by_operation": minimum,
            "wall": runs[worst]["wall"], "floor": floors[worst],
            "slowest": max(r["wall"] for r in runs), "slowest_floor": max(floors), "cpu": runs[0]["cpu"],
            "rss_mb": max(r["rss_mb"] for r in runs), "before_mb": max(r["before_mb"] for r in runs),
            "front_mb": max(r["front_mb"] for r in runs),
            "idle": [percentile(r["idle"], p) for r in runs for p in (0.5, 0.99)],
            "during": [percentile(r["during"], p) for r in runs for p in (0.5, 0.99)],
            "during_n": sum(len(r["during"]) for r in runs),
            "month_usd": sum(r["month_usd"] for r in runs),
            "body_mb": sum(r["body_mb"] for r in runs), "gzip_kb": sum(r["gzip_kb"] for r in runs)}


def describe(row: str) -> str:
    services, accounts, regions = ROWS[row]
    where = "1 account x 1 region" if accounts == regions == 1 else f"{accounts} accounts x {regions} regions"
    return f"{services:,} services, {where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--latency-ms", type=float, default=50.0, help="injected latency per AWS call")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"rows to run, of {', '.join(ROWS)}")
    parser.add_argument("--shards", default="1,2,4", help="shard counts to run each row with")
    parser.add_argument("--idle-scrapes", type=int, default=300, help="GET /metrics to time when idle")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: one shard of one row
    parser.add_argument("--shard", default="", help=argparse.SUPPRESS)
    parser.add_argument("--fake", help=argparse.SUPPRESS)  # internal: the fake AWS of a row
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--scrape", type=int, help=argparse.SUPPRESS)  # internal: the scraper process
    parser.add_argument("--pause-ms", type=float, default=20.0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    if args.scrape:
        scrape_loop(args.scrape, args.pause_ms / 1000, args.count)
        return
    os.environ.update(AWS_ACCESS_KEY_ID="benchmark", AWS_SECRET_ACCESS_KEY="benchmark",
                      AWS_DEFAULT_REGION=REGIONS[0], AWS_EC2_METADATA_DISABLED="true",
                      AWS_ENDPOINT_URL="http://127.0.0.1:9")
    if args.fake:
        serve_fake(args.fake, args.socket)
        return
    if args.run:
        print(json.dumps(run_shard(args.run, args.shard, latency, args.idle_scrapes)))
        return

    config = config_of(1, 1, "")
    print(f"machine: {os.cpu_count()} CPUs ({_cpu_model()}), load average {os.getloadavg()[0]:.2f} at start, "
          f"python {platform.python_version()}; {args.latency_ms:.0f} ms per AWS call; "
          f"in flight: {config.aws.max_concurrency} per (account, region, AWS service), "
          f"{config.aws.max_concurrency_total} in all")
    print("\n| row | N | series | AWS calls / minimum | wall / floor | all shards: wall / floor "
          "| peak RSS MB (before) | scrape p50 / p99 ms, idle | during refreshes (scrapes) | AWS $ / month |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    detail = []
    for row in args.rows.split(","):
        for shards in (int(n) for n in args.shards.split(",")):
            r = row_result(row, shards, latency, args.idle_scrapes)
            detail.append(r)
            print(table_row(r), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print("\ncalls by operation vs the minimum (first row of each size, N = 1)")
    for r in detail:
        if r["shards"] != 1:
            continue
        print(f"  {describe(r['row'])} (peak RSS: the front process {r['front_mb']:.0f} MB of it; the exporter's "
              f"CPU in the measured refresh {r['cpu']:.1f} s, {r['cpu'] / r['calls'] * 1000:.2f} ms a call):")
        for op in sorted(set(r["operations"]) | set(r["minimum_by_operation"])):
            made, least = r["operations"].get(op, 0), r["minimum_by_operation"].get(op, 0)
            print(f"    {op:<40} {made:>6} {least:>6}" + ("" if made == least else "  <- more"))
    print(f"\nprices: GetMetricData ${PRICE_GET_METRIC_DATA_PER_METRIC * 1000:.2f} per 1,000 metrics, ListMetrics "
          f"${PRICE_CLOUDWATCH_PER_REQUEST * 1000:.2f} per 1,000 requests, S3 GET "
          f"${PRICE_S3_GET_PER_REQUEST * 1000:.4f} and LIST ${PRICE_S3_LIST_PER_REQUEST * 1000:.3f} per 1,000 "
          "requests; ECS, RDS, ElastiCache, ELB, STS, CloudFront, Route 53, API Gateway and WAF calls free. "
          f"Intervals: {config.collectors.ecs.interval_seconds:.0f} s, "
          f"S3 {config.collectors.s3.interval_seconds:.0f} s. "
          f"Cost Explorer (off here) adds ${COST_EXPLORER_MONTH:.2f}.")


def table_row(r: dict[str, Any]) -> str:
    """One markdown table row of :func:`row_result`."""
    idle = statistics.median(r["idle"][::2]) * 1e3, max(r["idle"][1::2]) * 1e3
    busy = statistics.median(r["during"][::2]) * 1e3, max(r["during"][1::2]) * 1e3
    return (f"| {describe(r['row'])} | {r['shards']} | {r['series']:,} | {r['calls']:,} / {r['minimum']:,} = "
            f"{r['calls'] / r['minimum']:.2f} | {r['wall']:.1f} s / {r['floor']:.1f} s = {r['wall'] / r['floor']:.2f} "
            f"| {r['slowest']:.1f} s / {r['slowest_floor']:.1f} s = {r['slowest'] / r['slowest_floor']:.2f} "
            f"| {r['rss_mb']:.0f} ({r['before_mb']:.0f}) | {idle[0]:.1f} / {idle[1]:.1f} "
            f"| {busy[0]:.1f} / {busy[1]:.1f} ({r['during_n']}) | {r['month_usd']:,.0f} |")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
