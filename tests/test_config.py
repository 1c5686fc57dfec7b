from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import pytest
from click.testing import CliRunner
from helpers import CHECKOUT, FIXTURES

from docqet_monitor.cli import main
from docqet_monitor.core import config

CONFIGS = FIXTURES / "config"
BAD = {
    "regions-not-list.bad.yaml": ("regions", "expected a list of strings"),
    "concurrency-type.bad.yaml": ("aws.max_concurrency", "expected an integer, got 'lots'"),
    "unknown-key.bad.yaml": ("collectors.ecs.intervall_seconds", "unknown key"),
    "cost-too-often.bad.yaml": ("collectors.cost.interval_seconds", "3600 to 604800 seconds"),
    "account-missing-role.bad.yaml": ("accounts[0].role_arn", "required key is missing"),
    "sentry-api.bad.yaml": ("sentry.api", "one of 'workflows', 'legacy'"),
    "port-bool.bad.yaml": ("exporter.port", "expected an integer, got True"),
}


def test_no_file_means_defaults_everywhere() -> None:
    cfg = config.resolve()
    assert cfg.source == "<defaults>"
    assert cfg.environment == "development"
    assert cfg.collectors.ecs.enabled and cfg.collectors.ecs.clusters == ()
    assert cfg.collectors.ecs.interval_seconds == 60
    assert cfg.collectors.cost.interval_seconds == 6 * 3600
    assert cfg.exporter.port == config.DEFAULT_PORT
    assert not 9100 <= config.DEFAULT_PORT <= 9999


def test_regions_fall_back_to_the_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    assert config.regions(config.Config()) == ("ap-southeast-2",)
    assert config.regions(config.parse({"regions": ["eu-west-1", "us-east-1"]})) == ("eu-west-1", "us-east-1")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu west 1")
    with pytest.raises(config.ConfigError, match=r"^\$AWS_DEFAULT_REGION: expected an AWS region name like eu-west-1 "
                                                 r"\(the region to watch: the configuration sets no regions\), got "
                                                 r"'eu west 1'$"):
        config.regions(config.Config())
    assert config.regions(config.parse({"regions": ["eu-west-1"]})) == ("eu-west-1",)  # not read then


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-north-1", "eusc-de-east-1", "us-isob-east-1",
                                    "mx-central-1"])
def test_the_regions_of_every_aws_partition_are_accepted(region: str) -> None:
    """What botocore's partitions take (their regionRegex), in the config and in $AWS_REGION."""
    assert config.parse({"regions": [region]}).regions == (region,)
    partitions = botocore.session.get_session().get_data("partitions")["partitions"]
    assert any(re.fullmatch(p["regionRegex"], region) for p in partitions)


def test_a_bad_aws_region_in_the_environment_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu west 1")
    for args in (["exporter", "once"], ["exporter", "serve", "--port", "0"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "$AWS_REGION: expected an AWS region name like eu-west-1" in result.output


def test_full_file_is_typed() -> None:
    cfg = config.load(CONFIGS / "full.ok.yaml")
    assert cfg.regions == ("eu-west-1", "us-east-1")
    assert cfg.accounts[0].role_arn.endswith("role/docqet-monitor")
    assert cfg.accounts[0].regions == ("eu-west-1",)
    assert cfg.cloudwatch.period_seconds == 300
    assert cfg.collectors.ecs.clusters == ("docqet-production",)
    assert cfg.collectors.rds.enabled is False
    assert cfg.collectors.cost.monthly_budget_usd == 25000.0
    assert cfg.alerts.thresholds["EcsServiceCpuHigh"]["threshold"] == 0.9


@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_committed_environments_are_valid(env: str) -> None:
    cfg = config.resolve(env=env, environments=CHECKOUT.environments)
    assert cfg.environment == env


@pytest.mark.parametrize(("name", "expected"), sorted(BAD.items()))
def test_bad_files_name_the_key_and_the_expectation(name: str, expected: tuple[str, str]) -> None:
    key, message = expected
    with pytest.raises(config.ConfigError) as info:
        config.load(CONFIGS / name)
    assert info.value.source.endswith(name)
    assert info.value.path == key
    assert message in info.value.message


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(config.ConfigError) as info:
        config.load(CONFIGS / "broken.bad.yaml")
    assert info.value.line == 2
    assert "invalid YAML" in str(info.value)


def test_every_bad_fixture_is_covered() -> None:
    assert {p.name for p in CONFIGS.glob("*.bad.yaml")} == set(BAD) | {"broken.bad.yaml"}


def test_missing_file_and_unknown_env(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read the file"):
        config.load(tmp_path / "nope.yaml")
    with pytest.raises(config.ConfigError, match="unknown environment 'qa'"):
        config.resolve(env="qa", environments=CHECKOUT.environments)


@pytest.mark.parametrize("name", sorted(BAD))
def test_cli_exits_2_with_one_clear_message(name: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(CONFIGS / name), "validate"])
    assert result.exit_code == 2
    assert name in result.output and BAD[name][0] in result.output
    assert "Traceback" not in result.output


def test_config_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.CONFIG_ENV_VAR, str(CONFIGS / "full.ok.yaml"))
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "full.ok.yaml" in result.output


def test_an_explicit_env_beats_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.CONFIG_ENV_VAR, str(CONFIGS / "full.ok.yaml"))
    result = CliRunner().invoke(main, ["--env", "staging", "validate"])  # (the alert checks after it may fail)
    assert f"{CHECKOUT.environment('staging')}: configuration is valid (environment staging)." in result.output
    both = CliRunner().invoke(main, ["--env", "staging", "--config", str(CONFIGS / "full.ok.yaml"), "validate"])
    assert both.exit_code == 2 and "give either --env or --config, not both" in both.output


