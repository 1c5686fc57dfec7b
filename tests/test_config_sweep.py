"""A sweep of hostile and careless config files through every command that reads a config.

Each file must stop each command with exit 2 and one bounded message naming the file, the key path (or what
is wrong with the file as a whole) and the line where it is known: never a traceback, never a hang, never an
echo of a huge value, and before any AWS or HTTP call (the AWS endpoint below answers nothing).
"""

from __future__ import annotations

import codecs
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqet_monitor.cli import main
from docqet_monitor.core import config, yamlfile

NODE = "collectors:\n  qdrant:\n    nodes:\n      - name: main\n        url: http://qdrant:6333\n"
ACCOUNT = "accounts:\n  - role_arn: arn:aws:iam::123456789012:role/docqet-monitor\n"
# dashboards plan asks for the Grafana settings first (exit 2 too, but about Grafana)
CATALOG_READERS = ("validate", "alerts-plan", "alerts-apply", "alerts-render", "sync", "dashboards-build",
                   "dashboards-check", "demo")
MAX_OUTPUT = 1500  # characters: one message, whatever the file holds


@dataclass(frozen=True)
class Case:
    content: str | bytes
    says: tuple[str, ...]  # the key path and/or what is wrong, each must appear in the output
    line: int | None = None
    commands: tuple[str, ...] = ()  # the commands that find it (the others never look); empty: all of them


def _nested(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))

