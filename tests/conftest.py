"""Shared fixtures: a real moto AWS server on 127.0.0.1 and fake credentials (never a real account)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aws_limits import AwsLimits
from helpers import CHECKOUT, free_port

from docqet_monitor.core import secrets


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real cloud: fake credentials, a fixed region, no inherited tool settings. Tests run in
    the checkout, the monitoring repository `--env` finds (a test may chdir elsewhere)."""
    monkeypatch.chdir(CHECKOUT.root)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "DOCQET_MONITOR_CONFIG",
                "DOCQET_MONITOR_ROOT", "QDRANT_URL",
                "QDRANT_API_KEY", "GRAFANA_URL", "GRAFANA_TOKEN", "SENTRY_DSN", "SENTRY_AUTH_TOKEN",
                "SENTRY_URL", "SENTRY_ORG", "SENTRY_PROJECTS", "PAGERDUTY_ROUTING_KEY", "AWS_DATA_PATH",
                "ECS_CONTAINER_METADATA_URI_V4"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The redactor is process-wide: a test's secrets do not blank out the next test's output."""
    yield
    secrets.REDACTOR.clear()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server (server mode, real HTTP on 127.0.0.1) for the session; yields its URL."""
    from moto.server import ThreadedMotoServer

    from docqet_monitor.demo.aws import patch_moto_percentiles

    patch_moto_percentiles()  # GetMetricData p95 (ALB response time) works as on AWS
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto server, with boto3 pointed at it through AWS_ENDPOINT_URL."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def aws_limits() -> Iterator[AwsLimits]:
    """Real AWS request limits for ``Aws(session_factory=aws_limits.session)``; a breach fails the test."""
    limits = AwsLimits()
    yield limits
    limits.assert_clean()


# --- every AWS operation the code calls, checked against the IAM policy by tests/test_iam_policy.py ---------


@pytest.fixture(scope="session", autouse=True)
def _record_aws_calls() -> Iterator[None]:
    from aws_calls import installed

    with installed():
        yield


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "run_last: runs after every other test (it checks what the suite did)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)  # stable: keeps the rest


@pytest.fixture
def ecs_metadata() -> Iterator[tuple[str, dict[str, object]]]:
    """A stand-in for the ECS task metadata endpoint v4: its URI and the task document it answers at /task."""
    task: dict[str, object] = {"Limits": {"CPU": 0.25, "Memory": 512}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(task).encode() if self.path == "/v4/abc/task" else b"{}"
            self.send_response(200 if self.path == "/v4/abc/task" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v4/abc", task
    server.shutdown()
    server.server_close()
