"""The CPU and memory the exporter's container may use, where a limit is set and visible.

Two sources, the smaller wins: the ECS task's size (``Limits`` of the task metadata endpoint v4: ``CPU`` in
vCPUs, ``Memory`` in MiB; on Fargate the task's limits are not visible from inside its container) and the
cgroup's (v2 ``cpu.max`` / ``memory.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` and
``memory.limit_in_bytes``: Docker's ``--cpus`` / ``--memory``, Kubernetes limits). None when neither says.
Read once, when ``exporter serve`` starts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ECS_METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"
ECS_TIMEOUT_SECONDS = 2.0
CGROUP = Path("/sys/fs/cgroup")
MIB = 2**20
V1_UNLIMITED = 2**62  # cgroup v1 writes "no limit" as a page-rounded 2**63 - 1


@dataclass(frozen=True)
class Limits:
    cpu_cores: float | None = None
    memory_bytes: float | None = None


def _positive(value: float) -> float | None:
    return value if math.isfinite(value) and value > 0 else None


def cpu_from_cgroup_v2(cpu_max: str) -> float | None:
    """``cpu.max``: ``"<quota> <period>"`` in microseconds, ``max`` for no quota (pure)."""
    quota, _, period = cpu_max.strip().partition(" ")
    if quota == "max":
        return None
    try:
        return _positive(int(quota) / int(period or "100000"))
    except (ValueError, ZeroDivisionError):
        return None


def cpu_from_cgroup_v1(quota: str, period: str) -> float | None:
    """``cpu.cfs_quota_us`` (-1: none) over ``cpu.cfs_period_us`` (pure)."""
    try:
        return _positive(int(quota) / int(period)) if int(quota) > 0 else None
    except (ValueError, ZeroDivisionError):
        return None


def memory_from_cgroup(limit: str) -> float | None:
    """``memory.max`` (v2; ``max``: none) or ``memory.limit_in_bytes`` (v1; about 2**63: none), in bytes (pure)."""
    try:
        value = int(limit.strip())
    except ValueError:
        return None
    return _positive(float(value)) if value < V1_UNLIMITED else None


def _ecs_limit(task: Any, key: str) -> float | None:
    limits = task.get("Limits") if isinstance(task, dict) else None
    value = limits.get(key) if isinstance(limits, dict) else None
    return _positive(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None


def from_ecs_task(task: Any) -> Limits:
    """``Limits`` of the task metadata: ``CPU`` in vCPUs, ``Memory`` in MiB (absent on EC2 tasks without a task
    size) (pure)."""
    memory = _ecs_limit(task, "Memory")
    return Limits(_ecs_limit(task, "CPU"), memory * MIB if memory is not None else None)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def from_cgroup(cgroup: Path) -> Limits:
    """The cgroup's CPU quota and memory limit: v2 where ``cpu.max`` / ``memory.max`` exist, else v1."""
    cpu_max, quota, period = (_read(cgroup / "cpu.max"), _read(cgroup / "cpu" / "cpu.cfs_quota_us"),
                              _read(cgroup / "cpu" / "cpu.cfs_period_us"))
    cpu = cpu_from_cgroup_v2(cpu_max) if cpu_max is not None else \
        cpu_from_cgroup_v1(quota, period) if quota is not None and period is not None else None
    memory = _read(cgroup / "memory.max") or _read(cgroup / "memory" / "memory.limit_in_bytes")
    return Limits(cpu, memory_from_cgroup(memory) if memory is not None else None)


def _ecs_task(uri: str) -> Any:
    with urllib.request.urlopen(f"{uri.rstrip('/')}/task", timeout=ECS_TIMEOUT_SECONDS) as answer:
        return json.load(answer)


def _smaller(*values: float | None) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def read(environ: Mapping[str, str] = os.environ, cgroup: Path = CGROUP,
         ecs_task: Callable[[str], Any] = _ecs_task) -> Limits:
    """The limits of this process's container (see the module); a field is None when no limit is known."""
    found = from_cgroup(cgroup)
    uri = environ.get(ECS_METADATA_ENV)
    if uri:
        try:
            task = from_ecs_task(ecs_task(uri))
        except (OSError, ValueError) as exc:  # the agent unreachable, an odd answer: no limit from it
            log.warning("cannot read the ECS task's limits from its metadata endpoint: %s", type(exc).__name__)
        else:
            found = Limits(_smaller(found.cpu_cores, task.cpu_cores), _smaller(found.memory_bytes, task.memory_bytes))
    return found
