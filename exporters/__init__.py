"""Prometheus exporters for Docqet's AWS platform (ECS, RDS/Aurora, Qdrant, AWS cost)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("docqet-monitor")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
