"""``alerts plan|apply``, ``sync`` and ``iam-policy``: thin commands over the plan targets of sync and alerts.iam."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from docqet_monitor import sync as sync_mod
from docqet_monitor.alerts import catalog, iam, prometheus, readiness, scaleout, testpage
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import discovery, logs
from docqet_monitor.core import plan as plan_mod
from docqet_monitor.core.errors import RunError, UsageError
from docqet_monitor.core.ids import alarm_prefix

TARGET_HELP = "cloudwatch or sentry; repeat for both [default: both, Sentry only when configured]."


def _interactive() -> bool:
    return sys.stdin.isatty()


def _terminal() -> bool:
    return sys.stdout.isatty()


def _targets(config: config_mod.Config, names: tuple[str, ...]) -> list[sync_mod.PlanTarget]:
    """The requested targets; an explicitly requested one that cannot run is an error, a default one a note."""
    found = []
    for name in names or sync_mod.ALERT_TARGETS:
        try:
            found.append(sync_mod.alert_target(name, config))
        except sync_mod.Skipped as exc:
            if names:  # missing settings: exit 2
                raise sync_mod.Skipped(f"{name}: {exc}") from None
            logs.note(f"{name}: skipped: {exc}")
    return found


def _plans(config: config_mod.Config, names: tuple[str, ...], prune: bool
           ) -> list[tuple[sync_mod.PlanTarget, plan_mod.Plan]]:
    return [(t, t.plan(prune)) for t in _targets(config, names)]


@click.command("plan")
@click.option("--target", "targets", type=click.Choice(sync_mod.ALERT_TARGETS), multiple=True, help=TARGET_HELP)
@click.option("--prune", is_flag=True, help="Plan deleting the alerts we own that the catalog no longer has.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error.")
@click.pass_obj
def plan_command(state: Any, targets: tuple[str, ...], prune: bool, output: str, detailed_exitcode: bool) -> None:
    """Show what apply would create (+), update (~) and, with --prune, delete (-)."""
    plans = [p for _, p in _plans(state.config, targets, prune)]  # errors: 1 with --detailed-exitcode (the CLI)
    if output == "json":
        click.echo(json.dumps(plan_mod.to_json(plans), indent=2, sort_keys=True, default=str))
    else:
        click.echo(plan_mod.render_text(plans))
    if detailed_exitcode and any(p.has_changes for p in plans):
        click.get_current_context().exit(2)


@click.command("apply")
@click.option("--target", "targets", type=click.Choice(sync_mod.ALERT_TARGETS), multiple=True, help=TARGET_HELP)
@click.option("--prune", is_flag=True, help="Also delete the alerts we own that the catalog no longer has.")
@click.option("--yes", is_flag=True, help="Apply without asking (required when not on a terminal).")
@click.pass_obj
def apply_command(state: Any, targets: tuple[str, ...], prune: bool, yes: bool) -> None:
    """Show the plan, ask for confirmation, then create, update and (with --prune) delete."""
    planned = _plans(state.config, targets, prune)
    plans = [p for _, p in planned]
    click.echo(plan_mod.render_text(plans))
    if not any(p.has_changes for p in plans):
        return
    if not yes:
        if not _interactive():
            raise RunError("not applying: no terminal to confirm on; review the plan above and rerun with --yes")
        click.confirm("Apply these changes?", abort=True)
    failed = []
    for target, plan in planned:
        report = plan_mod.apply(plan, target.backend, progress=click.echo)
        click.echo(report.render(applied=False))
        if not report.ok:
            failed.append(target.name)
    if failed:
        raise RunError(f"apply incomplete for {', '.join(failed)}: see above; a rerun picks up where it stopped")


@click.command("sync")
@click.option("--env", "env", metavar="NAME", help="Environment [default: the global --env/--config].")
@click.option("--target", "targets", type=click.Choice(sync_mod.SYNC_TARGETS), multiple=True,
              help="dashboards, rules, cloudwatch or sentry; repeat for several [default: all].")
@click.option("--dry-run", is_flag=True, help="Read and compare only: show what would change, write nothing.")
@click.option("--prune", is_flag=True, help="Also delete the dashboards and alerts we own that the code dropped.")
@click.option("--rules-out", type=click.Path(file_okay=False, path_type=Path), default=None,
              show_default="monitoring/ of the monitoring repository",
              help="Where the Prometheus rules and Alertmanager config are written.")
@click.option("--strict", is_flag=True, help="Refuse to write anything while an alert would reach no one.")
@click.pass_obj
def sync_command(state: Any, env: str | None, targets: tuple[str, ...], dry_run: bool, prune: bool,
                 rules_out: Path | None, strict: bool) -> None:
    """Dashboards (publish), Prometheus rules and Alertmanager config (render), CloudWatch and Sentry (apply)
    for one environment; a summary table at the end, exit 1 when anything failed.

    Before anything is written it says what would reach no one (paging readiness); --strict stops there."""
    config = state.resolve(env) if env else state.config
    rules = catalog.rules(config)  # bad threshold overrides stop here (exit 2), before any target starts
    gaps = readiness.gaps(config, rules, os.environ)
    for gap in gaps:
        logs.note(f"{'error' if strict else 'warning'}: paging: {gap}", logging.ERROR if strict else logging.WARNING)
    if gaps and strict:
        raise RunError(f"sync --strict: {len(gaps)} paging gap(s) in {config.environment}; nothing was written")
    if rules_out is None and "rules" in targets:  # asked for explicitly: no repository is an error (exit 2)
        rules_out = state.repository("sync --target rules").monitoring
    elif rules_out is None and (repository := state.find_repository("sync")):
        rules_out = repository.monitoring  # else the rules target is skipped, saying why
    names = targets or sync_mod.SYNC_TARGETS
    tty = _terminal()
    mode = " (dry run: nothing is written)" if dry_run else ""
    click.echo(f"sync of environment {config.environment}{mode}")

    def progress(name: str, outcome: sync_mod.Outcome | None) -> None:
        step = f"[{names.index(name) + 1}/{len(names)}] {name}"
        if outcome is None:
            click.echo(f"{step} ..." if tty else f"{step}: started", nl=not tty)
            return
        click.echo(f"\r{step}: {outcome.status}: {outcome.detail}" if tty else
                   f"{step}: {outcome.status}: {outcome.detail}")
        for line in outcome.lines:
            click.echo(f"    {line}")

    outcomes = sync_mod.sync(config, names, dry_run=dry_run, prune=prune, rules_out=rules_out, progress=progress)
    click.echo("\n" + sync_mod.table(outcomes))
    failed = [o for o in outcomes if o.failed]
    if failed:
        message = f"sync failed for: {', '.join(o.target for o in failed)}"
        raise UsageError(message) if all(o.exit_code == 2 for o in failed) else RunError(message)
    unmet = [o for o in outcomes if o.status == "skipped" and o.target in targets]  # asked for by name
    if unmet:
        raise UsageError("; ".join(f"sync --target {o.target}: skipped: {o.detail}" for o in unmet))


@click.command("iam-policy")
@click.option("--role", type=click.Choice(iam.ROLES), required=True,
              help="exporter: read-only (discovery, GetMetricData, Cost Explorer); sync: discovery, alarms read, "
                   "alarm writes on our alarms' ARNs only.")
@click.pass_obj
def iam_policy_command(state: Any, role: str) -> None:
    """Print one role's least-privilege IAM policy (JSON). With --env/--config: sync's alarm writes are limited to
    that environment's alarms (docqet-<env>-*), and sts:AssumeRole to the roles of its `accounts:`. ARNs are of
    the partition of the configured regions (arn:aws-cn:... for cn-north-1)."""
    config = state.config
    scoped = bool(state.env or state.config_path)
    prefix = alarm_prefix(config.environment) if scoped else iam.ALARM_PREFIX
    regions = dict.fromkeys(t.region for t in discovery.targets(config))
    try:
        partition = iam.partition(list(regions))
    except ValueError as exc:
        raise UsageError(f"iam-policy: {exc}") from None
    click.echo(json.dumps(iam.policy(role, [a.role_arn for a in config.accounts], prefix, partition), indent=2))


@click.command("prometheus-config")
@click.option("--role", type=click.Choice(["agent", "central"]), required=True,
              help="agent: Prometheus in agent mode beside the exporter shards; central: the Prometheus they write to.")
@click.option("--env", "env", metavar="NAME", help="Environment [default: the global --env].")
@click.option("--shards", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="agent: how many exporter shards (one --exporter each).")
@click.option("--exporter", "exporters", metavar="HOST:PORT", multiple=True, help="agent: an exporter shard; repeat.")
@click.option("--remote-write-url", metavar="URL", help="agent: the central store's remote-write endpoint.")
@click.option("--agent-name", metavar="NAME", help="agent: its external label prometheus_agent [default: ENV-agent].")
@click.option("--rules-dir", type=click.Path(file_okay=False, path_type=Path),
              help="central: the folder of this environment's rule files [default: monitoring/prometheus/rules/ENV "
                   "of the monitoring repository].")
@click.option("--alertmanager", "alertmanagers", metavar="URL", multiple=True,
              help="central: an Alertmanager (http://host:9093); repeat.")
@click.option("--scrape-interval", default="60s", show_default=True, help="agent: scrape interval.")
@click.pass_obj
def prometheus_config_command(state: Any, role: str, env: str | None, shards: int, exporters: tuple[str, ...],
                              remote_write_url: str | None, agent_name: str | None, rules_dir: Path | None,
                              alertmanagers: tuple[str, ...], scrape_interval: str) -> None:
    """Print a Prometheus configuration for a two-tier deployment (docs/scaling.md).

    \b
    docqet-monitor prometheus-config --role agent --env production --shards 2 \\
        --exporter shard-1:19842 --exporter shard-2:19842 --remote-write-url http://central:9090/api/v1/write
    docqet-monitor prometheus-config --role central --env production --alertmanager http://alertmanager:9093
    """
    env = scaleout.environment(env or state.env)
    if role == "agent":
        doc = prometheus.agent_config(env, scaleout.exporters(exporters, shards),
                                      scaleout.url("--remote-write-url", remote_write_url),
                                      scaleout.name("--agent-name", agent_name or f"{env}-agent"), scrape_interval)
        how = "prometheus --enable-feature=agent --config.file=agent.yml"
    else:
        folder = scaleout.rules_dir(rules_dir or state.repository("prometheus-config --role central").monitoring
                                    / "prometheus" / "rules" / env)
        doc = prometheus.central_config(env, str(folder), [scaleout.url("--alertmanager", u) for u in alertmanagers])
        how = "prometheus --web.enable-remote-write-receiver --config.file=central.yml"
    header = "# Generated by `docqet-monitor prometheus-config --role {what}`.\n# Run: " + how + "\n"
    click.echo(prometheus.dump(doc, f"{role} --env {env}", header=header), nl=False)


@click.command("test-page")
@click.option("--env", "env", metavar="NAME", help="Environment [default: the global --env/--config].")
@click.option("--alertmanager", "alertmanager_url", metavar="URL", default="http://localhost:9093",
              show_default=True, help="The environment's Alertmanager.")
@click.pass_obj
def test_page_command(state: Any, env: str | None, alertmanager_url: str) -> None:
    """Send one test page through the environment's real routes and say where it went.

    Alertmanager (its API) gets a critical DocqetMonitorTestPage that routes like every critical alert; where
    CloudWatch alarms notify through SNS, PagerDuty's Events API v2 gets a test trigger with the routing key.
    """
    config = state.resolve(env) if env else state.config
    for line in testpage.send(config, scaleout.url("--alertmanager", alertmanager_url), os.environ):
        click.echo(line)
