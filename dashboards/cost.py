"""AWS cost: daily cost by service and by tag, month to date vs forecast vs budget (Cost Explorer)."""

from __future__ import annotations

from grafanalib import core as G

from docqet_monitor.core import ids
from docqet_monitor.dashboards import style as S
from docqet_monitor.dashboards.thresholds import Thresholds

UID = ids.COST
TITLE = "Docqet / AWS cost"


def build(t: Thresholds) -> G.Dashboard:
    forecast_ratio = "max(docqet_cost_month_forecast_usd) / max(docqet_cost_budget_usd)"
    rows = [
        S.Row("This month", [
            S.stat("Month to date", ["max(docqet_cost_month_to_date_usd)"], S.USD, w=6),
            S.stat("Month forecast", ["max(docqet_cost_month_forecast_usd)"], S.USD, w=6,
                   description="Cost Explorer's forecast for the whole month."),
            S.stat("Budget", ["max(docqet_cost_budget_usd)"], S.USD, w=6,
                   description="Monthly budget of this environment (collectors.cost.monthly_budget_usd)."),
            S.stat("Month forecast vs budget", [forecast_ratio], S.PERCENT_RATIO, w=6,
                   thresholds=t.above("CostMonthForecastOverBudget", "budget_ratio"),
                   description="Forecast as a share of the budget."),
            S.timeseries("Month to date vs forecast vs budget", [
                S.Query("max(docqet_cost_month_to_date_usd)", "month to date"),
                S.Query("max(docqet_cost_month_forecast_usd)", "forecast"),
                S.Query("max(docqet_cost_budget_usd)", "budget")], S.USD, w=24),
        ]),
        S.Row("Daily", [
            S.timeseries("Daily spend by service", [
                S.Query("sum by (service) (docqet_cost_daily_usd)", "{{service}}")], S.USD, stack=True, w=12,
                description="Unblended cost of the last complete day per AWS service (refreshed every few hours)."),
            S.timeseries("Daily spend by tag", [
                S.Query("sum by (tag, value) (docqet_cost_daily_by_tag_usd)", "{{tag}}={{value}}")], S.USD,
                stack=True, w=12, description="The same cost grouped by the cost-allocation tag from the config."),
            S.table("Yesterday's top services", [S.Query("topk(15, sum by (service) (docqet_cost_daily_usd))")],
                    unit=S.USD, w=12, hide=("Time",)),
            S.stat("Cost data age", ["time() - max(docqet_cost_last_refresh_timestamp_seconds)"], S.SECONDS, w=12,
                   description="Time since Cost Explorer was last read (every 6 hours by default)."),
        ]),
    ]
    return S.dashboard(UID, TITLE, rows, tags=["cost"], time_from="now-30d", refresh="1h")
