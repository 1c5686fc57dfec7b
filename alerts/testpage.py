"""``alerts test-page``: one test alert through an environment's real routes, and where it went.

Alertmanager's API receives a critical alert that routes like every critical of the environment (it ends by
itself after five minutes); where CloudWatch alarms notify PagerDuty (``cloudwatch_alarms.sns_topics.critical``),
PagerDuty's Events API v2 receives a trigger with the environment's routing key. The key is never printed (nor
is it logged when the PagerDuty URL carries it in its path).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from docqet_monitor.alerts.alertmanager import env_routing_key
from docqet_monitor.core import http, secrets
from docqet_monitor.core.config import Config
from docqet_monitor.core.errors import RunError, UsageError

ALERT = "DocqetMonitorTestPage"
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY = "Test page sent by `docqet-monitor alerts test-page`: the route works, no action is needed"
TIMEOUT = 10.0


def alertmanager_alert(config: Config, now: datetime) -> dict[str, Any]:
    """The test alert as Alertmanager's ``POST /api/v2/alerts`` takes it (pure)."""
    return {"labels": {"alertname": ALERT, "severity": "critical", "environment": config.environment,
                       "service": "docqet-monitor"},
            "annotations": {"summary": SUMMARY, "description": "Sent by hand to prove the paging route."},
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}


def pagerduty_event(config: Config, routing_key: str, now: datetime) -> dict[str, Any]:
    """The Events API v2 trigger of the CloudWatch/SNS path's test (pure)."""
    return {"routing_key": routing_key, "event_action": "trigger",
            "dedup_key": f"docqet-monitor-test-page-{config.environment}", "client": "docqet-monitor",
            "payload": {"summary": f"[{config.environment}] {ALERT}: {SUMMARY}", "source": "docqet-monitor",
                        "severity": "critical", "timestamp": now.isoformat(), "component": "docqet-monitor",
                        "group": config.environment, "class": ALERT}}


def routing_key(config: Config, environ: Mapping[str, str]) -> str | None:
    """The environment's PagerDuty routing key: its key file when readable here, else the variable."""
    settings = config.alerts.alertmanager
    if settings.pagerduty_routing_key_file:
        try:
            return Path(settings.pagerduty_routing_key_file).read_text(encoding="utf-8").strip() or None
        except OSError:
            pass
    return env_routing_key(environ, settings.pagerduty_routing_key_env)


def _post(what: str, url: str, body: Any) -> None:
    try:
        with http.session() as s:
            response = http.request(s, "POST", url, json=body, deadline_seconds=TIMEOUT, service=what.lower())
    except (requests.RequestException, http.HttpLimitError) as exc:
        raise RunError(f"cannot send the test page to {what} at {url}: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise RunError(f"{what} at {url} refused the test page: HTTP {response.status_code}")


def send(config: Config, alertmanager_url: str, environ: Mapping[str, str]) -> list[str]:
    """Send the test page through every configured route; one line per route saying where it went."""
    now = datetime.now(UTC)
    am = config.alerts.alertmanager
    _post("Alertmanager", f"{alertmanager_url.rstrip('/')}/api/v2/alerts", [alertmanager_alert(config, now)])
    if am.pages_enabled:
        to = "PagerDuty (its routing key file)" if am.pagerduty_routing_key_file else "PagerDuty"
    else:
        to = "the notification webhook" if am.notification_webhook_url else "no one (pages_enabled is false)"
    lines = [f"alertmanager: sent {ALERT} (critical, environment {config.environment}) to {alertmanager_url}; "
             f"it routes it to {to} and resolves it in 5 minutes"]
    if not config.cloudwatch_alarms.sns_topics.get("critical"):
        lines.append("cloudwatch: not sent: no SNS topic for critical alarms (cloudwatch_alarms.sns_topics.critical)")
        return lines
    key = routing_key(config, environ)
    if key is None:
        raise UsageError(f"cloudwatch: no PagerDuty routing key to test the SNS path with: set "
                         f"${am.pagerduty_routing_key_env} or make alerts.alertmanager.pagerduty_routing_key_file "
                         "readable here")
    secrets.register(key)  # a key file's key too; some integration URLs carry the key in their path
    url = am.pagerduty_url or PAGERDUTY_URL
    _post("PagerDuty", url, pagerduty_event(config, key, now))
    lines.append(f"cloudwatch: sent a critical {ALERT} event to PagerDuty's Events API v2 ({url}) with the routing "
                 f"key of {config.environment}; resolve it in PagerDuty")
    return [secrets.redact(line) for line in lines]


