"""The dashboards: Grafana 12's schema, house style, catalog thresholds, links, variables, build and check."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from grafanalib import core as G
from helpers import CHECKOUT, CONTRACTS, interpolate

from docqet_monitor import cli
from docqet_monitor.alerts import catalog
from docqet_monitor.core.config import Config, GrafanaConfig, parse
from docqet_monitor.core.promql import variable_query_expr, variables
from docqet_monitor.dashboards import build, style
from docqet_monitor.dashboards.normalise import SCHEMA_VERSION, normalise, to_data
from docqet_monitor.dashboards.thresholds import CITATION

UIDS = {"docqet-overview", "docqet-ecs-services", "docqet-aurora-postgresql", "docqet-qdrant", "docqet-aws-cost",
        "docqet-exporter-health", "docqet-redis", "docqet-edge",
        "docqet-storage-dr"}
MODERN_TYPES = {"row", "timeseries", "stat", "table", "state-timeline"}
PROVISIONING = CHECKOUT.monitoring / "grafana" / "provisioning"


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads((CONTRACTS / "grafana-dashboard-schema.json").read_text())


def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


@functools.cache
def _built() -> str:
    return json.dumps(build.build_all())


def built() -> dict[str, dict[str, Any]]:
    return json.loads(_built())


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model["panels"]:
        yield panel
        yield from panel.get("panels", [])


def data_panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in panels(model) if p["type"] != "row"]


def panel(uid: str, title: str, models: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    matches = [p for p in panels((models or built())[uid]) if p.get("title") == title]
    assert len(matches) == 1, (uid, title)
    return matches[0]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


# --- the current Grafana model ----------------------------------------------------------------


def test_the_fixed_uids_are_built() -> None:
    assert set(built()) == UIDS
    assert {model["uid"] for model in built().values()} == UIDS


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_every_dashboard_validates_against_grafana_12s_schema(uid: str) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator().iter_errors(built()[uid])]
    assert errors == []


def test_grafanalib_output_alone_does_not_validate_and_normalising_fixes_it() -> None:
    raw = G.Dashboard(title="t", uid="t", panels=[
        G.TimeSeries(title="p", targets=[G.Target(expr="up", refId="A")], gridPos=G.GridPos(h=8, w=12, x=0, y=0)),
        G.Stat(title="s", targets=[G.Target(expr="up", refId="A")], gridPos=G.GridPos(h=4, w=6, x=12, y=0)),
        G.RowPanel(title="r", gridPos=G.GridPos(h=1, w=24, x=0, y=8)),
    ], templating=G.Templating(list=[G.Template(name="v", query="label_values(up, job)")])).auto_panel_ids()
    raw_data = to_data(raw)
    assert raw_data["schemaVersion"] == 12
    assert not validator().is_valid(raw_data)
    model = normalise(raw)
    assert [e.message for e in validator().iter_errors(model)] == []
    assert model["schemaVersion"] == SCHEMA_VERSION
    assert not {"rows", "style", "sharedCrosshair", "hideControls", "__inputs"} & set(model)
    assert "step" not in model["panels"][0]["targets"][0] and "intervalFactor" not in model["panels"][0]["targets"][0]


def test_schema_version_is_the_one_of_the_published_schema() -> None:
    assert schema()["definitions"]["Dashboard"]["properties"]["schemaVersion"]["default"] == SCHEMA_VERSION
    assert {m["schemaVersion"] for m in built().values()} == {SCHEMA_VERSION}


def test_a_panel_without_thresholds_gets_a_single_base_step() -> None:
    raw = G.Dashboard(title="t", uid="t", panels=[G.Stat(title="s", gridPos=G.GridPos(h=4, w=6, x=0, y=0))])
    assert to_data(raw)["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"] == ""
    steps = normalise(raw)["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "green", "value": None}]


# --- house style --------------------------------------------------------------------------------


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_house_style(uid: str) -> None:
    model = built()[uid]
    assert style.TOOL_TAG in model["tags"] and model["editable"] is False
    assert model["description"].startswith(build.GENERATED)
    assert {p["type"] for p in panels(model)} <= MODERN_TYPES
    first = model["templating"]["list"][0]
    assert (first["name"], first["type"], first["query"]) == ("datasource", "datasource", "prometheus")
    for p in data_panels(model):
        assert p["datasource"] == style.DATASOURCE, p["title"]
        assert p["targets"] and all(t["datasource"] == style.DATASOURCE for t in p["targets"]), p["title"]
        if p["type"] in ("timeseries", "stat"):
            assert p["fieldConfig"]["defaults"]["unit"], f"{p['title']}: no unit"
    for variable in model["templating"]["list"][1:]:
        assert variable["datasource"] == style.DATASOURCE


def test_no_data_source_name_is_written_anywhere() -> None:
    """Every data source reference is the ``datasource`` variable; no uid or name of a real one."""
    for model in built().values():
        refs = [v for key, v in _items(model) if key == "datasource" and isinstance(v, dict)]
        assert refs and all(ref == style.DATASOURCE for ref in refs)


def _items(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _items(v)
    elif isinstance(value, list):
        for v in value:
            yield from _items(v)


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_panel_ids_are_unique_and_the_grid_has_no_overlap(uid: str) -> None:
    model = built()[uid]
    ids = [p["id"] for p in panels(model)]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in data_panels(model)]
    assert len(set(titles)) == len(titles)  # ids come from titles; alerts link to panels by title
    cells: set[tuple[int, int]] = set()
    for p in panels(model):
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= style.GRID_WIDTH, p["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not area & cells, f"{p['title']} overlaps"
        cells |= area


def test_panel_ids_do_not_depend_on_position() -> None:
    assert style.panel_id("CPU utilization") == style.panel_id("CPU utilization")
    rows = [style.Row("a", [style.stat("x", ["up"], style.COUNT), style.stat("y", ["up"], style.COUNT)])]
    swapped = [style.Row("a", list(reversed(rows[0].panels)))]
    ids = {p.title: p.id for p in style.layout(rows)}
    assert ids == {p.title: p.id for p in style.layout(swapped)}


UNIT_BY_SUFFIX = {"_bytes": style.BYTES, "_seconds": style.SECONDS, "_ratio": style.PERCENT_RATIO,
                  "_usd": style.USD}


def test_units_follow_the_metric_names() -> None:
    """A panel showing a plain ``*_bytes``/``*_seconds``/``*_ratio``/``*_usd`` metric uses that unit; the rate of a
    ``*_seconds_total`` counter (CPU seconds a second) is a ratio."""
    from docqet_monitor.core.promql import metric_names

    def suffix(expr: str, name: str) -> str | None:
        if name.endswith("_seconds_total") and "rate(" in expr:
            return "_ratio"
        return next((s for s in UNIT_BY_SUFFIX if name.removesuffix("_total").endswith(s)), None)

    checked = 0
    for model in built().values():
        for p in data_panels(model):
            exprs = [t["expr"] for t in p["targets"]]
            if p["type"] not in ("timeseries", "stat") or any("/" in e or "count(" in e for e in exprs):
                continue
            suffixes = {suffix(e, name) for e in exprs for name in metric_names(e)} - {None}
            if len(suffixes) == 1:
                assert p["fieldConfig"]["defaults"]["unit"] == UNIT_BY_SUFFIX[suffixes.pop()], p["title"]
                checked += 1
    assert checked >= 20


def test_ratios_shown_as_percent() -> None:
    for uid, title in [("docqet-ecs-services", "HTTP 5xx ratio"), ("docqet-overview", "API 5xx ratio"),
                       ("docqet-aws-cost", "Month forecast vs budget"), ("docqet-qdrant", "Indexed vectors vs points")]:
        assert panel(uid, title)["fieldConfig"]["defaults"]["unit"] == "percentunit"


# --- variables and links ------------------------------------------------------------------------


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_every_variable_used_is_defined_and_every_defined_one_used(uid: str) -> None:
    model = built()[uid]
    defined = {v["name"] for v in model["templating"]["list"]}
    used_in_panels = {name for p in data_panels(model) for text in strings(p) for name in variables(text)}
    used_in_queries = {name for v in model["templating"]["list"] for name in variables(str(v.get("query", "")))}
    assert used_in_panels | used_in_queries <= defined
    assert defined - {"datasource"} <= used_in_panels


def test_ecs_variables_are_multi_select_and_chained() -> None:
    found = {v["name"]: v for v in built()["docqet-ecs-services"]["templating"]["list"]}
    assert list(found) == ["datasource", "account", "region", "cluster", "service"]
    for name in ("account", "region", "cluster", "service"):
        assert found[name]["multi"] and found[name]["includeAll"] and found[name]["type"] == "query"
    assert variables(found["service"]["query"]) == {"account", "region", "cluster"}
    assert variable_query_expr(found["cluster"]["query"]) == (
        'docqet_ecs_service_desired_tasks{account=~"$account", region=~"$region"}')


def test_only_datasource_account_and_region_are_shared_between_dashboards() -> None:
    """Links carry the variables along: a shared name must mean the same thing everywhere (ECS ``cluster`` is not
    an Aurora cluster, hence ``db_cluster``)."""
    seen: dict[str, set[str]] = {}
    for uid, model in built().items():
        for variable in model["templating"]["list"]:
            seen.setdefault(variable["name"], set()).add(uid)
    assert {name for name, uids in seen.items() if len(uids) > 1} == {"datasource", "account", "region"}


def test_overview_panels_link_to_their_detailed_dashboard() -> None:
    for p in data_panels(built()["docqet-overview"]):
        urls = [link["url"] for link in p["links"]]
        assert urls, f"{p['title']} has no link"
        for url in urls:
            match = re.fullmatch(r"/d/([\w-]+)\?\$\{__url_time_range\}&var-datasource=\$\{datasource\}", url)
            assert match and match.group(1) in UIDS - {"docqet-overview"}, url
    assert {link["url"].split("?")[0] for p in data_panels(built()["docqet-overview"]) for link in p["links"]} == {
        f"/d/{uid}" for uid in UIDS - {"docqet-overview"}}


def test_every_catalog_alert_points_at_a_panel_that_exists() -> None:
    rules = [r for r in catalog.defaults() if r.dashboard in UIDS and r.panel]
    assert len(rules) >= 20
    for rule in rules:
        panel(rule.dashboard, rule.panel)


# --- thresholds: one source with the alerts -----------------------------------------------------


def _citations(models: dict[str, dict[str, Any]]) -> list[tuple[dict[str, Any], str, str, float]]:
    return [(p, m["alert"], m["key"], float(m["value"])) for model in models.values() for p in data_panels(model)
            for m in CITATION.finditer(p.get("description", ""))]


def _steps(p: dict[str, Any]) -> list[float]:
    return [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"] if s["value"] is not None]


def test_panel_thresholds_are_the_catalog_thresholds() -> None:
    rules = {r.name: r for r in catalog.rules(Config())}
    citations = _citations(built())
    assert len(citations) >= 15
    for p, alert, key, value in citations:
        assert value == rules[alert].thresholds[key], (p["title"], alert)
        assert _steps(p) == [rules[alert].thresholds[key]], p["title"]


def test_panel_thresholds_follow_an_environment_override(tmp_path: Path) -> None:
    default = catalog.rules(Config())
    cpu = next(r for r in default if r.name == "EcsServiceCpuHigh").thresholds["threshold"]
    config = parse({"environment": "staging", "alerts": {"slo": {"availability_objective": 0.995}, "thresholds": {
        "EcsServiceCpuHigh": {"threshold": cpu / 2}, "AuroraRpoBreached": {"threshold": 7200}}}}, "staging.yaml")
    models = build.build_all(config)
    assert _steps(panel("docqet-overview", "Availability SLO", models)) == [0.995]
    assert _steps(panel("docqet-overview", "Availability SLO")) == [Config().alerts.slo.availability_objective]
    assert _steps(panel("docqet-ecs-services", "CPU utilization", models)) == [cpu / 2]
    assert _steps(panel("docqet-overview", "RPO (latest restorable time age)", models)) == [7200]
    assert _steps(panel("docqet-aurora-postgresql", "Latest restorable time age", models)) == [7200]
    rules = {r.name: r for r in catalog.rules(config)}
    for p, alert, key, value in _citations(models):
        assert value == rules[alert].thresholds[key] and _steps(p) == [value], p["title"]


def test_thresholds_colour_by_severity_and_direction() -> None:
    steps = panel("docqet-aurora-postgresql", "Freeable memory")["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["color"] for s in steps] == ["orange", "green"]  # a warning below the threshold
    steps = panel("docqet-overview", "RPO (latest restorable time age)")["fieldConfig"]["defaults"]["thresholds"]
    assert [s["color"] for s in steps["steps"]] == ["green", "red"]  # critical above


# --- build and check ----------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_the_committed_files_are_what_the_code_builds() -> None:
    """CI fails here when someone changes a dashboard without running `docqet-monitor dashboards build`."""
    result = run("dashboards", "check")
    assert result.exit_code == 0, result.output
    for uid in UIDS:
        text = (CHECKOUT.dashboards / f"{uid}.json").read_text()
        model = json.loads(text)
        assert text == json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        assert build.recorded_fingerprint(model) == build.fingerprint(model)


def test_build_writes_checks_and_removes_only_its_own_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "dash"
    first = run("dashboards", "build", "--out", str(out))
    assert first.exit_code == 0 and f"{len(build.MODULES)} dashboards" in first.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{uid}.json" for uid in UIDS)
    assert run("dashboards", "check", "--out", str(out)).exit_code == 0
    assert "0 file(s) changed" in run("dashboards", "build", "--out", str(out)).output

    ecs = out / "docqet-ecs-services.json"
    ecs.write_text(ecs.read_text().replace("CPU utilization", "CPU"))
    old = out / "docqet-old.json"
    old.write_text(json.dumps({"description": f"{build.GENERATED} from dashboards/old.py", "uid": "docqet-old"}))
    foreign = out / "someone-elses.json"
    foreign.write_text(json.dumps({"uid": "theirs", "description": "hand made"}))
    (out / "docqet-qdrant.json").unlink()

    stale = run("dashboards", "check", "--out", str(out))
    assert stale.exit_code == 1
    assert "docqet-ecs-services.json: differs" in stale.output and "docqet-qdrant.json: missing" in stale.output
    assert "docqet-old.json: not built" in stale.output and "someone-elses" not in stale.output
    assert "3 dashboard file(s) are stale" in stale.output

    assert run("dashboards", "build", "--out", str(out)).exit_code == 0
    assert not old.exists() and foreign.exists()
    assert run("dashboards", "check", "--out", str(out)).exit_code == 0


def test_build_uses_the_environment_thresholds(tmp_path: Path) -> None:
    config = tmp_path / "env.yaml"
    config.write_text("alerts:\n  thresholds:\n    EcsServiceMemoryHigh: {threshold: 0.5}\n")
    out = tmp_path / "dash"
    assert run("--config", str(config), "dashboards", "build", "--out", str(out)).exit_code == 0
    model = json.loads((out / "docqet-ecs-services.json").read_text())
    assert _steps(panel("docqet-ecs-services", "Memory utilization", {"docqet-ecs-services": model})) == [0.5]
    assert run("dashboards", "check", "--out", str(out)).exit_code == 1  # the defaults differ


def test_a_bad_threshold_override_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "env.yaml"
    config.write_text("alerts:\n  thresholds:\n    EcsServiceCpuHigh: {treshold: 0.5}\n")
    result = run("--config", str(config), "dashboards", "build", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert (f"Error: invalid configuration: {config}, line 3: alerts.thresholds.EcsServiceCpuHigh.treshold: unknown "
            "threshold; expected one of: threshold") in result.output
    assert not (tmp_path / "o").exists()


# --- provisioning -------------------------------------------------------------------------------


def test_provisioning_points_at_the_configured_folder_and_a_prometheus_source() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "docqet-monitor.yaml").read_text())
    [entry] = provider["providers"]
    assert (entry["folder"], entry["folderUid"]) == (GrafanaConfig().folder, GrafanaConfig().folder_uid)
    assert entry["type"] == "file" and entry["allowUiUpdates"] is False and entry["options"]["path"]
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    assert [s["type"] for s in sources["datasources"]] == ["prometheus"]


# --- PromQL that real Prometheus accepts --------------------------------------------------------




def test_every_query_parses_in_promtool(tmp_path: Path) -> None:
    exprs = sorted({t["expr"] for m in built().values() for p in data_panels(m) for t in p["targets"]}
                   | {variable_query_expr(v["query"]) for m in built().values() for v in m["templating"]["list"]
                      if v["type"] == "query"})
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{i}", "expr": interpolate(e)} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promtool_check_rejects_a_broken_query(tmp_path: Path) -> None:
    path = tmp_path / "bad.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "x:y", "expr": interpolate('sum by (region (docqet_ecs_service_running_tasks{region=~"$r"})')},
    ]}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode != 0


@pytest.mark.parametrize(("running", "healthy"), [((0, 1), 0), ((2, 1), 0.5), ((2, 3), 1)])
def test_overview_services_healthy_is_a_number_even_when_none_is(tmp_path: Path, running: tuple[int, int],
                                                                 healthy: float) -> None:
    """Two services wanting 2 and 3 tasks: the share running enough is 0 (not "no data") when none does."""
    [target] = panel("docqet-overview", "ECS services healthy")["targets"]
    series = [{"series": f'docqet_ecs_service_{kind}_tasks{{service="{service}"}}', "values": f"{count}x5"}
              for service, desired, run in (("api", 2, running[0]), ("worker", 3, running[1]))
              for kind, count in (("desired", desired), ("running", run))]
    path = tmp_path / "overview.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [], "tests": [{"interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": target["expr"], "eval_time": "2m",
                              "exp_samples": [{"labels": "{}", "value": healthy}]}]}]}))
    result = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_unwritable_out_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(cli.main, ["dashboards", "build", "--out", str(tmp_path / "file" / "out")])
    assert result.exit_code == 1
    assert f"Error: cannot write the dashboards to {tmp_path / 'file' / 'out'}: Not a directory" in result.output


def test_checking_the_committed_files_with_an_environment_says_they_are_built_without_one() -> None:
    result = run("--env", "staging", "dashboards", "check")  # staging overrides thresholds
    assert result.exit_code == 1
    assert "the committed files are built without --env/--config" in result.output
    assert "run `docqet-monitor dashboards build`" not in result.output  # that would not make check pass
