"""The CPU the exporter may use, in cores: its container's quota, where one is set and visible.

Two sources, the smaller wins: the ECS task's CPU (``Limits.CPU`` of the task metadata endpoint v4, in vCPUs: on
Fargate the task's quota is not visible from inside its container) and the cgroup's CFS quota (cgroup v2
``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``: Docker's ``--cpus``, a Kubernetes limit). None
when neither says: no limit is known. Read once, when ``exporter serve`` starts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ECS_METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"
ECS_TIMEOUT_SECONDS = 2.0
CGROUP = Path("/sys/fs/cgroup")


def _cores(value: float) -> float | None:
    return value if math.isfinite(value) and value > 0 else None


def from_cgroup_v2(cpu_max: str) -> float | None:
    """``cpu.max``: ``"<quota> <period>"`` in microseconds, ``max`` for no quota (pure)."""
    quota, _, period = cpu_max.strip().partition(" ")
    if quota == "max":
        return None
    try:
        return _cores(int(quota) / int(period or "100000"))
    except (ValueError, ZeroDivisionError):
        return None


def from_cgroup_v1(quota: str, period: str) -> float | None:
    """``cpu.cfs_quota_us`` (-1: none) over ``cpu.cfs_period_us`` (pure)."""
    try:
        return _cores(int(quota) / int(period)) if int(quota) > 0 else None
    except (ValueError, ZeroDivisionError):
        return None


def from_ecs_task(task: Any) -> float | None:
    """``Limits.CPU`` of the task metadata (vCPUs; absent on EC2 tasks without a task size) (pure)."""
    limits = task.get("Limits") if isinstance(task, dict) else None
    cpu = limits.get("CPU") if isinstance(limits, dict) else None
    return _cores(float(cpu)) if isinstance(cpu, int | float) and not isinstance(cpu, bool) else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _ecs_task(uri: str) -> Any:
    with urllib.request.urlopen(f"{uri.rstrip('/')}/task", timeout=ECS_TIMEOUT_SECONDS) as answer:
        return json.load(answer)


def cpu_limit(environ: Mapping[str, str] = os.environ, cgroup: Path = CGROUP,
              ecs_task: Callable[[str], Any] = _ecs_task) -> float | None:
    """The CPU quota of this process's container in cores, or None when none is known (see the module)."""
    v2 = _read(cgroup / "cpu.max")
    if v2 is not None:
        found = [from_cgroup_v2(v2)]
    else:
        quota, period = _read(cgroup / "cpu" / "cpu.cfs_quota_us"), _read(cgroup / "cpu" / "cpu.cfs_period_us")
        found = [from_cgroup_v1(quota, period)] if quota is not None and period is not None else []
    uri = environ.get(ECS_METADATA_ENV)
    if uri:
        try:
            found.append(from_ecs_task(ecs_task(uri)))
        except (OSError, ValueError) as exc:  # the agent unreachable, an odd answer: no limit from it
            log.warning("cannot read the ECS task's CPU from its metadata endpoint: %s", type(exc).__name__)
    known = [cores for cores in found if cores is not None]
    return min(known) if known else None