@pytest.mark.parametrize("args", [
    ["validate"], ["exporter", "serve"], ["exporter", "once"], ["demo", "--once"], ["alerts", "render"],
    ["alerts", "plan"], ["alerts", "apply", "--yes"], ["dashboards", "build"], ["dashboards", "check"],
    ["dashboards", "publish", "--dry-run"], ["sync", "--dry-run"]])
def test_every_command_reading_the_config_exits_2_on_a_bad_one(args: list[str], tmp_path: Path) -> None:
    name = "unknown-key.bad.yaml"
    result = CliRunner().invoke(main, ["--config", str(CONFIGS / name), *args])
    assert result.exit_code == 2, result.output
    assert f"invalid configuration: {CONFIGS / name}, line 3: collectors.ecs.intervall_seconds: unknown key" \
        in result.output


@pytest.mark.parametrize(("text", "line", "where"), [
    ("root:$6$Salt$0123456789abcdefHash:19000:0:99999:7:::\n", 1, ""),  # /etc/shadow: a key ends in ':'
    ("collectors:\n  ecs:\n    'sk-0123456789abcdefHash': 1\n", 3, "collectors.ecs: "),
    ("regions: [eu-west-1]\n'user pass 0123456789abcdefHash': 1\n", 2, ""),
])
def test_a_key_that_is_no_setting_name_is_not_quoted(text: str, line: int, where: str, tmp_path: Path) -> None:
    """A file that is not a configuration (a secret given as --config by mistake) is refused without printing
    its lines; a key that looks like a setting name or like one of the keys expected (a typo) is still quoted."""
    path = tmp_path / "notaconfig"
    path.write_text(text)
    result = CliRunner().invoke(main, ["--config", str(path), "validate"])
    assert result.exit_code == 2, result.output
    assert (f"invalid configuration: {path}, line {line}: {where}a key that is not a setting name (not shown: is "
            f"{path} a docqet-monitor configuration?); expected one of: ") in result.output
    assert "0123456789abcdefHash" not in result.output
    for typo, shown in (("exporter.port: 9100\n", "exporter.port"),
                        ("collectors:\n  ecs: {intervalSeconds: 30}\n", "collectors.ecs.intervalSeconds")):
        path.write_text(typo)
        result = CliRunner().invoke(main, ["--config", str(path), "validate"])
        assert result.exit_code == 2 and f": {shown}: unknown key; expected one of" in result.output


@pytest.mark.parametrize(("text", "where", "got"), [
    ("accounts:\n  - role_arn: arn:aws:iam::123456789012:role/x\n    external_id: [0123456789abcdefHash]\n",
     "line 3: accounts[0].external_id: expected a string", "a list of 1"),
    ("grafana:\n  url: {u: 'https://u:0123456789abcdefHash@grafana.example.com'}\n",
     "line 2: grafana.url: expected a string", "a mapping of 1"),
    ("sentry:\n  api: [0123456789abcdefHash, x]\n", "line 2: sentry.api: expected", "a list of 2"),
    ("cloudwatch_alarms:\n  sns_topics: {critical: [0123456789abcdefHash]}\n",
     "line 2: cloudwatch_alarms.sns_topics.critical: expected a string", "a list of 1"),
])
def test_a_wrong_typed_list_or_mapping_is_named_not_quoted(text: str, where: str, got: str, tmp_path: Path) -> None:
    """A list or a mapping where a scalar belongs is named by its kind: its items may be secrets (an external id,
    a URL's password) that the field's own check would not quote; a wrong scalar is still quoted."""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["--config", str(path), "validate"])
    assert result.exit_code == 2, result.output
    assert f"invalid configuration: {path}, {where}" in result.output and f", got {got}\n" in result.output
    assert "0123456789abcdefHash" not in result.output
    path.write_text("exporter:\n  port: eighty\n")
    result = CliRunner().invoke(main, ["--config", str(path), "validate"])
    assert result.exit_code == 2 and "exporter.port: expected an integer, got 'eighty'" in result.output


