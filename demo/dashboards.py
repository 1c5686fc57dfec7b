"""Demo step: build the dashboards for the demo's environment, say where the JSON is; publish when
``$GRAFANA_URL`` (or ``grafana.url``) is set."""

from __future__ import annotations

import os

from docqet_monitor.core.config import ConfigError
from docqet_monitor.core.plan import apply
from docqet_monitor.dashboards import build
from docqet_monitor.dashboards.publish import URL_ENV, GrafanaError, GrafanaSettingsError, Publisher, connect, make_plan
from docqet_monitor.demo.aws import DemoContext, DemoError


def dashboards_step(ctx: DemoContext) -> None:
    """Build the six dashboards into the demo's output directory (never over the committed ones); maybe publish."""
    try:
        models = build.build_all(ctx.config)
    except ConfigError as exc:  # a bad alerts.thresholds override
        raise DemoError(f"invalid configuration: {exc}") from None
    out = ctx.out_dir / "dashboards"
    build.write(out, models)
    ctx.extras["dashboards_dir"] = out
    ctx.echo(f"dashboards: {len(models)} Grafana dashboards ({', '.join(models)}) built for "
             f"{ctx.config.environment} in {out}")
    if not (ctx.config.grafana.url or os.environ.get(URL_ENV)):
        ctx.echo(f"dashboards: set {URL_ENV} and GRAFANA_TOKEN to publish them to a Grafana")
        return
    settings = ctx.config.grafana
    try:
        grafana = connect(settings)
        plan = make_plan(grafana, models, settings.folder_uid, settings.folder, prune=False, force=False)
    except (GrafanaSettingsError, GrafanaError) as exc:
        ctx.echo(f"dashboards: not published: {exc}")
        return
    report = apply(plan, Publisher(grafana), progress=ctx.echo)
    if not report.ok:
        change, error = report.failed[0]
        ctx.echo(f"dashboards: not published: {change.kind} {change.key}: {error}")
        return
    conflicts = f"; {len(plan.conflicts)} conflict(s) left unchanged" if plan.conflicts else ""
    ctx.echo(f"dashboards: published to {grafana.url}: {len(report.applied)} change(s) applied{conflicts}.")
