"""``docqet-monitor demo --stack``: the real Prometheus and Alertmanager around the demo exporter, a PagerDuty
stand-in, Grafana's provisioning; and ``--broken-service``, the demo's service that pages.

grafana-server is not installable here (no Debian or PyPI package): the end-to-end run puts a stand-in
``grafana-server`` on PATH that checks what the real one reads (home, config, provisioning) and answers
``/api/health``; the provisioning files themselves are checked against the dashboard schema.
"""

from __future__ import annotations

import configparser
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import requests
import yaml
from click.testing import CliRunner
from helpers import CONTRACTS, children, poll

from docqet_monitor import cli
from docqet_monitor.alerts import pipeline
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import ids
from docqet_monitor.dashboards import build
from docqet_monitor.demo import alerts as alerts_demo
from docqet_monitor.demo import aws as demo
from docqet_monitor.demo import stack

CLI = [sys.executable, "-m", "docqet_monitor"]
ROOT = Path(__file__).resolve().parents[1]
WAIT = 240  # seconds: generous, never a timing assertion

FAKE_GRAFANA = '''#!{python}
"""Stands in for grafana-server: checks what the real one reads, then answers /api/health until SIGTERM."""
import configparser, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

args = dict(arg.split("=", 1) for arg in sys.argv[1:])
assert (Path(args["--homepath"]) / "conf" / "defaults.ini").is_file(), args
ini = configparser.ConfigParser()
assert ini.read(args["--config"]), args
provisioning = Path(ini["paths"]["provisioning"])
assert (provisioning / "datasources" / "prometheus.yaml").is_file()
assert (provisioning / "dashboards" / "docqet-monitor.yaml").is_file()
assert Path(ini["dashboards"]["default_home_dashboard_path"]).is_file()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"database": "ok", "argv": sys.argv[1:]}}).encode()
        self.send_response(200 if self.path == "/api/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer((ini["server"]["http_addr"], int(ini["server"]["http_port"])), Handler).serve_forever()
'''


