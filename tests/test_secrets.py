"""One redaction layer: a secret the process knows never reaches the logs, /metrics or the CLI's output, even when
a server echoes it back (a Qdrant or a proxy that copies the request's api-key into its error body)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_http import RawServer, header, respond

from docqet_monitor import cli
from docqet_monitor.alerts import testpage
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import logs, secrets, yamlfile
from docqet_monitor.core.config import AccountConfig, Config

VENV_BIN = Path(sys.executable).parent
KEY = "qk-echo/7f3a+9c1e-do-not-print"


def test_the_redactor_covers_plain_url_encoded_and_json_escaped_forms() -> None:
    secrets.register(KEY, "abc", None, "")  # too short or empty: ignored
    text = f'key {KEY} url {secrets.quote(KEY, safe="")} json {json.dumps("x" + KEY)} abc'
    assert secrets.redact(text) == 'key <redacted> url <redacted> json "x<redacted>" abc'


def test_the_environment_and_the_config_feed_the_redactor() -> None:
    env = {"SENTRY_AUTH_TOKEN": "sntrys_token_1", "GRAFANA_TOKEN": "glsa_token_2", "PAGERDUTY_ROUTING_KEY": "pd_3",
           "AWS_SECRET_ACCESS_KEY": "aws_secret_4", "AWS_SESSION_TOKEN": "aws_session_5",
           "QDRANT_URL": "https://user:url_password_6@q:6333", "NODE_KEY": "node_key_7", "PD_KEY": "pd_key_8"}
    secrets.register_environment(env)
    config = config_mod.parse({
        "accounts": [{"role_arn": "arn:aws:iam::123456789012:role/r", "external_id": "external_id_9"}],
        "collectors": {"qdrant": {"nodes": [{"name": "a", "url": "http://user:node_password_10@q:6333",
                                             "api_key_env": "NODE_KEY"}]}},
        "alerts": {"alertmanager": {"pagerduty_routing_key_env": "PD_KEY"}}})
    secrets.register_config(config, env)
    values = [v for v in env.values() if not v.startswith("https")] + [
        "url_password_6", "external_id_9", "node_password_10", "pd_3"]
    assert secrets.redact(" ".join(values)) == " ".join(["<redacted>"] * len(values))
    assert isinstance(config.accounts[0], AccountConfig)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_records_lose_secrets_in_message_extras_and_tracebacks(fmt: str, capsys: pytest.CaptureFixture[str]
                                                                    ) -> None:
    logs.setup(2, fmt)
    secrets.register(KEY)
    log = logging.getLogger("docqet_monitor.test")
    log.warning("server said %s", f"bad key {KEY}", extra={"detail": KEY})
    try:
        raise RuntimeError(f"echo {KEY}")
    except RuntimeError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert KEY not in err
    assert err.count("<redacted>") >= 3
    logging.getLogger().handlers.clear()


def test_the_cli_error_edge_redacts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_cli_edge_token")

    def build(config: Config, aws: object) -> list[object]:
        raise config_mod.ConfigError("$QDRANT_URL", "", "the server answered 'glsa_cli_edge_token'")

    monkeypatch.setattr(cli.collector_registry, "build", build)
    result = CliRunner().invoke(cli.main, ["exporter", "once"])
    assert result.exit_code == 2
    assert "glsa_cli_edge_token" not in result.output
    assert "the server answered '<redacted>'" in result.output


def _echo(conn: object, head: bytes) -> None:
    """A Qdrant (or proxy) that copies the api-key into its error bodies: 401 on the listing, 500 elsewhere."""
    path = head.split(b" ", 2)[1]
    key = header(head, "api-key")
    if path == b"/readyz":
        respond(conn, 200, b"all shards are ready", "text/plain")  # type: ignore[arg-type]
        return
    status = 401 if path == b"/collections" else 500
    body = {"status": {"error": f"Invalid api-key: {key}"}, "time": 0.0}
    respond(conn, status, json.dumps(body).encode())  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_echoed_qdrant_key_never_reaches_logs_metrics_or_output(fmt: str, tmp_path: Path) -> None:
    server = RawServer(_echo)
    config = tmp_path / "monitor.yaml"
    config.write_text("collectors:\n  ecs: {enabled: false}\n  rds: {enabled: false}\n  cost: {enabled: false}\n")
    env = dict(os.environ, QDRANT_URL=server.url, QDRANT_API_KEY=KEY)
    result = subprocess.run([str(VENV_BIN / "docqet-monitor"), "-vv", "--log-format", fmt, "--config", str(config),
                             "exporter", "once"], env=env, capture_output=True, text=True, timeout=60, check=False)
    server.close()
    assert result.returncode == 1  # the qdrant collector failed
    assert any(header(r, "api-key") == KEY for r in server.requests)  # the key was sent, and echoed
    assert 'docqet_qdrant_up{qdrant="default"} 0.0' in result.stdout  # /metrics
    assert "Invalid api-key: <redacted>" in result.stderr  # the logs
    for form in (KEY, secrets.quote(KEY, safe="")):
        assert form not in result.stdout + result.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_notes_on_stderr_lose_secrets_in_either_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The lines commands write beside the logs (findings, "Grafana URL, folder ...") are redacted too, not only
    the log records (text format printed them as they were)."""
    logs.setup(0, fmt)
    secrets.register("note-secret-13")
    logs.note("Grafana http://admin:note-secret-13@grafana, folder 'Docqet'")
    err = capsys.readouterr().err
    assert "note-secret-13" not in err and "http://admin:<redacted>@grafana" in err
    logs.setup(0, "text")
    logging.getLogger().handlers.clear()


