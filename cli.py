"""The docqet-monitor command line: thin commands over the exporters, dashboards and alerts libraries."""

from __future__ import annotations

import dataclasses
import errno
import importlib
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

from docqet_monitor import __version__
from docqet_monitor.core import config as config_mod
from docqet_monitor.core import http, logs, outputs, secrets
from docqet_monitor.core import repository as repo_mod
from docqet_monitor.core import shard as shard_mod
from docqet_monitor.core.aws import Aws
from docqet_monitor.core.crashes import init_self_monitoring
from docqet_monitor.core.errors import FAILURE, DocqetError, RunError, UsageError
from docqet_monitor.core.stats import Stats
from docqet_monitor.demo import alerts as alerts_demo
from docqet_monitor.demo import aws as demo_mod
from docqet_monitor.demo import cost_qdrant as demo_cost_qdrant
from docqet_monitor.demo import edge as demo_edge
from docqet_monitor.demo import stack as demo_stack
from docqet_monitor.exporters import collectors as collector_registry
from docqet_monitor.exporters import limits, webconfig
from docqet_monitor.exporters.front import Front
from docqet_monitor.exporters.server import Exporter, limit_malloc_arenas, listen

log = logging.getLogger("docqet_monitor")


@dataclass
class State:
    env: str | None
    config_path: str | None
    root: str | None = None  # --root / $DOCQET_MONITOR_ROOT
    _config: config_mod.Config | None = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = self.resolve(self.env, self.config_path)
            if self._config.environment != (self.env or "development"):
                init_self_monitoring(self._config.environment)  # crash reports name the config's environment
        return self._config

    def resolve(self, env: str | None, config_path: str | None = None) -> config_mod.Config:
        """The config of ``--env NAME`` (in the monitoring repository) or ``--config PATH``; the secrets it points
        at join the redactor (whichever option chose it: the global ``--env`` or a command's own)."""
        environments = self.repository(f"--env {env}").environments if env and not config_path else None
        config = config_mod.resolve(env, config_path, environments)
        secrets.register_config(config, os.environ)
        return config

    def repository(self, needed_for: str) -> repo_mod.Repository:
        """The user's monitoring repository (--root, $DOCQET_MONITOR_ROOT, else walking up from the working
        directory); :class:`NotARepository` (exit 2) saying how to get one when there is none."""
        return repo_mod.locate(Path.cwd(), Path(self.root) if self.root else None, needed_for)

    def find_repository(self, needed_for: str) -> repo_mod.Repository | None:
        """The monitoring repository if there is one (see :meth:`repository`). A --root that is not one is an
        error (exit 2), not a reason to go on without it."""
        if self.root:
            return self.repository(needed_for)
        root = repo_mod.find_root(Path.cwd().resolve())
        return repo_mod.Repository(root) if root else None


pass_state = click.make_pass_decorator(State)
DETAILED_EXITCODE = "--detailed-exitcode"


LOG_FORMAT = "docqet_monitor.log_format"  # ctx.meta key: how the final error is written


