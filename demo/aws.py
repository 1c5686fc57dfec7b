"""The embedded demo: a Docqet staging environment seeded into moto's AWS server on 127.0.0.1.

``docqet-monitor demo`` starts moto (:func:`moto_server`), points this process at it
(:func:`aws_environment`), runs the demo steps in order, then runs the exporter against it. A step is a
function ``step(ctx: DemoContext) -> None``; each feature keeps its step in its own package and the CLI lists
them (``cli.demo_steps``). Steps may put what later steps need in ``ctx.extras``.

Seeding for tests and other features::

    seed_staging(endpoint_url, region="eu-west-1", *, now=None, degraded=(), ahead_minutes=120,
                 session=None) -> StagingEnvironment

seeds the ECS cluster ``docqet-staging`` (services api, worker, web; api and web behind ALB target groups),
the Aurora PostgreSQL cluster ``docqet-staging`` (writer ``docqet-staging-1``, reader ``docqet-staging-2``),
the Redis replication group ``docqet-staging-cache`` (a primary and a replica, :data:`REDIS_NODES`)
and CloudWatch datapoints (the values in :data:`ECS_SERVICES`, :data:`AURORA_INSTANCES`,
:data:`AURORA_VOLUME_BYTES`) for every metric the AWS collectors read, one a minute from 30 minutes
before ``now`` to ``ahead_minutes`` after it, so the exporter's delayed, aligned window finds them for a
while. Services named in ``degraded`` keep their tasks pending: running 0 of desired. ``session`` (a
boto3 Session, e.g. one with test limits installed) makes the clients; default: a new one.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from docqet_monitor.core.config import Config
from docqet_monitor.core.errors import RunError, UsageError

REGION = "eu-west-1"
CLUSTER = "docqet-staging"
MAX_DATUMS_PER_PUT = 1000  # PutMetricData limit
GIB = 1024 ** 3
DEFAULT_OUT = Path(".cache/docqet-monitor/demo")  # relative to the working directory, like the cost cache
OUT_MARKER = ".docqet-monitor-demo"  # marks a directory the demo owns and empties on each run


@dataclass(frozen=True)
class HttpSpec:
    requests_per_minute: float
    errors_per_minute: float  # 0: no datapoint at all, as ALB publishes 5xx counts only when non-zero
    p95_seconds: float


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    desired: int
    cpu_percent: float
    memory_percent: float
    port: int = 0  # container port behind the ALB; 0: no load balancer
    http: HttpSpec | None = None


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    writer: bool
    metrics: dict[str, float]  # CloudWatch AWS/RDS metric name -> value, in CloudWatch units


ECS_SERVICES = (
    ServiceSpec("api", 3, cpu_percent=42.0, memory_percent=61.0, port=8000,
                http=HttpSpec(requests_per_minute=1500.0, errors_per_minute=3.0, p95_seconds=0.18)),
    ServiceSpec("worker", 2, cpu_percent=71.0, memory_percent=48.0),
    ServiceSpec("web", 2, cpu_percent=18.0, memory_percent=35.0, port=3000,
                http=HttpSpec(requests_per_minute=900.0, errors_per_minute=0.0, p95_seconds=0.095)),
)
_COMMON = {"ReadLatency": 0.0012, "WriteLatency": 0.0021, "Deadlocks": 0.0}
AURORA_INSTANCES = (
    InstanceSpec(f"{CLUSTER}-1", writer=True, metrics={
        "CPUUtilization": 35.0, "DatabaseConnections": 48.0, "FreeableMemory": 6.0 * GIB,
        "FreeLocalStorage": 30.0 * GIB, **_COMMON}),
    InstanceSpec(f"{CLUSTER}-2", writer=False, metrics={
        "CPUUtilization": 22.0, "DatabaseConnections": 20.0, "FreeableMemory": 7.5 * GIB,
        "FreeLocalStorage": 31.0 * GIB, "AuroraReplicaLag": 18.0, **_COMMON}),
)
ALB_ELB_5XX_PER_MINUTE = 1.0  # 5xx the load balancer generates itself (not its targets)
AURORA_VOLUME_BYTES = 12.5 * GIB
BACKUP_RETENTION_DAYS = 7
AURORA_ENGINE_VERSION = "15.4"

DR_REGION = "us-east-1"  # the disaster-recovery region of the demo: S3 replica bucket, Aurora Global secondary
GLOBAL_CLUSTER = f"{CLUSTER}-global"
DR_CLUSTER = f"{CLUSTER}-dr"  # the Aurora Global secondary cluster, in the DR region
GLOBAL_LAG_MS = {"AuroraGlobalDBReplicationLag": 850.0, "AuroraGlobalDBRPOLag": 1900.0}  # CloudWatch: milliseconds
S3_STORAGE_BYTES = {"StandardStorage": 182.0 * GIB, "StandardIAStorage": 640.0 * GIB}  # per storage class
S3_OBJECTS = 4_250_000.0
S3_REPLICATION_RULE = "documents-to-dr"
S3_REPLICATION = {"ReplicationLatency": 42.0, "BytesPendingReplication": 1.5e6, "OperationsPendingReplication": 12.0}

REDIS_GROUP = "docqet-staging-cache"  # Redis replication group, cluster mode disabled: a primary and a replica
REDIS_ENGINE_VERSION = "7.1"
_REDIS_COMMON = {"CPUUtilization": 9.0, "FreeableMemory": 2.1 * GIB, "Evictions": 0.0,
                 "NetworkBytesIn": 1.2e6, "NetworkBytesOut": 3.6e6}  # per-minute sums for the byte counts
REDIS_NODES = (  # (cache cluster id, CloudWatch metrics in CloudWatch units)
    (f"{REDIS_GROUP}-001", {"EngineCPUUtilization": 18.0, "DatabaseMemoryUsagePercentage": 42.0,
                            "CacheHitRate": 96.5, "CurrConnections": 85.0, **_REDIS_COMMON}),
    (f"{REDIS_GROUP}-002", {"EngineCPUUtilization": 6.0, "DatabaseMemoryUsagePercentage": 41.0,
                            "CacheHitRate": 98.0, "CurrConnections": 12.0, "ReplicationLag": 0.02, **_REDIS_COMMON}),
)


@dataclass(frozen=True)
class StagingEnvironment:
    """What :func:`seed_staging` created (ARNs for steps that need them)."""

    region: str
    cluster_arn: str
    service_arns: dict[str, str]
    load_balancer_arn: str
    target_group_arns: dict[str, str]  # service -> target group ARN
    db_cluster: str
    db_instances: tuple[str, ...]


# --- seeding ------------------------------------------------------------------------------------


def documents_bucket(region: str) -> str:
    """The staging document bucket of ``region`` (bucket names are global)."""
    return f"{CLUSTER}-documents-{region}"


def replica_bucket(region: str) -> str:
    """Where :func:`documents_bucket` replicates to, in the DR region."""
    return f"{documents_bucket(region)}-dr"


def seed_staging(endpoint_url: str, region: str = REGION, *, now: float | None = None,
                 degraded: Collection[str] = (), ahead_minutes: int = 120,
                 session: boto3.Session | None = None, dr_region: str | None = None) -> StagingEnvironment:
    """Create the staging environment and its CloudWatch datapoints in the AWS emulator at ``endpoint_url``.

    With ``dr_region`` also the disaster-recovery side there: the document bucket's replica (with a replication
    rule and its metrics) and the Aurora Global database (the staging cluster primary, ``docqet-staging-dr``
    secondary, with its lag metrics).
    """
    unknown = set(degraded) - {s.name for s in ECS_SERVICES}
    if unknown:
        raise ValueError(f"degraded: unknown service(s) {sorted(unknown)}; expected some of api, worker, web")
    session = session or boto3.Session()

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url, region_name=region)

    lb_arn, tg_arns = _seed_load_balancer(client("ec2"), client("elbv2"), region)
    cluster_arn, service_arns = _seed_ecs(client("ecs"), tg_arns, set(degraded))
    if dr_region:  # the staging cluster is the global database's primary
        client("rds").create_global_cluster(GlobalClusterIdentifier=GLOBAL_CLUSTER, Engine="aurora-postgresql",
                                            EngineVersion=AURORA_ENGINE_VERSION)
    _seed_aurora(client("rds"), GLOBAL_CLUSTER if dr_region else None)
    _seed_redis(client("elasticache"), region)
    now = now or time.time()
    put_datapoints(client("cloudwatch"), datapoints(lb_arn, tg_arns, now, ahead_minutes))
    put_datapoints(client("cloudwatch"), daily_datapoints(region, now))
    _seed_bucket(client("s3"), documents_bucket(region), region)
    if dr_region:
        dr = session.client("s3", endpoint_url=endpoint_url, region_name=dr_region)
        _seed_bucket(dr, replica_bucket(region), dr_region)
        _seed_replication(client("s3"), region)
        put_datapoints(client("cloudwatch"), minutely(_replication_series(region), now, ahead_minutes))
        dr_rds = session.client("rds", endpoint_url=endpoint_url, region_name=dr_region)
        dr_rds.create_db_cluster(DBClusterIdentifier=DR_CLUSTER, Engine="aurora-postgresql",
                                 EngineVersion=AURORA_ENGINE_VERSION, GlobalClusterIdentifier=GLOBAL_CLUSTER,
                                 BackupRetentionPeriod=BACKUP_RETENTION_DAYS)  # healthy: only `reports` pages
        dr_cloudwatch = session.client("cloudwatch", endpoint_url=endpoint_url, region_name=dr_region)
        put_datapoints(dr_cloudwatch, minutely(_global_series(), now, ahead_minutes))
    return StagingEnvironment(region, cluster_arn, service_arns, lb_arn, tg_arns, CLUSTER,
                              tuple(i.name for i in AURORA_INSTANCES))


def _seed_load_balancer(ec2: Any, elbv2: Any, region: str) -> tuple[str, dict[str, str]]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{zone}")
               ["Subnet"]["SubnetId"] for i, zone in enumerate("ab", start=1)]
    lb_arn = elbv2.create_load_balancer(Name=CLUSTER, Subnets=subnets, Type="application",
                                        Scheme="internet-facing")["LoadBalancers"][0]["LoadBalancerArn"]
    tg_arns = {}
    for spec in ECS_SERVICES:
        if spec.port:
            tg_arns[spec.name] = elbv2.create_target_group(
                Name=f"{CLUSTER}-{spec.name}", Protocol="HTTP", Port=spec.port, VpcId=vpc, TargetType="ip",
                HealthCheckPath="/healthz")["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg_arns["web"]}])["Listeners"][0]["ListenerArn"]
    elbv2.create_rule(ListenerArn=listener, Priority=10, Actions=[
        {"Type": "forward", "TargetGroupArn": tg_arns["api"]}],
        Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}])
    return lb_arn, tg_arns


def _seed_ecs(ecs: Any, tg_arns: dict[str, str], degraded: set[str]) -> tuple[str, dict[str, str]]:
    cluster_arn = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    service_arns = {}
    for spec in ECS_SERVICES:
        container: dict[str, Any] = {"name": spec.name, "image": f"docqet/{spec.name}:staging", "essential": True}
        if spec.port:
            container["portMappings"] = [{"containerPort": spec.port}]
        ecs.register_task_definition(family=f"{CLUSTER}-{spec.name}", requiresCompatibilities=["FARGATE"],
                                     networkMode="awsvpc", cpu="512", memory="1024",
                                     containerDefinitions=[container])
        lbs = [{"targetGroupArn": tg_arns[spec.name], "containerName": spec.name, "containerPort": spec.port}
               ] if spec.name in tg_arns else []
        service_arns[spec.name] = ecs.create_service(
            cluster=CLUSTER, serviceName=spec.name, taskDefinition=f"{CLUSTER}-{spec.name}",
            desiredCount=spec.desired, launchType="FARGATE", loadBalancers=lbs)["service"]["serviceArn"]
        if spec.name not in degraded:  # moto starts services with every task pending; this starts them
            ecs.update_service(cluster=CLUSTER, service=spec.name, desiredCount=spec.desired)
    return cluster_arn, service_arns


def _seed_aurora(rds: Any, global_cluster: str | None) -> None:
    joins = {"GlobalClusterIdentifier": global_cluster} if global_cluster else {}
    rds.create_db_cluster(DBClusterIdentifier=CLUSTER, Engine="aurora-postgresql", EngineVersion=AURORA_ENGINE_VERSION,
                          MasterUsername="docqet", MasterUserPassword="demo-only-password",
                          BackupRetentionPeriod=BACKUP_RETENTION_DAYS, DatabaseName="docqet", **joins)
    for spec in AURORA_INSTANCES:  # the first instance created becomes the writer
        rds.create_db_instance(DBInstanceIdentifier=spec.name, DBClusterIdentifier=CLUSTER,
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")


def _seed_redis(elasticache: Any, region: str) -> None:
    elasticache.create_replication_group(
        ReplicationGroupId=REDIS_GROUP, ReplicationGroupDescription="Docqet cache and sessions", Engine="redis",
        EngineVersion=REDIS_ENGINE_VERSION, CacheNodeType="cache.r7g.large", ReplicasPerNodeGroup=len(REDIS_NODES) - 1,
        AutomaticFailoverEnabled=True, MultiAZEnabled=True,
        PreferredCacheClusterAZs=[f"{region}a", f"{region}b"])
    for cache_cluster, _ in REDIS_NODES:  # moto keeps a group's members apart from its cache clusters; AWS lists both
        elasticache.create_cache_cluster(CacheClusterId=cache_cluster, ReplicationGroupId=REDIS_GROUP,
                                         Engine="redis", EngineVersion=REDIS_ENGINE_VERSION,
                                         CacheNodeType="cache.r7g.large", NumCacheNodes=1)


def _seed_bucket(s3: Any, name: str, region: str) -> None:
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _seed_replication(s3: Any, region: str) -> None:
    s3.put_bucket_replication(Bucket=documents_bucket(region), ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/docqet-staging-replication",
        "Rules": [{"ID": S3_REPLICATION_RULE, "Priority": 1, "Status": "Enabled", "Filter": {},
                   "DeleteMarkerReplication": {"Status": "Enabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{replica_bucket(region)}",
                                   "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}]})


def dimensions(**dims: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dims.items()]


def series(lb_arn: str, tg_arns: dict[str, str]) -> list[tuple[str, str, list[dict[str, str]], float]]:
    """(namespace, metric, dimensions, value per minute) of every seeded CloudWatch series (pure)."""
    lb_dim = lb_arn.split(":loadbalancer/", 1)[1]
    lb_only = dimensions(LoadBalancer=lb_dim)
    result = [("AWS/ApplicationELB", "RequestCount", lb_only,
               sum(s.http.requests_per_minute for s in ECS_SERVICES if s.http)),
              ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lb_only, ALB_ELB_5XX_PER_MINUTE)]
    for s in ECS_SERVICES:
        dims = dimensions(ClusterName=CLUSTER, ServiceName=s.name)
        result += [("AWS/ECS", "CPUUtilization", dims, s.cpu_percent),
                   ("AWS/ECS", "MemoryUtilization", dims, s.memory_percent)]
        if s.http and s.name in tg_arns:
            alb = dimensions(LoadBalancer=lb_dim, TargetGroup=tg_arns[s.name].split(":", 5)[5])
            result += [("AWS/ApplicationELB", "RequestCount", alb, s.http.requests_per_minute),
                       ("AWS/ApplicationELB", "TargetResponseTime", alb, s.http.p95_seconds),
                       ("AWS/ApplicationELB", "HealthyHostCount", alb, float(s.desired)),
                       ("AWS/ApplicationELB", "UnHealthyHostCount", alb, 0.0)]
            if s.http.errors_per_minute:
                result.append(("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb, s.http.errors_per_minute))
    result.append(("AWS/RDS", "VolumeBytesUsed", dimensions(DBClusterIdentifier=CLUSTER), AURORA_VOLUME_BYTES))
    for i in AURORA_INSTANCES:
        dims = dimensions(DBInstanceIdentifier=i.name)
        result += [("AWS/RDS", metric, dims, value) for metric, value in i.metrics.items()]
    for cache_cluster, metrics in REDIS_NODES:
        dims = dimensions(CacheClusterId=cache_cluster, CacheNodeId="0001")
        result += [("AWS/ElastiCache", metric, dims, value) for metric, value in metrics.items()]
    return result


def datapoints(lb_arn: str, tg_arns: dict[str, str], now: float, ahead_minutes: int,
               history_minutes: int = 30) -> dict[str, list[dict[str, Any]]]:
    """Namespace -> PutMetricData datums, one per series a minute, mid-minute timestamps (pure)."""
    first = math.floor(now / 60) - history_minutes
    minutes = range(first, first + history_minutes + ahead_minutes)
    result: dict[str, list[dict[str, Any]]] = {}
    for namespace, metric, dims, value in series(lb_arn, tg_arns):
        result.setdefault(namespace, []).extend(
            {"MetricName": metric, "Dimensions": dims, "Value": value,
             "Timestamp": datetime.fromtimestamp(m * 60 + 30, UTC)} for m in minutes)
    return result


Series = list[tuple[str, str, list[dict[str, str]], float]]


def _replication_series(region: str) -> Series:
    dims = dimensions(SourceBucket=documents_bucket(region), DestinationBucket=replica_bucket(region),
                 RuleId=S3_REPLICATION_RULE)
    return [("AWS/S3", metric, dims, value) for metric, value in S3_REPLICATION.items()]


def _global_series() -> Series:
    dims = dimensions(DBClusterIdentifier=DR_CLUSTER)
    return [("AWS/RDS", metric, dims, value) for metric, value in GLOBAL_LAG_MS.items()]


def minutely(found: Series, now: float, ahead_minutes: int,
              history_minutes: int = 30) -> dict[str, list[dict[str, Any]]]:
    first = math.floor(now / 60) - history_minutes
    result: dict[str, list[dict[str, Any]]] = {}
    for namespace, metric, dims, value in found:
        result.setdefault(namespace, []).extend(
            {"MetricName": metric, "Dimensions": dims, "Value": value,
             "Timestamp": datetime.fromtimestamp(m * 60 + 30, UTC)}
            for m in range(first, first + history_minutes + ahead_minutes))
    return result


def daily_datapoints(region: str, now: float, days: int = 3) -> dict[str, list[dict[str, Any]]]:
    """The S3 storage metrics of the region's document bucket, one datum a day at 00:00 UTC (as S3 publishes
    them) for the ``days`` complete days before ``now`` (pure)."""
    today = math.floor(now / 86400) * 86400
    bucket = documents_bucket(region)
    found = [("BucketSizeBytes", dimensions(BucketName=bucket, StorageType=kind), size)
             for kind, size in S3_STORAGE_BYTES.items()]
    found.append(("NumberOfObjects", dimensions(BucketName=bucket, StorageType="AllStorageTypes"), S3_OBJECTS))
    return {"AWS/S3": [{"MetricName": metric, "Dimensions": dims, "Value": value,
                        "Timestamp": datetime.fromtimestamp(today - day * 86400, UTC)}
                       for metric, dims, value in found for day in range(1, days + 1)]}


def put_datapoints(cloudwatch: Any, by_namespace: dict[str, list[dict[str, Any]]]) -> None:
    for namespace, datums in by_namespace.items():
        for i in range(0, len(datums), MAX_DATUMS_PER_PUT):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[i:i + MAX_DATUMS_PER_PUT])


# --- the emulator and the demo steps ------------------------------------------------------------


class DemoError(RunError):
    """The demo cannot run (e.g. its output directory is not its own) or a step of it failed: exit 1."""


class ExtraMissing(UsageError):
    """moto is not installed: the ``demo`` extra is missing (exit 2)."""


def require_moto() -> type:
    """moto's ``ThreadedMotoServer``; :class:`ExtraMissing` saying how to install it."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ExtraMissing("the demo needs the `demo` extra (moto's AWS emulator): "
                           "pip install 'docqet-monitor[demo]' (in a checkout: `make demo`)") from None
    return ThreadedMotoServer


