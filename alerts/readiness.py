"""Paging readiness: what of one environment's alerting would reach a human and what would not (pure).

Alertmanager pages PagerDuty for critical and warning alerts unless ``pages_enabled`` is off; info alerts and the
Watchdog (the dead man's switch) go to webhooks; CloudWatch alarms notify only through the SNS topics of their
severity; Sentry alerts page through the PagerDuty service of their severity. Each gap is one sentence naming
the setting that closes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from docqet_monitor.alerts.spec import AlertRule
from docqet_monitor.core.config import Config

PAGING = ("critical", "warning")


def gaps(config: Config, rules: Sequence[AlertRule], environ: Mapping[str, str]) -> list[str]:
    """Every way an alert of ``rules`` would reach nobody in ``config``'s environment."""
    am, found = config.alerts.alertmanager, []
    prometheus = Counter(r.severity for r in rules if r.expr and r.name != "Watchdog")
    if not am.pages_enabled and (pages := sum(prometheus[s] for s in PAGING)):
        where = "the notification webhook" if am.notification_webhook_url else "nobody"
        found.append(f"alertmanager: {pages} critical/warning alert(s) page no one and go to {where} "
                     "(alerts.alertmanager.pages_enabled is false)")
    if not am.notification_webhook_url and prometheus["info"]:
        found.append(f"alertmanager: {prometheus['info']} info alert(s) reach no one "
                     "(alerts.alertmanager.notification_webhook_url is empty)")
    if not am.watchdog_webhook_url and any(r.name == "Watchdog" for r in rules):
        found.append("alertmanager: the Watchdog reaches no one, so nothing notices when Prometheus or Alertmanager "
                     "stops (alerts.alertmanager.watchdog_webhook_url is empty)")
    topics = config.cloudwatch_alarms.sns_topics
    alarms = Counter(r.severity for r in rules if r.cloudwatch is not None)
    for severity in PAGING:
        if alarms[severity] and not topics.get(severity):
            found.append(f"cloudwatch: {alarms[severity]} {severity} alarm rule(s) (an alarm per resource) have no "
                         f"actions: they change state and notify no one (cloudwatch_alarms.sns_topics.{severity} "
                         "is empty)")
    sentry = config.sentry
    if sentry.organization or environ.get("SENTRY_ORG"):
        alerts = Counter(r.severity for r in rules if r.sentry is not None)
        for severity in PAGING:
            if alerts[severity] and not (sentry.pagerduty_integration_id and sentry.pagerduty_services.get(severity)):
                found.append(f"sentry: {alerts[severity]} {severity} alert(s) page no PagerDuty service "
                             f"(sentry.pagerduty_integration_id and sentry.pagerduty_services.{severity})")
    return found