class NonEmpty(click.ParamType):
    """A string or path parameter's own type, refusing an empty value: ``--out "$UNSET"`` would be the working
    directory, ``--web.config.file "$UNSET"`` plain HTTP without auth, ``--env "$UNSET"`` the development
    environment (an empty environment variable behind an option stays "not given", as click reads it)."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner, self.name = inner, inner.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty value is not accepted (an unset shell variable?)", param, ctx)
        converted = self.inner.convert(value, param, ctx)
        if isinstance(self.inner, click.Path) and not self.inner.file_okay and os.path.exists(converted) \
                and not os.path.isdir(converted):  # click refuses a regular file only: /dev/null, a socket, a FIFO
            self.fail(f"{click.format_filename(value)!r} is not a directory", param, ctx)
        return converted

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return self.inner.get_metavar(param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[CompletionItem]:
        return self.inner.shell_complete(ctx, param, incomplete)  # a path option completes paths


class EnvironmentName(NonEmpty):
    """``--env``: completes the names of the monitoring repository's environments (``--root``, else the nearest
    one at or above the working directory)."""

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[CompletionItem]:
        root = ctx.find_root().params.get("root")
        found = repo_mod.find_root(Path.cwd(), Path(root) if root else None)
        files = (found / repo_mod.ENVIRONMENTS).glob("*.yaml") if found else ()
        names = sorted(p.stem for p in files if re.fullmatch(config_mod.ENVIRONMENT_NAME, p.stem))
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def refuse_empty(command: click.Command) -> click.Command:
    """Make every string or path parameter of ``command`` and its subcommands a :class:`NonEmpty` one (``--env``
    an :class:`EnvironmentName`)."""
    for param in command.params:
        if isinstance(param.type, click.types.StringParamType | click.Path):
            param.type = (EnvironmentName if param.name == "env" else NonEmpty)(param.type)
    for sub in getattr(command, "commands", {}).values():
        refuse_empty(sub)
    return command


class LazyGroup(click.Group):
    """A group whose commands named in ``lazy`` (name -> ``module:attribute``) are imported when one of them is run
    or listed (``--help``): ``exporter serve`` loads neither grafanalib nor Sentry's SDK nor the sync code."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            self.add_command(refuse_empty(getattr(importlib.import_module(module), attribute)), cmd_name)
        return super().get_command(ctx, cmd_name)


class Cli(LazyGroup):
    """The one place errors become output: a :class:`DocqetError` is ``Error: <message>`` on stderr and its exit
    code (2 usage/config/missing settings, 1 run time); with --detailed-exitcode every error exits 1 (2 means
    "changes" there)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[DETAILED_EXITCODE] = DETAILED_EXITCODE in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DocqetError as exc:
            config = isinstance(exc, config_mod.ConfigError)
            error = click.ClickException(f"invalid configuration: {exc}" if config else str(exc))
            error.exit_code = exc.exit_code
        except click.ClickException as exc:  # click's own usage errors (exit 2)
            error = exc
        if ctx.meta.get(DETAILED_EXITCODE):
            error.exit_code = FAILURE
        error.message = secrets.redact(error.message)  # the error edge: no secret the process knows
        if ctx.meta.get(LOG_FORMAT) == "json":  # every stderr line one JSON object, the final error too
            log.error("Error: %s", error.format_message(), extra={"exit_code": error.exit_code})
            raise click.exceptions.Exit(error.exit_code) from None
        raise error from None


ALERTS_COMMANDS = "docqet_monitor.alerts.commands"


@click.group(cls=Cli, lazy={"dashboards": "docqet_monitor.dashboards.commands:dashboards",
                            "sync": f"{ALERTS_COMMANDS}:sync_command",
                            "iam-policy": f"{ALERTS_COMMANDS}:iam_policy_command",
                            "prometheus-config": f"{ALERTS_COMMANDS}:prometheus_config_command"},
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--env", "env", metavar="NAME",
              help="Environment: reads monitoring/environments/NAME.yaml of the monitoring repository.")
@click.option("--config", "config_path", metavar="PATH", envvar=config_mod.CONFIG_ENV_VAR,
              type=click.Path(dir_okay=False),
              help=f"Config file (also ${config_mod.CONFIG_ENV_VAR}). Without either: built-in defaults.")
@click.option("--root", "root", metavar="DIR", envvar=repo_mod.ROOT_ENV_VAR, type=click.Path(file_okay=False),
              help=f"The monitoring repository (also ${repo_mod.ROOT_ENV_VAR}) [default: the nearest directory "
                   "at or above the working directory holding monitoring/environments/].")
@click.option("-v", "--verbose", count=True,
              help="More log output: -v debug, -vv also every AWS/HTTP request [default: info events].")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log line format on stderr; json for structured logs.")
@click.version_option(__version__, prog_name="docqet-monitor")
@click.pass_context
def main(ctx: click.Context, env: str | None, config_path: str | None, root: str | None, verbose: int,
         log_format: str) -> None:
    """Observability and alerting for Docqet's AWS platform: exporters, dashboards and alerts as code."""
    secrets.register_environment(os.environ)
    logs.setup(verbose, log_format)
    ctx.meta[LOG_FORMAT] = log_format
    if env and ctx.get_parameter_source("config_path") is click.core.ParameterSource.ENVIRONMENT:
        config_path = None  # an explicit --env beats $DOCQET_MONITOR_CONFIG
    init_self_monitoring(env or "development")  # the tool's crashes go to Sentry when $SENTRY_DSN is set
    ctx.obj = State(env, config_path, root)


