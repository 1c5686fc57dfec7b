"""The user's monitoring repository: found by walking up, --root or $DOCQET_MONITOR_ROOT; `init` scaffolds one."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import CHECKOUT

from docqet_monitor import sync
from docqet_monitor.alerts import render
from docqet_monitor.cli import main
from docqet_monitor.core import config, repository
from docqet_monitor.dashboards import build

NOT_A_REPOSITORY = "not inside a monitoring repository (no monitoring/environments/ in"
HOW_TO_FIX = "create one with `docqet-monitor init`, or name one with --root DIR or $DOCQET_MONITOR_ROOT"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


# --- finding the repository ------------------------------------------------------------------------------------


def test_find_root_walks_up_like_git(tmp_path: Path) -> None:
    (tmp_path / "repo" / "monitoring" / "environments").mkdir(parents=True)
    deep = tmp_path / "repo" / "monitoring" / "grafana" / "x"
    deep.mkdir(parents=True)
    assert repository.find_root(deep) == tmp_path / "repo"
    assert repository.find_root(tmp_path / "repo") == tmp_path / "repo"
    assert repository.find_root(tmp_path) is None


def test_an_explicit_root_is_used_as_is_and_never_walked_up_from(tmp_path: Path) -> None:
    (tmp_path / "monitoring" / "environments").mkdir(parents=True)
    (tmp_path / "sub").mkdir()
    assert repository.find_root(Path("/"), tmp_path) == tmp_path
    assert repository.find_root(tmp_path, tmp_path / "sub") is None


def test_the_repository_paths() -> None:
    repo = repository.Repository(Path("/r"))
    assert (repo.monitoring, repo.environments, repo.dashboards, repo.environment("qa")) == (
        Path("/r/monitoring"), Path("/r/monitoring/environments"), Path("/r/monitoring/grafana/dashboards"),
        Path("/r/monitoring/environments/qa.yaml"))


@pytest.mark.parametrize("args", [
    ("--env", "staging", "validate"),
    ("--env", "staging", "exporter", "once"),
    ("dashboards", "build"),
    ("dashboards", "check"),
    ("alerts", "render"),
    ("alerts", "render", "--env", "staging", "--out", "out"),
    ("--env", "production", "sync", "--dry-run"),
    ("prometheus-config", "--role", "central", "--env", "production"),
])
def test_outside_a_repository_commands_say_so_and_how_to_fix_it(args: tuple[str, ...], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = _run(*args)
    assert code == 2, output
    assert NOT_A_REPOSITORY in output and HOW_TO_FIX in output
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_root_option_and_environment_variable_name_the_repository(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    shutil.copytree(CHECKOUT.environments, tmp_path / "repo" / "monitoring" / "environments")
    code, output = _run("--root", str(tmp_path / "repo"), "dashboards", "build")
    assert code == 0, output
    assert sorted(p.name for p in (tmp_path / "repo/monitoring/grafana/dashboards").iterdir()) == sorted(
        f"{uid}.json" for uid in build.build_all())
    monkeypatch.setenv("DOCQET_MONITOR_ROOT", str(tmp_path / "repo"))
    code, output = _run("alerts", "render", "--env", "production")
    assert code == 0, output
    assert (tmp_path / "repo/monitoring/prometheus/rules/production/alerts.yml").is_file()
    assert list(elsewhere.iterdir()) == []


def test_a_root_that_is_not_a_repository_is_named(tmp_path: Path) -> None:
    code, output = _run("--root", str(tmp_path), "--env", "staging", "validate")
    assert code == 2
    assert (f"Error: --env staging: {tmp_path} (--root / $DOCQET_MONITOR_ROOT) is not a monitoring repository "
            f"(no monitoring/environments/ in it); create one with `docqet-monitor init {tmp_path}`") in output


@pytest.mark.parametrize(("command", "needed_for"), [
    (["validate"], "validate"),
    (["--config", str(CHECKOUT.environment("staging")), "validate"], "validate"),
    (["--config", str(CHECKOUT.environment("staging")), "sync", "--dry-run", "--target", "dashboards"],
     "sync"),
    (["alerts", "render", "--out", "out"], "alerts render"),
    (["demo", "--once"], "demo"),
])
def test_a_mistyped_root_is_refused_where_the_repository_is_optional(
        command: list[str], needed_for: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that work without a repository do not fall back to working without one when --root (or
    $DOCQET_MONITOR_ROOT) names a directory that is not one: exit 2, nothing written."""
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "monitoirng"
    monkeypatch.setenv("DOCQET_MONITOR_ROOT", str(typo))
    code, output = _run(*command)
    assert code == 2, output
    assert f"Error: {needed_for}: {typo} (--root / $DOCQET_MONITOR_ROOT) is not a monitoring repository" in output
    assert list(tmp_path.iterdir()) == []
    monkeypatch.delenv("DOCQET_MONITOR_ROOT")
    code, output = _run("--root", str(typo), *command)
    assert code == 2 and f"Error: {needed_for}: {typo} (--root" in output, output


