"""One error hierarchy, mapped once at the CLI's edge: for each command and kind of problem, the exit code (2 usage,
configuration, missing settings; 1 run-time failure; --detailed-exitcode: every error 1) and the message shape
(``Error: <what failed>: <why>`` on stderr), never a traceback, never botocore's or requests' text alone."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import responses
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from click.testing import CliRunner, Result

from docqet_monitor import sync
from docqet_monitor.alerts.render import ToolMissing
from docqet_monitor.alerts.sentry import SentryError
from docqet_monitor.cli import main
from docqet_monitor.core.aws import AwsError, MalformedResponseError, explain, failing_as
from docqet_monitor.core.config import ConfigError
from docqet_monitor.core.errors import DocqetError
from docqet_monitor.core.paging import RepeatedTokenError
from docqet_monitor.core.plan import PlanError, PlanInputError
from docqet_monitor.dashboards import build
from docqet_monitor.dashboards.publish import GrafanaAuthError, GrafanaError, GrafanaSettingsError
from docqet_monitor.demo.aws import DemoError
from docqet_monitor.exporters.cost import CostExplorerError
from docqet_monitor.exporters.qdrant import QdrantError

GRAFANA = "https://grafana.test"
SENTRY = "https://sentry.test"


def run(*args: str) -> Result:
    """The CLI in-process with exceptions not caught: an unmapped error fails the test with its traceback."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def assert_error(result: Result, code: int, pattern: str) -> None:
    """Exit ``code`` and one ``Error: ...`` line on stderr matching ``pattern``."""
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert re.fullmatch(pattern, errors[0].removeprefix("Error: ")), errors[0]


# --- every domain error carries its exit code ------------------------------------------------------------


@pytest.mark.parametrize(("error", "code"), [
    (ConfigError("c.yaml", "exporter.port", "expected an integer"), 2),
    (GrafanaSettingsError("no Grafana URL"), 2),
    (sync.Skipped("no Sentry organization"), 2),
    (PlanInputError("invalid CloudWatch alarm input"), 2),
    (PlanError("an ownership clash"), 1),
    (GrafanaError("GET /api/search: 502 Bad Gateway"), 1),
    (GrafanaAuthError("GET /api/search: 401"), 1),
    (SentryError("GET /api/0/...: HTTP 500"), 1),
    (AwsError("cannot read CloudWatch alarms in eu-west-1: ..."), 1),
    (QdrantError("timeout", "GET /collections: timed out"), 1),
    (CostExplorerError("GetCostAndUsage repeated the page token"), 1),
    (DemoError("the demo needs moto"), 1),
    (ToolMissing("promtool not found on PATH"), 1),
    (RepeatedTokenError("the API returned the page token twice"), 1),
    (MalformedResponseError("ecs", "ListClusters", ("clusterArns",)), 1),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v))
def test_every_domain_error_is_a_docqet_error_with_its_exit_code(error: Exception, code: int) -> None:
    assert isinstance(error, DocqetError) and error.exit_code == code


