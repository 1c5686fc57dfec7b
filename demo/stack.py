"""``docqet-monitor demo --stack``: the local stack of compose.yaml without containers.

Around the running demo exporter: the real Prometheus (the rendered rules, with short ``for`` durations as in
``--alerts-pipeline``) and Alertmanager, a PagerDuty stand-in (:class:`alerts.pipeline.PagerDutySink`) whose
pages are printed as they arrive, and Grafana with the data source and the demo's dashboards provisioned when a
``grafana-server`` binary is on PATH. Everything runs from a temporary directory, removed on exit.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from docqet_monitor.alerts import pipeline
from docqet_monitor.alerts.render import ToolMissing
from docqet_monitor.core import ids
from docqet_monitor.core import repository as repo_mod
from docqet_monitor.core.config import Config
from docqet_monitor.core.errors import UsageError
from docqet_monitor.demo.aws import DemoContext, DemoError

FOR = "15s"  # every rule's `for` in the stack: the broken service pages within a minute
INTERVAL = "5s"  # Prometheus's scrape and evaluation interval
GRAFANA_INSTALL = "https://grafana.com/docs/grafana/latest/setup-grafana/installation/"
GRAFANA_PACKAGE_HOME = Path("/usr/share/grafana")  # Grafana's deb and rpm packages
_PROVISIONING = Path("monitoring", "grafana", "provisioning")
DATASOURCE_FILE = (_PROVISIONING / "datasources" / "prometheus.yaml").as_posix()
PROVIDER_FILE = (_PROVISIONING / "dashboards" / "docqet-monitor.yaml").as_posix()


class StackToolMissing(UsageError):
    """prometheus or alertmanager is not on PATH: exit 2, before the demo starts."""


def check_tools() -> None:
    """:class:`StackToolMissing` unless Prometheus and Alertmanager are installed."""
    try:
        pipeline.binary("prometheus")
        pipeline.binary("alertmanager", "prometheus-alertmanager")
    except ToolMissing as exc:
        raise StackToolMissing(f"--stack: {exc}") from None


def page_line(body: dict[str, Any]) -> str:
    """One line for an Events API v2 body the stand-in received: what would have paged (or resolved)."""
    payload = body.get("payload") or {}
    parts = (body.get("event_action"), payload.get("severity"), payload.get("summary") or body.get("dedup_key"))
    return "PagerDuty stand-in: " + " ".join(str(part) for part in parts if part)


def grafana_files(workdir: Path, address: str, port: int, prometheus_url: str, dashboards_dir: Path,
                  config: Config) -> dict[str, str]:
    """``{path relative to workdir: text}``: Grafana's settings (paths under ``workdir``, anonymous viewers, the
    overview as home) and its provisioning — the packaged examples' data source pointed at ``prometheus_url`` and
    dashboard provider at ``dashboards_dir``, in ``grafana.folder``."""
    examples = repo_mod.example_files()
    datasources = yaml.safe_load(examples[DATASOURCE_FILE])
    for source in datasources["datasources"]:
        source["url"] = prometheus_url
    providers = yaml.safe_load(examples[PROVIDER_FILE])
    for provider in providers["providers"]:
        provider.update(folder=config.grafana.folder, folderUid=config.grafana.folder_uid)
        provider["options"]["path"] = str(dashboards_dir)
    ini = f"""# Grafana for `docqet-monitor demo --stack` (written at each start; removed on exit)
[paths]
data = {workdir / "data"}
logs = {workdir / "logs"}
plugins = {workdir / "plugins"}
provisioning = {workdir / "provisioning"}

[server]
http_addr = {address}
http_port = {port}

[auth.anonymous]
enabled = true
org_role = Viewer

[dashboards]
default_home_dashboard_path = {dashboards_dir / f"{ids.OVERVIEW}.json"}

[analytics]
reporting_enabled = false
check_for_updates = false
check_for_plugin_updates = false

[log]
mode = file
"""
    return {"grafana.ini": ini,
            "provisioning/datasources/prometheus.yaml": yaml.safe_dump(datasources, sort_keys=False),
            "provisioning/dashboards/docqet-monitor.yaml": yaml.safe_dump(providers, sort_keys=False)}


def grafana_home(binary: str) -> Path | None:
    """Grafana's home directory (``conf/defaults.ini``) for ``binary``: a tarball's (``bin/..``), Homebrew's
    (``bin/../share/grafana``), else the deb and rpm packages' ``/usr/share/grafana``; None when none has it."""
    prefix = Path(binary).resolve().parent.parent
    for home in (prefix, prefix / "share" / "grafana", GRAFANA_PACKAGE_HOME):
        if (home / "conf" / "defaults.ini").is_file():
            return home
    return None


