"""docqet-monitor: exporters, dashboards and alerts as code for Docqet's AWS platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("docqet-monitor")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"
