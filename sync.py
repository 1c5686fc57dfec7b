"""The plan targets (Grafana dashboards, CloudWatch and Sentry alerts) and ``sync``: everything built from code,
pushed for one environment.

Each sync target is a step returning a :class:`Outcome`; a step whose settings are missing is *skipped* with
the reason, a step that fails does not stop the others. When ``SENTRY_DSN`` is set, the run reports a Sentry
cron check-in (so a sync that stops running is noticed) and the tool's own crashes go to Sentry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sentry_sdk
from sentry_sdk.crons import capture_checkin
from sentry_sdk.crons.consts import MonitorStatus

from docqet_monitor.alerts import catalog, render
from docqet_monitor.alerts import cloudwatch as cw
from docqet_monitor.alerts import sentry as sentry_mod
from docqet_monitor.alerts.spec import AlertRule
from docqet_monitor.core import secrets
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config
from docqet_monitor.core.crashes import DSN_ENV, init_self_monitoring
from docqet_monitor.core.discovery import Target
from docqet_monitor.core.errors import DocqetError, UsageError
from docqet_monitor.core.plan import Backend, Plan, Report, apply, render_text, summary

ALERT_TARGETS = ("cloudwatch", "sentry")
SYNC_TARGETS = ("dashboards", "rules", *ALERT_TARGETS)


class Skipped(UsageError):
    """A target cannot run here (its settings are missing); the message says why (exit 2 when it was asked for)."""


@dataclass
class PlanTarget:
    """One backend of the plan engine: ``plan(prune)`` reads live objects and diffs; ``backend`` writes a plan."""

    name: str
    plan: Callable[[bool], Plan]
    backend: Backend


def dashboards_target(config: Config, environ: Mapping[str, str] = os.environ, force: bool = False) -> PlanTarget:
    """The Grafana target: the dashboards built for ``config``; :class:`Skipped` without a Grafana URL or token."""
    from docqet_monitor.dashboards import build as builder
    from docqet_monitor.dashboards import publish

    try:
        grafana = publish.connect(config.grafana, environ)
    except publish.GrafanaSettingsError as exc:
        raise Skipped(str(exc)) from None
    models = builder.build_all(config)
    settings = config.grafana
    return PlanTarget("dashboards", lambda prune: publish.make_plan(grafana, models, settings.folder_uid,
                                                                   settings.folder, prune=prune, force=force),
                      publish.Publisher(grafana, force=force))


def alert_target(name: str, config: Config, environ: Mapping[str, str] = os.environ) -> PlanTarget:
    """The CloudWatch or Sentry target for ``config``; :class:`Skipped` when Sentry is not configured."""
    rules = catalog.rules(config)

    def runbook(rule: AlertRule) -> str:
        return catalog.runbook_url(rule, config)

    if name == "cloudwatch":
        aws = Aws(settings=config.aws)

        def clients(t: Target, service: str) -> Any:
            return aws.client(service, t.region, t.account)

        return PlanTarget(name, lambda prune: cw.make_plan(config, rules, clients, prune, runbook),
                          cw.writer(config, clients))
    st = sentry_mod.settings(config, environ)
    reason = sentry_mod.missing(st, environ)
    if reason:
        raise Skipped(reason)
    sentry = sentry_mod.Sentry(sentry_mod.Api(st.url, secrets.env_token(environ, sentry_mod.TOKEN_ENV)), st)
    return PlanTarget(name, lambda prune: sentry_mod.make_plan(sentry, rules, prune), sentry)


# --- sync -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    target: str
    status: str  # ok, changed, would change, skipped, failed
    detail: str
    lines: list[str] = field(default_factory=list)
    exit_code: int = 1  # of a failure: 2 when it was a setting to fix (a UsageError), as the other commands exit

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def _plan_step(target: PlanTarget, dry_run: bool, prune: bool) -> Outcome:
    """Plan, then (not in a dry run) apply; conflicts the plan leaves alone make the target fail."""
    name, plan = target.name, target.plan(prune)
    lines = render_text([plan]).splitlines()
    conflicts = f"; {len(plan.conflicts)} conflict(s) left unchanged" if plan.conflicts else ""
    if not plan.has_changes:
        return Outcome(name, "failed" if conflicts else "ok", "no changes" + conflicts, lines)
    if dry_run:
        return Outcome(name, "failed" if conflicts else "would change", summary([plan]) + conflicts, lines)
    report: Report = apply(plan, target.backend)
    lines += report.render().splitlines()
    status = "changed" if report.ok and not conflicts else "failed"
    return Outcome(name, status, f"{len(report.applied)}/{len(plan.changes)} change(s) applied{conflicts}", lines)


def _rules_step(config: Config, dry_run: bool, out: Path | None) -> Outcome:
    if out is None:
        raise Skipped("not in a monitoring repository; give --rules-out DIR, or --root DIR")
    files = {**render.shared_files(), **render.environment_files(config)}
    stale = render.stale(files, out)
    if not stale:
        return Outcome("rules", "ok", f"{len(files)} file(s) up to date in {out}")
    if dry_run:
        return Outcome("rules", "would change", f"{len(stale)} file(s) would be written", stale)
    render.write({rel: files[rel] for rel in stale}, out)
    return Outcome("rules", "changed", f"{len(stale)} of {len(files)} file(s) written in {out}", stale)


def run_step(name: str, config: Config, *, dry_run: bool, prune: bool, rules_out: Path | None,
             environ: Mapping[str, str]) -> Outcome:
    """One target; a skip or a failure becomes its outcome (crashes are also sent to Sentry, when enabled)."""
    try:
        if name == "rules":
            return _rules_step(config, dry_run, rules_out)
        target = dashboards_target(config, environ) if name == "dashboards" else alert_target(name, config, environ)
        return _plan_step(target, dry_run, prune)
    except Skipped as exc:
        return Outcome(name, "skipped", str(exc))
    except DocqetError as exc:  # our own sentence: no type name, no crash report
        return Outcome(name, "failed", str(exc).splitlines()[0], str(exc).splitlines()[1:], exc.exit_code)
    except Exception as exc:  # any fault of one target: report it, go on with the others
        _capture(exc)
        return Outcome(name, "failed", f"{type(exc).__name__}: {exc}")


def sync(config: Config, targets: Sequence[str], *, dry_run: bool, prune: bool, rules_out: Path | None,
         progress: Callable[[str, Outcome | None], None] = lambda *_: None,
         environ: Mapping[str, str] = os.environ) -> list[Outcome]:
    """Run the targets in order; ``progress(target, None)`` before each, ``progress(target, outcome)`` after.
    ``rules_out`` None (no monitoring repository): the rules target is skipped. A real run (not a dry run)
    reports the cron check-in."""
    check_in = None if dry_run else _check_in_start(config.environment, environ)
    outcomes = []
    for name in targets:
        progress(name, None)
        outcome = run_step(name, config, dry_run=dry_run, prune=prune, rules_out=rules_out, environ=environ)
        progress(name, outcome)
        outcomes.append(outcome)
    _check_in_end(check_in, config.environment, any(o.failed for o in outcomes))
    return outcomes


def table(outcomes: Sequence[Outcome]) -> str:
    """The summary table printed at the end of a sync."""
    rows = [("target", "status", "details"), *((o.target, o.status, o.detail) for o in outcomes)]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip() for r in rows)


# --- the tool's own monitoring in Sentry ------------------------------------------------------------


def monitor_slug(env: str) -> str:
    return f"docqet-monitor-sync-{env}"


def _capture(exc: BaseException) -> None:
    if sentry_sdk.is_initialized():
        sentry_sdk.capture_exception(exc)


def _check_in_start(env: str, environ: Mapping[str, str]) -> str | None:
    if not environ.get(DSN_ENV):
        return None
    if sentry_sdk.get_client().options.get("environment") != env:  # cron monitors are per environment
        init_self_monitoring(env, environ)
    return capture_checkin(monitor_slug=monitor_slug(env), status=MonitorStatus.IN_PROGRESS)


def _check_in_end(check_in: str | None, env: str, failed: bool) -> None:
    if check_in is None:
        return
    capture_checkin(monitor_slug=monitor_slug(env), check_in_id=check_in,
                    status=MonitorStatus.ERROR if failed else MonitorStatus.OK)
    sentry_sdk.flush(timeout=5)
