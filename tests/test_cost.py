"""Cost collector: Cost Explorer through moto's server (GetCostAndUsage) and botocore's Stubber / a one-operation
fake (GetCostForecast, which moto lacks); every response fixture is checked against botocore's service model."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from fakeaws import fake_aws
from faults import Body
from helpers import FIXTURES

from docqet_monitor.core import config as config_mod
from docqet_monitor.core import repository as repo_mod
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import AwsConfig, CollectorsConfig, Config, CostCollectorConfig
from docqet_monitor.core.stats import Stats
from docqet_monitor.demo import cost_qdrant as demo_cost_qdrant
from docqet_monitor.demo.aws import DemoContext
from docqet_monitor.exporters import cost
from docqet_monitor.exporters.cost import CostCollector, CostExplorer, periods
from docqet_monitor.exporters.metrics import Collection, render

COST_FIXTURES = FIXTURES / "cost"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


def fixture(name: str) -> dict[str, Any]:
    return json.loads((COST_FIXTURES / f"{name}.json").read_text())


def output_shape(operation: str) -> Any:
    return boto3.client("ce", region_name="us-east-1").meta.service_model.operation_model(operation).output_shape


@pytest.mark.parametrize("path", sorted(COST_FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_matches_the_botocore_model(path: Path) -> None:
    operation = "GetCostForecast" if path.stem.startswith("forecast") else "GetCostAndUsage"
    validate_parameters(json.loads(path.read_text()), output_shape(operation))  # raises on a mismatch


# --- date ranges (pure) -----------------------------------------------------------------------


@pytest.mark.parametrize(("today", "day", "month_to_date", "forecast"), [
    (date(2026, 11, 25), ("2026-11-24", "2026-11-25"), ("2026-11-01", "2026-11-25"), ("2026-11-25", "2026-12-01")),
    # the 1st: yesterday is last month, no complete day this month (an empty range is invalid: no request)
    (date(2026, 12, 1), ("2026-11-30", "2026-12-01"), None, ("2026-12-01", "2027-01-01")),
    # the last day: the forecast still covers today (start >= today, end > start)
    (date(2026, 11, 30), ("2026-11-29", "2026-11-30"), ("2026-11-01", "2026-11-30"), ("2026-11-30", "2026-12-01")),
    (date(2026, 12, 31), ("2026-12-30", "2026-12-31"), ("2026-12-01", "2026-12-31"), ("2026-12-31", "2027-01-01")),
    (date(2028, 3, 1), ("2028-02-29", "2028-03-01"), None, ("2028-03-01", "2028-04-01")),
])
def test_periods(today: date, day: tuple[str, str], month_to_date: tuple[str, str] | None,
                 forecast: tuple[str, str]) -> None:
    def iso(span: tuple[date, date] | None) -> tuple[str, str] | None:
        return None if span is None else (span[0].isoformat(), span[1].isoformat())

    spans = periods(today)
    assert (iso(spans.day), iso(spans.month_to_date), iso(spans.forecast)) == (day, month_to_date, forecast)


# --- request parameters, checked with botocore's Stubber ----------------------------------------


def usage_params(start: str, end: str, granularity: str = "DAILY", group: dict[str, str] | None = None,
                 token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"TimePeriod": {"Start": start, "End": end}, "Granularity": granularity,
                              "Metrics": ["UnblendedCost"]}
    if group:
        params["GroupBy"] = [group]
    if token:
        params["NextPageToken"] = token
    return params


SERVICE = {"Type": "DIMENSION", "Key": "SERVICE"}
TAG = {"Type": "TAG", "Key": "Environment"}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber:  # validates our parameters against the model
        yield client, stubber
        stubber.assert_no_pending_responses()


def forecast_params(start: str, end: str) -> dict[str, Any]:
    return {"TimePeriod": {"Start": start, "End": end}, "Metric": "UNBLENDED_COST", "Granularity": "MONTHLY"}


def on_day(page: dict[str, Any], start: str, end: str) -> dict[str, Any]:
    """A one-day fixture page moved to another day."""
    return {**page, "ResultsByTime": [{**result, "TimePeriod": {"Start": start, "End": end}}
                                      for result in page["ResultsByTime"]]}


def test_a_mid_month_refresh_follows_pages(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("get_cost_and_usage", fixture("usage-month-by-service-page1"),
                      usage_params("2026-11-01", "2026-11-25", group=SERVICE))
    stub.add_response("get_cost_and_usage", fixture("usage-month-by-service-page2"),
                      usage_params("2026-11-01", "2026-11-25", group=SERVICE, token="page-2"))
    stub.add_response("get_cost_and_usage", fixture("usage-by-tag"),
                      usage_params("2026-11-24", "2026-11-25", group=TAG))
    stub.add_response("get_cost_forecast", fixture("forecast"), forecast_params("2026-11-25", "2026-12-01"))

    report = cost.fetch(CostExplorer(client), "Environment", NOW)

    assert report.daily_by_service == {"Amazon Elastic Container Service": 41.2034,
                                       "Amazon Relational Database Service": 63.75, "EC2 - Other": 12.5,
                                       "AmazonCloudWatch": 3.1}
    assert report.daily_by_tag == {cost.UNTAGGED: 2.25, "production": 60.0, "staging": 58.3034}
    assert report.month_to_date == 2891.44  # every service of every day, the 24th's split over two pages
    assert report.month_forecast == pytest.approx(2891.44 + 720.5)
    assert report.day == "2026-11-24"


def test_split_by_service_takes_one_day_and_sums_all() -> None:
    pages = [fixture("usage-month-by-service-page1"), fixture("usage-month-by-service-page2")]
    assert cost.split_by_service(pages, date(2026, 11, 1)) == (
        {"Amazon Elastic Container Service": 40.0, "Amazon Relational Database Service": 63.75,
         "EC2 - Other": 12.5, "AmazonCloudWatch": 3.1, "Tax": 25.8366}, 2891.44)
    assert cost.split_by_service(pages, date(2026, 11, 25)) == ({}, 2891.44)  # no such day: nothing for it
    assert cost.split_by_service([], date(2026, 11, 24)) == ({}, 0.0)


def test_an_amount_that_is_no_number_is_a_cost_explorer_error() -> None:
    page = fixture("usage-by-service-page2")
    page["ResultsByTime"][0]["Groups"][0]["Metrics"]["UnblendedCost"]["Amount"] = "n/a"
    with pytest.raises(cost.CostExplorerError, match="'n/a', expected a number"):
        cost.split_by_service([page], date(2026, 11, 24))


def test_the_first_of_the_month_asks_no_month_to_date(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    first = datetime(2026, 12, 1, 0, 30, tzinfo=UTC).timestamp()
    page = on_day(fixture("usage-by-service-page2"), "2026-11-30", "2026-12-01")
    stub.add_response("get_cost_and_usage", page, usage_params("2026-11-30", "2026-12-01", group=SERVICE))
    stub.add_response("get_cost_and_usage", fixture("usage-by-tag"),
                      usage_params("2026-11-30", "2026-12-01", group=TAG))
    stub.add_response("get_cost_forecast", fixture("forecast"), forecast_params("2026-12-01", "2027-01-01"))

    report = cost.fetch(CostExplorer(client), "Environment", first)
    assert report.daily_by_service == {"EC2 - Other": 12.5, "AmazonCloudWatch": 3.1}  # November's last day
    assert report.month_to_date == 0.0  # not yesterday's cost: no complete day of December yet
    assert report.month_forecast == 720.5


def test_the_last_day_of_the_month_forecasts_today(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    last = datetime(2026, 11, 30, 23, 0, tzinfo=UTC).timestamp()
    stub.add_response("get_cost_and_usage", fixture("usage-month-by-service-page2"),
                      usage_params("2026-11-01", "2026-11-30", group=SERVICE))
    stub.add_response("get_cost_and_usage", fixture("usage-by-tag"),
                      usage_params("2026-11-29", "2026-11-30", group=TAG))
    stub.add_response("get_cost_forecast", fixture("forecast"), forecast_params("2026-11-30", "2026-12-01"))
    assert cost.fetch(CostExplorer(client), "Environment", last).month_forecast == pytest.approx(15.6 + 720.5)


def test_no_forecast_when_cost_explorer_has_too_little_history(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_response("get_cost_and_usage", fixture("usage-month-by-service-page2"))
    stub.add_response("get_cost_and_usage", fixture("usage-by-tag"))
    stub.add_client_error("get_cost_forecast", "DataUnavailableException", "Insufficient amount of historical data")
    report = cost.fetch(CostExplorer(client), "Environment", NOW)
    names = {s.name for f in cost.families(report, None) for s in f.samples}
    assert "docqet_cost_month_forecast_usd" not in names
    assert "docqet_cost_month_to_date_usd" in names


def test_a_repeated_page_token_stops_paging(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    looping = {**fixture("usage-by-service-page2"), "NextPageToken": "again"}
    stub.add_response("get_cost_and_usage", looping)
    stub.add_response("get_cost_and_usage", looping)
    with pytest.raises(cost.CostExplorerError, match="repeated the page token"):
        CostExplorer(client).grouped((date(2026, 11, 24), date(2026, 11, 25)), "DIMENSION", "SERVICE")


# --- the collector against moto's server --------------------------------------------------------


def answer_forecast(client: Any, response: dict[str, Any], seen: list[dict[str, Any]]) -> None:
    """Answer GetCostForecast (moto lacks it) at the HTTP layer: the request is validated, sent through the
    client's whole pipeline (counted by Aws) and the answer, checked against the model, is parsed by botocore."""
    validate_parameters(response, output_shape("GetCostForecast"))

    def send(request: Any, **_: Any) -> AWSResponse:
        seen.append(json.loads(request.body))
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"},
                           Body(json.dumps(response).encode()))

    client.meta.events.register_first("before-send.ce.GetCostForecast", send)


