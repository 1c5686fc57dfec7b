"""The container image (``Dockerfile``), built with podman once per session and run for real.

``--help``; ``exporter serve`` against the AWS emulator (moto on 127.0.0.1, host network, dummy credentials
passed with ``-e`` only); the user it runs as; its health check; its labels; no secret in any layer; the demo
image (``IMAGE_EXTRAS=demo``) running ``demo --once`` with the compose stack's config.

Needs podman: ``make containers`` sets it up here (podman, runc, a containers.conf drop-in and the debootstrap
base image ``localhost/debian-python:bookworm``), and ``make tools`` does so under ``CI=true``. Without podman
the module skips, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers import free_port
from prometheus_client.parser import text_string_to_metric_families

from docqet_monitor.demo import aws as demo

pytestmark = pytest.mark.timeout(1200)  # a first build downloads every wheel

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "localhost/debian-python:bookworm"  # made by tests/containers/setup-podman.sh
# a tag of this run's own: test runs from other checkouts on the machine cannot swap the image under it
IMAGE = f"localhost/docqet-monitor:test-{secrets.token_hex(4)}"
DEMO_IMAGE = f"{IMAGE}-demo"
UID = "10001"
# names that hold credentials or private keys; certificates (*.pem, *.crt) are public and allowed
SECRET_FILE = re.compile(r"(^|/)(\.aws/|\.env(\..*)?$|[^/]*\.key$|[^/]*\.p12$|[^/]*\.pfx$|credentials$|"
                         r"id_rsa|id_ed25519|\.netrc$|\.pypirc$|\.git-credentials$|run/secrets/)")


def _podman() -> str:
    path = shutil.which("podman")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but podman is not installed: `make tools` sets it up under CI "
                        "(tests/containers/setup-podman.sh)")
        pytest.skip("podman is not installed: `make containers` sets it up (CI=true makes this a failure)")
    return path


def _run(*argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def _build(podman: str, tag: str, *build_args: str) -> str:
    """``podman build`` of the repository's Dockerfile (docker format: OCI images drop HEALTHCHECK)."""
    argv = [podman, "build", "--network", "host", "--format", "docker", "--tag", tag, *build_args]
    if _run(podman, "image", "exists", BASE_IMAGE, check=False).returncode == 0:
        argv += ["--build-arg", f"BASE_IMAGE={BASE_IMAGE}"]  # no registry here: the debootstrap image
    ca_bundle = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
    if Path(ca_bundle).is_file():  # pip trusts what this host trusts (a TLS-intercepting proxy); never in a layer
        argv += ["--secret", f"id=ca-bundle,src={ca_bundle}"]
    _run(*argv, str(ROOT), timeout=1100)
    return tag


@pytest.fixture(scope="module")
def podman() -> str:
    return _podman()


@pytest.fixture(scope="module")
def image(podman: str) -> Iterator[str]:
    yield _build(podman, IMAGE)
    # drop this run's tags; the images stay as the layer cache of the next build
    for tag in (IMAGE, DEMO_IMAGE):
        _run(podman, "untag", tag, tag, check=False)


@pytest.fixture(scope="module")
def inspected(podman: str, image: str) -> dict:
    return json.loads(_run(podman, "image", "inspect", image).stdout)[0]


@pytest.fixture
def container(podman: str) -> Iterator[str]:
    """A container name, removed (with its container) afterwards."""
    name = f"docqet-monitor-test-{secrets.token_hex(4)}"
    yield name
    _run(podman, "rm", "--force", "--ignore", "--time", "0", name, check=False)