@main.command()
@click.option("--env", "env", metavar="NAME", help="Environment [default: the global --env/--config].")
@click.option("--strict", is_flag=True, help="Paging gaps (what would reach no one) are errors, not warnings.")
@pass_state
def validate(state: State, env: str | None, strict: bool) -> None:
    """Check the configuration and everything built from it as code; exit 1 naming every problem.

    Alerts: the catalog lint, promtool/amtool on a fresh render. Runbooks (when monitoring/runbooks/ exists):
    a page per alert, an alert per page, the five sections. Dashboards: every query reads exported metrics (or
    recording rules), every variable used is defined. In a monitoring repository: the generated files under
    its monitoring/ are what the code builds. Paging readiness: what would reach no one (warnings; errors with
    --strict). No network.
    """
    from docqet_monitor.alerts import catalog

    config = state.resolve(env) if env else state.config
    repository = state.find_repository("validate")
    catalog.rules(config)  # alerts.thresholds / alerts.disabled name real alerts and keys
    config_mod.resolve_listen_address(config)  # exporter.address: known now, not when serving
    config_mod.regions(config)  # with no regions in the file: $AWS_REGION's, in the partition of its role ARNs
    click.echo(f"{config.source}: configuration is valid (environment {config.environment}).")
    findings = (_validate_alerts(config) + _validate_runbooks(repository, config) + _validate_dashboards(config)
                + _validate_committed(repository) + _validate_paging(config, strict))
    for finding in findings:
        logs.note(finding, logging.ERROR)
    if findings:
        raise RunError(f"{len(findings)} problem(s)")


def _validate_paging(config: config_mod.Config, strict: bool) -> list[str]:
    """What would reach no one: printed as warnings, returned as findings only with ``strict``."""
    from docqet_monitor.alerts import catalog, readiness

    gaps = readiness.gaps(config, catalog.rules(config), os.environ)
    if not gaps:
        click.echo(f"paging: every alert of {config.environment} reaches someone.")
    elif not strict:
        for gap in gaps:
            logs.note(f"warning: paging: {gap}", logging.WARNING)
    return [f"paging: {gap}" for gap in gaps] if strict else []


def _validate_alerts(config: config_mod.Config) -> list[str]:
    """Catalog lint, then promtool/amtool on a fresh render (a finding when a tool is missing)."""
    from docqet_monitor.alerts import render as alerts_render

    findings = alerts_render.lint_findings(config, collector_registry.exported_metric_names())
    try:
        findings += alerts_render.check_with_tools(config)
    except alerts_render.ToolMissing as exc:
        findings.append(f"cannot check the rendered files: {exc}")
    if not findings:
        click.echo("alerts: catalog lint clean; promtool check rules/config and amtool check-config passed.")
    return [f"alerts: {finding}" for finding in findings]


def _validate_runbooks(repository: repo_mod.Repository | None, config: config_mod.Config) -> list[str]:
    """Every alert has its page under monitoring/runbooks/ of the monitoring repository and every page an alert
    (skipped without the folder)."""
    from docqet_monitor.alerts import catalog, runbooks

    directory = repository.monitoring / "runbooks" if repository else None
    if directory is None or not directory.is_dir():
        why = f"{directory} does not exist" if directory else "not in a monitoring repository"
        click.echo(f"runbooks: skipped ({why}; runbook_url links to {config.alerts.runbook_base_url}).")
        return []
    where = "monitoring/runbooks"
    findings = runbooks.lint(catalog.defaults(config), directory, where)
    if not findings:
        click.echo(f"runbooks: every alert has its page under {where}/, each with the five sections.")
    return [f"runbooks: {finding}" for finding in findings]


