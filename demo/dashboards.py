"""Demo step: build the dashboards for the demo's environment, say where the JSON is; publish when
``$GRAFANA_URL`` (or ``grafana.url``) is set."""

from __future__ import annotations

import os

from docqet_monitor.core.config import ConfigError
from docqet_monitor.dashboards import build
from docqet_monitor.dashboards.publish import (
    MESSAGE,
    URL_ENV,
    GrafanaError,
    GrafanaSettingsError,
    connect,
    line,
    publish,
    summary,
)
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
             f"{ctx.config.environment} in {out}; the committed ones are in {build.DEFAULT_OUT}")
    if not (ctx.config.grafana.url or os.environ.get(URL_ENV)):
        ctx.echo(f"dashboards: set {URL_ENV} and GRAFANA_TOKEN to publish them to a Grafana")
        return
    try:
        grafana = connect(ctx.config.grafana)
        folder, results = publish(grafana, models, ctx.config.grafana.folder_uid, ctx.config.grafana.folder,
                                  message=MESSAGE, on_result=lambda r: ctx.echo(line(r)))
    except (GrafanaSettingsError, GrafanaError) as exc:
        ctx.echo(f"dashboards: not published: {exc}")
        return
    ctx.echo(f"dashboards: published to {grafana.url}. {summary(folder, results)}")
