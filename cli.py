"""The docqet-monitor command line: thin commands over the exporters, dashboards and alerts libraries."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass

import click

from exporters import __version__, logs
from exporters import collectors as collector_registry
from exporters import config as config_mod
from exporters.aws import Aws
from exporters.server import Exporter, serve
from exporters.stats import Stats

log = logging.getLogger("docqet_monitor")


class ConfigUsageError(click.ClickException):
    """A bad configuration: exit 2 with the file, key path and what was expected."""

    exit_code = 2

    def __init__(self, error: config_mod.ConfigError) -> None:
        super().__init__(f"invalid configuration: {error}")


@dataclass
class State:
    env: str | None
    config_path: str | None
    _config: config_mod.Config | None = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            try:
                self._config = config_mod.resolve(self.env, self.config_path)
            except config_mod.ConfigError as exc:
                raise ConfigUsageError(exc) from None
        return self._config


pass_state = click.make_pass_decorator(State)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--env", "env", metavar="NAME",
              help="Environment: reads monitoring/environments/NAME.yaml (development, staging, production).")
@click.option("--config", "config_path", metavar="PATH", envvar=config_mod.CONFIG_ENV_VAR,
              type=click.Path(dir_okay=False),
              help=f"Config file (also ${config_mod.CONFIG_ENV_VAR}). Without either: built-in defaults.")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log line format on stderr; json for structured logs.")
@click.version_option(__version__, prog_name="docqet-monitor")
@click.pass_context
def main(ctx: click.Context, env: str | None, config_path: str | None, verbose: int, log_format: str) -> None:
    """Observability and alerting for Docqet's AWS platform: exporters, dashboards and alerts as code."""
    logs.setup(verbose, log_format)
    ctx.obj = State(env, config_path)


@main.command()
@pass_state
def validate(state: State) -> None:
    """Check the configuration (and everything built from it as code)."""
    config = state.config
    click.echo(f"{config.source}: configuration is valid (environment {config.environment}).")


# --- exporter ---------------------------------------------------------------------------------


@main.group()
def exporter() -> None:
    """The Prometheus exporter (ECS, RDS/Aurora, Qdrant, cost)."""


def _build_exporter(config: config_mod.Config) -> Exporter:
    stats = Stats(version=__version__)
    aws = Aws(settings=config.aws, stats=stats)
    return Exporter(collector_registry.build(config, aws), stats)


@exporter.command("serve")
@click.option("--address", default=None, help="Address to listen on [default: exporter.address, 0.0.0.0].")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help=f"Port to listen on [default: exporter.port, {config_mod.DEFAULT_PORT}].")
@pass_state
def exporter_serve(state: State, address: str | None, port: int | None) -> None:
    """Serve /metrics, /healthz and /readyz; collectors refresh in the background."""
    config = state.config
    exp = _build_exporter(config)
    httpd = serve(exp, address or config.exporter.address, config.exporter.port if port is None else port)
    host, bound = httpd.server_address[:2]
    log.warning("listening on http://%s:%s/metrics", host, bound)
    click.echo(f"docqet-monitor exporter listening on http://{host}:{bound}/metrics", err=True)
    _run_until_signal(exp, httpd)


def _run_until_signal(exp: Exporter, httpd: object) -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    exp.start()
    stop.wait()
    click.echo("stopping", err=True)
    httpd.shutdown()  # type: ignore[attr-defined]
    exp.stop()


@exporter.command("once")
@pass_state
def exporter_once(state: State) -> None:
    """Run every collector once and print the exposition to stdout (exit 1 if a collector failed)."""
    exp = _build_exporter(state.config)
    results = exp.refresh_all()
    sys.stdout.buffer.write(exp.snapshot().body)
    sys.stdout.flush()
    failed = sorted(name for name, ok in results.items() if not ok)
    if failed:
        raise click.ClickException(f"collector(s) failed: {', '.join(failed)} (run with -v for details)")


if __name__ == "__main__":
    main()