CASES: dict[str, Case] = {
    # --- the file as a whole ------------------------------------------------------------------
    "latin-1": Case(b"# settings\nenvironment: caf\xe9\n", ("not UTF-8", "byte 0xe9"), 2),
    "utf-16-bom": Case("environment: staging\n".encode("utf-16"), ("UTF-16", "save it as UTF-8")),
    "utf-16-no-bom": Case("environment: staging\n".encode("utf-16-le"), ("NUL bytes",), 1),
    "utf-32-bom": Case(codecs.BOM_UTF32_LE + "environment: x\n".encode("utf-32-le"), ("UTF-32",)),
    "binary": Case(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ("NUL bytes",), 3),
    "huge-file": Case("# padding\n" + "#" * yamlfile.MAX_BYTES + "\n", ("larger than 1 MiB",)),
    "huge-value": Case("environment: " + "a" * 900_000 + "\n", ("environment", "expected at most 2048"), 1),
    "billion-laughs": Case(BILLION_LAUGHS, ("YAML aliases", "not supported"), 2),
    "alias": Case("regions: &r [eu-west-1]\n" + ACCOUNT + "    regions: *r\n", ("accounts[0].regions", "aliases"), 4),
    "merge-key": Case("collectors:\n  ecs: {<<: {enabled: false}}\n", ("collectors.ecs", "merge keys"), 2),
    "deep-flow": Case("alerts: " + "[" * 50_000 + "\n", ("nest",)),
    "deep-block": Case(_nested(40), ("nested more than 16 levels deep",), 17),
    "duplicate-key": Case("environment: staging\nregions: [eu-west-1]\nenvironment: production\n",
                          ("environment", "duplicate key (first at line 1, again at line 3)"), 3),
    "duplicate-nested-key": Case("collectors:\n  ecs:\n    enabled: true\n    enabled: false\n",
                                 ("collectors.ecs.enabled", "duplicate key"), 4),
    "two-documents": Case("environment: staging\n---\nenvironment: production\n", ("more than one YAML document",), 2),
    "python-tag": Case("environment: !!python/object/apply:os.system [id]\n",
                       ("could not determine a constructor",), 1),
    "huge-integer": Case("aws:\n  max_attempts: " + "9" * 10_000 + "\n", ("cannot read the value",), 2),
    "impossible-date": Case("environment: 2026-13-45\n", ("cannot read the value",), 1),
    "long-list": Case("regions: [" + "eu-west-1, " * 90_000 + "eu-west-1]\n", ("regions", "more than 1000 items"), 1),
    "wide-mapping": Case("".join(f"k{i}: 1\n" for i in range(1001)), ("more than 1000 keys",), 1001),
    "long-key": Case("k" * 500 + ": 1\n", ("key longer than 100",), 1),
    "syntax": Case("regions: [eu-west-1\nenvironment: x\n", ("invalid YAML",)),
    "not-a-mapping": Case("- eu-west-1\n", ("expected a mapping",)),
    # --- numbers: finite ----------------------------------------------------------------------
    "interval-nan": Case("collectors:\n  ecs:\n    interval_seconds: .nan\n",
                         ("collectors.ecs.interval_seconds", "finite"), 3),
    "interval-inf": Case("collectors:\n  qdrant:\n    interval_seconds: .inf\n",
                         ("collectors.qdrant.interval_seconds", "finite"), 3),
    "timeout-inf": Case(NODE + "        timeout_seconds: .inf\n",
                        ("collectors.qdrant.nodes[0].timeout_seconds", "finite"), 6),
    "aws-timeout-minus-inf": Case("aws:\n  read_timeout_seconds: -.inf\n", ("aws.read_timeout_seconds", "finite"), 2),
    "threshold-nan": Case("alerts:\n  thresholds:\n    EcsServiceCpuHigh: {threshold: .nan}\n",
                          ("alerts.thresholds.EcsServiceCpuHigh.threshold", "finite"), 3),
    "objective-nan": Case("alerts:\n  slo:\n    availability_objective: .NaN\n",
                          ("alerts.slo.availability_objective", "finite"), 3),
    "budget-inf": Case("collectors:\n  cost:\n    monthly_budget_usd: .Inf\n",
                       ("collectors.cost.monthly_budget_usd", "finite"), 3),
    "grafana-timeout-nan": Case("grafana:\n  timeout_seconds: .nan\n", ("grafana.timeout_seconds", "finite"), 2),
    # --- numbers: ranges ----------------------------------------------------------------------
    "window-days": Case("alerts:\n  slo:\n    window_days: 100000\n", ("alerts.slo.window_days", "1 to 365"), 3),
    "qdrant-timeout-huge": Case(NODE + "        timeout_seconds: 1.0e+9\n",
                                ("collectors.qdrant.nodes[0].timeout_seconds", "<= 300"), 6),
    "interval-huge": Case("collectors:\n  rds:\n    interval_seconds: 1000000000000\n",
                          ("collectors.rds.interval_seconds", "10 to 86400"), 3),
    "interval-too-short": Case("collectors:\n  ecs:\n    interval_seconds: 1\n",
                               ("collectors.ecs.interval_seconds", "10 to 86400"), 3),
    "port-high": Case("exporter:\n  port: 70000\n", ("exporter.port", "1-65535"), 2),
    "port-zero": Case("exporter:\n  port: 0\n", ("exporter.port",), 2),
    "concurrency-zero": Case("aws:\n  max_concurrency: 0\n", ("aws.max_concurrency", "1 to 100"), 2),
    "concurrency-huge": Case("collectors:\n  qdrant:\n    max_concurrency: 1000000\n",
                             ("collectors.qdrant.max_concurrency", "1 to 64"), 3),
    "attempts": Case("aws:\n  max_attempts: 1000\n", ("aws.max_attempts", "1 to 20"), 2),
    "threshold-negative": Case("alerts:\n  thresholds:\n    EcsServiceCpuHigh:\n      threshold: -1\n",
                               ("alerts.thresholds.EcsServiceCpuHigh.threshold", "0 to 1e15"), 4),
    "threshold-bignum": Case("alerts:\n  thresholds:\n    EcsServiceCpuHigh: {threshold: " + "9" * 400 + "}\n",
                             ("alerts.thresholds.EcsServiceCpuHigh.threshold", "at most"), 3),
    "period": Case("cloudwatch:\n  period_seconds: 90\n", ("cloudwatch.period_seconds", "multiple of 60"), 2),
    "delay-negative": Case("cloudwatch:\n  delay_seconds: -5\n", ("cloudwatch.delay_seconds", "0 to 86400"), 2),
    "cost-interval": Case("collectors:\n  cost:\n    interval_seconds: 1.0e+7\n",
                          ("collectors.cost.interval_seconds", "3600 to 604800"), 3),
    # --- names --------------------------------------------------------------------------------
    "environment-empty": Case('environment: ""\n', ("environment", "lower-case letters"), 1),
    "environment-path": Case('environment: "../../somewhere"\n', ("environment", "'../../somewhere'"), 1),
    "environment-multiline": Case('environment: "prod\\nuction"\n', ("environment", "one line"), 1),
    "environment-block-scalar": Case("environment: |\n  production\n  staging\n", ("environment", "one line"), 1),
    "environment-upper": Case("environment: Production\n", ("environment",), 1),
    "environment-number": Case("environment: 42\n", ("environment",), 1),
    "environment-long": Case("environment: " + "a" * 64 + "\n", ("environment", "at most 63"), 1),
    "node-name-path": Case(NODE.replace("name: main", "name: ../x"), ("collectors.qdrant.nodes[0].name",), 4),
    "node-name-empty": Case(NODE.replace("name: main", "name: ''"), ("collectors.qdrant.nodes[0].name",), 4),
    "node-names-duplicate": Case(NODE + "      - name: main\n        url: http://other:6333\n",
                                 ("collectors.qdrant.nodes[1].name", "duplicate name 'main'"), 6),
    "account-name": Case(ACCOUNT + "    name: a/b\n", ("accounts[0].name",), 3),
    "sentry-org-path": Case("sentry:\n  organization: ../../users\n", ("sentry.organization", "Sentry slug"), 2),
    "sentry-project-path": Case("sentry:\n  projects: [api, a/b]\n", ("sentry.projects[1]", "Sentry slug"), 2),
    "external-id": Case(ACCOUNT + "    external_id: 'not an external id'\n",
                        ("accounts[0].external_id", "2 to 1224 letters", "got '<redacted>'"), 3),
    "accounts-duplicate": Case(ACCOUNT + ACCOUNT.removeprefix("accounts:\n"),
                               ("accounts[1].role_arn", "duplicate role_arn 'arn:aws:iam::"), 3),
    "api-key-env": Case(NODE + "        api_key_env: MY-KEY\n", ("collectors.qdrant.nodes[0].api_key_env",), 6),
    "folder-uid": Case("grafana:\n  folder_uid: " + "u" * 41 + "\n", ("grafana.folder_uid", "1 to 40"), 2),
    # --- URLs ---------------------------------------------------------------------------------
    "qdrant-url-no-scheme": Case(NODE.replace("http://qdrant:6333", "qdrant:6333"),
                                 ("collectors.qdrant.nodes[0].url", "http(s) URL"), 5),
    "qdrant-url-no-host": Case(NODE.replace("http://qdrant:6333", "'http://'"), ("collectors.qdrant.nodes[0].url",), 5),
    "qdrant-url-bad-port": Case(NODE.replace("6333", "99999"), ("collectors.qdrant.nodes[0].url",), 5),
    "grafana-url-ftp": Case("grafana:\n  url: ftp://grafana\n", ("grafana.url", "http(s) URL"), 2),
    "sentry-url-space": Case("sentry:\n  url: https://sen try.io\n", ("sentry.url",), 2),
    "pagerduty-url": Case("alerts:\n  alertmanager:\n    pagerduty_url: 'javascript:alert(1)'\n",
                          ("alerts.alertmanager.pagerduty_url",), 3),
    "webhook-url-ipv6": Case("alerts:\n  alertmanager:\n    notification_webhook_url: 'http://[::1'\n",
                             ("alerts.alertmanager.notification_webhook_url",), 3),
    "runbook-url-empty": Case("alerts:\n  runbook_base_url: ''\n", ("alerts.runbook_base_url",), 2),
    # --- ARNs and regions ---------------------------------------------------------------------
    "role-arn-short-account": Case("accounts:\n  - role_arn: arn:aws:iam::123:role/x\n",
                                   ("accounts[0].role_arn", "IAM role ARN"), 2),
    "role-arn-s3": Case("accounts:\n  - role_arn: arn:aws:s3:::bucket\n", ("accounts[0].role_arn",), 2),
    "sns-placeholder-typo": Case("cloudwatch_alarms:\n  sns_topics:\n"
                                 "    critical: arn:aws:sns:{regoin}:123456789012:t\n",
                                 ("cloudwatch_alarms.sns_topics.critical", "SNS topic ARNs"), 3),
    "sns-second-of-two": Case("cloudwatch_alarms:\n  sns_topics:\n    warning: 'arn:aws:sns:{region}:123456789012:a,"
                              " arn:aws:sqs:eu-west-1:123456789012:b'\n",
                              ("cloudwatch_alarms.sns_topics.warning",), 3),
    "sns-severity": Case("cloudwatch_alarms:\n  sns_topics:\n    page: arn:aws:sns:eu-west-1:123456789012:t\n",
                         ("cloudwatch_alarms.sns_topics.page", "one of 'critical'"), 3),
    "region-unicode-digit": Case("regions: [eu-west-\u0661]\n", ("regions[0]", "AWS region"), 1),
    "region-short": Case("regions: [eu-west]\n", ("regions[0]", "AWS region"), 1),
    "region-upper": Case("regions:\n  - eu-west-1\n  - EU-WEST-1\n", ("regions[1]",), 3),
    "account-region": Case(ACCOUNT + "    regions: [eu_west_1]\n", ("accounts[0].regions[0]",), 3),
    # --- the listen address -------------------------------------------------------------------
    "listen-shape": Case("exporter:\n  address: 'not a host!'\n", ("exporter.address", "IP address or a host"), 2),
    "listen-unresolvable": Case("exporter:\n  address: no-such-host.invalid\n",
                                ("exporter.address", "cannot resolve"), 2, commands=("validate",)),
    # --- names checked against the catalog (by the commands that read it) ---------------------
    "disabled-unknown-long": Case("alerts:\n  disabled:\n    - " + "X" * 2000 + "\n",
                                  ("alerts.disabled[0]", "unknown alert 'XXXX"), 3, commands=CATALOG_READERS),
    "threshold-unknown-alert": Case("alerts:\n  thresholds:\n    NoSuchAlert: {threshold: 1}\n",
                                    ("alerts.thresholds.NoSuchAlert", "unknown alert"), 3, commands=CATALOG_READERS),
}

