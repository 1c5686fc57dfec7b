"""Real AWS request limits that moto ignores, enforced on boto3 sessions through botocore events.

Usage::

    limits = AwsLimits()                        # AwsLimits(page_size=2): force tiny pages
    aws = Aws(session_factory=limits.session)   # every client made from these sessions is checked
    ...                                          # or limits.install(session) / limits.client(...)
    limits.assert_clean()                       # the ``aws_limits`` fixture does this at teardown
    limits.calls["ecs.DescribeServices"]        # API calls made (retries not counted), by "service.Operation"
    limits.params["ecs.DescribeServices"]       # the parameters of each of those calls (none kept with
                                                # AwsLimits(keep_params=False): a benchmark's thousands of calls)

A call breaking a limit (:data:`LIMITS`) raises :class:`AwsLimitExceeded` (an AssertionError) and is recorded
in ``violations``, so a test fails even when the code under test catches the error.

moto returns every item of a list call whatever the page size asked (checked with moto 5.2). For the
operations in :data:`PAGED` this layer paginates moto's answer as AWS would: at most
min(the page size asked or AWS's default, ``page_size``) items a response, plus a continuation token of its
own, so callers' pagination loops really run. If moto ever paginates one of them itself, that is recorded as
a violation (the emulation must then go). For the operations in :data:`SHRUNK`, which moto does paginate, a
forced ``page_size`` lowers the page size sent instead.

Clients of accounts reached by AssumeRole get a fresh botocore session in ``exporters.aws`` and are not
covered; use the default account in limit tests.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import boto3

TOKEN_PREFIX = "aws-limits:"


@dataclass(frozen=True)
class Limit:
    """``param`` (a list: its length; a number: its value) must be within [low, high] when given."""

    service: str  # botocore service id as in event names: ecs, rds, cloudwatch, elastic-load-balancing-v2
    operation: str
    param: str
    low: int
    high: int
    why: str


ELBV2 = "elastic-load-balancing-v2"
LIMITS = (
    Limit("ecs", "DescribeServices", "services", 1, 10, "DescribeServices takes at most 10 services"),
    Limit("ecs", "DescribeClusters", "clusters", 1, 100, "DescribeClusters takes at most 100 clusters"),
    Limit("ecs", "ListServices", "maxResults", 1, 100, "ListServices maxResults is 1-100"),
    Limit("ecs", "ListClusters", "maxResults", 1, 100, "ListClusters maxResults is 1-100"),
    Limit("rds", "DescribeDBClusters", "MaxRecords", 20, 100, "DescribeDBClusters MaxRecords is 20-100"),
    Limit("rds", "DescribeDBInstances", "MaxRecords", 20, 100, "DescribeDBInstances MaxRecords is 20-100"),
    Limit("rds", "DescribeGlobalClusters", "MaxRecords", 20, 100, "DescribeGlobalClusters MaxRecords is 20-100"),
    Limit("elasticache", "DescribeReplicationGroups", "MaxRecords", 20, 100,
          "DescribeReplicationGroups MaxRecords is 20-100"),
    Limit("elasticache", "DescribeCacheClusters", "MaxRecords", 20, 100, "DescribeCacheClusters MaxRecords is 20-100"),
    Limit("s3", "ListBuckets", "MaxBuckets", 1, 10000, "ListBuckets MaxBuckets is 1-10,000"),
    Limit("cloudwatch", "GetMetricData", "MetricDataQueries", 1, 500, "GetMetricData takes at most 500 queries"),
    Limit("cloudwatch", "PutMetricData", "MetricData", 1, 1000, "PutMetricData takes at most 1000 datums"),
    Limit("cloudwatch", "DescribeAlarms", "MaxRecords", 1, 100, "DescribeAlarms MaxRecords is 1-100"),
    Limit("cloudwatch", "DeleteAlarms", "AlarmNames", 1, 100, "DeleteAlarms takes at most 100 names"),
    Limit("resource-groups-tagging-api", "GetResources", "ResourcesPerPage", 1, 100,
          "GetResources ResourcesPerPage is 1-100"),
    Limit(ELBV2, "DescribeTargetGroups", "PageSize", 1, 400, "DescribeTargetGroups PageSize is 1-400"),
    Limit(ELBV2, "DescribeTargetGroups", "TargetGroupArns", 1, 400,
          "DescribeTargetGroups: no ARN cap in the model, but a page holds at most 400 (PageSize): batch by 400"),
    Limit(ELBV2, "DescribeLoadBalancers", "LoadBalancerArns", 1, 20, "DescribeLoadBalancers takes at most 20"),
    Limit(ELBV2, "DescribeLoadBalancers", "PageSize", 1, 400, "DescribeLoadBalancers PageSize is 1-400"),
    Limit("route-53", "ListHealthChecks", "MaxItems", 1, 1000, "ListHealthChecks returns at most 1,000 a page"),
    Limit("route-53", "ListTagsForResources", "ResourceIds", 1, 10, "ListTagsForResources takes 1-10 resources"),
    Limit("cloudfront", "ListDistributions", "MaxItems", 1, 100, "ListDistributions MaxItems is at most 100"),
    Limit("api-gateway", "GetRestApis", "limit", 1, 500, "GetRestApis limit is 1-500"),
    Limit("apigatewayv2", "GetApis", "MaxResults", 1, 100,
          "GetApis (v2): AWS documents no maximum; we hold ourselves to 100 a page"),
    Limit("apigatewayv2", "GetStages", "MaxResults", 1, 100,
          "GetStages (v2): AWS documents no maximum; we hold ourselves to 100 a page"),
    Limit("wafv2", "ListWebACLs", "Limit", 1, 100, "ListWebACLs Limit is 1-100"),
)


@dataclass(frozen=True)
class Paging:
    """How AWS paginates a list operation."""

    items: tuple[str, ...]  # response list keys
    token_in: str  # request parameter carrying the token
    token_out: str  # response key carrying the next token
    size_param: str  # request parameter with the page size
    default: int  # AWS's page size when none is asked
    container: str = ""  # the response key holding the list and the token (CloudFront), empty: the top level
    truncated: str = ""  # the response flag saying more pages follow (Route 53, CloudFront)


PAGED = {
    ("ecs", "ListClusters"): Paging(("clusterArns",), "nextToken", "nextToken", "maxResults", 100),
    ("ecs", "ListServices"): Paging(("serviceArns",), "nextToken", "nextToken", "maxResults", 10),
    ("rds", "DescribeDBClusters"): Paging(("DBClusters",), "Marker", "Marker", "MaxRecords", 100),
    ("rds", "DescribeDBInstances"): Paging(("DBInstances",), "Marker", "Marker", "MaxRecords", 100),
    ("rds", "DescribeGlobalClusters"): Paging(("GlobalClusters",), "Marker", "Marker", "MaxRecords", 100),
    ("s3", "ListBuckets"): Paging(("Buckets",), "ContinuationToken", "ContinuationToken", "MaxBuckets", 10000),
    (ELBV2, "DescribeTargetGroups"): Paging(("TargetGroups",), "Marker", "NextMarker", "PageSize", 400),
    ("route-53", "ListHealthChecks"): Paging(("HealthChecks",), "Marker", "NextMarker", "MaxItems", 100,
                                             truncated="IsTruncated"),
    ("cloudfront", "ListDistributions"): Paging(("Items",), "Marker", "NextMarker", "MaxItems", 100,
                                                container="DistributionList", truncated="IsTruncated"),
    ("api-gateway", "GetRestApis"): Paging(("items",), "position", "position", "limit", 25),
    ("apigatewayv2", "GetApis"): Paging(("Items",), "NextToken", "NextToken", "MaxResults", 100),
    ("apigatewayv2", "GetStages"): Paging(("Items",), "NextToken", "NextToken", "MaxResults", 100),
    ("wafv2", "ListWebACLs"): Paging(("WebACLs",), "NextMarker", "NextMarker", "Limit", 100),
    ("cloudwatch", "DescribeAlarms"): Paging(("MetricAlarms", "CompositeAlarms"), "NextToken", "NextToken",
                                             "MaxRecords", 50),
}


# Operations moto paginates itself, correctly: with a forced ``page_size`` this layer lowers the page size asked
# (after checking the caller's value against the limits), so callers' pagination loops run on small data.
SHRUNK = {
    ("elasticache", "DescribeReplicationGroups"): "MaxRecords",
    ("elasticache", "DescribeCacheClusters"): "MaxRecords",
    (ELBV2, "DescribeLoadBalancers"): "PageSize",
}


class AwsLimitExceeded(AssertionError):
    """A request that real AWS would reject (or that our code must never send)."""


class AwsLimits:
    """Counts calls, enforces :data:`LIMITS` and emulates :data:`PAGED` pagination on the sessions it equips."""

    def __init__(self, page_size: int | None = None, keep_params: bool = True) -> None:
        self.page_size = page_size
        self.keep_params = keep_params  # False: count the calls only (a benchmark's thousands of them)
        self.calls: Counter[str] = Counter()
        self.params: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.violations: list[str] = []
        self._lock = threading.Lock()

    # --- the API ---

    def session(self) -> boto3.Session:
        """A new boto3 session with the limits installed (an ``Aws`` ``session_factory``)."""
        session = boto3.Session()
        self.install(session)
        return session

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client with the limits installed."""
        return self.session().client(service, **kwargs)

    def install(self, session: boto3.Session) -> None:
        """Equip ``session``: clients created from it afterwards are checked and paginated."""
        events = session.events
        events.register("provide-client-params.*.*", self._check)
        for service, operation in PAGED:
            events.register(f"before-parameter-build.{service}.{operation}", self._take_token)
            events.register(f"after-call.{service}.{operation}", self._paginate)
        for service, operation in SHRUNK:
            events.register(f"before-parameter-build.{service}.{operation}", self._shrink)

    def assert_clean(self) -> None:
        if self.violations:
            raise AwsLimitExceeded("AWS limits broken:\n  " + "\n  ".join(self.violations))

    # --- event handlers ---

    def _violation(self, message: str) -> None:
        with self._lock:
            self.violations.append(message)
        raise AwsLimitExceeded(message)

    def _check(self, params: dict[str, Any], model: Any, event_name: str, **_: Any) -> None:
        service = event_name.split(".")[1]
        key = f"{service}.{model.name}"
        with self._lock:
            self.calls[key] += 1
            if self.keep_params:
                self.params[key].append(dict(params))
        for limit in LIMITS:
            if (limit.service, limit.operation) != (service, model.name) or limit.param not in params:
                continue
            value = params[limit.param]
            size = len(value) if isinstance(value, list | tuple) else _number(value)
            if not limit.low <= size <= limit.high:
                self._violation(f"{key}: {limit.param}={size}: {limit.why}")

    def _shrink(self, params: dict[str, Any], model: Any, event_name: str, **_: Any) -> None:
        if self.page_size:
            size_param = SHRUNK[event_name.split(".")[1], model.name]
            params[size_param] = min(params.get(size_param) or self.page_size, self.page_size)

    def _take_token(self, params: dict[str, Any], model: Any, context: dict[str, Any], event_name: str,
                    **_: Any) -> None:
        paging = PAGED[event_name.split(".")[1], model.name]
        token = params.get(paging.token_in)
        offset = 0
        if isinstance(token, str) and token.startswith(TOKEN_PREFIX):
            offset = int(token.removeprefix(TOKEN_PREFIX))
            del params[paging.token_in]
        size = _number(params.get(paging.size_param) or paging.default)
        context["aws_limits_page"] = (offset, min(size, self.page_size or size))

    def _paginate(self, parsed: dict[str, Any], http_response: Any, model: Any, context: dict[str, Any],
                  event_name: str, **_: Any) -> None:
        if http_response.status_code >= 300 or "aws_limits_page" not in context:
            return
        service = event_name.split(".")[1]
        paging = PAGED[service, model.name]
        parsed = parsed.get(paging.container) or {} if paging.container else parsed
        if parsed.get(paging.token_out):
            self._violation(f"{service}.{model.name}: moto paginated by itself; drop its emulation in aws_limits")
        offset, size = context["aws_limits_page"]
        more = False
        for key in paging.items:
            items = parsed.get(key)
            if isinstance(items, list):
                parsed[key] = items[offset:offset + size]
                more = more or len(items) > offset + size
        if paging.container and isinstance(parsed.get(paging.items[0]), list):
            parsed["Quantity"] = len(parsed[paging.items[0]])
        if paging.truncated:
            parsed[paging.truncated] = more
        if more:
            parsed[paging.token_out] = f"{TOKEN_PREFIX}{offset + size}"


def _number(value: Any) -> Any:
    """Page sizes some APIs take as strings (Route 53, CloudFront, API Gateway v2) as numbers."""
    return int(value) if isinstance(value, str) and value.isdigit() else value