def _validate_dashboards(config: config_mod.Config) -> list[str]:
    """The dashboards built for ``config``: queries read known series, variables are defined."""
    from docqet_monitor.alerts.lint import known_series
    from docqet_monitor.dashboards import build, lint

    models = build.build_all(config)
    findings = lint.lint(models, known_series(collector_registry.exported_metric_names()))
    if not findings:
        click.echo(f"dashboards: {len(models)} built; every query reads exported metrics or recording rules, "
                   "every variable is defined.")
    return [f"dashboards: {finding}" for finding in findings]


def _validate_committed(repository: repo_mod.Repository | None) -> list[str]:
    """Generated files of the monitoring repository that differ from what the code builds (none: skipped)."""
    from docqet_monitor.alerts import render as alerts_render
    from docqet_monitor.dashboards import build

    if repository is None:
        click.echo("committed files: skipped (not in a monitoring repository).")
        return []
    root = repository.monitoring
    findings = [f"{change.path.relative_to(repository.root)}: {change.change}; run `docqet-monitor dashboards "
                "build`" for change in build.compare(repository.dashboards, build.build_all())]
    findings += [f"{root.name}/{rel}: stale; run `docqet-monitor alerts render`" for rel in
                 alerts_render.stale(alerts_render.committed_files(repository.environments), root)]
    if not findings:
        click.echo(f"committed files: the dashboards, rules and configs under {root} are up to date.")
    return [f"committed files: {finding}" for finding in findings]


# --- alerts -----------------------------------------------------------------------------------


@main.group(cls=LazyGroup, lazy={"plan": f"{ALERTS_COMMANDS}:plan_command",
                                "apply": f"{ALERTS_COMMANDS}:apply_command",
                                "test-page": f"{ALERTS_COMMANDS}:test_page_command"})
def alerts() -> None:
    """Alerts as code: one catalog rendered to Prometheus rules and Alertmanager config, synced to CloudWatch/Sentry."""


@alerts.command("render")
@click.option("--env", "env", metavar="NAME",
              help="Only this environment [default: the global --env/--config, else every environment].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory [default: monitoring/ of the monitoring repository, the committed files].")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files under the output are stale.")
@click.option("--allow-secret-in-worktree", is_flag=True,
              help="Write a routing key from $PAGERDUTY_ROUTING_KEY inline even when --out is inside a git work tree.")
