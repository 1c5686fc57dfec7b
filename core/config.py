"""Configuration: one YAML file per environment, validated once into typed, frozen dataclasses.

No other module sees raw YAML. Every section has defaults, so the tool runs with no file at all.
Validation is driven by the dataclass field types; a field's ``metadata["check"]`` is a
``(predicate, "what is expected")`` pair for value checks beyond the type.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from docqet_monitor.core.errors import UsageError

ENVIRONMENTS_DIR = Path(__file__).resolve().parent.parent / "monitoring" / "environments"
CONFIG_ENV_VAR = "DOCQET_MONITOR_CONFIG"
DEFAULT_PORT = 19842


class ConfigError(UsageError):
    """A configuration problem, naming the file, the key path and what was expected (exit 2)."""

    def __init__(self, source: str, path: str, message: str, line: int | None = None) -> None:
        self.source, self.path, self.message, self.line = source, path, message, line
        where = source + (f", line {line}" if line else "") + (f": {path}" if path else "")
        super().__init__(f"{where}: {message}")


def check(predicate: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    """Field metadata for a value check: ``field(default=..., metadata=check(lambda v: v > 0, "> 0"))``."""
    return {"check": (predicate, expected)}


def _positive(expected: str = "a number > 0") -> dict[str, Any]:
    return check(lambda v: v > 0, expected)


# --- exporter ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountConfig:
    """An AWS account reached by assuming an IAM role."""

    role_arn: str = field(metadata=check(lambda v: v.startswith("arn:"), "an IAM role ARN (arn:...)"))
    name: str = ""
    regions: tuple[str, ...] = ()  # empty: the top-level regions
    external_id: str = ""


@dataclass(frozen=True)
class AwsConfig:
    max_concurrency: int = field(default=5, metadata=_positive("an integer >= 1"))
    max_attempts: int = field(default=5, metadata=_positive("an integer >= 1"))
    connect_timeout_seconds: float = field(default=5.0, metadata=_positive())
    read_timeout_seconds: float = field(default=30.0, metadata=_positive())


@dataclass(frozen=True)
class CloudWatchConfig:
    """How metrics are read from CloudWatch with GetMetricData."""

    period_seconds: int = field(default=60, metadata=check(lambda v: v >= 60 and v % 60 == 0,
                                                             "a multiple of 60 seconds"))
    delay_seconds: int = field(default=120, metadata=check(lambda v: v >= 0, "seconds >= 0"))
    lookback_periods: int = field(default=5, metadata=_positive("an integer >= 1"))


@dataclass(frozen=True)
class AwsCollectorConfig:
    """An AWS collector (ECS, RDS). Empty ``clusters`` means: discover everything."""

    enabled: bool = True
    interval_seconds: float = field(default=60.0, metadata=check(lambda v: v >= 10, "seconds >= 10"))
    clusters: tuple[str, ...] = ()


@dataclass(frozen=True)
class QdrantNodeConfig:
    name: str
    url: str = field(metadata=check(lambda v: v.startswith(("http://", "https://")), "an http(s) URL"))
    api_key_env: str = ""  # name of the environment variable holding the API key
    verify_tls: bool = True
    timeout_seconds: float = field(default=5.0, metadata=_positive())


@dataclass(frozen=True)
class QdrantCollectorConfig:
    enabled: bool = True
    interval_seconds: float = field(default=60.0, metadata=check(lambda v: v >= 10, "seconds >= 10"))
    max_concurrency: int = field(default=8, metadata=_positive("an integer >= 1"))
    nodes: tuple[QdrantNodeConfig, ...] = ()


@dataclass(frozen=True)
class CostCollectorConfig:
    enabled: bool = True
    interval_seconds: float = field(default=21600.0, metadata=check(
        lambda v: v >= 3600, "seconds >= 3600 (Cost Explorer costs $0.01 a request)"))
    cache_path: str = ".cache/docqet-monitor/cost.json"
    tag_key: str = "Environment"
    monthly_budget_usd: float | None = None


@dataclass(frozen=True)
class CollectorsConfig:
    ecs: AwsCollectorConfig = AwsCollectorConfig()
    rds: AwsCollectorConfig = AwsCollectorConfig()
    qdrant: QdrantCollectorConfig = QdrantCollectorConfig()
    cost: CostCollectorConfig = CostCollectorConfig()


@dataclass(frozen=True)
class ExporterConfig:
    address: str = "0.0.0.0"
    port: int = field(default=DEFAULT_PORT, metadata=check(lambda v: 0 < v < 65536, "a TCP port 1-65535"))


# --- dashboards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrafanaConfig:
    url: str = ""  # falls back to GRAFANA_URL; the token always comes from GRAFANA_TOKEN
    folder: str = "Docqet"
    folder_uid: str = "docqet-monitor"
    timeout_seconds: float = field(default=10.0, metadata=_positive())


# --- alerts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SloConfig:
    availability_objective: float = field(default=0.999, metadata=check(
        lambda v: 0 < v < 1, "a ratio between 0 and 1 (e.g. 0.999)"))
    latency_objective: float = field(default=0.99, metadata=check(
        lambda v: 0 < v < 1, "a ratio between 0 and 1 (e.g. 0.99)"))
    latency_threshold_seconds: float = field(default=0.5, metadata=_positive())
    window_days: int = field(default=30, metadata=_positive("an integer >= 1"))


@dataclass(frozen=True)
class AlertmanagerConfig:
    pagerduty_routing_key_file: str = ""  # path on the Alertmanager host; never the key itself
    pagerduty_routing_key_env: str = "PAGERDUTY_ROUTING_KEY"  # read at render time when no file
    # warnings to a second, low-urgency PagerDuty service; empty: the same key (service on dynamic notifications)
    pagerduty_warning_routing_key_file: str = ""
    pagerduty_url: str = ""  # empty: Alertmanager's default Events API v2 URL
    notification_webhook_url: str = ""  # info alerts; never a page
    watchdog_webhook_url: str = ""  # dead man's switch
    pages_enabled: bool = True  # development pages nobody


@dataclass(frozen=True)
class AlertsConfig:
    team: str = "platform"
    # runbook_url = <base>/<rule.runbook>.md; default: the runbooks this repository ships
    runbook_base_url: str = "https://github.com/docqet/docqet-monitor/blob/main/monitoring/runbooks"
    # {AlertName: {threshold_name: value}} overrides of the catalog defaults
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    slo: SloConfig = SloConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()


@dataclass(frozen=True)
class CloudWatchAlarmsConfig:
    # severity -> SNS topic ARN(s), comma-separated (subscribed to PagerDuty); "{region}" becomes the alarm's region
    sns_topics: Mapping[str, str] = field(default_factory=dict)
    composite_alarms: bool = True  # one composite per service and severity; off where the API lacks them (moto)


@dataclass(frozen=True)
class SentryConfig:
    url: str = ""  # falls back to SENTRY_URL, then https://sentry.io
    organization: str = ""  # falls back to SENTRY_ORG
    projects: tuple[str, ...] = ()  # falls back to SENTRY_PROJECTS (comma-separated)
    api: Literal["workflows", "legacy"] = "workflows"
    owner_team: str = ""
    pagerduty_integration_id: str = ""
    pagerduty_services: Mapping[str, str] = field(default_factory=dict)  # severity -> PD service id
    email_target: str = ""  # info alerts go to email


# --- the whole file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    environment: str = "development"
    regions: tuple[str, ...] = ()  # empty: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1
    accounts: tuple[AccountConfig, ...] = ()
    aws: AwsConfig = AwsConfig()
    cloudwatch: CloudWatchConfig = CloudWatchConfig()
    exporter: ExporterConfig = ExporterConfig()
    collectors: CollectorsConfig = CollectorsConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    alerts: AlertsConfig = AlertsConfig()
    cloudwatch_alarms: CloudWatchAlarmsConfig = CloudWatchAlarmsConfig()
    sentry: SentryConfig = SentryConfig()
    source: str = field(default="<defaults>", metadata={"internal": True})


# --- loading ----------------------------------------------------------------------------------


def _plural(name: str) -> str:
    return name.split(" ", 1)[1] + "s" if name.startswith(("a ", "an ")) else name


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (tuple, list):
        return f"a list of {_plural(_type_name(typing.get_args(tp)[0]))}"
    if origin in (dict, Mapping, typing.Mapping):
        return f"a mapping of names to {_plural(_type_name(typing.get_args(tp)[1]))}"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, source: str, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(args[0], value, source, path)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(source, path, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, source, path)
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(source, path, f"expected {_type_name(tp)}, got {type(value).__name__}")
        item = typing.get_args(tp)[0]
        return tuple(_convert(item, v, source, f"{path}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping, typing.Mapping):
        if not isinstance(value, dict):
            raise ConfigError(source, path, f"expected {_type_name(tp)}, got {type(value).__name__}")
        key_t, val_t = typing.get_args(tp)
        return {_convert(key_t, str(k), source, path): _convert(val_t, v, source, f"{path}.{k}")
                for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # account ids and the like
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(source, path, f"expected {_type_name(tp)}, got {value!r}")
    return value


def _build(cls: Any, data: Any, source: str, path: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, path, f"expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        key = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(source, key, f"unknown key; expected one of: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{path}.{name}" if path else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(source, key, f"required key is missing ({_type_name(hints[name])})")
            continue
        value = _convert(hints[name], data[name], source, key)
        predicate, expected = f.metadata.get("check", (None, ""))
        if predicate is not None and value is not None and not predicate(value):
            raise ConfigError(source, key, f"expected {expected}, got {data[name]!r}")
        kwargs[name] = value
    return cls(**kwargs)


def parse(data: Any, source: str = "<config>") -> Config:
    """Validate already-parsed YAML data into a :class:`Config`."""
    config = _build(Config, data, source, "")
    return dataclasses.replace(config, source=source)


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate one config file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(source, "", f"invalid YAML: {exc.problem or exc}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"invalid YAML: {exc}") from None
    return parse(data, source)


def environment_path(env: str) -> Path:
    return ENVIRONMENTS_DIR / f"{env}.yaml"


def resolve(env: str | None = None, path: str | None = None) -> Config:
    """The config chosen by ``--config``, ``--env``, ``$DOCQET_MONITOR_CONFIG``, else the defaults."""
    if path and env:
        raise ConfigError("<command line>", "", "give either --env or --config, not both")
    if env:
        file = environment_path(env)
        if not file.exists():
            known = ", ".join(sorted(p.stem for p in ENVIRONMENTS_DIR.glob("*.yaml")))
            raise ConfigError("<command line>", "--env", f"unknown environment {env!r}; expected one of: {known}")
        return load(file)
    path = path or os.environ.get(CONFIG_ENV_VAR)
    return load(path) if path else Config()


def regions(config: Config) -> tuple[str, ...]:
    """The regions to watch: from the config, else the AWS region from the environment."""
    if config.regions:
        return config.regions
    return (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",)