def test_grafana_and_sentry_urls_with_credentials_are_refused_unquoted(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """They would replace the token sent in the Authorization header; the password is never quoted."""
    for section in ("grafana", "sentry"):
        path = tmp_path / f"{section}.yaml"
        path.write_text(f"{section}:\n  url: https://admin:url-password-14@{section}.example\n")
        result = CliRunner().invoke(cli.main, ["--config", str(path), "validate"])
        assert result.exit_code == 2
        assert (f"{section}.url: expected an http(s) URL (http://host[:port][/path]) without USER:PASSWORD@ (the "
                f"token comes from the environment) or empty, got 'https://admin:<redacted>@") in result.output
        assert "url-password-14" not in result.output
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_token_14")
    monkeypatch.setenv("GRAFANA_URL", "https://admin:url-password-14@grafana.example")
    result = CliRunner().invoke(cli.main, ["dashboards", "plan"])
    assert result.exit_code == 2
    assert ("$GRAFANA_URL: expected an http(s) URL (http://host[:port][/path]) without USER:PASSWORD@ (the token "
            "comes from the environment), got 'https://admin:<redacted>@") in result.output
    assert "url-password-14" not in result.output


@pytest.mark.parametrize(("value", "says"), [
    ("'ext id 17'", "expected 2 to 1224 letters, digits or +=,.@:/- (or empty), got '<redacted>'"),
    ('"ext-id-17\\tx"', "expected one line without control characters, got '\\t' at character 10"),
    ("ext-id-17" + "x" * 2048, "expected at most 2048 characters, got 2057"),
])
def test_an_invalid_external_id_is_not_quoted(value: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(f"accounts:\n  - role_arn: arn:aws:iam::123456789012:role/r\n    external_id: {value}\n")
    result = CliRunner().invoke(cli.main, ["--config", str(path), "validate"])
    assert result.exit_code == 2 and f"accounts[0].external_id: {says}" in result.output
    assert "ext id 17" not in result.output and "ext-id-17" not in result.output


def test_an_error_quote_cut_through_a_known_secret_keeps_no_part_of_it() -> None:
    secrets.register("quoted-secret-18-0123456789abcdefghijklmnop")
    quote = yamlfile.short("x" * 10 + "quoted-secret-18-0123456789abcdefghijklmnop")  # the cut falls inside it
    assert quote == "'xxxxxxxxxx<redacted>'" and "quoted-secret" not in quote


def test_a_password_in_an_invalid_url_is_not_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not even the part of a long one that an error's 40-character quote would keep (which the redactor, knowing
    the whole password, would not find)."""
    path = tmp_path / "q.yaml"
    path.write_text("collectors:\n  qdrant:\n    nodes:\n      - {name: a, url: 'http://u:url-password-15@bad_host'}\n")
    result = CliRunner().invoke(cli.main, ["--config", str(path), "validate"])
    assert result.exit_code == 2 and "got 'http://u:<redacted>@bad_host'" in result.output
    assert "url-password-15" not in result.output
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_token_16")
    monkeypatch.setenv("GRAFANA_URL", "ftp://u:a-very-long-url-password-16-abcdefghijkl@grafana")  # not http(s)
    result = CliRunner().invoke(cli.main, ["dashboards", "plan"])
    assert result.exit_code == 2 and "no Grafana URL: " in result.output and "got 'ftp://u:<redacted>@" in result.output
    assert "url-password" not in result.output
    monkeypatch.setenv("QDRANT_URL", "http://u:a-very-long-url-password-16-abcdefghijkl@bad_host:6333")
    result = CliRunner().invoke(cli.main, ["exporter", "once"])
    assert result.exit_code == 2 and "$QDRANT_URL: expected an http(s) URL, got 'http://u:<redacted>@" in result.output
    assert "url-password" not in result.output
    assert secrets.without_password("x://u:p/w@h") == "x://u:<redacted>@h"  # also a URL that is not valid
    assert secrets.without_password("http://h/a:b@c") == "http://h/a:<redacted>@c"  # the path over-redacted, safe
    assert secrets.without_password("http://user@h") == "http://user@h"
    assert [secrets.has_credentials(u) for u in ("http://u@h", "http://h/p@q", "h@x", "http://h?u=a@b")] == \
        [True, False, False, False]


@pytest.mark.parametrize("args", [("--env", "vault", "alerts", "test-page"), ("alerts", "test-page", "--env", "vault")])
def test_a_commands_own_env_feeds_the_redactor_too(args: tuple[str, ...], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    external_id = f"ext-id-{len(args[0])}-never-print"  # unique per case: the redactor is process-wide
    assert CliRunner().invoke(cli.main, ["init", str(tmp_path)]).exit_code == 0
    (tmp_path / "monitoring" / "environments" / "vault.yaml").write_text(
        "environment: vault\naccounts:\n  - {role_arn: 'arn:aws:iam::123456789012:role/r', "
        f"external_id: {external_id}}}\n")

    def send(config: Config, url: str, environ: object) -> list[str]:
        raise config_mod.ConfigError("accounts[0].external_id", "", f"the server echoed {external_id}")

    monkeypatch.setattr(testpage, "send", send)
    result = CliRunner().invoke(cli.main, ["--root", str(tmp_path), *args])
    assert result.exit_code == 2
    assert external_id not in result.output
    assert "the server echoed <redacted>" in result.output