COMMANDS = {
    "validate": ["validate"],
    "exporter-once": ["exporter", "once"],
    "alerts-plan": ["alerts", "plan"],
    "alerts-apply": ["alerts", "apply", "--yes"],
    "alerts-render": ["alerts", "render", "--out", "{out}"],
    "sync": ["sync", "--dry-run", "--rules-out", "{out}"],
    "dashboards-build": ["dashboards", "build", "--out", "{out}"],
    "dashboards-check": ["dashboards", "check", "--out", "{out}"],
    "dashboards-plan": ["dashboards", "plan"],
    "demo": ["demo", "--once", "--out", "{out}"],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweep")
    written = {}
    for name, case in CASES.items():
        path = root / f"{name}.yaml"
        path.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode())
        written[name] = path
    fifo = root / "fifo.yaml"  # nobody ever writes to it: opening it for reading must not wait for a writer
    os.mkfifo(fifo)
    written["fifo"] = fifo
    return written


def test_the_sweep_is_wide_enough() -> None:
    assert len(CASES) + 1 >= 40


def _run(args: list[str], out: Path) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(main, [a.replace("{out}", str(out)) for a in args])
    return result.exit_code, result.output, result.exception


SWEEP = [(name, command) for name, case in sorted(CASES.items()) for command in sorted(COMMANDS)
         if not case.commands or command in case.commands]


