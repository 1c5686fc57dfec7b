"""``docqet-monitor dashboards build|check|publish``: thin commands over dashboards.build and dashboards.publish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from docqet_monitor.core.config import ConfigError
from docqet_monitor.dashboards import build as builder
from docqet_monitor.dashboards.publish import (
    MESSAGE,
    GrafanaAuthError,
    GrafanaError,
    GrafanaSettingsError,
    connect,
    line,
    publish,
    summary,
)


class ConfigProblem(click.ClickException):
    """A bad ``alerts.thresholds`` override (found when the catalog is read): exit 2 like any config error."""

    exit_code = 2


def _models(config: Any) -> dict[str, dict[str, Any]]:
    try:
        return builder.build_all(config)
    except ConfigError as exc:
        raise ConfigProblem(f"invalid configuration: {exc}") from None


OUT_HELP = "Directory of the dashboard JSON files [default: monitoring/grafana/dashboards]."


def _out(path: str | None) -> Path:
    return Path(path) if path else builder.DEFAULT_OUT


@click.group()
def dashboards() -> None:
    """Grafana dashboards as code: build the JSON, check it is current, publish it to Grafana."""


@dashboards.command("build")
@click.option("--out", "out", metavar="DIR", type=click.Path(file_okay=False), help=OUT_HELP)
@click.pass_obj
def build_command(state: Any, out: str | None) -> None:
    """Write one JSON file per dashboard (thresholds from the alert catalog of --env, defaults without)."""
    directory = _out(out)
    models = _models(state.config)
    try:
        changes = builder.write(directory, models)
    except OSError as exc:
        raise click.ClickException(f"cannot write the dashboards to {directory}: {exc.strerror or exc}") from None
    for change in changes:
        click.echo(f"{'removed' if change.change == 'not built' else 'wrote'} {change.path}")
    click.echo(f"{len(models)} dashboards in {directory} ({len(changes)} file(s) changed).")


@dashboards.command("check")
@click.option("--out", "out", metavar="DIR", type=click.Path(file_okay=False), help=OUT_HELP)
@click.pass_obj
def check_command(state: Any, out: str | None) -> None:
    """Exit 1 when the files in DIR differ from what the code builds (run `dashboards build`)."""
    directory = _out(out)
    changes = builder.compare(directory, _models(state.config))
    for change in changes:
        click.echo(f"{change.path}: {change.change}", err=True)
    if changes and out is None and (state.env or state.config_path):
        raise click.ClickException(f"{len(changes)} dashboard file(s) differ from the build for this environment; "
                                   "the committed files are built without --env/--config (catalog defaults): "
                                   "check them with `docqet-monitor dashboards check`")
    if changes:
        raise click.ClickException(f"{len(changes)} dashboard file(s) are stale; run `docqet-monitor "
                                   f"dashboards build{'' if out is None else ' --out ' + out}` and commit them")
    click.echo(f"{directory}: all dashboards are up to date.")


@dashboards.command("publish")
@click.option("--dry-run", is_flag=True, help="Read Grafana and show what would change; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite dashboards edited in Grafana (and 412 version mismatches).")
@click.option("--prune", is_flag=True, help="Delete dashboards tagged docqet-monitor that the code no longer has.")
@click.pass_obj
def publish_command(state: Any, dry_run: bool, force: bool, prune: bool) -> None:
    """Sync the dashboards to Grafana (grafana.url or $GRAFANA_URL, token $GRAFANA_TOKEN)."""
    config = state.config
    try:
        grafana = connect(config.grafana)
    except GrafanaSettingsError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Grafana {grafana.url}, folder {config.grafana.folder!r} ({config.grafana.folder_uid})"
               + (" - dry run, nothing is written" if dry_run else ""))
    try:
        folder, results = publish(grafana, _models(config), config.grafana.folder_uid,
                                  config.grafana.folder, message=MESSAGE, force=force, prune=prune,
                                  dry_run=dry_run, on_result=lambda r: click.echo(line(r)))
    except GrafanaAuthError as exc:
        raise click.ClickException(str(exc)) from None
    except GrafanaError as exc:
        raise click.ClickException(f"publishing stopped: {exc}") from None
    click.echo(summary(folder, results))
    problems = [r for r in results if not r.ok]
    if problems:
        raise click.ClickException(f"{len(problems)} dashboard(s) not published: "
                                   + ", ".join(f"{r.step.uid} ({r.outcome})" for r in problems))