@pass_state
def alerts_render(state: State, env: str | None, out: Path | None, check: bool,
                  allow_secret_in_worktree: bool) -> None:
    """Write Prometheus rule files, prometheus.yml and alertmanager.yml (see README "Alerts").

    A PagerDuty routing key from $PAGERDUTY_ROUTING_KEY is used only for one environment rendered with --out
    outside the repository (where it could be committed); the committed files use routing_key_file. The file
    holding the key is created mode 0600; inside any other git work tree only with --allow-secret-in-worktree.
    """
    from docqet_monitor.alerts import alertmanager
    from docqet_monitor.alerts import render as render_mod

    repository: repo_mod.Repository | None
    if out is None:
        repository = state.repository("alerts render")
        target = repository.monitoring
    else:
        repository, target = state.find_repository("alerts render"), out
    in_repository = repository is not None and target.resolve().is_relative_to(repository.root)
    if env or state.env or state.config_path:
        config = state.resolve(env) if env else state.config
        key = None if in_repository else alertmanager.routing_key_from_env(config, os.environ)
        work_tree = outputs.git_work_tree(target) if key and not check else None
        if work_tree and not allow_secret_in_worktree:
            raise UsageError(
                f"--out {target} is inside the git work tree {work_tree}: the PagerDuty routing key from "
                f"${config.alerts.alertmanager.pagerduty_routing_key_env} would be written there in plain text "
                "and could be committed. Write outside it, configure alerts.alertmanager."
                "pagerduty_routing_key_file, or pass --allow-secret-in-worktree; nothing was written")
        files = {**render_mod.shared_files(), **render_mod.environment_files(config, key)}
    else:
        environments = (repository or state.repository("alerts render (every environment)")).environments
        files = render_mod.committed_files(environments)
    if check:
        stale = render_mod.stale(files, target)
        if stale:
            raise RunError(f"{len(stale)} generated file(s) under {target} are stale: {', '.join(stale)}; "
                           "run `docqet-monitor alerts render`")
        click.echo(f"{len(files)} generated file(s) under {target} are up to date.")
        return
    try:
        written = render_mod.write(files, target)
    except OSError as exc:  # outputs.OutsideOutput (a path leaving --out) is a UsageError of its own
        raise RunError(f"cannot write the rendered files to {target}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(f"wrote {path}")


# --- exporter ---------------------------------------------------------------------------------


@main.group()
def exporter() -> None:
    """The Prometheus exporter (ECS, RDS/Aurora, Qdrant, cost)."""


def _shard_option(value: str | None) -> str | None:
    """``--shard K/N``, checked (exit 2 naming the option)."""
    if value is not None and not shard_mod.valid(value):
        raise click.BadParameter(f"expected {shard_mod.EXPECTED}, got {value!r}", param_hint="'--shard'")
    return value


SHARD_OPTION = click.option(
    "--shard", metavar="K/N", default=None, callback=lambda ctx, param, value: _shard_option(value),
    help="Be shard K of N exporters splitting the work (stable hash of account/region/resource; cost and global "
         "data on shard 1) [default: exporter.shard, none].")


def _with_shard(config: config_mod.Config, shard: str | None) -> config_mod.Config:
    if shard is None:
        return config
    return dataclasses.replace(config, exporter=dataclasses.replace(config.exporter, shard=shard))


def _build_exporter(config: config_mod.Config) -> Exporter:
    """The exporter of ``config``; from now on the process's threads share two malloc arenas
    (:func:`~docqet_monitor.exporters.server.limit_malloc_arenas`)."""
    limit_malloc_arenas()
    stats = Stats(version=__version__, shard=shard_mod.Shard.parse(config.exporter.shard).label)
    aws = Aws(settings=config.aws, stats=stats)
    aws.client("sts", config_mod.regions(config)[0])  # the AWS settings make a client (AwsSettingsError: exit 2)
    return Exporter(collector_registry.build(config, aws), stats)  # a bad $QDRANT_URL: ConfigError


@exporter.command("serve")
@click.option("--address", default=None, help="Address to listen on [default: exporter.address, 0.0.0.0].")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help=f"Port to listen on [default: exporter.port, {config_mod.DEFAULT_PORT}].")
@click.option("--web.config.file", "web_config_file", metavar="FILE", type=click.Path(dir_okay=False), default=None,
              help="TLS and basic auth, in the web configuration format of Prometheus's exporters "
                   "(tls_server_config, basic_auth_users with bcrypt hashes) [default: plain HTTP, no auth].")
@SHARD_OPTION
@pass_state
def exporter_serve(state: State, address: str | None, port: int | None, web_config_file: str | None,
                   shard: str | None) -> None:
    """Serve /metrics, /healthz and /readyz; collectors refresh in the background."""
    web = webconfig.load(web_config_file) if web_config_file else None  # WebConfigError: exit 2
    config = _with_shard(state.config, shard)
    exp = _build_exporter(config)
    _serve_until_signal(exp, address or config.exporter.address, config.exporter.port if port is None else port,
                        lambda url: log.info("listening on %s/metrics", url), web)


