"""``docqet-monitor dashboards build|check|plan|publish``: thin commands over dashboards.build and
dashboards.publish, whose Grafana target runs on the plan engine (core.plan)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from docqet_monitor.core import logs
from docqet_monitor.core.errors import RunError
from docqet_monitor.core.plan import Plan, apply, check_conflicts, render_text, to_json
from docqet_monitor.dashboards import build as builder
from docqet_monitor.dashboards.publish import Grafana, Publisher, connect, make_plan

OUT_HELP = ("Directory of the dashboard JSON files "
            "[default: monitoring/grafana/dashboards/ of the monitoring repository].")


def _out(state: Any, path: str | None, command: str) -> Path:
    return Path(path) if path else state.repository(f"dashboards {command}").dashboards


@click.group()
def dashboards() -> None:
    """Grafana dashboards as code: build the JSON, check it is current, plan and publish it to Grafana."""


@dashboards.command("build")
@click.option("--out", "out", metavar="DIR", type=click.Path(file_okay=False), help=OUT_HELP)
@click.pass_obj
def build_command(state: Any, out: str | None) -> None:
    """Write one JSON file per dashboard (thresholds from the alert catalog of --env, defaults without)."""
    directory = _out(state, out, "build")
    models = builder.build_all(state.config)
    try:
        changes = builder.write(directory, models)
    except OSError as exc:
        raise RunError(f"cannot write the dashboards to {directory}: {exc.strerror or exc}") from None
    for change in changes:
        click.echo(f"{'removed' if change.change == 'not built' else 'wrote'} {change.path}")
    click.echo(f"{len(models)} dashboards in {directory} ({len(changes)} file(s) changed).")


@dashboards.command("check")
@click.option("--out", "out", metavar="DIR", type=click.Path(file_okay=False), help=OUT_HELP)
@click.pass_obj
def check_command(state: Any, out: str | None) -> None:
    """Exit 1 when the files in DIR differ from what the code builds (run `dashboards build`)."""
    directory = _out(state, out, "check")
    changes = builder.compare(directory, builder.build_all(state.config))
    for change in changes:
        logs.note(f"{change.path}: {change.change}", logging.ERROR)
    if changes and out is None and (state.env or state.config_path):
        raise RunError(f"{len(changes)} dashboard file(s) differ from the build for this environment; "
                       "the committed files are built without --env/--config (catalog defaults): "
                       "check them with `docqet-monitor dashboards check`")
    if changes:
        raise RunError(f"{len(changes)} dashboard file(s) are stale; run `docqet-monitor "
                       f"dashboards build{'' if out is None else ' --out ' + out}` and commit them")
    click.echo(f"{directory}: all dashboards are up to date.")


def _plan_options(command: Any) -> Any:
    """--prune and --force, shared by plan and publish."""
    command = click.option("--force", is_flag=True,
                           help="Overwrite dashboards edited in Grafana (and 412 version mismatches).")(command)
    return click.option("--prune", is_flag=True,
                        help="Also delete dashboards tagged docqet-monitor that the code no longer has.")(command)


def _grafana_plan(state: Any, prune: bool, force: bool) -> tuple[Grafana, Plan]:
    """Connect (grafana.url or $GRAFANA_URL, $GRAFANA_TOKEN), build the dashboards, read Grafana and diff."""
    config = state.config
    grafana = connect(config.grafana)
    models = builder.build_all(config)
    logs.note(f"Grafana {grafana.url}, folder {config.grafana.folder!r} ({config.grafana.folder_uid})")
    return grafana, make_plan(grafana, models, config.grafana.folder_uid, config.grafana.folder, prune=prune,
                              force=force)


def _show(plan: Plan, output: str, detailed_exitcode: bool) -> None:
    """The plan as text or JSON; exit 1 on conflicts, 2 on changes with --detailed-exitcode."""
    click.echo(json.dumps(to_json([plan]), indent=2, sort_keys=True, default=str) if output == "json"
               else render_text([plan]))
    check_conflicts([plan])
    if detailed_exitcode and plan.has_changes:
        click.get_current_context().exit(2)


@dashboards.command("plan")
@_plan_options
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error.")
@click.pass_obj
def plan_command(state: Any, prune: bool, force: bool, output: str, detailed_exitcode: bool) -> None:
    """Show what publish would create (+), update (~) and, with --prune, delete (-) in Grafana; write nothing."""
    _show(_grafana_plan(state, prune, force)[1], output, detailed_exitcode)


@dashboards.command("publish")
@click.option("--dry-run", is_flag=True, help="Read Grafana and show the plan; write nothing (as `dashboards plan`).")
@_plan_options
@click.pass_obj
def publish_command(state: Any, dry_run: bool, prune: bool, force: bool) -> None:
    """Sync the dashboards to Grafana: the plan, then its changes (grafana.url or $GRAFANA_URL, $GRAFANA_TOKEN)."""
    grafana, plan = _grafana_plan(state, prune, force)
    if dry_run:
        _show(plan, "text", detailed_exitcode=False)
        return
    click.echo(render_text([plan]))
    if plan.has_changes:
        report = apply(plan, Publisher(grafana, force=force), progress=click.echo)
        click.echo(report.render(applied=False))
        if not report.ok:
            raise RunError("publishing stopped at the failure above; a rerun picks up where it stopped")
    check_conflicts([plan])