@pytest.mark.parametrize(("name", "command"), SWEEP)
def test_every_bad_file_exits_2_naming_file_key_and_line(name: str, command: str, files: dict[str, Path],
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # any AWS call would fail (exit 1), not hang
    code, output, exception = _run(["--config", str(files[name]), *COMMANDS[command]], tmp_path / "out")
    assert code == 2, output
    assert isinstance(exception, SystemExit), repr(exception)
    assert "Traceback" not in output
    assert len(output) < MAX_OUTPUT, output[:MAX_OUTPUT]
    assert f"invalid configuration: {files[name]}" in output
    for fragment in case.says:
        assert fragment in output, output
    if case.line is not None:
        assert f"{files[name]}, line {case.line}:" in output
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_pipe_is_refused_without_waiting(command: str, files: dict[str, Path], tmp_path: Path) -> None:
    code, output, _ = _run(["--config", str(files["fifo"]), *COMMANDS[command]], tmp_path / "out")
    assert code == 2 and "not a regular file" in output and "Traceback" not in output


def test_a_utf8_bom_is_fine_and_repeated_regions_count_once(tmp_path: Path) -> None:
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(codecs.BOM_UTF8 + b"environment: staging\nregions: [eu-west-1, us-east-1, eu-west-1]\n")
    assert config.load(bom).regions == ("eu-west-1", "us-east-1")
    code, output, _ = _run(["--config", str(bom), "dashboards", "build", "--out", "{out}"], tmp_path / "out")
    assert code == 0, output


def test_a_listen_address_that_never_resolves_is_an_error_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: release.wait())
    cfg = config.parse({"exporter": {"address": "slow.example"}}, "cfg.yaml", {"exporter.address": 2})
    try:
        with pytest.raises(config.ConfigError) as info:
            config.resolve_listen_address(cfg, timeout=0.1)
    finally:
        release.set()
    assert str(info.value) == ("cfg.yaml, line 2: exporter.address: cannot resolve 'slow.example': "
                               "no answer within 0.1 s")
