"""Demo step: ``sync`` against the emulated AWS (and Sentry / Grafana when their URLs are set): a plan, the apply,
then a second plan that is empty."""

from __future__ import annotations

import dataclasses
import os

from docqet_monitor import sync
from docqet_monitor.demo.aws import DemoContext


def sync_step(ctx: DemoContext) -> None:
    """Plan, apply and plan again; moto has no composite alarms, so the demo makes none."""
    config = dataclasses.replace(ctx.config, cloudwatch_alarms=dataclasses.replace(
        ctx.config.cloudwatch_alarms, composite_alarms=False))
    targets = ["rules", "cloudwatch"]
    if config.sentry.url or os.environ.get("SENTRY_URL"):
        targets.append("sentry")
    if config.grafana.url or os.environ.get("GRAFANA_URL"):
        targets.insert(0, "dashboards")
    out = ctx.out_dir / "sync-rules"
    ctx.echo(f"sync: {', '.join(targets)} for {config.environment} (rules into {out}; "
             "no composite alarms: the emulator lacks them)")
    for title, dry_run in (("plan", True), ("apply", False), ("plan again", True)):
        ctx.echo(f"sync: {title}")
        for outcome in sync.sync(config, targets, dry_run=dry_run, prune=False, rules_out=out):
            ctx.echo(f"  {outcome.target}: {outcome.status}: {outcome.detail}")
            for line in outcome.lines if title == "plan" and outcome.target != "rules" else ():
                ctx.echo(f"    {line}")
