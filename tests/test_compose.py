"""The local stack (``compose.yaml``): valid per the Compose Specification, every config it mounts checked with the
real tools, and every host name and port agreeing with the rendered prometheus.yml and Grafana provisioning.

No container runs here (the image is tested in test_image.py): the stack's other images come from a registry.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
import yaml
from helpers import CONTRACTS

from docqet_monitor.core import config as config_mod
from docqet_monitor.dashboards import build

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
STAGING = ROOT / "monitoring" / "environments" / "staging.yaml"
STACK_ALERTMANAGER = ROOT / "deploy" / "compose" / "alertmanager.yml"
RENDER_ALERTMANAGER = ROOT / "deploy" / "compose" / "render-alertmanager.py"
STAND_IN = ROOT / "deploy" / "compose" / "pagerduty-stand-in.py"
PROMETHEUS_YML = ROOT / "monitoring" / "prometheus" / "prometheus.yml"
DATASOURCES = ROOT / "monitoring" / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
DASHBOARD_PROVIDERS = ROOT / "monitoring" / "grafana" / "provisioning" / "dashboards" / "docqet-monitor.yaml"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def argv(svc: dict[str, Any]) -> list[str]:
    return [*svc.get("entrypoint", []), *svc.get("command", [])]


def bind_mounts(svc: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (short syntax, relative to the compose file)."""
    mounts = {}
    for volume in svc.get("volumes", []):
        source, target, *_ = volume.split(":")
        assert source.startswith("./"), f"{volume}: only bind mounts of repository files in this stack"
        mounts[target] = (ROOT / source).resolve()
    return mounts


def materialise(name: str, root: Path) -> Path:
    """The files a service sees (its bind mounts and configs) copied under ``root`` at their container paths."""
    svc = service(name)
    for target, source in bind_mounts(svc).items():
        dest = root / target.lstrip("/")
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, dest)
    for ref in svc.get("configs", []):
        dest = root / ref["target"].lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(compose()["configs"][ref["source"]]["content"])
    return root


def listen_port(svc: dict[str, Any]) -> int | None:
    """The port a service's command line says it listens on (``--port N``, ``--web.listen-address=:N``, a
    trailing port argument), else None (the image's default)."""
    args = argv(svc)
    for i, arg in enumerate(args):
        if arg == "--port":
            return int(args[i + 1])
        if match := re.fullmatch(r"--web\.listen-address=.*:(\d+)", arg):
            return int(match[1])
    return int(args[-1]) if args and args[-1].isdigit() else None


def published_container_ports(svc: dict[str, Any]) -> set[int]:
    return {int(str(mapping).rsplit(":", 1)[1].split("/")[0]) for mapping in svc.get("ports", [])}


def assert_reachable(host: str, port: int, what: str) -> None:
    """``host:port`` (as another container sees it) is a service of the stack that listens on ``port``."""
    services = compose()["services"]
    assert host in services, f"{what}: {host}:{port} is no service of compose.yaml (services: {sorted(services)})"
    declared = listen_port(services[host])
    assert declared in (None, port), f"{what}: {host} listens on {declared}, not {port}"
    assert port in published_container_ports(services[host]), f"{what}: {host} does not publish port {port}"


