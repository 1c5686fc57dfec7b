"""Demo steps for alerts: render the rules and configs; with ``--alerts-pipeline`` run them for real.

With ``--broken-service`` (implied by ``--alerts-pipeline`` and ``--stack``) an ECS service whose tasks never
start is added, so that something pages. The pipeline step runs an exporter (ECS only, for speed) against the
emulator, then Prometheus and Alertmanager (:mod:`alerts.pipeline`) until the critical
``EcsServiceTasksBelowDesired`` page reaches the local PagerDuty stand-in, and prints that event.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import boto3

from docqet_monitor import __version__
from docqet_monitor.alerts import catalog, pipeline, render
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.stats import Stats
from docqet_monitor.demo.aws import CLUSTER, DemoContext, DemoError
from docqet_monitor.exporters import collectors
from docqet_monitor.exporters.server import Exporter, serve

BROKEN_SERVICE = "reports"
PIPELINE_FLAG = "alerts_pipeline"  # ctx.extras key set by `demo --alerts-pipeline`
BROKEN_FLAG = "broken_service"  # ctx.extras key set by `demo --broken-service` (and --alerts-pipeline, --stack)
STACK_FLAG = "stack"  # ctx.extras key set by `demo --stack`


def render_step(ctx: DemoContext) -> None:
    """Demo step: render the environment's Prometheus rules, prometheus.yml and alertmanager.yml."""
    out = ctx.out_dir / "alerts"
    written = render.write({**render.shared_files(), **render.environment_files(ctx.config)}, out)
    rules = [r for r in catalog.rules(ctx.config) if r.expr]
    ctx.echo(f"rendered {len(rules)} Prometheus alerts and the Alertmanager config for {ctx.config.environment} "
             f"to {out} ({len(written)} files)")
    if not ctx.extras.get(PIPELINE_FLAG) and not ctx.extras.get(STACK_FLAG):
        ctx.echo("  run `docqet-monitor demo --stack` to watch them in a local Prometheus and Alertmanager page a "
                 "PagerDuty stand-in")


def pipeline_step(ctx: DemoContext) -> None:
    """Demo step (``--alerts-pipeline``): exporter -> Prometheus -> Alertmanager -> local PagerDuty stand-in."""
    if not ctx.extras.get(PIPELINE_FLAG):
        return
    try:
        pipeline.binary("prometheus")
        pipeline.binary("alertmanager", "prometheus-alertmanager")
    except render.ToolMissing as exc:
        raise DemoError(f"--alerts-pipeline: {exc}") from None
    config = dataclasses.replace(ctx.config, collectors=dataclasses.replace(
        ctx.config.collectors, rds=dataclasses.replace(ctx.config.collectors.rds, enabled=False),
        cost=dataclasses.replace(ctx.config.collectors.cost, enabled=False),
        qdrant=dataclasses.replace(ctx.config.collectors.qdrant, enabled=False)))
    stats = Stats(version=__version__)
    exp = Exporter(collectors.build(config, Aws(config.aws, stats)), stats)
    httpd = serve(exp, "127.0.0.1", 0)
    exp.start()
    try:
        with tempfile.TemporaryDirectory(prefix="docqet-monitor-pipeline-") as tmp, \
                pipeline.run(config, f"127.0.0.1:{httpd.server_address[1]}", Path(tmp)) as p:
            ctx.echo(f"alerts pipeline: Prometheus {p.prometheus_url}, Alertmanager {p.alertmanager_url}, "
                     f"PagerDuty stand-in {p.sink.url} (rules with 'for: 5s' here; waiting for the page...)")
            event = p.sink.wait_for(lambda body: body.get("payload", {}).get("class") ==
                                    "EcsServiceTasksBelowDesired", timeout=90)
    finally:
        httpd.shutdown()
        httpd.server_close()
        exp.stop()
    if event is None:
        raise DemoError("--alerts-pipeline: no page reached the PagerDuty stand-in within 90 s")
    ctx.echo("PagerDuty stand-in received (Events API v2):")
    ctx.echo(json.dumps({k: event[k] for k in ("event_action", "payload", "links") if k in event}, indent=2))


def broken_service_step(ctx: DemoContext) -> None:
    """Demo step (``--broken-service``): add the ECS service :data:`BROKEN_SERVICE`, whose 2 tasks never start."""
    if not ctx.extras.get(BROKEN_FLAG):
        return
    ecs = boto3.client("ecs", endpoint_url=ctx.endpoint_url, region_name=ctx.region)
    family = f"{CLUSTER}-{BROKEN_SERVICE}"
    ecs.register_task_definition(family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                 cpu="256", memory="512",
                                 containerDefinitions=[{"name": BROKEN_SERVICE, "image": "docqet/reports:broken"}])
    # moto starts a new service with every task pending (running 0 of desired) until updated: left so
    ecs.create_service(cluster=CLUSTER, serviceName=BROKEN_SERVICE, taskDefinition=family, desiredCount=2,
                       launchType="FARGATE")
    ctx.echo(f"broken service: added ECS service {BROKEN_SERVICE} to {CLUSTER} whose 2 tasks never start "
             "(it pages: EcsServiceNoRunningTasks, EcsServiceTasksBelowDesired)")
