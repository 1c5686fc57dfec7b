"""The package's layers as the design draws them: core below everything; exporters, dashboards and alerts beside
each other (dashboards read the alert catalog's thresholds through one function); sync, demo and cli on top.

A domain's ``commands.py`` holds its click commands: that is the CLI layer kept beside its domain, so it may
import sync; nothing but the CLI imports it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import docqet_monitor

ROOT = Path(docqet_monitor.__file__).parent
PACKAGE = "docqet_monitor"
# layer -> the layers it may import from (besides itself)
ALLOWED = {
    "core": set(),
    "exporters": {"core"},
    "dashboards": {"core", "alerts.catalog"},
    "alerts": {"core"},
}


def imports(path: Path) -> set[str]:
    """The docqet_monitor modules ``path`` imports, without the package prefix."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            base = node.module.removeprefix(PACKAGE).lstrip(".")
            found |= {f"{base}.{alias.name}".lstrip(".") for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix(PACKAGE).lstrip(".") for a in node.names if a.name.startswith(PACKAGE)}
    return found


def violations(layer: str) -> list[str]:
    allowed = ALLOWED[layer] | {layer}
    return [f"{path.relative_to(ROOT)} imports {target}"
            for path in sorted((ROOT / layer).rglob("*.py")) if path.name != "commands.py"
            for target in sorted(imports(path))
            if target and not any(target == a or target.startswith(f"{a}.") for a in allowed)
            and target != "__version__"]


def test_core_imports_nothing_above_it() -> None:
    assert violations("core") == []


def test_exporters_dashboards_and_alerts_depend_on_core_not_on_each_other() -> None:
    assert [v for layer in ("exporters", "dashboards", "alerts") for v in violations(layer)] == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from docqet_monitor.exporters import ecs\nfrom docqet_monitor.alerts.catalog import rules\n")
    assert imports(bad) == {"exporters.ecs", "alerts.catalog.rules"}


def test_product_code_never_imports_the_demo() -> None:
    """The demo needs the ``demo`` extra: only the CLI's demo command may reach it."""
    users = [str(p.relative_to(ROOT)) for layer in ("core", "exporters", "dashboards", "alerts")
             for p in (ROOT / layer).rglob("*.py") if any(t.startswith("demo") for t in imports(p))]
    assert users == []


def test_only_the_cli_imports_the_command_modules() -> None:
    users = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
             if p.name not in ("cli.py", "commands.py") and ".venv" not in p.parts and "tests" not in p.parts
             and any(t.endswith("commands") or ".commands." in t for t in imports(p))]
    assert users == []


def test_the_cli_loads_other_domains_commands_only_when_asked() -> None:
    """`exporter serve` imports the CLI: grafanalib, Sentry's SDK and the sync code (about 8 MB and 0.4 s) load
    only when a command of theirs is run or listed."""
    script = ("import sys, click\nfrom docqet_monitor import cli\n"
              "print([m for m in ('grafanalib', 'sentry_sdk', 'docqet_monitor.sync') if m in sys.modules])\n"
              "cli.main.get_command(click.Context(cli.main), 'dashboards')\n"
              "cli.main.get_command(click.Context(cli.main), 'sync')\n"
              "print([m for m in ('grafanalib', 'sentry_sdk', 'docqet_monitor.sync') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "['grafanalib', 'sentry_sdk', 'docqet_monitor.sync']"]
