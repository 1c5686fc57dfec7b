"""The Alertmanager config for one environment (pure: config in, document out).

critical -> PagerDuty (Events API v2, payload severity ``critical``), warning -> PagerDuty (severity
``warning``), info -> the notification webhook, never a page; Watchdog -> the dead man's switch. With
``pages_enabled: false`` (development) critical and warning go to the notification webhook too.

PagerDuty turns severity into urgency (critical/error: high, warning/info: low) only on a service set to
"dynamic notifications based on alert severity"; a service with a fixed urgency pages warnings like
criticals. ``pagerduty_warning_routing_key_file`` sends warnings to a second, low-urgency service instead.

The PagerDuty routing key is never in a committed file: ``routing_key_file`` (a path on the Alertmanager
host) when configured; otherwise a key read from the environment at render time, but only for files written
outside the repository; otherwise the conventional :data:`DEFAULT_ROUTING_KEY_FILE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docqet_monitor.alerts import catalog
from docqet_monitor.core import secrets
from docqet_monitor.core.config import Config
from docqet_monitor.core.errors import UsageError

DEFAULT_ROUTING_KEY_FILE = "/etc/alertmanager/secrets/pagerduty-routing-key"
GROUP_BY = ["alertname", "environment", "service"]
# labels that identify the resource an alert is about: a critical silences warnings on the same resource
RESOURCE_LABELS = ["environment", "account", "region", "cluster", "service", "db_cluster", "db_instance", "instance",
                   "qdrant", "collection", "collector", "slo", "replication_group", "cache_cluster", "load_balancer",
                   "target_group", "bucket", "destination_bucket", "rule", "global_cluster"]
# alerts that make no sense while their service runs no task
SERVICE_DOWN_SILENCES = ("EcsServiceHttp5xxRatioHigh", "EcsServiceHttpLatencyP95High",
                         "ApiAvailabilityErrorBudgetBurnFast", "ApiAvailabilityErrorBudgetBurnSlow",
                         "ApiLatencyErrorBudgetBurnFast", "ApiLatencyErrorBudgetBurnSlow")


@dataclass(frozen=True)
class Timings:
    """Route timings; the end-to-end test shortens them."""

    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    watchdog_repeat_interval: str = "5m"


def routing_key_from_env(config: Config, environ: Mapping[str, str]) -> str | None:
    """The routing key from the configured environment variable, unless a key file is configured."""
    settings = config.alerts.alertmanager
    if settings.pagerduty_routing_key_file:
        return None
    return env_routing_key(environ, settings.pagerduty_routing_key_env)


def env_routing_key(environ: Mapping[str, str], name: str) -> str | None:
    """The routing key in ``$name``, trimmed (None when unset); UsageError when no request could carry it."""
    try:
        return secrets.env_token(environ, name) or None
    except ValueError as exc:
        raise UsageError(f"${name}: {exc}") from None


def _pagerduty(config: Config, severity: str, routing_key: str | None) -> dict[str, Any]:
    settings = config.alerts.alertmanager
    key: dict[str, str] = (
        {"routing_key_file": settings.pagerduty_warning_routing_key_file}
        if severity == "warning" and settings.pagerduty_warning_routing_key_file
        else {"routing_key_file": settings.pagerduty_routing_key_file} if settings.pagerduty_routing_key_file
        else {"routing_key": routing_key} if routing_key
        else {"routing_key_file": DEFAULT_ROUTING_KEY_FILE})
    doc: dict[str, Any] = {**key, "send_resolved": True, "severity": severity}
    if settings.pagerduty_url:
        doc["url"] = settings.pagerduty_url
    common = "{{ .CommonLabels.%s }}"
    # the dashboard link selects the alert's resource, so alerts of one group may differ: take the first's
    dashboard = ("{{ with .CommonAnnotations.dashboard_url }}{{ . }}{{ else }}"
                 "{{ (index .Alerts 0).Annotations.dashboard_url }}{{ end }}")
    doc.update({
        "client": f"docqet-monitor ({config.environment})",
        # the incident title; alerts grouped without a service label (Aurora instances) have no common summary
        "description": "[{{ .CommonLabels.environment }}] {{ .CommonLabels.alertname }}: "
                       "{{ with .CommonAnnotations.summary }}{{ . }}{{ else }}"
                       "{{ (index .Alerts 0).Annotations.summary }} ({{ .Alerts.Firing | len }} firing){{ end }}",
        "class": common % "alertname",
        "component": common % "service",
        "group": "{{ with .CommonLabels.cluster }}{{ . }}{{ else }}{{ .CommonLabels.db_cluster }}{{ end }}",
        "details": {
            "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
            "num_firing": "{{ .Alerts.Firing | len }}",
            **{label: common % label for label in ("environment", "account", "region", "cluster", "service",
                                                   "db_cluster", "team")},
            "runbook_url": "{{ .CommonAnnotations.runbook_url }}",
            "dashboard_url": dashboard,
        },
        "links": [{"href": "{{ .CommonAnnotations.runbook_url }}", "text": "Runbook"},
                  {"href": dashboard, "text": "Dashboard"}],
    })
    return doc


def _webhook(name: str, url: str, send_resolved: bool) -> dict[str, Any]:
    """A receiver posting to ``url``; without a URL it drops what it gets (Alertmanager's null receiver)."""
    return {"name": name, **({"webhook_configs": [{"url": url, "send_resolved": send_resolved}]} if url else {})}


def alertmanager_config(config: Config, routing_key: str | None = None, timings: Timings = Timings()) -> dict:
    """The alertmanager.yml document for ``config``."""
    settings = config.alerts.alertmanager
    pages = settings.pages_enabled
    receivers = [_webhook("notifications", settings.notification_webhook_url, True),
                 _webhook("watchdog", settings.watchdog_webhook_url, False)]
    if pages:
        receivers += [{"name": f"pagerduty-{severity}",
                       "pagerduty_configs": [_pagerduty(config, severity, routing_key)]}
                      for severity in ("critical", "warning")]

    def route(matcher: str, receiver: str) -> dict[str, Any]:
        return {"matchers": [matcher], "receiver": receiver}

    return {
        "route": {
            "receiver": "notifications",
            "group_by": GROUP_BY,
            "group_wait": timings.group_wait,
            "group_interval": timings.group_interval,
            "repeat_interval": timings.repeat_interval,
            "routes": [
                {**route('alertname="Watchdog"', "watchdog"), "group_wait": "0s",
                 "group_interval": timings.watchdog_repeat_interval,
                 "repeat_interval": timings.watchdog_repeat_interval},
                route('severity="critical"', "pagerduty-critical" if pages else "notifications"),
                route('severity="warning"', "pagerduty-warning" if pages else "notifications"),
                route('severity="info"', "notifications"),
            ],
        },
        "inhibit_rules": [
            {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
             "equal": RESOURCE_LABELS},
            {"source_matchers": ['alertname="EcsServiceNoRunningTasks"'],
             "target_matchers": [f'alertname=~"{"|".join(SERVICE_DOWN_SILENCES)}"'],
             "equal": ["environment", "account", "region", "cluster", "service"]},
        ],
        "receivers": receivers,
    }


def unknown_alert_names(config: Config) -> list[str]:
    """Alert names the routes and inhibition rules use that the catalog does not have (lint)."""
    names = {rule.name for rule in catalog.defaults(config)}
    return [name for name in ("EcsServiceNoRunningTasks", "Watchdog", *SERVICE_DOWN_SILENCES) if name not in names]