def _serve_until_signal(exp: Exporter, address: str, port: int, announce: Callable[[str], None],
                        web: webconfig.WebConfig | None = None,
                        around: Callable[[str], AbstractContextManager[object]] | None = None) -> None:
    """Serve, refreshing in the background, until SIGTERM/SIGINT; ``announce(base_url)`` once listening;
    ``around(base_url)``: a context entered then and left on the signal, before the server stops (demo --stack).

    This process binds the port; its HTTP front process (exporters/front.py) serves it, so that scrapes never
    wait for the collectors' CPU work. RunError (exit 1) when the front exits on its own."""
    stop = _stop_on_signals()  # before the port opens: a signal right after is not missed
    try:
        sock = listen(address, port)
    except OSError as exc:
        problem = f"cannot listen on {address}:{port}: {exc.strerror or exc}"
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:  # not an address of this machine
            raise UsageError(f"{problem} (--address / exporter.address: a name or IP address of this machine, or "
                             "0.0.0.0 for all of IPv4, :: for IPv6 and IPv4)") from None
        raise RunError(problem) from None
    host, bound = sock.getsockname()[:2]
    front = Front(exp, sock, web, on_exit=stop.set)
    with sock:  # the front's from now on
        front.start()
    exp.stats.watch_processes({"exporter": os.getpid(), "front": front.pid})
    container = limits.read()
    exp.stats.cpu_limit, exp.stats.memory_limit = container.cpu_cores, container.memory_bytes
    url = f"{'https' if web and web.tls else 'http'}://{f'[{host}]' if ':' in host else host}:{bound}"
    announce(url)
    exp.start()
    try:
        with around(url) if around else nullcontext():
            stop.wait()
    finally:
        log.info("stopping")
        front.stop()  # the port closes now
        http.abort_all()  # requests in flight (Qdrant, a slow server) end now, not at their deadline
        exp.stop(timeout=2.0)
        http.abort_all()  # and any a collector started meanwhile
    _exit_if_stuck(FAILURE if front.failure else 0)
    if front.failure:
        raise RunError(f"the HTTP server process exited unexpectedly ({front.failure}); the exporter stopped")


def _exit_if_stuck(exit_code: int = 0, grace_seconds: float = 1.0) -> None:
    """Exit now (with ``exit_code``) when a worker thread (a collector's pool, stuck in a client call) would hold
    the interpreter's exit: SIGTERM stops the exporter within seconds whatever its clients are doing."""
    deadline = time.monotonic() + grace_seconds
    stuck = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    for thread in stuck:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in stuck if t.is_alive()]
    if stuck:
        log.warning("exiting with %d worker thread(s) still busy: %s", len(stuck), ", ".join(stuck[:5]))
        logging.shutdown()
        sys.stdout.flush()
        os._exit(exit_code)


def _stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@exporter.command("once")
@SHARD_OPTION
@pass_state
def exporter_once(state: State, shard: str | None) -> None:
    """Run every collector once and print the exposition to stdout (exit 1 if a collector failed)."""
    _print_once(_build_exporter(_with_shard(state.config, shard)))


def _print_once(exp: Exporter) -> None:
    """One refresh of every collector, the exposition on stdout; RunError when one failed."""
    results = exp.refresh_all()
    sys.stdout.buffer.write(exp.snapshot().body)
    sys.stdout.flush()
    failed = sorted(name for name, ok in results.items() if not ok)
    if failed:
        raise RunError(f"collector(s) failed: {', '.join(failed)} (run with -v for details)")


# --- init -------------------------------------------------------------------------------------


