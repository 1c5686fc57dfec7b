"""AWS client accounting: requests per attempt, errors by code, estimated cost, the in-flight limit, retries,
timeouts, malformed responses and assume-role per account."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.parsers import ResponseParserError
from click.testing import CliRunner
from fakeaws import THROTTLED, fake_aws
from faults import Body, FaultyAws, Request, when

from docqet_monitor.cli import main
from docqet_monitor.core.aws import (
    REQUIRED_FIELDS,
    Aws,
    AwsSettingsError,
    MalformedResponseError,
    estimated_cost,
    missing_fields,
)
from docqet_monitor.core.config import AccountConfig, AwsConfig
from docqet_monitor.core.partitions import global_region
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters.cloudwatch import MetricQuery, plan
from docqet_monitor.exporters.metrics import render

OK_CLUSTERS = (200, {"clusterArns": []})


def _aws(**settings: float) -> Aws:
    return Aws(settings=AwsConfig(**settings))  # type: ignore[arg-type]


def _answer(client: object, operation: str, status: int, body: bytes) -> None:
    """Make ``client`` receive ``body`` for ``operation`` instead of sending the request."""
    service = client.meta.service_model.service_id.hyphenize()  # type: ignore[attr-defined]
    client.meta.events.register_first(  # type: ignore[attr-defined]
        f"before-send.{service}.{operation}",
        lambda request, **_: AWSResponse(request.url, status, {"Content-Type": "text/xml"}, Body(body)))


def _still_usable(aws: Aws, client: object, call: str) -> bool:
    """True when another call gets through (an in-flight slot leaked by a failure would block it)."""
    done = threading.Event()

    def run() -> None:
        getattr(client, call)()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    return done.is_set()


# --- pure ------------------------------------------------------------------------------------


def test_estimated_cost_follows_the_aws_price_list() -> None:
    queries = [{"Id": f"q{i}"} for i in range(1000)]
    assert estimated_cost("cloudwatch", "GetMetricData", {"MetricDataQueries": queries}) == pytest.approx(0.01)
    assert estimated_cost("cloudwatch", "GetMetricData", {"MetricDataQueries": queries[:1]}) == pytest.approx(1e-5)
    assert estimated_cost("cloudwatch", "ListMetrics", {}) == pytest.approx(0.01 / 1000)
    assert estimated_cost("ce", "GetCostAndUsage", {}) == pytest.approx(0.01)
    assert estimated_cost("ecs", "DescribeServices", {}) == 0.0
    assert estimated_cost("rds", "DescribeDBClusters", {}) == 0.0


def test_the_estimated_cost_sums_without_float_noise() -> None:
    """30 metrics of GetMetricData cost 0.0003 USD, and the counter says so (a float sum said
    0.00030000000000000014)."""
    stats = Stats()
    for _ in range(30):
        stats.add_cost(estimated_cost("cloudwatch", "GetMetricData", {"MetricDataQueries": [{"Id": "q"}]}))
    assert stats.cost_usd == 0.0003
    assert b"docqet_exporter_aws_estimated_cost_usd_total 0.0003\n" in render(stats.families())


@pytest.mark.parametrize(("var", "value", "why"), [
    ("AWS_PROFILE", "no-such-profile", "The config profile (no-such-profile) could not be found (ProfileNotFound)"),
    ("AWS_CONFIG_FILE", "/etc/passwd", "Unable to parse config file: /etc/passwd (ConfigParseError)"),
    ("AWS_ENDPOINT_URL", "user:s3cret-pass@emulator:5000", "an endpoint URL is not an http(s) URL ($AWS_ENDPOINT_URL, "
     "$AWS_ENDPOINT_URL_<SERVICE> or a profile's endpoint_url; not shown)"),
    ("AWS_CA_BUNDLE", "/nonexistent/ca.pem", "cannot load the CA bundle ($AWS_CA_BUNDLE or a profile's ca_bundle): "
     "No such file or directory"),
    ("AWS_STS_REGIONAL_ENDPOINTS", "bogus", "STS regional endpoints option bogus is invalid"),
])
def test_aws_settings_that_make_no_client_are_a_setting_to_fix(var: str, value: str, why: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore raises them when a client is made (no request yet): exit 2 at the exporter's start with one
    sentence, where they were a traceback (exit 1), or every collector's error at every refresh."""
    monkeypatch.setenv(var, value)
    with pytest.raises(AwsSettingsError) as err:
        Aws().client("sts", "eu-west-1")
    assert str(err.value).startswith("the AWS settings (AWS_* variables, the shared config and credentials files): ")
    assert why in str(err.value) and "s3cret" not in str(err.value)
    result = CliRunner().invoke(main, ["--env", "staging", "exporter", "once"])
    assert result.exit_code == 2 and f"Error: {err.value}\n" in result.output, result.output


