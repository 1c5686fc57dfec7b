"""Render the Prometheus rules and Alertmanager configs to files, check the committed ones, run promtool/amtool.

Output layout under the monitoring repository's ``monitoring/`` (or ``--out DIR``)::

    prometheus/prometheus.yml                    one config for every environment, loads rules/*.yml
    prometheus/rules/<env>/alerts.yml, slo.yml   deploy as rules/*.yml beside prometheus.yml
    alertmanager/<env>/alertmanager.yml
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from docqet_monitor.alerts import alertmanager, catalog, lint, prometheus
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import outputs
from docqet_monitor.core.config import Config
from docqet_monitor.core.errors import RunError

TOOLS = ("promtool", "amtool")


class ToolMissing(RunError):
    """promtool or amtool is not installed: exit 1 (validate reports it as a finding)."""


def shared_files() -> dict[str, str]:
    return {"prometheus/prometheus.yml": prometheus.dump(prometheus.prometheus_config(), "every environment")
            + prometheus.secured_example()}


def environment_files(config: Config, routing_key: str | None = None) -> dict[str, str]:
    """``{relative path: text}`` of one environment's rule files and alertmanager.yml."""
    env = config.environment
    what = f"environment {env}"
    files = {f"prometheus/rules/{env}/{name}": prometheus.dump(doc, what)
             for name, doc in prometheus.rule_files(config).items()}
    files[f"alertmanager/{env}/alertmanager.yml"] = prometheus.dump(
        alertmanager.alertmanager_config(config, routing_key), what)
    return files


def repository_files(configs: Iterable[Config]) -> dict[str, str]:
    """What ``monitoring/`` must hold for these environments, never a routing key from the environment."""
    files = shared_files()
    for config in configs:
        files.update(environment_files(config))
    return files


def committed_files(environments: Path) -> dict[str, str]:
    """What ``monitoring/`` must hold for every environment file in ``environments``."""
    return repository_files(config_mod.load(path) for path in sorted(environments.glob("*.yaml")))


def write(files: Mapping[str, str], out: Path) -> list[Path]:
    """Write ``files`` under ``out`` (:class:`outputs.OutsideOutput`, before anything is written, for a path
    that would leave it); files holding a routing key are created readable by the owner only."""
    paths = {rel: outputs.under(out, rel) for rel in files}
    for rel, text in files.items():
        paths[rel].parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text(paths[rel], text, secret="routing_key:" in text)
    return list(paths.values())


def stale(files: Mapping[str, str], out: Path) -> list[str]:
    """Relative paths whose file under ``out`` is missing or differs from ``files``."""
    return [rel for rel, text in files.items()
            if not (out / rel).is_file() or (out / rel).read_text(encoding="utf-8") != text]


def find_tools() -> dict[str, str]:
    """Paths of promtool and amtool; :class:`ToolMissing` naming what is missing and how to get it."""
    found = {name: shutil.which(name) for name in TOOLS}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        raise ToolMissing(f"{' and '.join(missing)} not found on PATH; install Debian's prometheus and "
                          "prometheus-alertmanager packages (`make tools`)")
    return {name: str(path) for name, path in found.items()}


def check_with_tools(config: Config) -> list[str]:
    """Run ``promtool check rules``, ``promtool check config`` and ``amtool check-config`` on a fresh render.

    Renders to a temporary directory in the deploy layout (prometheus.yml beside rules/*.yml); returns one
    finding per failing check with the tool's output.
    """
    tools = find_tools()
    files = environment_files(config)
    with tempfile.TemporaryDirectory(prefix="docqet-alerts-") as tmp:
        root = Path(tmp)
        rule_paths = []
        for rel, text in files.items():
            name = Path(rel).name
            path = root / ("rules" if rel.startswith("prometheus/rules/") else "") / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if path.parent.name == "rules":
                rule_paths.append(str(path))
        (root / "prometheus.yml").write_text(shared_files()["prometheus/prometheus.yml"], encoding="utf-8")
        checks = [
            ("promtool check rules", [tools["promtool"], "check", "rules", *rule_paths]),
            ("promtool check config", [tools["promtool"], "check", "config", str(root / "prometheus.yml")]),
            ("amtool check-config", [tools["amtool"], "check-config", str(root / "alertmanager.yml")]),
        ]
        findings = []
        for title, argv in checks:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            if result.returncode != 0:
                output = (result.stdout + result.stderr).replace(tmp, "<render>").strip()
                findings.append(f"{title} failed:\n{output}")
        return findings


def lint_findings(config: Config, exported: frozenset[str]) -> list[str]:
    """The catalog lint for ``config`` against ``exported``, the names the exporter's collectors declare."""
    return lint.lint(config, catalog.rules(config), exported)
