"""Shell completion (click's, as `eval "$(_DOCQET_MONITOR_COMPLETE=bash_source docqet-monitor)"` installs it):
commands, choices, paths, and `--env` completing the monitoring repository's environments."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from docqet_monitor.cli import main


def _complete(line: str, environ: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers for ``line`` (its last word, empty after a trailing space): ``type,value``."""
    words = line.split() + ([""] if line.endswith(" ") else [])
    env = {"_DOCQET_MONITOR_COMPLETE": "bash_complete", "COMP_WORDS": " ".join(words),
           "COMP_CWORD": str(len(words) - 1), **(environ or {})}
    result = CliRunner().invoke(main, [], env=env, prog_name="docqet-monitor")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return [line for line in result.output.splitlines() if line]


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    environments = tmp_path / "team" / "monitoring" / "environments"
    environments.mkdir(parents=True)
    for name in ("dev-eu", "production", "staging"):
        (environments / f"{name}.yaml").write_text("{}\n")
    (environments / "notes.txt").write_text("not an environment\n")
    (environments / "Draft copy.yaml").write_text("{}\n")  # not a name --env takes
    monkeypatch.delenv("DOCQET_MONITOR_ROOT", raising=False)
    return tmp_path / "team"


def test_commands_and_choices_complete() -> None:
    assert _complete("docqet-monitor ex") == ["plain,exporter"]
    assert _complete("docqet-monitor iam-policy --role ") == ["plain,exporter", "plain,sync"]
    assert "plain,publish" in _complete("docqet-monitor dashboards p")  # a lazily loaded group


@pytest.mark.parametrize("line", ["docqet-monitor --env ", "docqet-monitor alerts render --env ",
                                  "docqet-monitor sync --env ", "docqet-monitor validate --env "])
def test_env_completes_the_environments_of_the_repository(line: str, repository: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repository / "monitoring")  # found walking up, as every command finds it
    assert _complete(line) == ["plain,dev-eu", "plain,production", "plain,staging"]
    assert _complete(line + "st") == ["plain,staging"]


def test_env_completion_follows_root_and_is_empty_outside_a_repository(repository: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert _complete("docqet-monitor --env ") == []
    assert _complete(f"docqet-monitor --root {repository} --env p") == ["plain,production"]
    assert _complete("docqet-monitor sync --env d", {"DOCQET_MONITOR_ROOT": str(repository)}) == ["plain,dev-eu"]


def test_path_options_complete_paths() -> None:
    """Every path option is wrapped to refuse an empty value; the wrapper keeps click's path completion."""
    assert _complete("docqet-monitor alerts render --out ") == ["dir,"]
    assert _complete("docqet-monitor --config ") == ["file,"]