@main.command("init")
@click.argument("directory", metavar="[DIR]", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite example files DIR already has (environments, provisioning).")
def init_command(directory: Path, force: bool) -> None:
    """Create a monitoring repository in DIR (default: here): example environment files and Grafana
    provisioning, the dashboards built and the rules rendered from them; then prints the next steps."""
    from docqet_monitor.alerts import render as render_mod
    from docqet_monitor.dashboards import build

    repository = repo_mod.Repository(directory)
    examples = repo_mod.example_files()
    existing = [rel for rel in examples if (directory / rel).exists()]
    if existing and not force:
        raise UsageError(f"{directory} already has {', '.join(existing)}; nothing was written. Keep your files "
                         "(rebuild with `docqet-monitor dashboards build` and `docqet-monitor alerts render`) or "
                         "replace them with the examples: `docqet-monitor init --force`")
    # everything is built before anything is written: a bad existing environment file writes nothing
    configs = {rel: config_mod.loads(text, str(directory / rel)) for rel, text in examples.items()
               if Path(rel).parent == repo_mod.ENVIRONMENTS}
    configs |= {str(path.relative_to(directory)): config_mod.load(path)
                for path in sorted(repository.environments.glob("*.yaml"))
                if str(path.relative_to(directory)) not in configs}
    rules = render_mod.repository_files(configs[rel] for rel in sorted(configs))
    models = build.build_all()
    try:
        for rel, text in examples.items():
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            (directory / rel).write_text(text, encoding="utf-8")
        build.write(repository.dashboards, models)
        render_mod.write(rules, repository.monitoring)
    except OSError as exc:
        raise click.ClickException(f"cannot write the monitoring repository in {directory}: "
                                   f"{exc.strerror or exc}") from None
    where = "" if directory == Path() else f"cd {directory} && "
    steps = ((f"{where}git init && git add monitoring", "keep it under version control"),
             ("docqet-monitor --env staging validate", "after each edit of an environment file"),
             ("docqet-monitor dashboards build && docqet-monitor alerts render", "then rebuild the generated files"),
             ("docqet-monitor --env staging exporter serve", "the exporter (AWS credentials needed)"),
             ("docqet-monitor --env staging sync --dry-run", "what sync would change (Grafana, AWS, Sentry)"))
    width = max(len(command) for command, _ in steps)
    next_steps = "\n".join(f"  {command:<{width}}  # {why}" for command, why in steps)
    click.echo(f"""Created a monitoring repository in {directory.resolve()}:
  monitoring/environments/      development, staging, production settings: edit them (docs: configuration)
  monitoring/grafana/           {len(models)} dashboards (JSON) and Grafana provisioning examples
  monitoring/prometheus/        prometheus.yml and every environment's rules
  monitoring/alertmanager/      every environment's alertmanager.yml

Next steps:
{next_steps}
Commands find this repository from any directory inside it (or give --root DIR).""")


# --- demo -------------------------------------------------------------------------------------


def demo_steps() -> list[demo_mod.Step]:
    """The demo's steps, in order; each feature keeps its step in its own package and appends it here."""
    from docqet_monitor.demo.dashboards import dashboards_step
    from docqet_monitor.demo.sync import sync_step

    return [demo_mod.seed_aws_step, demo_edge.edge_step, demo_cost_qdrant.cost_step, demo_cost_qdrant.qdrant_step,
            dashboards_step, alerts_demo.broken_service_step, alerts_demo.render_step, alerts_demo.pipeline_step,
            sync_step]


@main.command()
@click.option("--once", is_flag=True, help="Print one exposition and exit instead of serving.")
@click.option("--alerts-pipeline", is_flag=True,
              help="Also run Prometheus and Alertmanager on the rendered rules until a page reaches a local "
                   "PagerDuty stand-in (needs prometheus and alertmanager on PATH).")
@click.option("--broken-service", is_flag=True,
              help=f"Add an ECS service `{alerts_demo.BROKEN_SERVICE}` whose tasks never start, so that something "
                   "pages (implied by --alerts-pipeline and --stack; compose.yaml's demo uses it).")
@click.option("--stack", is_flag=True,
              help="Also run Prometheus (the rendered rules), Alertmanager, a PagerDuty stand-in and, when "
                   "grafana-server is on PATH, Grafana around the exporter until Ctrl-C; prints their URLs and "
                   "each page (needs prometheus and alertmanager on PATH).")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address for /metrics (with --stack: for every service of the stack); 0.0.0.0 in a container "
                   "(compose.yaml).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help=f"Port for /metrics [default: exporter.port, {config_mod.DEFAULT_PORT}; 0: any free].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=demo_mod.DEFAULT_OUT,
              show_default=True,
              help="Where the demo writes dashboards, rules and its cost cache; emptied at the start of each run.")
