"""Fixed identifiers that dashboards, alerts and sync must agree on: change one and links or ownership break."""

from __future__ import annotations

import zlib
from typing import Literal

TOOL = "docqet-monitor"  # the managed-by tag value, the Grafana ownership tag, the Sentry name prefix's tool
# the exporter's Prometheus job: the generated scrape configs name it, dashboards and alerts select it
EXPORTER_JOB = TOOL

# Grafana dashboard uids (links, alert dashboard_url and publishing depend on them)
OVERVIEW = "docqet-overview"
ECS = "docqet-ecs-services"
AURORA = "docqet-aurora-postgresql"
QDRANT = "docqet-qdrant"
COST = "docqet-aws-cost"
EXPORTER = "docqet-exporter-health"
REDIS = "docqet-redis"
EDGE = "docqet-edge"
STORAGE_DR = "docqet-storage-dr"

Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")

# recording rules that dashboards read (the SLO rules of alerts/slo.py write them)
SLO_ERROR_RATIO = "docqet:slo_error_ratio"  # :rate<window>, label slo
SLO_OBJECTIVE = "docqet:slo_objective_ratio"

MANAGED_BY = ("managed-by", TOOL)  # the CloudWatch tag that marks an alarm as ours


def alarm_prefix(env: str) -> str:
    """The name prefix of every CloudWatch alarm of ``env`` (``docqet-<env>-``)."""
    return f"docqet-{env}-"


def panel_id(title: str) -> int:
    """A stable panel id derived from the title (titles are unique within a dashboard)."""
    return zlib.crc32(title.encode()) % 1_000_000 + 1
