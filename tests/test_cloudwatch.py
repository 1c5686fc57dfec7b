"""The GetMetricData batcher: planning (pure), reading responses (pure), paging (Stubber) and moto."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from docqet_monitor.core.aws import Aws
from docqet_monitor.exporters.cloudwatch import (
    MAX_QUERIES_PER_CALL,
    Call,
    MetricQuery,
    fetch,
    fetch_all,
    latest_values,
    plan,
    window,
)

NOW = datetime(2026, 11, 25, 12, 7, 31, tzinfo=UTC).timestamp()


def _query(i: int, period: int = 60, statistic: str = "Average") -> MetricQuery:
    return MetricQuery("AWS/ECS", "CPUUtilization", (("ClusterName", "main"), ("ServiceName", f"svc-{i}")),
                       statistic, period)


def _ts(minute: int) -> datetime:
    return datetime(2026, 11, 25, 12, minute, tzinfo=UTC)


def _validate(params: dict) -> None:
    model = boto3.client("cloudwatch").meta.service_model.operation_model("GetMetricData")
    validate_parameters(params, model.input_shape)  # raises ParamValidationError


# --- plan ------------------------------------------------------------------------------------


def test_window_is_aligned_to_the_period_and_ends_before_the_delay() -> None:
    start, end = window(NOW, 60, 120, 5)
    assert end == datetime(2026, 11, 25, 12, 5, tzinfo=UTC)  # 12:07:31 - 2 min = 12:05:31 -> 12:05
    assert start == end - timedelta(minutes=5)
    start, end = window(NOW, 300, 120, 3)
    assert end == datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    assert start == datetime(2026, 11, 25, 11, 50, tzinfo=UTC)
    start, end = window(NOW, 300, 600, 1)  # 11:57:31 -> 11:55
    assert (start, end) == (datetime(2026, 11, 25, 11, 50, tzinfo=UTC), datetime(2026, 11, 25, 11, 55, tzinfo=UTC))


def test_plan_chunks_at_500_queries_a_call() -> None:
    calls = plan([_query(i) for i in range(1201)], NOW, 120, 5)
    assert [len(c.queries) for c in calls] == [500, 500, 201]
    assert max(len(c.params()["MetricDataQueries"]) for c in calls) <= MAX_QUERIES_PER_CALL == 500
    assert sorted(q for c in calls for q in c.queries) == sorted(_query(i) for i in range(1201))


def test_plan_groups_by_period_with_each_period_own_window() -> None:
    queries = [_query(i, 60) for i in range(3)] + [_query(i, 300) for i in range(2)]
    calls = plan(queries, NOW, 120, 5)
    assert [(c.period, len(c.queries)) for c in calls] == [(60, 3), (300, 2)]
    for call in calls:
        assert {q.period for q in call.queries} == {call.period}
        assert (call.start, call.end) == window(NOW, call.period, 120, 5)
        assert {q["MetricStat"]["Period"] for q in call.params()["MetricDataQueries"]} == {call.period}


def test_plan_dedupes_identical_queries() -> None:
    queries = [_query(1), _query(2), _query(1), _query(1, statistic="Maximum"), _query(2)]
    calls = plan(queries, NOW, 120, 5)
    assert len(calls) == 1
    assert sorted(calls[0].queries) == sorted({_query(1), _query(2), _query(1, statistic="Maximum")})
    assert plan([], NOW, 120, 5) == []


def test_params_pass_botocore_validation_with_unique_ids() -> None:
    call = plan([_query(i) for i in range(500)] + [_query(0, statistic="p95")], NOW, 120, 5)[0]
    params = call.params()
    _validate(params)
    ids = [q["Id"] for q in params["MetricDataQueries"]]
    assert len(set(ids)) == len(ids) == 500
    first = params["MetricDataQueries"][0]["MetricStat"]
    assert first["Metric"]["Dimensions"] == [{"Name": "ClusterName", "Value": "main"},
                                            {"Name": "ServiceName", "Value": "svc-0"}]


# --- reading responses --------------------------------------------------------------------------


def _call(n: int) -> Call:
    return plan([_query(i) for i in range(n)], NOW, 120, 5)[0]


def test_latest_finite_datapoint_wins_in_any_order() -> None:
    call = _call(3)
    page = {"MetricDataResults": [
        {"Id": "q0", "Timestamps": [_ts(1), _ts(3), _ts(2)], "Values": [1.0, 3.0, 2.0]},
        {"Id": "q1", "Timestamps": [_ts(4), _ts(3)], "Values": [math.nan, 7.0]},
        {"Id": "q2", "Timestamps": [_ts(4), _ts(2)], "Values": [math.inf, 0.0]},
    ]}
    assert latest_values(call, [page]) == {call.queries[0]: 3.0, call.queries[1]: 7.0, call.queries[2]: 0.0}


def test_no_datapoint_or_only_nan_means_no_value() -> None:
    call = _call(3)
    page = {"MetricDataResults": [
        {"Id": "q0", "Timestamps": [], "Values": []},
        {"Id": "q1", "Timestamps": [_ts(1), _ts(2)], "Values": [math.nan, math.nan]},
        {"Id": "q2", "StatusCode": "Complete"},
    ]}
    assert latest_values(call, [page]) == {}


@pytest.mark.parametrize("result", [{"Id": "q7", "Timestamps": [], "Values": []}, {"Timestamps": [], "Values": []}])
def test_a_result_for_an_unknown_id_is_an_error(result: dict) -> None:
    with pytest.raises(ValueError, match="unknown query id"):
        latest_values(_call(2), [{"MetricDataResults": [result]}])


def test_a_query_split_over_pages_keeps_the_newest_point() -> None:
    call = _call(2)
    pages = [
        {"MetricDataResults": [{"Id": "q0", "Timestamps": [_ts(4)], "Values": [4.0]},
                               {"Id": "q1", "Timestamps": [_ts(1)], "Values": [1.0]}], "NextToken": "t"},
        {"MetricDataResults": [{"Id": "q0", "Timestamps": [_ts(3)], "Values": [3.0]},
                               {"Id": "q1", "Timestamps": [_ts(2)], "Values": [2.0]}]},
    ]
    assert latest_values(call, pages) == {call.queries[0]: 4.0, call.queries[1]: 2.0}


def test_fetch_follows_next_token_with_valid_params() -> None:
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    call = _call(2)
    first, second = call.params(), dict(call.params(), NextToken="page-2")
    with Stubber(client) as stub:  # the Stubber validates our params against the botocore model
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "q0", "Timestamps": [_ts(4)], "Values": [4.0], "StatusCode": "PartialData"}],
            "NextToken": "page-2"}, first)
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "q1", "Timestamps": [_ts(4)], "Values": [5.0], "StatusCode": "Complete"}]}, second)
        assert fetch(client, call) == {call.queries[0]: 4.0, call.queries[1]: 5.0}
        stub.assert_no_pending_responses()


def test_fetch_all_sends_one_call_per_planned_batch() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def get_metric_data(self, **params: object) -> dict:
            _validate(params)
            queries = params["MetricDataQueries"]
            self.sizes.append(len(queries))  # type: ignore[arg-type]
            return {"MetricDataResults": [{"Id": q["Id"], "Timestamps": [_ts(4)], "Values": [float(i)]}
                                          for i, q in enumerate(queries)]}  # type: ignore[union-attr]

    client = Recorder()
    queries = [_query(i) for i in range(1100)] + [_query(i, 300) for i in range(10)] + [_query(5)]
    values = fetch_all(client, queries, NOW, 120, 5, max_concurrency=3)
    assert sorted(client.sizes) == [10, 100, 500, 500]
    assert set(values) == set(queries)


# --- against moto ----------------------------------------------------------------------------------


def test_fetch_all_against_moto(moto_endpoint: str) -> None:
    aws = Aws()
    client = aws.client("cloudwatch", "eu-west-1")
    now = datetime.now(UTC).timestamp()
    _, end = window(now, 60, 120, 5)
    dims = [{"Name": "ClusterName", "Value": "main"}, {"Name": "ServiceName", "Value": "svc-0"}]
    client.put_metric_data(Namespace="AWS/ECS", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": end - timedelta(minutes=m),
         "Value": float(m)} for m in (4, 3, 2)] + [
        # after the window's end (late data still arriving): not used
        {"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": end + timedelta(seconds=30),
         "Value": 99.0}])
    with_data, without_data = _query(0), _query(1)
    values = fetch_all(client, [with_data, without_data, with_data], now, 120, 5)
    assert values == {with_data: 2.0}
    assert aws.stats.requests["cloudwatch", "GetMetricData"] == 1
    assert aws.stats.cost_usd == pytest.approx(0.01 / 1000 * (1 + 2))  # PutMetricData + 2 unique metrics