@pytest.mark.parametrize(("var", "value"), [("AWS_PROFILE", "no-such-profile"), ("AWS_CONFIG_FILE", "/etc/passwd")])
def test_botocore_data_is_read_without_the_aws_profile(var: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The partitions and endpoints (iam-policy's ARNs, the global services' regions) come from botocore's own
    files: a botocore session would read the profile first, and a bad one was a traceback in iam-policy."""
    monkeypatch.setenv(var, value)
    global_region.cache_clear()
    assert global_region("route53", "cn-north-1") == "cn-northwest-1"
    result = CliRunner().invoke(main, ["--env", "staging", "iam-policy", "--role", "exporter"])
    assert result.exit_code == 0 and '"Resource": "*"' in result.output, result.output


def test_missing_fields_only_for_known_operations() -> None:
    assert missing_fields("cloudwatch", "GetMetricData", {}) == ("MetricDataResults",)
    assert missing_fields("cloudwatch", "GetMetricData", {"MetricDataResults": []}) == ()
    assert missing_fields("ecs", "CreateCluster", {}) == ()
    assert ("ecs", "DescribeServices") in REQUIRED_FIELDS


# --- client configuration ---------------------------------------------------------------------


def test_clients_use_adaptive_retries_timeouts_and_are_cached() -> None:
    aws = _aws(max_attempts=4, connect_timeout_seconds=2.0, read_timeout_seconds=7.0, max_concurrency=3)
    client = aws.client("ecs", "eu-west-1")
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2.0, 7.0)
    assert client.meta.region_name == "eu-west-1"
    assert aws.client("ecs", "eu-west-1") is client
    assert aws.client("ecs", "us-east-1") is not client


def test_clients_made_concurrently_are_one_per_service_and_region() -> None:
    aws = _aws()
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda i: aws.client(("ecs", "rds")[i % 2], "eu-west-1"), range(32)))
    assert len({id(c) for c in clients}) == 2


# --- request accounting -------------------------------------------------------------------------


def test_every_attempt_is_counted_and_errors_by_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def respond(operation: str, attempt: int):
        return THROTTLED if attempt <= 2 else OK_CLUSTERS

    with fake_aws(respond) as (fake, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        aws = _aws(max_attempts=5)
        assert aws.client("ecs", "eu-west-1").list_clusters()["clusterArns"] == []
    assert fake.operations == ["ListClusters"] * 3
    assert aws.stats.requests == {("ecs", "ListClusters"): 3}
    assert aws.stats.errors == {("ecs", "ListClusters", "ThrottlingException"): 2}


def test_exhausted_retries_raise_and_count_each_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_aws(lambda op, n: (503, {"__type": "ServiceUnavailableException", "message": "down"})) as (_, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        aws = _aws(max_attempts=2, max_concurrency=1)
        client = aws.client("ecs", "eu-west-1")
        with pytest.raises(ClientError):
            client.list_clusters()
    assert aws.stats.requests == {("ecs", "ListClusters"): 2}
    assert aws.stats.errors == {("ecs", "ListClusters", "ServiceUnavailableException"): 2}
    assert aws.stats.cost_usd == 0.0


def test_a_timeout_is_counted_and_frees_its_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}

    def respond(operation: str, attempt: int):
        calls["n"] += 1
        return (200, None) if calls["n"] <= 2 else OK_CLUSTERS

    with fake_aws(respond) as (_, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        aws = _aws(max_attempts=2, max_concurrency=1, read_timeout_seconds=0.3)
        client = aws.client("ecs", "eu-west-1")
        with pytest.raises(ReadTimeoutError):
            client.list_clusters()
        assert aws.stats.errors == {("ecs", "ListClusters", "ReadTimeoutError"): 2}
        assert _still_usable(aws, client, "list_clusters")
    assert aws.stats.requests == {("ecs", "ListClusters"): 3}


def test_cost_counts_successful_billable_calls(moto_endpoint: str) -> None:
    aws = _aws()
    cw = aws.client("cloudwatch", "eu-west-1")
    cw.put_metric_data(Namespace="Docqet/Test", MetricData=[{"MetricName": "m", "Value": 1.0}])
    queries = [MetricQuery("Docqet/Test", "m", (), stat, 60) for stat in ("Average", "Maximum", "Sum")]
    cw.get_metric_data(**plan(queries, datetime.now(UTC).timestamp(), 120, 5)[0].params())
    aws.client("ecs", "eu-west-1").list_clusters()
    aws.client("ce", "us-east-1").get_cost_and_usage(
        TimePeriod={"Start": "2026-01-01", "End": "2026-01-02"}, Granularity="DAILY", Metrics=["UnblendedCost"])
    assert aws.stats.cost_usd == pytest.approx(0.01 / 1000 + 3 * 0.01 / 1000 + 0.01)
    assert aws.stats.requests == {("cloudwatch", "PutMetricData"): 1, ("cloudwatch", "GetMetricData"): 1,
                                  ("ecs", "ListClusters"): 1, ("ce", "GetCostAndUsage"): 1}
    assert not aws.stats.errors


# --- malformed responses ------------------------------------------------------------------------


def test_unparseable_response_is_counted_and_frees_its_slot(moto_endpoint: str) -> None:
    aws = _aws(max_attempts=1, max_concurrency=1)
    broken = aws.client("rds", "eu-west-1")
    _answer(broken, "DescribeDBClusters", 200, b"<DescribeDBClustersResponse><garbage")
    with pytest.raises(ResponseParserError):
        broken.describe_db_clusters()
    assert aws.stats.requests == {("rds", "DescribeDBClusters"): 1}
    assert aws.stats.errors == {("rds", "DescribeDBClusters", "ResponseParserError"): 1}
    assert _still_usable(aws, aws.client("rds", "us-east-1"), "describe_db_instances")


def test_response_without_required_field_is_an_error(moto_endpoint: str) -> None:
    aws = _aws(max_attempts=1)
    cw = aws.client("cloudwatch", "eu-west-1")
    _answer(cw, "GetMetricData", 200, b"{}")
    call = plan([MetricQuery("AWS/ECS", "CPUUtilization", (), "Average", 60)], 1.8e9, 120, 5)[0]
    with pytest.raises(MalformedResponseError, match="MetricDataResults"):
        cw.get_metric_data(**call.params())
    assert aws.stats.requests == {("cloudwatch", "GetMetricData"): 1}
    assert aws.stats.errors == {("cloudwatch", "GetMetricData", "MalformedResponse"): 1}


def test_timestamps_parse_to_their_instants_in_utc(moto_endpoint: str) -> None:
    """Epoch seconds (CloudWatch's datapoints, JSON) and ISO 8601 (query XML) both give the instant AWS sent,
    in default and role sessions alike."""
    prod = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet-monitor", name="prod")
    aws = _aws()
    call = plan([MetricQuery("AWS/ECS", "CPUUtilization", (), "Average", 60)], 1.8e9, 120, 5)[0]
    for account in (None, prod):
        cw = aws.client("cloudwatch", "eu-west-1", account)
        _answer(cw, "GetMetricData", 200, b'{"MetricDataResults": [{"Id": "q0", "StatusCode": "Complete", '
                                         b'"Timestamps": [1800000000, 1799999940.5], "Values": [1.0, 2.0]}]}')
        result = cw.get_metric_data(**call.params())["MetricDataResults"][0]
        assert result["Timestamps"] == [datetime(2027, 1, 15, 8, 0, tzinfo=UTC),
                                        datetime(2027, 1, 15, 7, 59, 0, 500000, tzinfo=UTC)]
        assert all(t.tzinfo is UTC for t in result["Timestamps"])  # not the local zone through dateutil (slow)
        rds = aws.client("rds", "eu-west-1", account)
        _answer(rds, "DescribeDBClusters", 200, b"<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters>"
                b"<DBCluster><DBClusterIdentifier>main</DBClusterIdentifier>"
                b"<LatestRestorableTime>2027-01-15T08:37:00.000Z</LatestRestorableTime></DBCluster>"
                b"</DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>")
        cluster = rds.describe_db_clusters()["DBClusters"][0]
        assert cluster["LatestRestorableTime"] == datetime(2027, 1, 15, 8, 37, tzinfo=UTC)


# --- the in-flight limit ------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
def test_in_flight_requests_never_exceed_the_limit(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two regions, each allowed ``limit`` in flight, under a total cap of ``limit``."""
    with fake_aws(lambda op, n: OK_CLUSTERS if op == "ListClusters" else (200, {"serviceArns": []}),
                  hold_seconds=0.05) as (fake, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        aws = _aws(max_concurrency=limit, max_concurrency_total=limit)
        clients = [aws.client("ecs", region) for region in ("eu-west-1", "us-east-1")]
        with ThreadPoolExecutor(12) as pool:
            list(pool.map(lambda i: clients[i % 2].list_clusters() if i % 3 else
                          clients[i % 2].list_services(cluster="c"), range(24)))
    assert len(fake.operations) == 24
    assert fake.peak_in_flight <= limit


@pytest.mark.parametrize("limit", [1, 2])
def test_each_region_has_its_own_limit(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per (account, region, service): two regions together have twice the requests in flight of one."""
    with fake_aws(lambda op, n: OK_CLUSTERS, hold_seconds=0.1) as (fake, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        aws = _aws(max_concurrency=limit)
        clients = [aws.client("ecs", region) for region in ("eu-west-1", "us-east-1")]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: clients[i % 2].list_clusters(), range(16)))
    assert limit < fake.peak_in_flight <= 2 * limit


def test_a_hung_region_holds_only_its_own_slots(moto_endpoint: str) -> None:
    """us-east-1 hangs with its one slot taken and a second request waiting for it; eu-west-1's requests still
    get through the total cap of 2 (waiting for a region's slot never holds one of the cap)."""
    entered, release = threading.Semaphore(0), threading.Event()

    def hang(request: Request) -> None:
        entered.release()
        assert release.wait(120), "the test never released the hung region"
        raise ReadTimeoutError(endpoint_url=request.url)

    aws = FaultyAws(settings=AwsConfig(max_attempts=1, max_concurrency=1, max_concurrency_total=2),
                    fault=when(lambda r: r.region == "us-east-1", hang))
    hung_client, healthy_client = aws.client("ecs", "us-east-1"), aws.client("ecs", "eu-west-1")
    with ThreadPoolExecutor(3) as pool:
        hung = [pool.submit(hung_client.list_clusters) for _ in range(2)]
        assert entered.acquire(timeout=60)  # one us-east-1 request holds its region's slot
        healthy = pool.submit(lambda: [healthy_client.list_clusters() for _ in range(3)])
        assert len(healthy.result(timeout=60)) == 3  # done while us-east-1 still hangs
        assert not entered.acquire(blocking=False)  # the second us-east-1 request is still waiting for its slot
        release.set()
        for future in hung:
            with pytest.raises(ReadTimeoutError):
                future.result(timeout=60)
    assert aws.stats.errors == {("ecs", "ListClusters", "ReadTimeoutError"): 2}


def test_without_the_limit_the_fake_sees_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the test above: the fake does observe parallel requests when the limit allows them."""
    with fake_aws(lambda op, n: OK_CLUSTERS, hold_seconds=0.2) as (fake, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        client = _aws(max_concurrency=8).client("ecs", "eu-west-1")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: client.list_clusters(), range(8)))
    assert fake.peak_in_flight > 3


# --- accounts -------------------------------------------------------------------------------------


def test_assume_role_per_account(moto_endpoint: str) -> None:
    prod = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet-monitor", name="prod",
                         external_id="ext-1")
    shared = AccountConfig(role_arn="arn:aws:iam::222222222222:role/docqet-monitor", name="shared")
    aws = _aws()
    assert aws.client("sts", "eu-west-1").get_caller_identity()["Account"] == "123456789012"
    assert aws.client("sts", "eu-west-1", prod).get_caller_identity()["Account"] == "111111111111"
    assert aws.client("sts", "us-east-1", prod).get_caller_identity()["Account"] == "111111111111"
    assert aws.client("sts", "eu-west-1", shared).get_caller_identity()["Account"] == "222222222222"
    # each account's clusters live in that account
    aws.client("ecs", "eu-west-1", prod).create_cluster(clusterName="prod-only")
    assert aws.client("ecs", "eu-west-1", shared).list_clusters()["clusterArns"] == []
    assert aws.client("ecs", "eu-west-1", prod).list_clusters()["clusterArns"] == [
        "arn:aws:ecs:eu-west-1:111111111111:cluster/prod-only"]
    # once per account and region (the region's own STS endpoint), not per client
    assert aws.stats.requests["sts", "AssumeRole"] == 3


def test_role_sessions_share_one_copy_of_the_service_models(moto_endpoint: str) -> None:
    """Every (account, region) has a session of its own; the parsed botocore models are shared (each copy costs
    about 25 MB: 20 accounts x 3 regions would take over 1 GB)."""
    prod = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet-monitor", name="prod")
    shared = AccountConfig(role_arn="arn:aws:iam::222222222222:role/docqet-monitor", name="shared")
    aws = _aws()
    clients = [aws.client("ecs", region, account) for account in (prod, shared)
               for region in ("eu-west-1", "us-east-1")]
    assert len({id(c) for c in clients}) == 4
    assert len({id(c._loader) for c in clients}) == 1
    assert clients[0].meta.service_model.operation_model("ListClusters") is not None
    assert [c.list_clusters()["clusterArns"] for c in clients] == [[], [], [], []]
    assert aws.stats.requests["sts", "AssumeRole"] == 4  # still once per account and region


def test_assume_role_needs_no_region_in_the_environment(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # regions come from the config, e.g. on a host without them
    prod = AccountConfig(role_arn="arn:aws:iam::111111111111:role/docqet-monitor", name="prod")
    assert _aws().client("sts", "eu-central-1", prod).get_caller_identity()["Account"] == "111111111111"