def _tools_path(tmp_path: Path, grafana: bool) -> str:
    """A PATH holding only Prometheus and Alertmanager (and the grafana-server stand-in, in a Grafana-like
    tarball layout: bin/grafana-server beside conf/defaults.ini)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for names in (("prometheus",), ("alertmanager", "prometheus-alertmanager")):
        (bin_dir / names[-1]).symlink_to(pipeline.binary(*names))
    path = [str(bin_dir)]
    if grafana:
        home = tmp_path / "grafana"
        (home / "bin").mkdir(parents=True)
        (home / "conf").mkdir()
        (home / "conf" / "defaults.ini").write_text("# Grafana's defaults\n")
        fake = home / "bin" / "grafana-server"
        fake.write_text(FAKE_GRAFANA.format(python=sys.executable))
        fake.chmod(0o755)
        path.append(str(home / "bin"))
    return os.pathsep.join(path)


def _poll(what: str, check: Any, lines: list[str]) -> Any:
    return poll(what, check, WAIT, 0.5, lines)


def test_stack_runs_the_real_pipeline_around_the_demo_until_sigterm(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PATH": _tools_path(tmp_path, grafana=True)}
    proc = subprocess.Popen([*CLI, "demo", "--stack", "--port", "0", "--out", str(tmp_path / "out")], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    arrived: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            arrived.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        urls: dict[str, str] = {}
        deadline = time.monotonic() + WAIT
        while "logs" not in urls:
            assert proc.poll() is None, "demo --stack exited early:\n" + "".join(lines)
            assert time.monotonic() < deadline, "no URLs printed:\n" + "".join(lines)
            try:
                line = arrived.get(timeout=1)
            except queue.Empty:
                continue
            key, _, value = line.strip().partition(": ")
            if key.rstrip(":") in ("metrics", "prometheus", "alertmanager", "pagerduty", "grafana", "logs"):
                urls[key.rstrip(":")] = value.split()[0]
        prometheus, standin = urls["prometheus"], urls["pagerduty"]

        def exporter_up() -> bool | None:
            result = requests.get(f"{prometheus}/api/v1/query", params={"query": 'up{job="docqet-monitor"}'},
                                  timeout=5).json()["data"]["result"]
            return True if [r["value"][1] for r in result] == ["1"] else None

        _poll("Prometheus scrapes the demo exporter (up == 1)", exporter_up, lines)
        [target] = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert target["scrapeUrl"] == urls["metrics"].replace("0.0.0.0", "127.0.0.1")
        groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        alerting = {r["name"]: r for g in groups for r in g["rules"] if r["type"] == "alerting"}
        assert {"EcsServiceTasksBelowDesired", "EcsServiceNoRunningTasks", "Watchdog"} <= set(alerting)
        assert alerting["EcsServiceNoRunningTasks"]["duration"] == 15  # every `for` at stack.FOR
        assert {r["duration"] for r in alerting.values()} == {0, 15}  # (Watchdog has none)

        def page() -> dict[str, Any] | None:
            events = requests.get(f"{standin}/events", timeout=5).json()
            return next((e for e in events if e["payload"].get("class") == "EcsServiceNoRunningTasks"
                         and e["payload"]["custom_details"].get("service") == alerts_demo.BROKEN_SERVICE), None)

        event = _poll("the broken service's page reaches the PagerDuty stand-in", page, lines)
        assert event["event_action"] == "trigger" and event["payload"]["severity"] == "critical"
        assert "routing_key" not in event  # the stand-in's listing leaves the key out
        summary = event["payload"]["summary"]
        assert summary in requests.get(standin, timeout=5).text
        # by now every rule has been evaluated past its `for`: what is pending or firing is the broken service only
        active = requests.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        others = {(a["labels"]["alertname"], a["labels"].get("service")) for a in active
                  if a["labels"]["alertname"] != "Watchdog"
                  and a["labels"].get("service") != alerts_demo.BROKEN_SERVICE}
        assert others == set(), "the demo's healthy resources alert"
        _poll("the page printed", lambda: any(
            line.strip() == f"PagerDuty stand-in: trigger critical {summary}" for line in lines) or None, lines)
        assert requests.get(f"{urls['alertmanager']}/-/ready", timeout=5).status_code == 200

        # Grafana (the stand-in binary) runs with the stack's Prometheus and the demo's dashboards provisioned
        assert requests.get(f"{urls['grafana']}/api/health", timeout=5).json()["database"] == "ok"
        provisioning = Path(urls["logs"]) / "grafana" / "provisioning"
        [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
        assert source["url"] == prometheus
        [provider] = yaml.safe_load((provisioning / "dashboards" / "docqet-monitor.yaml").read_text())["providers"]
        assert provider["options"]["path"] == str(tmp_path / "out" / "dashboards")

        processes = children(proc.pid)
        commands = " | ".join(processes.values())
        assert len(processes) == 4 and "prometheus" in commands and "alertmanager" in commands \
            and "grafana-server" in commands and "docqet_monitor.exporters.front" in commands, commands

        # a process of the stack that dies is reported; the rest keeps running
        [alertmanager] = [pid for pid, command in processes.items() if "alertmanager" in command]
        os.kill(alertmanager, signal.SIGKILL)
        _poll("the dead Alertmanager reported", lambda: any(line.startswith(
            "--stack: prometheus-alertmanager exited with code -9") for line in lines) or None, lines)
        assert exporter_up()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
    assert proc.returncode == 0, "".join(lines[-40:])
    assert [pid for pid in processes if Path(f"/proc/{pid}").exists()] == []  # every child stopped and reaped
    assert list(tmp.iterdir()) == []  # the stack's temporary directory removed
    assert "Traceback" not in "".join(lines)
    assert "run `docqet-monitor demo --stack`" not in "".join(lines)  # the hint is for the demo without it


def test_stack_without_prometheus_exits_2_before_anything_starts(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(cli.main, ["demo", "--stack", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.output.strip().endswith(
        "Error: --stack: prometheus not found on PATH; install Debian's prometheus and prometheus-alertmanager "
        "packages (`make tools`)")
    assert "AWS emulator" not in result.output and not (tmp_path / "out").exists()


def test_stack_and_once_exclude_each_other(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["demo", "--stack", "--once", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Error: --stack runs until Ctrl-C; it cannot be combined with --once" in result.output
    assert not (tmp_path / "out").exists()


def test_without_grafana_server_the_stack_says_so_in_one_line(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    said: list[str] = []
    ctx = demo.DemoContext("http://127.0.0.1:1", config_mod.Config(), echo=said.append, out_dir=tmp_path)
    with stack._grafana(ctx, "127.0.0.1", "http://127.0.0.1:9090", tmp_path / "grafana") as url:
        assert url is None
    assert said == [f"Grafana: not started (no grafana-server on PATH); install Grafana ({stack.GRAFANA_INSTALL}) "
                    f"and run again, or import the dashboards in {tmp_path / 'dashboards'} into yours"]
    assert not (tmp_path / "grafana").exists()


def test_grafana_provisioning_serves_the_built_dashboards_from_the_stack_prometheus(tmp_path: Path) -> None:
    config = config_mod.parse({"grafana": {"folder": "Demo", "folder_uid": "demo-stack"}}, "demo.yaml")
    dashboards = tmp_path / "out" / "dashboards"
    build.write(dashboards, build.build_all(config))
    workdir = tmp_path / "grafana"
    files = stack.grafana_files(workdir, "0.0.0.0", 3123, "http://127.0.0.1:9091", dashboards, config)
    assert set(files) == {"grafana.ini", "provisioning/datasources/prometheus.yaml",
                          "provisioning/dashboards/docqet-monitor.yaml"}
    ini = configparser.ConfigParser()
    ini.read_string(files["grafana.ini"])
    assert {key: Path(ini["paths"][key]) for key in ("data", "logs", "plugins", "provisioning")} == {
        "data": workdir / "data", "logs": workdir / "logs", "plugins": workdir / "plugins",
        "provisioning": workdir / "provisioning"}
    assert (ini["server"]["http_addr"], ini["server"]["http_port"]) == ("0.0.0.0", "3123")
    assert ini["auth.anonymous"]["enabled"] == "true" and ini["auth.anonymous"]["org_role"] == "Viewer"
    assert Path(ini["dashboards"]["default_home_dashboard_path"]) == dashboards / f"{ids.OVERVIEW}.json"

    [source] = yaml.safe_load(files["provisioning/datasources/prometheus.yaml"])["datasources"]
    assert (source["type"], source["url"], source["isDefault"]) == ("prometheus", "http://127.0.0.1:9091", True)
    [provider] = yaml.safe_load(files["provisioning/dashboards/docqet-monitor.yaml"])["providers"]
    assert (provider["type"], provider["folder"], provider["folderUid"]) == ("file", "Demo", "demo-stack")
    provided = sorted(Path(provider["options"]["path"]).glob("*.json"))
    assert [p.name for p in provided] == sorted(f"{m.UID}.json" for m in build.MODULES)
    validator = jsonschema.Draft7Validator(json.loads((CONTRACTS / "grafana-dashboard-schema.json").read_text()))
    for path in provided:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(json.loads(path.read_text()))]
        assert errors == [], path.name


def test_grafana_home_is_found_from_the_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    binary = tmp_path / "bin" / "grafana-server"
    binary.write_text("")
    monkeypatch.setattr(stack, "GRAFANA_PACKAGE_HOME", tmp_path / "nowhere")
    assert stack.grafana_home(str(binary)) is None
    homebrew = tmp_path / "share" / "grafana"
    (homebrew / "conf").mkdir(parents=True)
    (homebrew / "conf" / "defaults.ini").write_text("")
    assert stack.grafana_home(str(binary)) == homebrew
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "defaults.ini").write_text("")
    assert stack.grafana_home(str(binary)) == tmp_path  # a tarball's, first


def test_page_line_says_what_would_have_paged() -> None:
    body = {"routing_key": pipeline.DUMMY_ROUTING_KEY, "event_action": "trigger", "dedup_key": "k",
            "payload": {"summary": "[staging] EcsServiceNoRunningTasks: ECS service reports has no running task",
                        "severity": "critical"}}
    assert stack.page_line(body) == ("PagerDuty stand-in: trigger critical [staging] EcsServiceNoRunningTasks: "
                                     "ECS service reports has no running task")
    assert stack.page_line({"event_action": "resolve", "dedup_key": "k"}) == "PagerDuty stand-in: resolve k"


def test_the_pipeline_stand_in_lists_events_without_the_routing_key() -> None:
    received: list[dict[str, Any]] = []
    with pipeline.PagerDutySink(on_event=received.append) as sink:
        body = {"routing_key": pipeline.DUMMY_ROUTING_KEY, "event_action": "trigger", "dedup_key": "k1",
                "payload": {"summary": "<b>api</b> is down", "severity": "critical", "source": "am"}}
        assert requests.post(f"{sink.url}/v2/enqueue", json=body, timeout=5).status_code == 202
        listed = requests.get(f"{sink.url}/events", timeout=5).json()
        page = requests.get(sink.url, timeout=5).text
        assert requests.get(f"{sink.url}/other", timeout=5).status_code == 404
    assert received == [body]
    assert listed == [{k: v for k, v in body.items() if k != "routing_key"}]
    assert "What would have paged (1)" in page and "&lt;b&gt;api&lt;/b&gt; is down" in page
    assert pipeline.DUMMY_ROUTING_KEY not in page


def test_broken_service_adds_a_service_whose_tasks_never_start(moto_endpoint: str, tmp_path: Path) -> None:
    demo.seed_staging(moto_endpoint)
    said: list[str] = []
    ctx = demo.DemoContext(moto_endpoint, config_mod.Config(), echo=said.append, out_dir=tmp_path)
    alerts_demo.broken_service_step(ctx)  # not asked for: nothing added
    ecs = boto3.client("ecs", endpoint_url=moto_endpoint, region_name=demo.REGION)
    assert alerts_demo.BROKEN_SERVICE not in {a.rsplit("/", 1)[1] for a in ecs.list_services(
        cluster=demo.CLUSTER)["serviceArns"]}
    ctx.extras[alerts_demo.BROKEN_FLAG] = True
    alerts_demo.broken_service_step(ctx)
    [service] = ecs.describe_services(cluster=demo.CLUSTER, services=[alerts_demo.BROKEN_SERVICE])["services"]
    assert (service["desiredCount"], service["runningCount"]) == (2, 0)
    assert said == [f"broken service: added ECS service reports to {demo.CLUSTER} whose 2 tasks never start "
                    "(it pages: EcsServiceNoRunningTasks, EcsServiceTasksBelowDesired)"]