def seed(moto: str, *names: str) -> None:
    """Queue GetCostAndUsage answers in moto, in the order the collector asks (one per distinct request)."""
    answer = requests.post(f"{moto}/moto-api/static/ce/cost-and-usage-results",
                           json={"results": [fixture(n) for n in names]}, timeout=10)
    assert answer.status_code == 201


DAY_PAGES = ("usage-month-by-service-page1", "usage-month-by-service-page2", "usage-by-tag")


def make(settings: CostCollectorConfig, clock: list[float], forecasts: list[dict[str, Any]]) -> tuple[
        CostCollector, Stats]:
    """The collector as the exporter builds it (a fresh process: new stats), on a settable clock."""
    stats = Stats()
    collector = cost.build(settings, Aws(stats=stats), clock=lambda: clock[0])
    assert collector is not None
    assert collector.explorer.client.meta.region_name == "us-east-1"  # global service; AWS_REGION is eu-west-1
    answer_forecast(collector.explorer.client, fixture("forecast"), forecasts)
    return collector, stats


def values(result: Collection) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in result.families for s in f.samples}


@pytest.fixture
def settings(tmp_path: Path) -> CostCollectorConfig:
    return CostCollectorConfig(cache_path=str(tmp_path / "cache" / "cost.json"), monthly_budget_usd=3500.0)