@pytest.mark.parametrize(("text", "line", "where", "value", "first"), [
    ("regions: [eu-west-1]\naccounts:\n  - role_arn: arn:aws:iam::123456789012:role/x\n    regions: [cn-north-1]\n",
     4, "accounts[0].regions", "'cn-north-1' is in the AWS partition aws-cn", "'eu-west-1' (regions) is in aws"),
    ("regions: [us-gov-west-1]\naccounts:\n  - role_arn: arn:aws:iam::123456789012:role/x\n", 3,
     "accounts[0].role_arn", "'arn:aws:iam::123456789012:role/x' is in the AWS partition aws",
     "'us-gov-west-1' (regions) is in aws-us-gov"),
])
def test_regions_and_roles_of_two_partitions_are_refused(text: str, line: int, where: str, value: str, first: str,
                                                        tmp_path: Path) -> None:
    """One set of default credentials reaches one AWS partition, and roles are assumed with them: a config that
    mixes partitions could never read all it names (it failed at run time, a target at a time)."""
    path = tmp_path / "mixed.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["--config", str(path), "validate"])
    assert result.exit_code == 2
    assert (f"invalid configuration: {path}, line {line}: {where}: {value}, but {first}: one set of credentials "
            "reaches one partition; give each partition a configuration and an exporter of its own") in result.output
    path.write_text("regions: [cn-north-1, cn-northwest-1]\naccounts:\n  - role_arn: arn:aws-cn:iam::1:role/x\n")
    assert "accounts[0].role_arn: expected an IAM role ARN" in CliRunner().invoke(
        main, ["--config", str(path), "validate"]).output  # the ARN's own check comes first
    path.write_text("regions: [cn-north-1, cn-northwest-1]\naccounts:\n"
                    "  - role_arn: arn:aws-cn:iam::123456789012:role/x\n")
    assert config.load(path).regions == ("cn-north-1", "cn-northwest-1")  # one partition: fine


@pytest.mark.parametrize(("environ", "first"), [
    ({"AWS_REGION": "eu-west-1"}, "'eu-west-1' ($AWS_REGION) is in aws"),
    ({"AWS_DEFAULT_REGION": "us-gov-west-1"}, "'us-gov-west-1' ($AWS_DEFAULT_REGION) is in aws-us-gov"),
    ({}, "'us-east-1' (the default region) is in aws"),
])
@pytest.mark.parametrize("args", [["validate"], ["exporter", "once"], ["alerts", "plan"],
                                  ["iam-policy", "--role", "exporter"]])
def test_a_region_from_the_environment_in_another_partition_than_the_roles_is_refused(
        environ: dict[str, str], first: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with no regions watches $AWS_REGION's (else us-east-1), with default credentials of that partition:
    a role of another partition can never be assumed with them. It failed at run time, a target at a time
    (iam-policy wrote a policy for both partitions)."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "china.yaml"
    path.write_text("accounts:\n  - role_arn: arn:aws-cn:iam::123456789012:role/x\n")
    result = CliRunner().invoke(main, ["--config", str(path), *args])
    assert result.exit_code == 2, result.output
    assert (f"invalid configuration: {path}, line 2: accounts[0].role_arn: 'arn:aws-cn:iam::123456789012:role/x' "
            f"is in the AWS partition aws-cn, but {first}: one set of credentials reaches one partition; the "
            "configuration sets no regions: set them\n") in result.output
    monkeypatch.setenv("AWS_REGION", "cn-northwest-1")  # the roles' partition: fine
    assert config.regions(config.load(path)) == ("cn-northwest-1",)


@pytest.mark.parametrize("args", [
    ["validate"], ["alerts", "render"], ["alerts", "plan"], ["sync", "--dry-run"], ["sync", "--dry-run", "--target",
                                                                                  "rules"]])
def test_a_bad_threshold_override_exits_2_before_anything_runs(args: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "thresholds.yaml"
    bad.write_text("alerts:\n  thresholds:\n    NoSuchAlert: {threshold: 1}\n")
    result = CliRunner().invoke(main, ["--config", str(bad), *args])
    assert result.exit_code == 2, result.output
    assert "alerts.thresholds.NoSuchAlert: unknown alert" in result.output
    assert "started" not in result.output
