"""The CPU and memory the exporter may use: the cgroup's limits (v2 and v1) and the ECS task's size, the smaller of
each; none when neither says, and an unreachable ECS endpoint is a warning, not a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqet_monitor.exporters import limits
from docqet_monitor.exporters.limits import MIB, Limits


@pytest.mark.parametrize(("text", "cores"), [
    ("max 100000\n", None), ("25000 100000\n", 0.25), ("200000 100000", 2.0), ("50000", 0.5), ("0 100000", None),
    ("junk", None), ("10 0", None),
])
def test_cgroup_v2_cpu_max(text: str, cores: float | None) -> None:
    assert limits.cpu_from_cgroup_v2(text) == cores


@pytest.mark.parametrize(("quota", "period", "cores"), [
    ("-1\n", "100000\n", None), ("50000\n", "100000\n", 0.5), ("x", "100000", None), ("100", "0", None),
])
def test_cgroup_v1_cfs_quota(quota: str, period: str, cores: float | None) -> None:
    assert limits.cpu_from_cgroup_v1(quota, period) == cores


@pytest.mark.parametrize(("task", "expected"), [
    ({"Limits": {"CPU": 0.25, "Memory": 512}}, Limits(0.25, 512 * MIB)), ({"Limits": {"CPU": 2}}, Limits(2.0)),
    ({"Limits": {"Memory": 512}}, Limits(None, 512 * MIB)), ({}, Limits()), ([], Limits()),
    ({"Limits": {"CPU": "0.25", "Memory": None}}, Limits()), ({"Limits": {"CPU": True, "Memory": 0}}, Limits()),
    ({"Limits": {"CPU": float("nan"), "Memory": -1}}, Limits()),
])
def test_ecs_task_limits(task: object, expected: Limits) -> None:
    assert limits.from_ecs_task(task) == expected


@pytest.mark.parametrize(("text", "size"), [
    ("max\n", None), ("536870912\n", 536870912.0), ("9223372036854771712\n", None), ("0", None), ("junk", None),
])
def test_cgroup_memory_limit(text: str, size: float | None) -> None:
    assert limits.memory_from_cgroup(text) == size


def _cgroup(root: Path, v2: tuple[str, str] | None = None, v1: tuple[str, str, str] | None = None) -> Path:
    """A cgroup folder: v2 (cpu.max, memory.max) or v1 (quota, period, memory.limit_in_bytes)."""
    if v2 is not None:
        (root / "cpu.max").write_text(v2[0])
        (root / "memory.max").write_text(v2[1])
    if v1 is not None:
        for folder, name, value in (("cpu", "cpu.cfs_quota_us", v1[0]), ("cpu", "cpu.cfs_period_us", v1[1]),
                                    ("memory", "memory.limit_in_bytes", v1[2])):
            (root / folder).mkdir(exist_ok=True)
            (root / folder / name).write_text(value)
    return root


def test_the_smaller_of_the_cgroup_and_the_ecs_task_wins(tmp_path: Path,
                                                         ecs_metadata: tuple[str, dict[str, object]]) -> None:
    uri, task = ecs_metadata
    env = {limits.ECS_METADATA_ENV: uri}
    # Fargate: the task's size only
    assert limits.read(env, _cgroup(tmp_path, v2=("max 100000", "max"))) == Limits(0.25, 512 * MIB)
    assert limits.read({}, tmp_path) == Limits()  # no limit, not on ECS
    task["Limits"] = {"CPU": 4, "Memory": 256}
    (tmp_path / "cpu.max").write_text("150000 100000")
    (tmp_path / "memory.max").write_text(str(1024 * MIB))
    assert limits.read(env, tmp_path) == Limits(1.5, 256 * MIB)


def test_cgroup_v1_is_read_where_there_is_no_v2(tmp_path: Path) -> None:
    assert limits.read({}, _cgroup(tmp_path, v1=("50000", "100000", str(300 * MIB)))) == Limits(0.5, 300 * MIB)
    assert limits.read({}, tmp_path / "nowhere") == Limits()


def test_an_unreachable_ecs_endpoint_is_a_warning_and_no_limit(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                               ecs_metadata: tuple[str, dict[str, object]]) -> None:
    uri, _ = ecs_metadata
    assert limits.read({limits.ECS_METADATA_ENV: uri.replace("/abc", "/other")}, tmp_path) == Limits()  # 404
    assert limits.read({limits.ECS_METADATA_ENV: "http://127.0.0.1:1/v4"}, tmp_path) == Limits()
    assert caplog.text.count("cannot read the ECS task's limits from its metadata endpoint") == 2
