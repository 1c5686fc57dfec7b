"""The PromQL reader that dashboards and alert lint use to check metric names and template variables."""

from __future__ import annotations

import pytest

from docqet_monitor.core.promql import metric_names, variable_query_expr, variables


@pytest.mark.parametrize(("expr", "names"), [
    ("up", {"up"}),
    ("docqet_ecs_service_desired_tasks", {"docqet_ecs_service_desired_tasks"}),
    ('docqet_ecs_service_running_tasks{region=~"$region", cluster=~"$cluster", service=~"$service"}',
     {"docqet_ecs_service_running_tasks"}),
    ("sum by (region, cluster) (rate(docqet_exporter_aws_requests_total[$__rate_interval]))",
     {"docqet_exporter_aws_requests_total"}),
    ("sum(rate(a_total[5m])) without (instance, job) / on(region) group_left(cluster) b",
     {"a_total", "b"}),
    ("a and ignoring(code) b or c unless d", {"a", "b", "c", "d"}),
    ("count(x < y) or vector(0)", {"x", "y"}),
    ("time() - docqet_rds_cluster_latest_restorable_timestamp_seconds offset 5m",
     {"docqet_rds_cluster_latest_restorable_timestamp_seconds"}),
    ("max_over_time(m[1h:5m]) @ end()", {"m"}),
    ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
    ('{__name__="by_name", job="x"}', {"by_name"}),
    ('{__name__=~"docqet_alb_info|docqet_apigateway_api_info", account=~"$account"}',
     {"docqet_alb_info", "docqet_apigateway_api_info"}),
    ('{__name__=~"docqet_.*_info"}', set()),  # a pattern names no metric
    ("docqet:api_availability:ratio_rate5m > bool 0.999", {"docqet:api_availability:ratio_rate5m"}),
    ("topk by (collection) (5, points) # a comment with fake_metric\n", {"points"}),
    ("x > Inf or y < NaN", {"x", "y"}),
    ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))", {"h_bucket"}),
    ('x{a="}", b=\'{\'} * 1e3 + 0x1F', {"x"}),
    ("quantile without (instance) (0.9, q) + count_values(\"v\", cv)", {"q", "cv"}),
    ("$metric_var + [[other]] + ${third:csv}", set()),
])
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize(("query", "expr"), [
    ('label_values(docqet_ecs_service_desired_tasks{region=~"$region", a="x,y"}, cluster)',
     'docqet_ecs_service_desired_tasks{region=~"$region", a="x,y"}'),
    ("label_values(region)", ""),
    ("query_result(topk(5, m))", "topk(5, m)"),
    ("prometheus", "prometheus"),
])
def test_variable_query_expr(query: str, expr: str) -> None:
    assert variable_query_expr(query) == expr


def test_variables_finds_every_syntax_and_skips_globals_and_regex_groups() -> None:
    text = ('rate(x{region=~"$region", cluster=~"${cluster:regex}"}[$__rate_interval]) [[service]] '
            'label_replace(y, "a", "$1", "b", "(.*)") ${__url_time_range}')
    assert variables(text) == {"region", "cluster", "service"}