@pass_state
def demo(state: State, once: bool, alerts_pipeline: bool, broken_service: bool, stack: bool, address: str,
         port: int | None, out: Path) -> None:
    """Run everything against moto's AWS emulator on 127.0.0.1, seeded with a Docqet staging environment.

    Without --env/--config the staging settings are used (the monitoring repository's staging.yaml, else the
    packaged example); regions and accounts are always the demo's. Needs the `demo` extra.
    """
    from docqet_monitor.alerts import catalog
    from docqet_monitor.exporters import qdrant

    demo_mod.require_moto()  # without the demo extra: say how to install it (exit 2)
    if stack and once:
        raise UsageError("--stack runs until Ctrl-C; it cannot be combined with --once")
    if stack:
        demo_stack.check_tools()  # exit 2 before anything starts
    base = state.config if state.env or state.config_path else _demo_staging(state)
    config = dataclasses.replace(base, regions=(demo_mod.REGION, demo_mod.DR_REGION), accounts=())
    listen = config.exporter.port if port is None else port
    catalog.rules(config)  # config errors beyond the file's own checks, before anything starts
    if config.collectors.qdrant.enabled:
        qdrant.nodes_from(config.collectors.qdrant)
    problem = None if once else demo_mod.port_problem(address, listen)
    if problem:  # refused before anything is seeded or the output directory emptied
        raise UsageError(f"port {listen} on {address} is not available ({problem}); the demo did not start: stop "
                         "what listens there or choose another port with --port (0: any free port)")
    out_dir = demo_mod.prepare_out(out)
    with demo_mod.moto_server() as endpoint, demo_mod.aws_environment(endpoint):
        logs.note(f"AWS emulator (moto) on {endpoint}")
        ctx = demo_mod.DemoContext(endpoint, config, echo=logs.note, out_dir=out_dir)  # JSON under --log-format json
        ctx.extras[alerts_demo.PIPELINE_FLAG] = alerts_pipeline
        ctx.extras[alerts_demo.BROKEN_FLAG] = broken_service or alerts_pipeline or stack
        ctx.extras[alerts_demo.STACK_FLAG] = stack
        demo_mod.run_steps(ctx, demo_steps())
        exp = _build_exporter(ctx.config)
        if once:
            logs.note(f"demo output (kept until the next run): {out_dir}")
            _print_once(exp)
        else:
            _serve_until_signal(exp, address, listen, lambda url: _announce_demo(url, out_dir),
                                around=(lambda url: demo_stack.run(ctx, url, address)) if stack else None)


def _demo_staging(state: State) -> config_mod.Config:
    """The monitoring repository's staging settings, else the staging example shipped in the package."""
    repository = state.find_repository("demo")
    if repository and repository.environment("staging").is_file():
        return state.resolve("staging")
    rel = (repo_mod.ENVIRONMENTS / "staging.yaml").as_posix()
    return config_mod.loads(repo_mod.example_files()[rel], f"{rel} (the example in the docqet_monitor package)")


def _announce_demo(url: str, out_dir: Path) -> None:
    logs.note(f"""
docqet-monitor demo is running against the emulator (Ctrl-C to stop).
  metrics:   {url}/metrics
  readiness: {url}/readyz
  try:       curl -s {url}/metrics | grep docqet_ecs_service_running_tasks
  output:    {out_dir} (dashboards, rendered rules; kept until the next run)
""")


refuse_empty(main)  # the commands defined here; the lazy ones as they are loaded

if __name__ == "__main__":
    main()