def test_a_refresh_against_moto_counts_every_page(moto_endpoint: str, settings: CostCollectorConfig) -> None:
    seed(moto_endpoint, *DAY_PAGES)
    clock, forecasts = [NOW], []
    collector, stats = make(settings, clock, forecasts)

    result = collector.collect()

    assert result.errors == ()
    got = values(result)
    assert got["docqet_cost_daily_usd", (("service", "Amazon Relational Database Service"),)] == 63.75
    assert got["docqet_cost_daily_usd", (("service", "AmazonCloudWatch"),)] == 3.1  # from page 2
    assert got["docqet_cost_daily_by_tag_usd", (("tag", "Environment"), ("value", "staging"))] == 58.3034
    assert got["docqet_cost_daily_by_tag_usd", (("tag", "Environment"), ("value", "(untagged)"))] == 2.25
    assert got["docqet_cost_month_to_date_usd", ()] == 2891.44
    assert got["docqet_cost_month_forecast_usd", ()] == pytest.approx(3611.94)
    assert got["docqet_cost_budget_usd", ()] == 3500.0
    assert got["docqet_cost_last_refresh_timestamp_seconds", ()] == NOW
    assert forecasts == [{"TimePeriod": {"Start": "2026-11-25", "End": "2026-12-01"}, "Metric": "UNBLENDED_COST",
                          "Granularity": "MONTHLY"}]
    assert stats.requests == {("ce", "GetCostAndUsage"): 3, ("ce", "GetCostForecast"): 1}  # 3 pages, 1 forecast
    assert stats.cost_usd == pytest.approx(0.04)


