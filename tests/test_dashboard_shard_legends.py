"""The exporter-health dashboard tells the shards apart: sharded exporters (``--shard K/N``) label their
self-metrics with ``shard``, so every legend of a self-metric query names ``{{shard}}`` and the query keeps that
label. Checked with promtool on the series of two shards: each legend label is in the query's result."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from helpers import interpolate

from docqet_monitor.core import ids
from docqet_monitor.dashboards.build import build_all

SHARDS = ("1/2", "2/2")
COLLECTORS = ("ecs", "cost")
# the self-metrics of each shard, in promtool's expanding notation (counters grow by one a second)
SERIES = {
    "docqet_exporter_collector_up{{collector={c!r},shard={s!r}}}": "1x10",
    "docqet_exporter_collector_last_success_timestamp_seconds{{collector={c!r},shard={s!r}}}": "240x10",
    "docqet_exporter_collector_duration_seconds{{collector={c!r},shard={s!r}}}": "2x10",
    "docqet_exporter_aws_requests_total{{service='ecs',operation='ListClusters',shard={s!r}}}": "0+60x10",
    "docqet_exporter_aws_request_errors_total{{service='ecs',operation='ListClusters',code='Throttling',"
    "shard={s!r}}}": "0+60x10",
    "docqet_exporter_aws_estimated_cost_usd_total{{shard={s!r}}}": "0+1x10",
    "docqet_exporter_cpu_limit_cores{{shard={s!r}}}": "0.5x10",
    "docqet_exporter_memory_limit_bytes{{shard={s!r}}}": "1e9x10",
}
VALUES = {"service": "ecs", "operation": "ListClusters", "code": "Throttling"}


def _legend_targets() -> list[tuple[str, str]]:
    """(PromQL, legend) of every exporter-health query that reads a self-metric and has a legend."""
    model = build_all()[ids.EXPORTER]
    return [(t["expr"], t["legendFormat"]) for panel in model["panels"] for t in panel.get("targets", [])
            if "docqet_exporter_" in t["expr"] and t.get("legendFormat")]


def test_every_self_metric_legend_names_the_shard() -> None:
    targets = _legend_targets()
    assert len(targets) >= 7
    assert [legend for _, legend in targets if "{{shard}}" not in legend] == []


def test_each_legend_label_is_in_the_query_result_of_two_shards(tmp_path: Path) -> None:
    series = [{"series": name.format(c=c, s=s).replace("'", '"'), "values": values}
              for name, values in SERIES.items() for s in SHARDS
              for c in (COLLECTORS if "{c!r}" in name else ("",))]
    cases = []
    for expr, legend in _legend_targets():
        labels = re.findall(r"\{\{(\w+)\}\}", legend)
        collectors = ["cost"] if 'collector="cost"' in expr else ["ecs"] if 'collector!="cost"' in expr \
            else list(COLLECTORS)
        expected = []
        for shard in SHARDS:
            for collector in collectors if "collector" in labels else [""]:
                values = {**VALUES, "collector": collector, "shard": shard}
                expected.append({"labels": "{" + ",".join(f'{k}="{values[k]}"' for k in sorted(labels)) + "}",
                                 "value": 1})
        cases.append({"expr": f"count by ({', '.join(labels)}) ({interpolate(expr)})", "eval_time": "5m",
                      "exp_samples": expected})
    test_file = tmp_path / "legends.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": series, "promql_expr_test": cases}]}))
    result = subprocess.run(["promtool", "test", "rules", str(test_file)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