def test_config_works_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = _run("--config", str(CHECKOUT.environment("staging")), "validate")
    assert code == 0, output
    assert "committed files: skipped (not in a monitoring repository)." in output


def test_sync_outside_a_repository_skips_the_rules_unless_asked_for(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = str(CHECKOUT.environment("staging"))
    code, output = _run("--config", path, "sync", "--dry-run", "--target", "rules")
    assert code == 2 and "sync --target rules: not inside a monitoring repository" in output
    code, output = _run("--config", path, "sync", "--dry-run", "--target", "rules", "--rules-out", "out")
    assert code == 0 and "rules: would change" in output, output
    staging = config.load(CHECKOUT.environment("staging"))
    outcome = sync.run_step("rules", staging, dry_run=True, prune=False, rules_out=None, environ={})
    assert (outcome.status, outcome.detail) == ("skipped", "not in a monitoring repository; give --rules-out DIR, "
                                                           "or --root DIR")
    assert list(tmp_path.iterdir()) == []


# --- init ------------------------------------------------------------------------------------------------------


def test_init_scaffolds_a_repository_that_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = _run("init", "team")
    assert code == 0, output
    root = tmp_path / "team"
    assert f"Created a monitoring repository in {root}" in output
    assert "cd team && git init && git add monitoring" in output and "docqet-monitor --env staging validate" in output
    files = _tree(root)
    for env in ("development", "staging", "production"):  # the examples: this checkout's committed files
        assert files[f"monitoring/environments/{env}.yaml"] == CHECKOUT.environment(env).read_text()
    provisioning = "monitoring/grafana/provisioning/dashboards/docqet-monitor.yaml"
    assert files[provisioning] == (CHECKOUT.root / provisioning).read_text()
    generated = {rel: text for rel, text in _tree(CHECKOUT.monitoring).items()
                 if rel.startswith(("grafana/dashboards/", "prometheus/", "alertmanager/"))}
    assert {rel: files[f"monitoring/{rel}"] for rel in generated} == generated  # what the committed files hold
    assert set(files) == {f"monitoring/{rel}" for rel in _tree(CHECKOUT.monitoring)
                          if not rel.startswith("runbooks/")}
    monkeypatch.chdir(root / "monitoring")
    code, output = _run("--env", "staging", "validate")
    assert code == 0, output
    assert f"committed files: the dashboards, rules and configs under {root / 'monitoring'} are up to date." in output


def test_the_examples_are_commented_and_every_key_in_them_is_valid() -> None:
    for rel, text in repository.example_files().items():
        assert text.startswith("#"), rel
        if rel.startswith("monitoring/environments/"):
            assert "docs/configuration.md" in text and "validate" in text
            assert yaml.safe_load(text)["environment"] == Path(rel).stem


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    envs = tmp_path / "monitoring" / "environments"
    envs.mkdir(parents=True)
    (envs / "staging.yaml").write_text("environment: staging\nregions: [us-west-2]\n")
    code, output = _run("init", str(tmp_path))
    assert code == 2
    assert f"Error: {tmp_path} already has monitoring/environments/staging.yaml; nothing was written." in output
    assert "`docqet-monitor init --force`" in output
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["staging.yaml"]
    code, output = _run("init", "--force", str(tmp_path))
    assert code == 0, output
    assert (envs / "staging.yaml").read_text() == CHECKOUT.environment("staging").read_text()


def test_init_renders_a_teams_own_environments_too_and_a_bad_one_writes_nothing(tmp_path: Path) -> None:
    envs = tmp_path / "monitoring" / "environments"
    envs.mkdir(parents=True)
    (envs / "qa.yaml").write_text("environment: qa\nregions: [eu-central-1]\n")
    code, output = _run("init", str(tmp_path))
    assert code == 0, output
    assert (tmp_path / "monitoring/prometheus/rules/qa/alerts.yml").is_file()
    assert render.stale(render.committed_files(envs), tmp_path / "monitoring") == []

    bad = tmp_path / "bad"
    (bad / "monitoring" / "environments").mkdir(parents=True)
    (bad / "monitoring" / "environments" / "qa.yaml").write_text("regions: eu-central-1\n")
    code, output = _run("init", str(bad))
    assert code == 2 and "qa.yaml, line 1: regions: expected a list of strings" in output
    assert [p.name for p in bad.rglob("*") if p.is_file()] == ["qa.yaml"]


def test_the_demo_uses_the_repositorys_staging_else_the_packaged_example(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from docqet_monitor import cli

    assert cli._demo_staging(cli.State(None, None)).source == str(CHECKOUT.environment("staging"))
    monkeypatch.chdir(tmp_path)
    packaged = cli._demo_staging(cli.State(None, None))
    assert packaged.source == ("monitoring/environments/staging.yaml (the example in the docqet_monitor package)")
    assert packaged == dataclasses.replace(config.load(CHECKOUT.environment("staging")), source=packaged.source)