def _wait_ready(url: str, podman: str, name: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        state = _run(podman, "inspect", "--format", "{{.State.Running}}", name).stdout.strip()
        if state != "true":
            pytest.fail(f"the container stopped:\n{_run(podman, 'logs', name).stderr[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"{url} not ready after 120 s:\n{_run(podman, 'logs', name).stderr[-3000:]}")


def test_help_runs_as_the_entrypoint(podman: str, image: str) -> None:
    result = _run(podman, "run", "--rm", "--network", "none", image, "--help")
    assert result.stdout.startswith("Usage: docqet-monitor [OPTIONS] COMMAND")
    assert "exporter" in result.stdout


def test_image_metadata(inspected: dict) -> None:
    config = inspected["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["docqet-monitor"]
    assert config["Cmd"] == ["exporter", "serve"]
    assert set(config["ExposedPorts"]) == {"19842/tcp"}
    health = inspected["Healthcheck"]["Test"]
    assert health == ["CMD", "python", "-m", "docqet_monitor.exporters.health"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    labels = config["Labels"]
    assert {k: labels.get(k) for k in ("org.opencontainers.image.title", "org.opencontainers.image.version",
                                       "org.opencontainers.image.licenses")} == {
        "org.opencontainers.image.title": "docqet-monitor", "org.opencontainers.image.version": version,
        "org.opencontainers.image.licenses": "Apache-2.0"}
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["org.opencontainers.image.description"]
    env = {line.split("=", 1)[0] for line in config["Env"]}
    assert not {name for name in env if re.search(r"SECRET|TOKEN|KEY|PASSWORD|AWS_|DSN", name)}


def test_exporter_serves_the_emulator_as_uid_10001(podman: str, image: str, container: str,
                                                   moto_endpoint: str) -> None:
    demo.seed_staging(moto_endpoint)
    secret = f"image-test-secret-{secrets.token_hex(8)}"
    port = free_port()
    _run(podman, "run", "--detach", "--name", container, "--network", "host",
         "--read-only", "--read-only-tmpfs=false",  # as ECS readonlyRootFilesystem: not even /tmp is writable
         "-e", f"AWS_ENDPOINT_URL={moto_endpoint}", "-e", "AWS_ACCESS_KEY_ID=image-test",
         "-e", f"AWS_SECRET_ACCESS_KEY={secret}", "-e", "AWS_REGION=eu-west-1",
         "-e", "AWS_EC2_METADATA_DISABLED=true",
         image, "--env", "staging", "--log-format", "json", "exporter", "serve", "--address", "127.0.0.1",
         "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    _wait_ready(f"{base}/readyz", podman, container)

    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    metrics = requests.get(f"{base}/metrics", timeout=5)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics.text) for s in family.samples}
    running = {dict(labels)["service"]: value for (name, labels), value in samples.items()
               if name == "docqet_ecs_service_running_tasks"}
    assert running == {s.name: s.desired for s in demo.ECS_SERVICES}  # the emulator's services, seeded above
    assert samples[("docqet_exporter_collector_up", (("collector", "ecs"),))] == 1

    assert _run(podman, "exec", container, "id", "-u").stdout.strip() == UID
    processes = _run(podman, "top", container, "user", "args").stdout.splitlines()[1:]  # the exporter, its front
    assert len(processes) == 2 and all(p.split()[0] == "docqet-monitor" for p in processes), processes
    assert any("-m docqet_monitor.exporters.front" in p for p in processes), processes
    assert _run(podman, "exec", container, "printenv", "HOME").stdout.strip() == "/var/lib/docqet-monitor"
    # the root filesystem is read-only; the cost cache's directory (the image's VOLUME) is writable by the exporter
    write = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('x')"
    assert _run(podman, "exec", container, "python", "-c", write, ".cache/probe", check=False).returncode == 0
    refused = _run(podman, "exec", container, "python", "-c", write, "probe", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr

    _run(podman, "stop", "--time", "20", container)  # SIGTERM to PID 1: a clean stop
    assert _run(podman, "inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip() == "0"
    logs = _run(podman, "logs", container)
    lines = [json.loads(line) for line in logs.stderr.splitlines() if line.startswith("{")]
    assert lines and any("listening" in line.get("message", "") for line in lines)
    assert secret not in logs.stdout + logs.stderr


def test_healthcheck_passes_on_the_default_port_or_the_one_it_is_told(podman: str, image: str,
                                                                    container: str) -> None:
    """Each container in its own network namespace (``--network none``): port 19842 is free there."""
    other = f"{container}-other-port"
    try:
        _run(podman, "run", "--detach", "--name", container, "--network", "none", image)
        _run(podman, "run", "--detach", "--name", other, "--network", "none", image,
             "exporter", "serve", "--port", "19843")
        deadline = time.monotonic() + 60
        while _run(podman, "healthcheck", "run", container, check=False).returncode != 0:
            if time.monotonic() > deadline:
                pytest.fail(f"never healthy:\n{_run(podman, 'logs', container).stderr[-3000:]}")
            time.sleep(0.5)
        assert _run(podman, "healthcheck", "run", other, check=False).returncode != 0
        # told the other port, the image's check passes there
        _run(podman, "exec", "--env", "DOCQET_MONITOR_HEALTH_URL=http://127.0.0.1:19843/healthz", other,
             "python", "-m", "docqet_monitor.exporters.health")
        # the ECS task definition's container health check, run in the image as ECS would
        (spec,) = json.loads((ROOT / "deploy" / "ecs" / "task-definition.json").read_text())["containerDefinitions"]
        kind, *command = spec["healthCheck"]["command"]
        assert kind == "CMD"
        _run(podman, "exec", container, *command)
        assert _run(podman, "exec", other, *command, check=False).returncode != 0
    finally:
        _run(podman, "rm", "--force", "--ignore", "--time", "0", other, check=False)


def layer_findings(archive: Path, needles: list[bytes]) -> list[str]:
    """Files in an image archive (``podman save``) that hold one of ``needles`` or look like credentials."""
    findings = []
    with tarfile.open(archive) as outer:
        for member in outer:
            if not member.isfile():
                continue
            stream = outer.extractfile(member)
            assert stream is not None
            if not member.name.endswith(".tar"):  # the image config and manifest
                data = stream.read()
                findings += [f"{member.name}: holds a secret" for needle in needles if needle in data]
                continue
            with tarfile.open(fileobj=stream, mode="r|") as layer:
                for entry in layer:
                    if SECRET_FILE.search(entry.name.removeprefix("./")):
                        findings.append(f"{member.name}: {entry.name}: a credentials or key file")
                    if entry.isfile():
                        data = layer.extractfile(entry).read()  # type: ignore[union-attr]
                        findings += [f"{member.name}: {entry.name}: holds a secret" for n in needles if n in data]
    return findings


def test_layer_scan_finds_secrets(tmp_path: Path) -> None:
    """The scanner below is not vacuous: a key file and a secret in a layer are both reported."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, data in (("etc/app/tls.key", b"k"), ("opt/app/settings.py", b"TOKEN = 'sekrit'"),
                           ("etc/ssl/certs/ca.pem", b"public")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("abc/layer.tar")
        info.size = layer.tell()
        layer.seek(0)
        tar.addfile(info, layer)
    assert layer_findings(archive, [b"sekrit"]) == [
        "abc/layer.tar: etc/app/tls.key: a credentials or key file",
        "abc/layer.tar: opt/app/settings.py: holds a secret"]


def test_no_secret_in_any_layer(podman: str, image: str, tmp_path: Path) -> None:
    """Every layer and the image config: no run-time secret, no build secret (the CA bundle is mounted under
    /run/secrets for one step), no key or credentials file."""
    archive = tmp_path / "image.tar"
    _run(podman, "save", "--format", "docker-archive", "--output", str(archive), image, timeout=300)
    needles = [b"image-test-secret-"]  # the exporter test's run-time secret prefix (passed with -e only)
    assert layer_findings(archive, needles) == []


def test_demo_image_runs_the_compose_demo_once(podman: str, image: str) -> None:
    """The image compose.yaml builds (``IMAGE_EXTRAS=demo``) runs its demo: staging, from the image's own
    monitoring repository (its working directory)."""
    demo_image = _build(podman, DEMO_IMAGE, "--build-arg", "IMAGE_EXTRAS=demo")
    result = _run(podman, "run", "--rm", "--network", "none", demo_image, "--env", "staging", "demo", "--once",
                  timeout=300)
    names = {family.name for family in text_string_to_metric_families(result.stdout)}
    assert {"docqet_ecs_service_running_tasks", "docqet_rds_instance_cpu_utilization_ratio"} <= names
