"""The CPU the exporter may use: the cgroup's quota (v2 and v1) and the ECS task's size, the smaller of them; none
when neither says, and an unreachable ECS endpoint is a warning, not a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqet_monitor.exporters import cpulimit


@pytest.mark.parametrize(("text", "cores"), [
    ("max 100000\n", None), ("25000 100000\n", 0.25), ("200000 100000", 2.0), ("50000", 0.5), ("0 100000", None),
    ("junk", None), ("10 0", None),
])
def test_cgroup_v2_cpu_max(text: str, cores: float | None) -> None:
    assert cpulimit.from_cgroup_v2(text) == cores


@pytest.mark.parametrize(("quota", "period", "cores"), [
    ("-1\n", "100000\n", None), ("50000\n", "100000\n", 0.5), ("x", "100000", None), ("100", "0", None),
])
def test_cgroup_v1_cfs_quota(quota: str, period: str, cores: float | None) -> None:
    assert cpulimit.from_cgroup_v1(quota, period) == cores


@pytest.mark.parametrize(("task", "cores"), [
    ({"Limits": {"CPU": 0.25, "Memory": 512}}, 0.25), ({"Limits": {"CPU": 2, "Memory": 4096}}, 2.0),
    ({"Limits": {"Memory": 512}}, None), ({}, None), ([], None), ({"Limits": {"CPU": "0.25"}}, None),
    ({"Limits": {"CPU": True}}, None), ({"Limits": {"CPU": 0}}, None), ({"Limits": {"CPU": float("nan")}}, None),
])
def test_ecs_task_limits(task: object, cores: float | None) -> None:
    assert cpulimit.from_ecs_task(task) == cores


def _cgroup(root: Path, v2: str | None = None, v1: tuple[str, str] | None = None) -> Path:
    if v2 is not None:
        (root / "cpu.max").write_text(v2)
    if v1 is not None:
        (root / "cpu").mkdir()
        (root / "cpu" / "cpu.cfs_quota_us").write_text(v1[0])
        (root / "cpu" / "cpu.cfs_period_us").write_text(v1[1])
    return root


def test_the_smaller_of_the_cgroup_and_the_ecs_task_wins(tmp_path: Path,
                                                         ecs_metadata: tuple[str, dict[str, object]]) -> None:
    uri, task = ecs_metadata
    env = {cpulimit.ECS_METADATA_ENV: uri}
    assert cpulimit.cpu_limit(env, _cgroup(tmp_path, v2="max 100000")) == 0.25  # Fargate: the task's size only
    assert cpulimit.cpu_limit({}, tmp_path) is None  # no quota, not on ECS
    task["Limits"] = {"CPU": 4}
    (tmp_path / "cpu.max").write_text("150000 100000")
    assert cpulimit.cpu_limit(env, tmp_path) == 1.5


def test_cgroup_v1_is_read_where_there_is_no_v2(tmp_path: Path) -> None:
    assert cpulimit.cpu_limit({}, _cgroup(tmp_path, v1=("50000", "100000"))) == 0.5
    assert cpulimit.cpu_limit({}, tmp_path / "nowhere") is None


def test_an_unreachable_ecs_endpoint_is_a_warning_and_no_limit(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                               ecs_metadata: tuple[str, dict[str, object]]) -> None:
    uri, _ = ecs_metadata
    assert cpulimit.cpu_limit({cpulimit.ECS_METADATA_ENV: uri.replace("/abc", "/other")}, tmp_path) is None  # 404
    assert cpulimit.cpu_limit({cpulimit.ECS_METADATA_ENV: "http://127.0.0.1:1/v4"}, tmp_path) is None
    assert caplog.text.count("cannot read the ECS task's CPU from its metadata endpoint") == 2