def test_a_mid_month_refresh_at_the_default_settings_is_three_requests(moto_endpoint: str,
                                                                        tmp_path: Path) -> None:
    seed(moto_endpoint, "usage-month-by-service-page2", "usage-by-tag")  # one page each
    collector, stats = make(CostCollectorConfig(cache_path=str(tmp_path / "cost.json")), [NOW], [])
    assert collector.collect().errors == ()
    assert stats.requests == {("ce", "GetCostAndUsage"): 2, ("ce", "GetCostForecast"): 1}
    assert stats.cost_usd == pytest.approx(0.03)


def test_a_restart_within_the_interval_serves_the_cache(moto_endpoint: str, settings: CostCollectorConfig) -> None:
    seed(moto_endpoint, *DAY_PAGES)
    clock: list[float] = [NOW]
    first, _ = make(settings, clock, [])
    expected = render(first.collect().families)
    assert not list(Path(settings.cache_path).parent.glob(".cost.json.*"))  # the atomic write left no temp file

    clock[0] = NOW + 5 * HOUR  # restart 5 hours later: nothing asked
    restarted, stats = make(settings, clock, [])
    assert render(restarted.collect().families) == expected
    clock[0] = NOW + 5.9 * HOUR
    restarted.collect()
    assert stats.requests == {}

    clock[0] = NOW + 6 * HOUR  # stale: asked again
    assert restarted.collect().errors == ()
    assert stats.requests[("ce", "GetCostForecast")] == 1
    assert json.loads(Path(settings.cache_path).read_text())["fetched_at"] == NOW + 6 * HOUR


def test_a_cache_for_another_tag_or_endpoint_is_not_used(moto_endpoint: str, settings: CostCollectorConfig) -> None:
    seed(moto_endpoint, *DAY_PAGES)
    first, _ = make(settings, [NOW], [])
    first.collect()
    data = json.loads(Path(settings.cache_path).read_text())
    Path(settings.cache_path).write_text(json.dumps({**data, "source": "https://ce.us-east-1.amazonaws.com"}))
    again, stats = make(settings, [NOW + 60], [])
    again.collect()
    assert stats.requests[("ce", "GetCostForecast")] == 1
    retagged = CostCollectorConfig(cache_path=settings.cache_path, tag_key="Team")
    third, stats = make(retagged, [NOW + 120], [])
    third.collect()
    assert stats.requests[("ce", "GetCostForecast")] == 1


