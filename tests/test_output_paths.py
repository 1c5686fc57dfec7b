"""Output paths and secret files: names from config never steer a write outside --out, the file holding a
PagerDuty routing key is owner-only from its first byte, and never lands in a git work tree unasked."""

from __future__ import annotations

import dataclasses
import io
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from docqet_monitor.alerts import render
from docqet_monitor.cli import main
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import outputs

SECRET = "pd-routing-key-0123456789abcdef"
AM_FILE = "alertmanager/staging/alertmanager.yml"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def umask_0() -> Iterator[None]:
    """The most permissive umask: a file created without an explicit mode would be world-readable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


class _Spy:
    """Wraps a file object: every write of the secret records the open file's mode at that moment."""

    def __init__(self, file: Any, modes: list[int]) -> None:
        self._file, self._modes = file, modes

    def write(self, text: Any) -> Any:
        if SECRET in (text if isinstance(text, str) else text.decode(errors="replace")):
            self._modes.append(stat.S_IMODE(os.fstat(self._file.fileno()).st_mode))
        return self._file.write(text)

    def __enter__(self) -> _Spy:
        self._file.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._file.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


@pytest.fixture
def modes_at_write(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The file mode at each moment the secret is written (every text file write goes through io.open)."""
    modes: list[int] = []
    real_open = io.open
    monkeypatch.setattr(io, "open", lambda *a, **kw: _Spy(real_open(*a, **kw), modes))
    return modes


def _staging(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "staging.yaml"
    cfg.write_text("environment: staging\n" + extra)
    return cfg


def test_a_path_like_environment_name_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text('environment: "../../somewhere"\n')
    out = tmp_path / "a" / "b" / "out"
    code, output = _run("--config", str(cfg), "alerts", "render", "--out", str(out))
    assert code == 2 and f"{cfg}, line 1: environment: expected a name" in output, output
    assert _files_under(tmp_path) == [cfg]


def test_a_config_built_in_code_cannot_steer_a_write_outside_out_either(tmp_path: Path) -> None:
    config = dataclasses.replace(config_mod.Config(), environment="../../somewhere")
    files = {**render.shared_files(), **render.environment_files(config)}
    with pytest.raises(outputs.OutsideOutput, match="not inside the output directory"):
        render.write(files, tmp_path / "a" / "b" / "out")
    assert _files_under(tmp_path) == []  # checked before the first file is written


@pytest.mark.parametrize("rel", ["/etc/passwd", "../x", "a/../../x", ".", "a/.."])
def test_under_refuses_paths_that_leave_the_directory(rel: str, tmp_path: Path) -> None:
    with pytest.raises(outputs.OutsideOutput):
        outputs.under(tmp_path / "out", rel)
    assert outputs.under(tmp_path / "out", "a/b.yml") == tmp_path / "out" / "a" / "b.yml"


def test_the_routing_key_file_is_owner_only_from_its_first_byte(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, umask_0: None, modes_at_write: list[int]) -> None:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", SECRET)
    out = tmp_path / "out"
    code, output = _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(out))
    assert code == 0, output
    am_file = out / AM_FILE
    assert SECRET in am_file.read_text()
    assert modes_at_write == [0o600]  # the key was written once, into a file that was already 0600
    assert stat.S_IMODE(am_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "prometheus/prometheus.yml").stat().st_mode) == 0o666  # umask 0: others as usual


def test_an_existing_readable_key_file_is_narrowed_before_the_key_is_written(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, umask_0: None, modes_at_write: list[int]) -> None:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", SECRET)
    am_file = tmp_path / "out" / AM_FILE
    am_file.parent.mkdir(parents=True)
    am_file.write_text("old\n")
    am_file.chmod(0o644)
    assert _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(tmp_path / "out"))[0] == 0
    assert modes_at_write == [0o600] and stat.S_IMODE(am_file.stat().st_mode) == 0o600


@pytest.mark.parametrize(("target", "code", "message"), [
    ("../../../elsewhere.txt", 2, "not inside the output directory"),  # leads out of --out: refused up front
    ("other.yml", 1, "cannot write the rendered files")])  # stays inside: O_NOFOLLOW refuses to open it
def test_a_symlink_in_place_of_the_key_file_is_not_followed(target: str, code: int, message: str,
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", SECRET)
    am_file = tmp_path / "out" / AM_FILE
    am_file.parent.mkdir(parents=True)
    pointed = (am_file.parent / target).resolve()
    pointed.write_text("not yours\n")
    am_file.symlink_to(target)
    result = _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(tmp_path / "out"))
    assert result[0] == code and message in result[1] and "Traceback" not in result[1], result[1]
    assert pointed.read_text() == "not yours\n"


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "infra"
    tree.mkdir()
    subprocess.run(["git", "init", "-q", str(tree)], check=True, timeout=30)
    return tree


def test_the_key_is_not_written_into_a_git_work_tree_without_the_flag(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, work_tree: Path) -> None:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", SECRET)
    out = work_tree / "deploy" / "alerting"
    code, output = _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(out))
    assert code == 2 and f"inside the git work tree {work_tree}" in output and "--allow-secret-in-worktree" in output
    assert SECRET not in output and not out.exists()

    code, output = _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(out),
                        "--allow-secret-in-worktree")
    assert code == 0, output
    assert SECRET in (out / AM_FILE).read_text() and stat.S_IMODE((out / AM_FILE).stat().st_mode) == 0o600


def test_a_git_work_tree_is_fine_without_a_key_to_inline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         work_tree: Path) -> None:
    """No key in the environment, or a key file configured: nothing secret is written, so no flag is needed."""
    out = work_tree / "deploy"
    assert _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(out))[0] == 0
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", SECRET)
    key_file = "alerts:\n  alertmanager:\n    pagerduty_routing_key_file: /run/secrets/pd\n"
    assert _run("--config", str(_staging(tmp_path, key_file)), "alerts", "render", "--out", str(out))[0] == 0
    assert all(SECRET not in p.read_text() for p in _files_under(out))


def test_the_work_tree_is_found_from_a_path_that_does_not_exist_yet(work_tree: Path, tmp_path: Path) -> None:
    assert outputs.git_work_tree(work_tree / "a" / "b" / "c") == work_tree
    assert outputs.git_work_tree(tmp_path / "elsewhere") is None


@pytest.mark.parametrize("args", [["--env", "../../etc/passwd", "validate"],
                                  ["alerts", "render", "--env", "../staging", "--out", "{out}"]])
def test_a_path_like_env_option_is_refused_before_any_file_is_read(args: list[str], tmp_path: Path) -> None:
    code, output = _run(*[a.replace("{out}", str(tmp_path / "out")) for a in args])
    assert code == 2 and "<command line>: --env: expected an environment name" in output, output
    assert not (tmp_path / "out").exists()


RULES_FILE = "prometheus/rules/staging/alerts.yml"


def test_a_failed_write_leaves_every_file_as_it_was(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A full disk in the middle of a rules file: the old file stays whole (Prometheus would have loaded half a
    file, or none), and no temporary file is left beside it."""
    out = tmp_path / "out"
    assert _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(out))[0] == 0
    before = {p: p.read_bytes() for p in _files_under(out)}
    (out / RULES_FILE).write_text("groups: []  # the rules Prometheus runs now\n")
    before[out / RULES_FILE] = (out / RULES_FILE).read_bytes()
    real_open = io.open

    class Full:
        def __init__(self, file: Any) -> None:
            self._file = file

        def write(self, text: str) -> int:
            self._file.write(text[:100])
            raise OSError(28, "No space left on device")

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: Any) -> None:
            self._file.close()

    changed = str(_staging(tmp_path, "alerts:\n  team: other\n"))
    monkeypatch.setattr(io, "open", lambda *a, **kw: Full(real_open(*a, **kw)) if "w" in a[1:2] else
                        real_open(*a, **kw))
    code, output = _run("--config", changed, "alerts", "render", "--out", str(out))
    assert code == 1 and "No space left on device" in output, output
    assert {p: p.read_bytes() for p in _files_under(out)} == before


def test_a_rewritten_file_keeps_its_mode_and_a_link_to_it_stays_a_link(tmp_path: Path) -> None:
    """An operator's 0640 on a rules file stays; a rules file that is a symbolic link (inside the output
    directory: one leading out of it is refused) stays one, and the file it points at gets the new text."""
    out = tmp_path / "out"
    assert _run("--config", str(_staging(tmp_path)), "alerts", "render", "--out", str(out))[0] == 0
    rules = out / RULES_FILE
    rules.chmod(0o640)
    linked = out / "volume" / "slo.yml"
    linked.parent.mkdir()
    linked.write_text("old\n")
    other = out / "prometheus/rules/staging/slo.yml"
    other.unlink()
    other.symlink_to(linked)
    assert _run("--config", str(_staging(tmp_path, "alerts:\n  team: other\n")), "alerts", "render", "--out",
                str(out))[0] == 0
    assert stat.S_IMODE(rules.stat().st_mode) == 0o640 and "team: other" in rules.read_text()
    assert other.is_symlink() and "team: other" in linked.read_text()
    assert not [p for p in rules.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
