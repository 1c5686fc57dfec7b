"""The user's monitoring repository: the directory holding ``monitoring/environments/`` and the files built from it.

Found as git finds ``.git``: ``--root DIR`` or ``$DOCQET_MONITOR_ROOT`` when given, else the nearest directory
at or above the working directory that contains ``monitoring/environments/``. Never a path inside the installed
package: the package only ships the example files ``docqet-monitor init`` copies into a new repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from docqet_monitor.core.errors import UsageError

ROOT_ENV_VAR = "DOCQET_MONITOR_ROOT"
ENVIRONMENTS = Path("monitoring", "environments")
# the example files shipped as package data, relative to a repository root
EXAMPLE_DIRS = (ENVIRONMENTS, Path("monitoring", "grafana", "provisioning", "dashboards"),
                Path("monitoring", "grafana", "provisioning", "datasources"))


class NotARepository(UsageError):
    """No monitoring repository where one is needed (exit 2); the message says how to get one."""


def is_repository(path: Path) -> bool:
    return (path / ENVIRONMENTS).is_dir()


def find_root(start: Path, explicit: Path | None = None) -> Path | None:
    """The monitoring repository: ``explicit`` if it is one, else the nearest of ``start`` and its parents."""
    if explicit is not None:
        return explicit if is_repository(explicit) else None
    return next((path for path in (start, *start.parents) if is_repository(path)), None)


@dataclass(frozen=True)
class Repository:
    """Where a monitoring repository keeps each kind of file."""

    root: Path

    @property
    def monitoring(self) -> Path:
        """The rendered Prometheus rules and Alertmanager configs go here (``alerts render``, ``sync``)."""
        return self.root / "monitoring"

    @property
    def environments(self) -> Path:
        return self.root / ENVIRONMENTS

    @property
    def dashboards(self) -> Path:
        return self.monitoring / "grafana" / "dashboards"

    def environment(self, name: str) -> Path:
        return self.environments / f"{name}.yaml"


def locate(start: Path, explicit: Path | None, needed_for: str) -> Repository:
    """The repository for ``needed_for`` (e.g. ``"--env staging"``); :class:`NotARepository` saying how to fix it."""
    root = find_root(start.resolve(), explicit.resolve() if explicit else None)
    if root is not None:
        return Repository(root)
    if explicit is not None:
        raise NotARepository(f"{needed_for}: {explicit} (--root / ${ROOT_ENV_VAR}) is not a monitoring repository "
                             f"(no {ENVIRONMENTS}/ in it); create one with `docqet-monitor init {explicit}`")
    raise NotARepository(f"{needed_for}: not inside a monitoring repository (no {ENVIRONMENTS}/ in {start} or any "
                         f"parent); create one with `docqet-monitor init`, or name one with --root DIR or "
                         f"${ROOT_ENV_VAR}")


def example_files() -> dict[str, str]:
    """``{path relative to a repository root: text}`` of the example files shipped in the package."""
    package = resources.files("docqet_monitor")
    files = {}
    for directory in EXAMPLE_DIRS:
        for entry in sorted(package.joinpath(*directory.parts).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                files[(directory / entry.name).as_posix()] = entry.read_text(encoding="utf-8")
    return files