def test_aws_failures_are_explained_in_our_words() -> None:
    assert explain(NoCredentialsError()) == "no AWS credentials found (NoCredentialsError)"
    assert explain(EndpointConnectionError(endpoint_url="https://ecs.eu-west-1.amazonaws.com/")) == (
        "cannot connect to https://ecs.eu-west-1.amazonaws.com/ (EndpointConnectionError)")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to DescribeAlarms"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}, "DescribeAlarms")
    assert explain(denied) == "AWS answered AccessDenied: not authorized to DescribeAlarms (HTTP 403, ClientError)"
    page = "<!doctype html>\n<html>\n<title>500 Internal Server Error</title>\n" + "<p>x</p>\n" * 100
    proxied = ClientError({"Error": {"Code": "500", "Message": page}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                          "GetCostForecast")
    said = explain(proxied)  # a proxy's page: one line, AWS's part cut to 200 characters
    assert said.startswith("AWS answered 500: <!doctype html> <html> <title>500 Internal Server Error</title> <p>x")
    assert "\n" not in said and said.endswith("… (HTTP 500, ClientError)")
    assert len(said) == len("AWS answered 500: ") + 200 + len("… (HTTP 500, ClientError)")
    with (pytest.raises(AwsError, match=r"^cannot read CloudWatch alarms in eu-west-1: no AWS credentials found "
                                        r"\(NoCredentialsError\)$") as err,
          failing_as("cannot read CloudWatch alarms in eu-west-1")):
        raise NoCredentialsError()
    assert isinstance(err.value.__cause__, NoCredentialsError)  # kept for -v logs and crash reports


# --- the table: command x problem -> exit code and message --------------------------------------------------


@pytest.fixture
def bad_config(tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text("exporter:\n  port: nope\n")
    return str(path)


CONFIG_COMMANDS = [
    ["validate"], ["dashboards", "build", "--out", "{tmp}"], ["dashboards", "check"], ["dashboards", "plan"],
    ["dashboards", "publish"], ["alerts", "render", "--out", "{tmp}"], ["alerts", "plan"],
    ["alerts", "apply", "--yes"], ["sync", "--dry-run"], ["exporter", "once"], ["demo", "--once"],
]


@pytest.mark.parametrize("command", CONFIG_COMMANDS, ids=" ".join)
def test_a_bad_configuration_exits_2_naming_file_and_key(command: list[str], bad_config: str,
                                                         tmp_path: Path) -> None:
    result = run("--config", bad_config, *(a.replace("{tmp}", str(tmp_path / "out")) for a in command))
    assert_error(result, 2, r"invalid configuration: .*bad\.yaml(, line 2)?: exporter\.port: expected .*")
    assert not (tmp_path / "out").exists()  # nothing half-done


@pytest.mark.parametrize("command", [["alerts", "plan"], ["dashboards", "plan"]], ids=" ".join)
def test_with_detailed_exitcode_every_error_exits_1(command: list[str], bad_config: str) -> None:
    result = run("--config", bad_config, *command, "--detailed-exitcode")
    assert_error(result, 1, r"invalid configuration: .*")
    assert run(*command, "--detailed-exitcode", "--no-such-option").exit_code == 1  # click's usage errors too


@pytest.mark.parametrize(("command", "env", "pattern"), [
    (["dashboards", "plan"], {}, r"no Grafana URL: set grafana\.url in the config or \$GRAFANA_URL .*"),
    (["dashboards", "publish"], {"GRAFANA_URL": GRAFANA}, r"\$GRAFANA_TOKEN is not set: .*"),
    (["alerts", "plan", "--target", "sentry"], {}, r"sentry: no Sentry organization \(.*\)"),
    (["alerts", "apply", "--target", "sentry", "--yes"], {"SENTRY_ORG": "docqet", "SENTRY_PROJECTS": "api"},
     r"sentry: no Sentry token \(SENTRY_AUTH_TOKEN\)"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_missing_grafana_or_sentry_settings_exit_2(command: list[str], env: dict[str, str], pattern: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert_error(run(*command), 2, pattern)


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


NO_CREDENTIALS = (r"cannot discover the resources to alarm on in eu-west-1: "
                  r"no AWS credentials found \(NoCredentialsError\)")


@pytest.mark.parametrize("command", [["alerts", "plan", "--target", "cloudwatch"],
                                     ["alerts", "apply", "--target", "cloudwatch", "--yes"]], ids=" ".join)
def test_no_aws_credentials_exit_1_saying_what_failed_where(command: list[str], no_aws_credentials: None) -> None:
    assert_error(run(*command), 1, NO_CREDENTIALS)


def test_sync_reports_the_same_sentence_in_its_table(no_aws_credentials: None, tmp_path: Path) -> None:
    result = run("sync", "--target", "cloudwatch", "--dry-run", "--rules-out", str(tmp_path))
    assert re.search(rf"^cloudwatch +failed +{NO_CREDENTIALS}$", result.stdout, re.M), result.stdout
    assert_error(result, 1, r"sync failed for: cloudwatch")


@pytest.mark.parametrize(("args", "option"), [
    (["--env", "", "sync", "--dry-run"], "--env"),
    (["--config", " ", "validate"], "--config"),
    (["--root", "", "validate"], "--root"),
    (["--env", "staging", "alerts", "render", "--out", ""], "--out"),
    (["--env", "staging", "dashboards", "build", "--out", ""], "--out"),
    (["--env", "staging", "sync", "--dry-run", "--target", "rules", "--rules-out", ""], "--rules-out"),
    (["--env", "staging", "exporter", "serve", "--web.config.file", ""], "--web.config.file"),
    (["--env", "staging", "exporter", "serve", "--address", ""], "--address"),
    (["--env", "staging", "prometheus-config", "--role", "central", "--rules-dir", ""], "--rules-dir"),
    (["init", ""], "[DIR]"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_an_empty_value_is_refused_not_taken_for_a_default(args: list[str], option: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With OUT unset, ``alerts render --out "$OUT"`` wrote into the working directory and ``dashboards build``
    over the committed files (for another environment); ``--web.config.file ""`` served plain HTTP without auth;
    ``--env ""`` synced the development environment. An empty value is now a usage error; nothing is written."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert_error(result, 2, rf"Invalid value for '{re.escape(option)}': an empty value is not accepted \(an unset "
                            r"shell variable\?\)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["alerts", "render", "--out"], ["dashboards", "build", "--out"],
                                  ["sync", "--dry-run", "--target", "rules", "--rules-out"], ["init"]],
                         ids=" ".join)
def test_a_directory_option_naming_a_device_is_a_usage_error(args: list[str]) -> None:
    """click refuses a regular file where a directory is expected, not a device: ``--out /dev/null`` was
    "cannot write the dashboards to /dev/null: File exists", exit 1."""
    assert_error(run("--env", "staging", *args, "/dev/null"), 2, r"Invalid value for '(--out|--rules-out|\[DIR\])': "
                                                                 r"'/dev/null' is not a directory")


def test_sync_failing_on_a_setting_to_fix_exits_2_as_alerts_plan_does(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    """An AWS profile that does not exist is a setting, not a run-time failure: `alerts plan` exits 2 for it, and
    so does `sync` when every failed target failed on a setting (1 when any failed at run time)."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    plan = run("alerts", "plan", "--target", "cloudwatch")
    assert_error(plan, 2, r"the AWS settings .*: The config profile \(no-such-profile\) could not be found "
                          r"\(ProfileNotFound\)")
    result = run("sync", "--target", "cloudwatch", "--dry-run", "--rules-out", str(tmp_path))
    assert re.search(r"^cloudwatch +failed +the AWS settings .*\(ProfileNotFound\)$", result.stdout, re.M)
    assert_error(result, 2, r"sync failed for: cloudwatch")


@pytest.fixture
def failing_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Every AWS endpoint answers 500; one attempt (aws.max_attempts: 1). Yields a config file."""

    class Broken(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    config = tmp_path / "one-attempt.yaml"
    config.write_text("aws:\n  max_attempts: 1\n")
    yield str(config)
    server.shutdown()
    server.server_close()


def test_an_aws_5xx_exits_1_saying_what_failed_where(failing_aws: str) -> None:
    result = run("--config", failing_aws, "alerts", "plan", "--target", "cloudwatch")
    assert_error(result, 1, r"cannot discover the resources to alarm on in eu-west-1: "
                            r"AWS answered .* \(HTTP 500, ClientError\)")


def test_a_grafana_5xx_exits_1_saying_what_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_URL", GRAFANA)
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_secret")
    with responses.RequestsMock() as api:
        api.get(f"{GRAFANA}/api/folders/docqet-monitor", status=502, json={"message": "bad gateway"})
        result = run("dashboards", "plan")
    assert_error(result, 1, r"cannot read the dashboards in Grafana: GET /api/folders/docqet-monitor: "
                            r"502 Bad Gateway: bad gateway")


@pytest.fixture
def sentry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SENTRY_URL": SENTRY, "SENTRY_ORG": "docqet", "SENTRY_PROJECTS": "api",
                        "SENTRY_AUTH_TOKEN": "sntrys_secret"}.items():
        monkeypatch.setenv(name, value)


def test_sentry_input_the_api_cannot_take_exits_2_before_any_call(sentry_env: None) -> None:
    with responses.RequestsMock():  # no request may be made
        result = run("alerts", "plan", "--target", "sentry")
    assert_error(result, 2, r"invalid Sentry alert input:")
    assert "sentry.pagerduty_integration_id: expected the PagerDuty integration id" in result.stderr


def test_a_sentry_api_error_exits_1_saying_what_failed(sentry_env: None, tmp_path: Path) -> None:
    config = tmp_path / "sentry.yaml"
    config.write_text("sentry:\n  pagerduty_integration_id: '12'\n"
                      "  pagerduty_services: {critical: '34', warning: '56'}\n")
    with responses.RequestsMock() as api:
        api.get(f"{SENTRY}/api/0/organizations/docqet/detectors/", status=403, json={"detail": "no access"})
        result = run("--config", str(config), "alerts", "plan", "--target", "sentry")
    assert_error(result, 1, rf"cannot read the Sentry alerts of organization docqet at {SENTRY}: "
                            r"GET /api/0/organizations/docqet/detectors/: HTTP 403: .*no access.*")
    assert "sntrys_secret" not in result.output


@pytest.mark.parametrize(("command", "pattern"), [
    (["dashboards", "check", "--out", "{tmp}"], rf"{len(build.MODULES)} dashboard file\(s\) are stale; run .*"),
    (["alerts", "render", "--check", "--out", "{tmp}"], r"\d+ generated file\(s\) under .* are stale: .*"),
], ids=lambda v: " ".join(v[:2]) if isinstance(v, list) else None)
def test_a_check_that_finds_problems_exits_1(command: list[str], pattern: str, tmp_path: Path) -> None:
    assert_error(run(*(a.replace("{tmp}", str(tmp_path)) for a in command)), 1, pattern)


def test_a_real_process_prints_one_error_line_and_no_traceback(bad_config: str) -> None:
    done = subprocess.run([sys.executable, "-m", "docqet_monitor", "--config", bad_config, "validate"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: invalid configuration: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr + done.stdout
