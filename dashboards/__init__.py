"""Grafana dashboards as code (grafanalib), built to JSON and published over Grafana's HTTP API."""
