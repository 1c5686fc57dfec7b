"""The distribution: the wheel of this checkout, installed into a fresh virtualenv, works from an empty directory.

Built from a copy of the checkout (a build writes build/ and *.egg-info next to the sources), installed with the
``demo`` extra by this environment's pip (dependencies from pip's cache or the package index: a few minutes on a
cold cache), then moto is uninstalled to see the demo without its extra. The commands run with a minimal
environment: fake AWS credentials, a HOME of their own, no setting inherited from this process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import CHECKOUT, free_port

from docqet_monitor.dashboards import build
from docqet_monitor.exporters import health

pytestmark = pytest.mark.timeout(1200)  # the module fixture's install counts against the first test

# what a build of the checkout leaves out: never part of the package
NOT_PACKAGED = (".venv", ".git", "build", "dist", "*.egg-info", ".cache", "__pycache__", ".pytest_cache",
                ".ruff_cache")
COMMANDS = (
    ("init",),
    ("--env", "staging", "validate"),
    ("--env", "production", "alerts", "render"),
    ("dashboards", "build"),
    ("-m", "docqet_monitor", "--help"),
    ("demo", "--once", "--port", "0"),
)


@dataclass
class Installed:
    wheel: Path
    build_log: str  # what the build backend said
    venv: Path
    site_packages: Path
    work: Path  # the empty directory the commands ran in
    without_extra: subprocess.CompletedProcess[str]  # `demo` once moto was uninstalled
    health: subprocess.CompletedProcess[str]  # the image's health check, asking a port nothing serves
    results: dict[tuple[str, ...], subprocess.CompletedProcess[str]]
    before: dict[str, tuple[int, int]]  # the venv's files (size, mtime) before the commands
    after: dict[str, tuple[int, int]]


def _run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, env=env, cwd=cwd)


def _checked(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = _run(argv, env)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
    return done


def _package_sources() -> set[str]:
    """The checkout's modules as wheel paths: the top-level ones and those of every subpackage."""
    root = CHECKOUT.root
    packages = [p for p in root.iterdir() if (p / "__init__.py").is_file()]
    return {f"docqet_monitor/{p.relative_to(root)}"
            for p in [*root.glob("*.py"), *(f for package in packages for f in package.rglob("*.py"))]}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(CHECKOUT.root, source, ignore=shutil.ignore_patterns(*NOT_PACKAGED))
    pip_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    built = _checked([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp / "dist"),
                      str(source)], env=pip_env)
    (wheel,) = (tmp / "dist").glob("docqet_monitor-*.whl")
    venv = tmp / "venv"
    _checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], env=pip_env)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    _checked([*pip, "install", "--quiet", f"{wheel}[demo]"], env=pip_env)

    home, work = tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(home), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true"}

    def command(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        argv = [str(python), *args] if args[0] == "-m" else [str(venv / "bin" / "docqet-monitor"), *args]
        return _run(argv, env, cwd=work)

    site_packages = Path(_checked([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  env=env).stdout.strip())
    before = _snapshot(venv)
    results = {args: command(args) for args in COMMANDS}
    env[health.URL_ENV] = f"http://127.0.0.1:{free_port()}/healthz"
    unhealthy = command(("-m", "docqet_monitor.exporters.health"))
    after = _snapshot(venv)
    _checked([*pip, "uninstall", "--quiet", "--yes", "moto"], env=pip_env)
    without_extra = command(("demo", "--once", "--port", "0"))
    return Installed(wheel, built.stdout + built.stderr, venv, site_packages, work, without_extra, unhealthy, results,
                     before, after)


def test_the_wheel_has_one_top_level_import_name_and_every_module(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        assert wheel.read(f"{info}/top_level.txt").decode().split() == ["docqet_monitor"]
    assert {name.split("/")[0] for name in names} == {"docqet_monitor", info}
    missing = _package_sources() - names
    assert not missing, f"modules of the checkout missing from the wheel (pyproject packages): {sorted(missing)}"
    assert {"docqet_monitor/monitoring/environments/staging.yaml",
            "docqet_monitor/monitoring/grafana/provisioning/dashboards/docqet-monitor.yaml"} <= names
    installed_record = (installed.site_packages / info / "RECORD").read_text().splitlines()
    tops = {line.split(",")[0].split("/")[0] for line in installed_record}
    assert tops == {"docqet_monitor", info, ".."}  # ..: the docqet-monitor script in the venv's bin/


def test_the_build_backend_warns_of_nothing(installed: Installed) -> None:
    """setuptools' warnings are tomorrow's build errors: a deprecated pyproject key, data it cannot place."""
    assert "Warning" not in installed.build_log, installed.build_log[-3000:]
    with zipfile.ZipFile(installed.wheel) as wheel:
        metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()


def test_without_the_extra_the_demo_says_how_to_install_it(installed: Installed) -> None:
    done = installed.without_extra
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("Error: the demo needs the `demo` extra (moto's AWS emulator): "
                                   "pip install 'docqet-monitor[demo]' (in a checkout: `make demo`)")


def test_the_health_check_runs_from_the_wheel(installed: Installed) -> None:
    done = installed.health
    assert done.returncode == 1 and done.stderr.startswith("unhealthy: cannot reach http://127.0.0.1:"), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_each_command_works_from_an_empty_directory(installed: Installed, args: tuple[str, ...]) -> None:
    done = installed.results[args]
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr


def test_what_the_commands_said_and_wrote(installed: Installed) -> None:
    said = {args: done.stdout + done.stderr for args, done in installed.results.items()}
    assert f"Created a monitoring repository in {installed.work}" in said[("init",)]
    validate = said[("--env", "staging", "validate")]
    assert f"{installed.work}/monitoring/environments/staging.yaml: configuration is valid" in validate
    assert f"committed files: the dashboards, rules and configs under {installed.work}/monitoring" in validate
    assert f"{len(build.MODULES)} dashboards in" in said[("dashboards", "build")]
    assert "Usage: docqet-monitor" in said[("-m", "docqet_monitor", "--help")]
    assert "docqet_ecs_service_running_tasks{" in installed.results[("demo", "--once", "--port", "0")].stdout
    files = {str(p.relative_to(installed.work)) for p in installed.work.rglob("*") if p.is_file()}
    assert {"monitoring/environments/production.yaml", "monitoring/prometheus/rules/production/alerts.yml",
            "monitoring/grafana/dashboards/docqet-overview.json"} <= files
    assert {f.split("/")[0] for f in files} == {"monitoring", ".cache"}  # the demo: under its output directory
    assert all(f.startswith(("monitoring/", ".cache/docqet-monitor/demo/")) for f in files)


def test_nothing_in_the_virtualenv_changed(installed: Installed) -> None:
    assert installed.site_packages.is_relative_to(installed.venv)
    changed = sorted(path for path in installed.before.keys() | installed.after.keys()
                     if installed.before.get(path) != installed.after.get(path))
    assert changed == []