# --- the file itself -----------------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    """check-jsonschema's vendored copy of the Compose Specification's JSON schema."""
    check = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run([str(check), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_mounted_file_exists() -> None:
    for name, svc in compose()["services"].items():
        for target, source in bind_mounts(svc).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"
            assert source.is_relative_to(ROOT), f"{name}: {source} is outside the repository"


def test_the_exporter_runs_the_staging_demo_on_every_interface() -> None:
    svc = service("docqet-monitor")
    args = argv(svc)
    assert args[:args.index("demo")] == ["--env", "staging"]  # the image's working directory holds the environments
    assert args[args.index("demo") + 1:args.index("demo") + 3] == ["--address", "0.0.0.0"]
    assert "--broken-service" in args  # something pages in the stack
    assert svc["build"] == {"context": ".", "args": {"IMAGE_EXTRAS": "demo"}}
    assert service("pagerduty")["image"] == svc["image"]  # the stand-in runs on the image built here
    assert bind_mounts(service("pagerduty"))[argv(service("pagerduty"))[1]] == STAND_IN


# --- host names and ports ------------------------------------------------------------------------------------


def test_prometheus_targets_are_services_of_the_stack() -> None:
    prometheus = yaml.safe_load(PROMETHEUS_YML.read_text())
    targets = [(job["job_name"], target) for job in prometheus["scrape_configs"]
               for static in job["static_configs"] for target in static["targets"]]
    targets += [("alerting", target) for am in prometheus["alerting"]["alertmanagers"]
                for static in am["static_configs"] for target in static["targets"]]
    assert {job for job, _ in targets} == {"docqet-monitor", "qdrant", "alerting"}
    for job, target in targets:
        host, port = target.rsplit(":", 1)
        assert_reachable(host, int(port), f"prometheus.yml {job}")


def test_prometheus_runs_the_rendered_config_and_staging_rules() -> None:
    svc = service("prometheus")
    config_file = next(a.split("=", 1)[1] for a in argv(svc) if a.startswith("--config.file="))
    mounts = bind_mounts(svc)
    assert mounts[config_file] == PROMETHEUS_YML
    rule_globs = yaml.safe_load(PROMETHEUS_YML.read_text())["rule_files"]
    assert rule_globs == ["rules/*.yml"]
    assert mounts[str(Path(config_file).parent / "rules")] == ROOT / "monitoring" / "prometheus" / "rules" / "staging"


def test_grafana_reads_the_stack_prometheus_and_the_provisioned_dashboards() -> None:
    svc = service("grafana")
    mounts = bind_mounts(svc)
    assert mounts["/etc/grafana/provisioning/datasources"] == DATASOURCES.parent
    assert mounts["/etc/grafana/provisioning/dashboards"] == DASHBOARD_PROVIDERS.parent
    for source in yaml.safe_load(DATASOURCES.read_text())["datasources"]:
        url = urlsplit(source["url"])
        assert_reachable(url.hostname or "", url.port or 80, f"Grafana data source {source['name']}")
    for provider in yaml.safe_load(DASHBOARD_PROVIDERS.read_text())["providers"]:
        assert mounts[provider["options"]["path"]] == ROOT / "monitoring" / "grafana" / "dashboards"
    home = svc["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    directory, _, name = home.rpartition("/")
    assert (mounts[directory] / name).is_file()


def test_alertmanager_pages_the_stand_in() -> None:
    receivers = yaml.safe_load(STACK_ALERTMANAGER.read_text())["receivers"]
    urls = {pd["url"] for r in receivers for pd in r.get("pagerduty_configs", [])}
    assert len(urls) == 1
    url = urlsplit(urls.pop())
    assert url.path == "/v2/enqueue"
    assert_reachable(url.hostname or "", url.port or 80, "alertmanager.yml pagerduty_configs url")
    key_files = {pd["routing_key_file"] for r in receivers for pd in r.get("pagerduty_configs", [])}
    assert key_files <= {ref["target"] for ref in service("alertmanager")["configs"]}


# --- the configs the stack mounts ----------------------------------------------------------------------------


def test_the_stack_alertmanager_config_is_current() -> None:
    """deploy/compose/alertmanager.yml is what its script renders from the catalog and staging.yaml today."""
    result = subprocess.run([sys.executable, str(RENDER_ALERTMANAGER), "--check"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_the_stack_alertmanager_config_is_stagings_paging_the_stand_in() -> None:
    """Only the PagerDuty URL differs from the committed staging alertmanager.yml."""
    def without_url(doc: dict[str, Any]) -> dict[str, Any]:
        for receiver in doc["receivers"]:
            for pd in receiver.get("pagerduty_configs", []):
                pd.pop("url", None)
        return doc

    staging = yaml.safe_load((ROOT / "monitoring" / "alertmanager" / "staging" / "alertmanager.yml").read_text())
    stack = yaml.safe_load(STACK_ALERTMANAGER.read_text())
    assert any(r.get("pagerduty_configs") for r in stack["receivers"])
    assert without_url(stack) == without_url(staging)
    assert config_mod.load(STAGING).alerts.alertmanager.pagerduty_url == ""  # staging pages PagerDuty itself


def test_promtool_checks_the_prometheus_config_as_mounted(tmp_path: Path) -> None:
    root = materialise("prometheus", tmp_path)
    result = subprocess.run(["promtool", "check", "config", str(root / "etc/prometheus/prometheus.yml")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rule files found" in result.stdout + result.stderr


def test_amtool_checks_the_alertmanager_config_as_mounted(tmp_path: Path) -> None:
    root = materialise("alertmanager", tmp_path)
    config = root / "etc/alertmanager/alertmanager.yml"
    key_file = root / "etc/alertmanager/secrets/pagerduty-routing-key"
    assert len(key_file.read_text()) == 32  # PagerDuty's key length; a dummy
    # the key file path is absolute in the config: point it at the copy for the check
    config.write_text(config.read_text().replace("/etc/alertmanager/secrets/", f"{key_file.parent}/"))
    result = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_mounted_dashboards_match_the_grafana_dashboard_schema(tmp_path: Path) -> None:
    root = materialise("grafana", tmp_path)
    validator = jsonschema.Draft7Validator(json.loads((CONTRACTS / "grafana-dashboard-schema.json").read_text()))
    dashboards = sorted((root / "var/lib/grafana/dashboards/docqet-monitor").glob("*.json"))
    assert [p.name for p in dashboards] == [f"{m.UID}.json" for m in sorted(build.MODULES, key=lambda m: m.UID)]
    for path in dashboards:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(json.loads(path.read_text()))]
        assert errors == [], path.name


# --- the PagerDuty stand-in ----------------------------------------------------------------------------------


def test_the_stand_in_records_what_would_page() -> None:
    proc = subprocess.Popen([sys.executable, str(STAND_IN), "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(re.search(r"listening on :(\d+)", proc.stdout.readline())[1])  # type: ignore[index]
        base = f"http://127.0.0.1:{port}"
        event = {"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "trigger", "dedup_key": "k1",
                 "payload": {"summary": "[staging] EcsServiceNoRunningTasks: reports", "source": "alertmanager",
                             "severity": "critical", "class": "EcsServiceNoRunningTasks"},
                 "links": [{"href": "https://runbooks.example/x", "text": "Runbook"}]}
        reply = requests.post(f"{base}/v2/enqueue", json=event, timeout=5)
        assert reply.status_code == 202 and reply.json()["status"] == "success"
        assert requests.post(f"{base}/v2/enqueue", data=b"[", timeout=5).status_code == 400
        assert requests.post(f"{base}/other", json=event, timeout=5).status_code == 404
        listed = requests.get(f"{base}/events", timeout=5).json()
        assert [(e["event_action"], e["severity"], e["summary"]) for e in listed] == [
            ("trigger", "critical", "[staging] EcsServiceNoRunningTasks: reports")]
        assert "EcsServiceNoRunningTasks: reports" in requests.get(base, timeout=5).text
        logged = json.loads(proc.stdout.readline())
        assert logged["class"] == "EcsServiceNoRunningTasks"
        assert "0123456789abcdef" not in json.dumps(logged) + json.dumps(listed)  # the routing key is not shown
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


@pytest.mark.parametrize("mutation", ["unknown-key", "bad-port"])
def test_the_compose_checks_catch_a_broken_file(mutation: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema and the host-name check fail on a broken copy (so neither passes vacuously)."""
    doc = compose()
    if mutation == "unknown-key":
        doc["services"]["prometheus"]["volumez"] = []
        broken = tmp_path / "compose.yaml"
        broken.write_text(yaml.safe_dump(doc))
        check = Path(sys.executable).parent / "check-jsonschema"
        result = subprocess.run([str(check), "--builtin-schema", "vendor.compose-spec", str(broken)],
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode != 0 and "volumez" in result.stdout
    else:
        doc["services"]["alertmanager"]["ports"] = ["9094:9094"]
        monkeypatch.setattr(sys.modules[__name__], "compose", lambda: doc)
        with pytest.raises(AssertionError, match="alertmanager does not publish port 9093"):
            test_prometheus_targets_are_services_of_the_stack()