def _watch(processes: list[subprocess.Popen[bytes]], stopping: threading.Event, workdir: Path,
           echo: Callable[[str], None]) -> None:
    """Say once for each process that exits before ``stopping`` is set (the rest of the stack keeps running)."""
    running = list(processes)
    while running and not stopping.wait(1.0):
        for proc in [p for p in running if p.poll() is not None]:
            running.remove(proc)
            echo(f"--stack: {Path(str(proc.args[0])).name} exited with code {proc.returncode} (its log is in "
                 f"{workdir}); the rest of the stack keeps running")


@dataclass(frozen=True)
class Grafana:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def _watching(processes: list[subprocess.Popen[bytes]], workdir: Path, echo: Callable[[str], None]) -> Iterator[None]:
    """:func:`_watch` in a thread while the context lasts (stopped before the processes are)."""
    stopping = threading.Event()
    watcher = threading.Thread(target=_watch, args=(processes, stopping, workdir, echo), name="stack-watch",
                               daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stopping.set()
        watcher.join()


@contextmanager
def _grafana(ctx: DemoContext, address: str, prometheus_url: str, workdir: Path) -> Iterator[Grafana | None]:
    """Grafana on a free port while the context lasts, or None, said in one line, without one."""
    dashboards_dir = Path(ctx.extras.get("dashboards_dir", ctx.out_dir / "dashboards"))
    binary = shutil.which("grafana-server")
    home = grafana_home(binary) if binary else None
    if binary is None or home is None:
        why = "no grafana-server on PATH" if binary is None else f"no conf/defaults.ini beside {binary}"
        ctx.echo(f"Grafana: not started ({why}); install Grafana ({GRAFANA_INSTALL}) and run again, or "
                 f"import the dashboards in {dashboards_dir} into yours")
        yield None
        return
    port = pipeline.free_port(address)
    for rel, text in grafana_files(workdir, address, port, prometheus_url, dashboards_dir, ctx.config).items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(text, encoding="utf-8")
    url = f"http://{pipeline.connect_host(address)}:{port}"
    with pipeline.process([binary, f"--homepath={home}", f"--config={workdir / 'grafana.ini'}"],
                          workdir.parent / "grafana.log", f"{url}/api/health", timeout=120) as proc:
        yield Grafana(url, proc)


@contextmanager
def run(ctx: DemoContext, exporter_url: str, address: str) -> Iterator[None]:
    """The stack around the demo exporter at ``exporter_url``, listening on ``address``, while the context lasts;
    prints its URLs, then each page as it arrives."""
    exporter = urlsplit(exporter_url)
    target = f"{pipeline.connect_host(exporter.hostname or '')}:{exporter.port}"
    with tempfile.TemporaryDirectory(prefix="docqet-monitor-stack-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        try:
            p = stack.enter_context(pipeline.run(ctx.config, target, workdir, for_=FOR, interval=INTERVAL,
                                                 address=address, on_event=lambda body: ctx.echo(page_line(body))))
            grafana = stack.enter_context(_grafana(ctx, address, p.prometheus_url, workdir / "grafana"))
        except RuntimeError as exc:  # a process did not become ready: its log's tail says why
            raise DemoError(f"--stack: {exc}") from None
        # left first (ExitStack: last in, first out): a process stopped on exit is not reported
        stack.enter_context(_watching([*p.processes, *([grafana.process] if grafana else [])], workdir, ctx.echo))
        grafana_line = f"\n  grafana:      {grafana.url}  (the dashboards in the {ctx.config.grafana.folder} " \
                       "folder; anonymous viewer, admin/admin to sign in)" if grafana else ""
        ctx.echo(f"""
docqet-monitor demo --stack is running (Ctrl-C to stop); pages are printed below as they arrive.
  prometheus:   {p.prometheus_url}  (targets, the {ctx.config.environment} rules with every 'for' at {FOR}, alerts)
  alertmanager: {p.alertmanager_url}  (what fires and where it is routed)
  pagerduty:    {p.sink.url}  (the stand-in: what would have paged; JSON at /events){grafana_line}
  logs:         {workdir} (removed on exit)
""")
        yield
