"""One catalog of alert rules, rendered to Prometheus/Alertmanager and synced to CloudWatch and Sentry."""