def port_problem(address: str, port: int) -> str | None:
    """Why ``address:port`` cannot be listened on, or None (port 0, any free port, always can)."""
    if port == 0:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the exporter's HTTP server binds
        try:
            sock.bind((address, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def patch_moto_percentiles() -> None:
    """Teach moto's CloudWatch percentile statistics (``p95``); unpatched it fails GetMetricData with a 500.

    Nearest-rank percentile of the period's raw values (the maximum for pre-aggregated datums).
    """
    from moto.cloudwatch.models import Statistics

    original = Statistics.get_statistics_for_type
    if getattr(original, "docqet_percentiles", False):
        return

    def get_statistics_for_type(self: Statistics, stat: str) -> Any:
        match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?)", stat)
        if match is None:
            return original(self, stat)
        values = sorted(self.metric_single_values_list)
        if not values:
            return self.maximum
        return values[max(1, math.ceil(float(match[1]) / 100 * len(values))) - 1]

    get_statistics_for_type.docqet_percentiles = True  # type: ignore[attr-defined]
    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's AWS server on 127.0.0.1 (a free port) for the duration; yields its URL."""
    server_class = require_moto()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    patch_moto_percentiles()
    server = server_class(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()  # port 0: the OS chose a free one
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def aws_environment(endpoint_url: str, region: str = REGION) -> Iterator[None]:
    """This process only: boto3 talks to ``endpoint_url`` with fake credentials (restored afterwards).

    The user's AWS config and credential files, profile and per-service endpoints are hidden meanwhile, so
    nothing can reach a real account.
    """
    values: dict[str, str | None] = {
        "AWS_ENDPOINT_URL": endpoint_url, "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_PROFILE": None, "AWS_SESSION_TOKEN": None,
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
        **{key: None for key in os.environ if key.startswith("AWS_ENDPOINT_URL_")}}
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            _set_env(key, value)
        yield
    finally:
        for key, value in saved.items():
            _set_env(key, value)


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def prepare_out(path: Path) -> Path:
    """Empty the demo's output directory for a new run (absolute path returned).

    Only a new or empty directory, or one an earlier demo run marked with :data:`OUT_MARKER`, is used: the demo
    never deletes what it did not write.
    """
    try:
        if path.is_dir() and any(path.iterdir()):
            if not (path / OUT_MARKER).is_file():
                raise DemoError(f"--out {path}: the directory is not empty and not a demo output directory "
                                f"(no {OUT_MARKER} file); choose another")
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / OUT_MARKER).write_text("Written by `docqet-monitor demo`; emptied by its next run.\n")
    except OSError as exc:
        raise DemoError(f"--out {path}: {exc.strerror or exc}") from None
    return path.resolve()


@dataclass
class DemoContext:
    """Shared by the demo steps: where the emulator is, the config the exporter will run with, output.

    Steps write files only under ``out_dir`` (emptied at the start of each run, kept afterwards to look at).
    """

    endpoint_url: str
    config: Config
    echo: Callable[[str], None]
    out_dir: Path
    region: str = REGION
    now: float = field(default_factory=time.time)
    extras: dict[str, Any] = field(default_factory=dict)


Step = Callable[[DemoContext], None]


def seed_aws_step(ctx: DemoContext) -> None:
    """Demo step: seed the staging ECS, ALB, Aurora, Redis, S3, its DR region and CloudWatch data
    (``ctx.extras["staging"]``)."""
    env = seed_staging(ctx.endpoint_url, ctx.region, now=ctx.now, dr_region=DR_REGION)
    ctx.extras["staging"] = env
    ctx.echo(f"seeded {ctx.region}: ECS cluster {CLUSTER} (services {', '.join(env.service_arns)}) behind ALB "
             f"{CLUSTER}, Aurora PostgreSQL cluster {env.db_cluster} ({', '.join(env.db_instances)}), "
             f"Redis replication group {REDIS_GROUP}, S3 bucket {documents_bucket(ctx.region)}, CloudWatch datapoints")
    ctx.echo(f"seeded {DR_REGION} (disaster recovery): S3 replica {replica_bucket(ctx.region)}, Aurora Global "
             f"database {GLOBAL_CLUSTER} with secondary cluster {DR_CLUSTER}")


def run_steps(ctx: DemoContext, steps: Sequence[Step]) -> None:
    for step in steps:
        step(ctx)
