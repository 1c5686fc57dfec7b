"""Which collectors run, built from the config, and which metric names the exporter can export.

Each collector lives in its own module and declares the names of the families it builds in a module-level
``METRIC_NAMES`` tuple; dashboards and alert lint check their PromQL against :func:`exported_metric_names`.
A test proves the declared names match what a real run against moto exports.
"""

from __future__ import annotations

import logging

from docqet_monitor.core import stats
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.config import Config, regions
from docqet_monitor.core.shard import Shard
from docqet_monitor.exporters import (
    alb,
    apigateway,
    aurora_global,
    cloudfront,
    cost,
    ecs,
    elasticache,
    qdrant,
    rds,
    route53,
    s3,
    waf,
)
from docqet_monitor.exporters.metrics import Collector
from docqet_monitor.exporters.regional import AwsCollector

log = logging.getLogger(__name__)


def build(config: Config, aws: Aws) -> list[Collector]:
    """The enabled collectors for ``config``, sharing ``aws`` (clients, stats, in-flight limits).

    Sharded (``exporter.shard``), a collector of global data (``global_data = True``: cost, Qdrant, global
    AWS services) runs on shard 1 only; the others split their work (see :mod:`exporters.regional`).
    """
    c = config.collectors
    aws_collectors = ((c.ecs, ecs.collector), (c.rds, rds.collector), (c.elasticache, elasticache.collector),
                      (c.alb, alb.collector), (c.s3, s3.collector), (c.aurora_global, aurora_global.collector),
                      (c.cloudfront, cloudfront.collector), (c.route53, route53.collector),
                      (c.apigateway, apigateway.collector), (c.waf, waf.collector))
    collectors: list[Collector] = [build_one(config, aws) for settings, build_one in aws_collectors
                                   if settings.enabled]
    for off in [c for c in collectors if isinstance(c, AwsCollector) and not c.targets]:
        log.info("%s collector off: the AWS partition of the configured regions does not offer it", off.name)
        collectors.remove(off)
    optional = (qdrant.build(config.collectors.qdrant), cost.build(config.collectors.cost, aws, regions(config)[0]))
    collectors.extend(c for c in optional if c is not None)
    shard = Shard.parse(config.exporter.shard)
    return [c for c in collectors if shard.runs_global or not getattr(c, "global_data", False)]


def exported_metric_names() -> frozenset[str]:
    """Every sample name the exporter can expose (counters with their ``_total`` suffix)."""
    return (frozenset(stats.METRIC_NAMES) | frozenset(ecs.METRIC_NAMES) | frozenset(rds.METRIC_NAMES)
            | frozenset(qdrant.METRIC_NAMES) | frozenset(cost.METRIC_NAMES)
            | frozenset(elasticache.METRIC_NAMES) | frozenset(alb.METRIC_NAMES) | frozenset(s3.METRIC_NAMES)
            | frozenset(aurora_global.METRIC_NAMES)
            | frozenset(cloudfront.METRIC_NAMES) | frozenset(route53.METRIC_NAMES)
            | frozenset(apigateway.METRIC_NAMES) | frozenset(waf.METRIC_NAMES))