def test_a_corrupt_cache_is_ignored_with_a_warning(moto_endpoint: str, settings: CostCollectorConfig,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    seed(moto_endpoint, *DAY_PAGES)
    Path(settings.cache_path).parent.mkdir(parents=True)
    Path(settings.cache_path).write_text('{"version": 1, "fetched_at": ')
    collector, stats = make(settings, [NOW], [])
    with caplog.at_level(logging.WARNING):
        result = collector.collect()
    assert "ignoring the cost cache" in caplog.text
    assert result.errors == ()
    assert stats.requests[("ce", "GetCostAndUsage")] == 3
    assert json.loads(Path(settings.cache_path).read_text())["version"] == cost.CACHE_VERSION


def test_no_budget_no_budget_series() -> None:
    assert [f.samples for f in cost.families(None, None)] == [[]]
    assert [s.value for f in cost.families(None, 100.0) for s in f.samples] == [100.0]


# --- faults -----------------------------------------------------------------------------------


def test_a_failing_cost_explorer_is_retried_at_most_hourly(monkeypatch: pytest.MonkeyPatch,
                                                           settings: CostCollectorConfig) -> None:
    def respond(operation: str, attempt: int) -> tuple[int, dict[str, Any]]:
        return 400, {"__type": "AccessDeniedException", "Message": "not authorized to perform ce:GetCostAndUsage"}

    with fake_aws(respond) as (fake, url):
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        stats = Stats()
        clock = [NOW]
        collector = cost.build(settings, Aws(AwsConfig(max_attempts=1), stats), clock=lambda: clock[0])
        assert collector is not None

        result = collector.collect()
        assert result.errors and "AccessDeniedException" in result.errors[0]
        assert [s.name for f in result.families for s in f.samples] == ["docqet_cost_budget_usd"]
        clock[0] = NOW + 0.9 * HOUR
        assert collector.collect().errors  # still failed, not asked again
        assert fake.operations == ["GetCostAndUsage"]
        clock[0] = NOW + HOUR
        collector.collect()
        assert fake.operations == ["GetCostAndUsage", "GetCostAndUsage"]
    assert stats.errors == {("ce", "GetCostAndUsage", "AccessDeniedException"): 2}
    assert stats.cost_usd == 0  # failed requests are not billed
    assert not Path(settings.cache_path).exists()


def test_the_exposition_passes_promtool(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    for name in ("usage-month-by-service-page2", "usage-by-tag"):
        stub.add_response("get_cost_and_usage", fixture(name))
    stub.add_response("get_cost_forecast", fixture("forecast"))
    report = cost.fetch(CostExplorer(client), "Environment", NOW)
    families = cost.families(report, 3500.0)
    check = subprocess.run(["promtool", "check", "metrics"], input=render(families), capture_output=True,
                           check=False)
    assert check.returncode == 0 and not check.stdout and not check.stderr, check.stdout + check.stderr
    assert {s.name for f in families for s in f.samples} == set(cost.METRIC_NAMES)


# --- the demo step ----------------------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 11, 25), date(2026, 12, 1)])
def test_the_demo_seeds_a_sample_bill_the_collector_reads(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch,
                                                          day: date, tmp_path: Path) -> None:
    from moto.ce.responses import CostExplorerResponse

    monkeypatch.setattr(CostExplorerResponse, "get_cost_forecast", None, raising=False)  # undone afterwards
    now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC).timestamp()
    lines: list[str] = []
    config = Config(environment="staging", collectors=CollectorsConfig(cost=CostCollectorConfig(
        monthly_budget_usd=4000.0)))
    ctx = DemoContext(moto_endpoint, config, echo=lines.append, out_dir=tmp_path, now=now)

    demo_cost_qdrant.cost_step(ctx)

    assert ctx.config.collectors.cost.cache_path == str(tmp_path / "cost.json")  # never the real cache
    assert len(lines) == 1 and "sample data, not a real bill" in lines[0]
    expected = demo_cost_qdrant.demo_costs(day, "staging")
    stats = Stats()
    collector = cost.build(ctx.config.collectors.cost, Aws(stats=stats), clock=lambda: now)
    assert collector is not None
    result = collector.collect()
    assert result.errors == ()
    got = values(result)
    assert {labels[0][1]: v for (n, labels), v in got.items() if n == "docqet_cost_daily_usd"} == expected.by_service
    assert got["docqet_cost_daily_by_tag_usd", (("tag", "Environment"), ("value", "staging"))] == \
        expected.by_tag["staging"]
    assert got["docqet_cost_month_to_date_usd", ()] == expected.month_to_date
    assert got["docqet_cost_month_forecast_usd", ()] == pytest.approx(
        expected.month_to_date + expected.forecast_rest_of_month)
    assert got["docqet_cost_budget_usd", ()] == 4000.0
    assert stats.requests == {("ce", "GetCostAndUsage"): 2, ("ce", "GetCostForecast"): 1}  # 3 on any day


def test_the_demo_bill_stays_under_the_example_budget_on_every_day_of_the_year() -> None:
    """The demo's platform is healthy but for its broken service: its sample bill never forecasts more than the
    staging example's budget, else CostMonthForecastOverBudget fires whenever its hourly group is evaluated."""
    example = (repo_mod.ENVIRONMENTS / "staging.yaml").as_posix()
    budget = config_mod.loads(repo_mod.example_files()[example], example).collectors.cost.monthly_budget_usd
    assert budget is not None
    day, forecasts = date(2028, 1, 1), []  # a leap year: every month length
    while day.year == 2028:
        costs = demo_cost_qdrant.demo_costs(day, "staging")
        forecasts.append(costs.month_to_date + costs.forecast_rest_of_month)
        day += timedelta(days=1)
    assert budget * 0.9 < max(forecasts) < budget  # close to it (the dashboard shows the gap), never over
