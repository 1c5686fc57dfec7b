"""Configuration: one YAML file per environment, validated once into typed, frozen dataclasses.

No other module sees raw YAML. Every section has defaults, so the tool runs with no file at all.
Validation is driven by the dataclass field types; a field's ``metadata["check"]`` is a
``(predicate, "what is expected")`` pair for value checks beyond the type, ``metadata["each"]`` the same for
every value of a mapping (of mappings), ``metadata["unique"]`` names the attributes that items of a list must not
share and ``metadata["normalize"]`` rewrites the value once it is valid. Beyond the field checks every number is
finite, every string is one line of at most :data:`MAX_STRING` characters, and the file itself is read by
:mod:`~docqet_monitor.core.yamlfile` (size cap, strict UTF-8, no aliases, no duplicate keys, nesting capped).
Messages quote at most a short prefix of a value.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import os
import re
import socket
import threading
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from docqet_monitor.core import partitions, secrets, shard, yamlfile
from docqet_monitor.core.errors import UsageError
from docqet_monitor.core.yamlfile import short

CONFIG_ENV_VAR = "DOCQET_MONITOR_CONFIG"
DEFAULT_PORT = 19842
MAX_STRING = 2048  # characters of any string value (URLs included)
MAX_INTEGER = 2**53  # beyond the field ranges: no integer a float cannot hold exactly
ENVIRONMENT_NAME = r"[a-z][a-z0-9-]{0,62}"  # used in output paths, alarm and rule names, labels
NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"  # Qdrant node and account names (labels, plan keys)
GRAFANA_UID = r"[A-Za-z0-9_-]{1,40}"  # as Grafana makes and takes them (folders, dashboards): a segment of API paths
SENTRY_SLUG = r"[A-Za-z0-9_-]{1,64}"  # an organization's or project's slug or id: a segment of API paths
SENTRY_SLUG_EXPECTED = "a Sentry slug or id (letters, digits, '_', '-')"
REGION = r"[a-z]{2,4}(-[a-z]+){1,3}-\d{1,2}"  # every partition botocore knows: eu-west-1, us-gov-west-1, eusc-de-east-1
ROLE_ARN = r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}"
SNS_TOPIC_ARN = r"arn:aws(-[a-z]+)*:sns:(\{region\}|" + REGION + r"):\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
ENV_VAR_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?"
RESOLVE_TIMEOUT_SECONDS = 5.0


class ConfigError(UsageError):
    """A configuration problem, naming the file, the key path and what was expected (exit 2)."""

    def __init__(self, source: str, path: str, message: str, line: int | None = None, at: str | None = None) -> None:
        """``at``: the key path whose line to name when it is not ``path`` (a key not to be shown)."""
        path = yamlfile.clip(path, 200)  # a path holds keys from the file: never echo one whole
        self.source, self.path, self.message, self.line, self.at = source, path, message, line, at or path
        where = source + (f", line {line}" if line else "") + (f": {path}" if path else "")
        super().__init__(f"{where}: {message}")


def check(predicate: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    """Field metadata for a value check: ``field(default=..., metadata=check(lambda v: v > 0, "> 0"))``."""
    return {"check": (predicate, expected)}


def between(low: float, high: float, unit: str = "", low_open: bool = False) -> dict[str, Any]:
    """A number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    above = (lambda v: v > low) if low_open else (lambda v: v >= low)
    expected = f"> {low:g} and <= {high:g}{unit}" if low_open else f"{low:g} to {high:g}{unit}"
    return check(lambda v: above(v) and v <= high, expected)


def seconds(low: float, high: float) -> dict[str, Any]:
    """A duration in seconds in ``(0, high]`` (``low`` 0) or ``[low, high]``."""
    return between(low, high, " seconds", low_open=low == 0)


def matches(pattern: str, expected: str, optional: bool = False) -> dict[str, Any]:
    """A string matching ``pattern`` whole (or empty when ``optional``)."""
    regex = re.compile(pattern, re.ASCII)  # \d and \w: ASCII digits and letters only
    return check(lambda v: (optional and v == "") or regex.fullmatch(v) is not None,
                 expected + (" (or empty)" if optional else ""))


def is_url(value: str) -> bool:
    """An http(s) URL with a host name or IP address, a valid port and no whitespace."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in value):
        return False
    return re.fullmatch(HOSTNAME, host) is not None or _is_ip(host)


URL_EXPECTED = "an http(s) URL (http://host[:port][/path])"
TOKEN_URL_EXPECTED = f"{URL_EXPECTED} without USER:PASSWORD@ (the token comes from the environment)"


def is_token_url(value: str) -> bool:
    """An http(s) URL (:func:`is_url`) without user info: where the tool sends a token, they would replace it."""
    return is_url(value) and not secrets.has_credentials(value)


def url(optional: bool = False, credentials: bool = True) -> dict[str, Any]:
    """An http(s) URL (quoted in errors without its password); ``credentials=False``: :func:`is_token_url`."""
    valid, expected = (is_url, URL_EXPECTED) if credentials else (is_token_url, TOKEN_URL_EXPECTED)
    return {**check(lambda v: (optional and v == "") or valid(v), expected + (" or empty" if optional else "")),
            "shown": secrets.without_password}


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


REGIONS = {**matches(REGION, "AWS region names like eu-west-1"), "normalize": _unique}  # duplicates: once


# --- exporter ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountConfig:
    """An AWS account reached by assuming an IAM role."""

    role_arn: str = field(metadata=matches(ROLE_ARN, "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"))
    name: str = field(default="", metadata=matches(NAME, "a name of letters, digits, '.', '_' and '-'", True))
    regions: tuple[str, ...] = field(default=(), metadata=REGIONS)  # empty: the top-level regions
    external_id: str = field(default="", metadata={  # STS AssumeRole's ExternalId; a secret: never quoted
        **matches(r"[\w+=,.@:/-]{2,1224}", "2 to 1224 letters, digits or +=,.@:/-", True),
        "shown": lambda _: secrets.REDACTED})

    @property
    def account_id(self) -> str:
        """The 12-digit account id, from the role ARN (validated against ROLE_ARN when the config is loaded)."""
        return self.role_arn.split(":")[4]


@dataclass(frozen=True)
class AwsConfig:
    max_concurrency: int = field(default=5, metadata=between(1, 100))
    max_attempts: int = field(default=5, metadata=between(1, 20))
    # all requests in flight together; max_concurrency is per (account, region, AWS service)
    max_concurrency_total: int = field(default=50, metadata=between(1, 1000))
    connect_timeout_seconds: float = field(default=5.0, metadata=seconds(0, 300))
    read_timeout_seconds: float = field(default=30.0, metadata=seconds(0, 300))


@dataclass(frozen=True)
class CloudWatchConfig:
    """How metrics are read from CloudWatch with GetMetricData."""

    period_seconds: int = field(default=60, metadata=check(lambda v: 60 <= v <= 86400 and v % 60 == 0,
                                                             "a multiple of 60 seconds, 60 to 86400"))
    delay_seconds: int = field(default=120, metadata=between(0, 86400, " seconds"))
    lookback_periods: int = field(default=5, metadata=between(1, 100))


_INTERVAL = seconds(10, 86400)


@dataclass(frozen=True)
class CollectorSchedule:
    """What every AWS collector has: on/off and how often it refreshes."""

    enabled: bool = True
    interval_seconds: float = field(default=60.0, metadata=_INTERVAL)


@dataclass(frozen=True)
class AwsCollectorConfig(CollectorSchedule):
    """An AWS collector (ECS, RDS). Empty ``clusters`` means: discover everything."""

    clusters: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElastiCacheCollectorConfig(CollectorSchedule):
    """ElastiCache replication groups; empty ``replication_groups`` (ids) means: discover everything."""

    replication_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlbCollectorConfig(CollectorSchedule):
    """Application load balancers; empty ``load_balancers`` (names or ARNs) means: discover everything."""

    load_balancers: tuple[str, ...] = ()


@dataclass(frozen=True)
class S3CollectorConfig(CollectorSchedule):
    """S3 buckets; empty ``buckets`` (names) means: every bucket of each region. Hourly by default: the storage
    metrics come once a day."""

    interval_seconds: float = field(default=3600.0, metadata=_INTERVAL)
    buckets: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuroraGlobalCollectorConfig(CollectorSchedule):
    """Aurora Global databases; empty ``global_clusters`` (identifiers) means: discover everything."""

    global_clusters: tuple[str, ...] = ()


@dataclass(frozen=True)
class EdgeCollectorConfig(CollectorSchedule):
    """An AWS collector of named edge resources (CloudFront, Route 53, API Gateway, WAF).

    ``names`` keeps only the resources whose name or id is listed (empty: everything discovered); for Route 53
    health checks the name is their ``Name`` tag.
    """

    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class QdrantNodeConfig:
    name: str = field(metadata=matches(NAME, "a name of letters, digits, '.', '_' and '-'"))
    url: str = field(metadata=url())
    # name of the environment variable holding the API key
    api_key_env: str = field(default="", metadata=matches(ENV_VAR_NAME, "an environment variable name", True))
    verify_tls: bool = True
    timeout_seconds: float = field(default=5.0, metadata=seconds(0, 300))


@dataclass(frozen=True)
class QdrantCollectorConfig:
    enabled: bool = True
    interval_seconds: float = field(default=60.0, metadata=seconds(10, 86400))
    max_concurrency: int = field(default=8, metadata=between(1, 64))
    nodes: tuple[QdrantNodeConfig, ...] = field(default=(), metadata={"unique": ("name",)})


@dataclass(frozen=True)
class CostCollectorConfig:
    enabled: bool = True
    interval_seconds: float = field(default=21600.0, metadata=check(
        lambda v: 3600 <= v <= 604800, "3600 to 604800 seconds (Cost Explorer costs $0.01 a request)"))
    cache_path: str = ".cache/docqet-monitor/cost.json"
    tag_key: str = "Environment"
    monthly_budget_usd: float | None = field(default=None, metadata=between(0, 1e12))


@dataclass(frozen=True)
class CollectorsConfig:
    ecs: AwsCollectorConfig = AwsCollectorConfig()
    rds: AwsCollectorConfig = AwsCollectorConfig()
    elasticache: ElastiCacheCollectorConfig = ElastiCacheCollectorConfig()
    alb: AlbCollectorConfig = AlbCollectorConfig()
    s3: S3CollectorConfig = S3CollectorConfig()
    aurora_global: AuroraGlobalCollectorConfig = AuroraGlobalCollectorConfig()
    qdrant: QdrantCollectorConfig = QdrantCollectorConfig()
    cost: CostCollectorConfig = CostCollectorConfig()
    cloudfront: EdgeCollectorConfig = EdgeCollectorConfig()
    route53: EdgeCollectorConfig = EdgeCollectorConfig()
    apigateway: EdgeCollectorConfig = EdgeCollectorConfig()
    waf: EdgeCollectorConfig = EdgeCollectorConfig()


@dataclass(frozen=True)
class ExporterConfig:
    address: str = field(default="0.0.0.0", metadata=check(
        lambda v: _is_ip(v) or re.fullmatch(HOSTNAME, v) is not None, "an IP address or a host name"))
    port: int = field(default=DEFAULT_PORT, metadata=check(lambda v: 0 < v < 65536, "a TCP port 1-65535"))
    # "K/N": this exporter is shard K of N (see docs/exporter.md "Shards"); empty: it does all the work
    shard: str = field(default="", metadata=check(lambda v: v == "" or shard.valid(v), shard.EXPECTED))


# --- dashboards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrafanaConfig:
    url: str = field(default="", metadata=url(optional=True, credentials=False))  # else GRAFANA_URL; GRAFANA_TOKEN
    folder: str = "Docqet"
    folder_uid: str = field(default="docqet-monitor", metadata=matches(
        GRAFANA_UID, "a Grafana uid: 1 to 40 letters, digits, '_' and '-'"))
    timeout_seconds: float = field(default=10.0, metadata=seconds(0, 300))


# --- alerts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SloConfig:
    availability_objective: float = field(default=0.999, metadata=check(
        lambda v: 0 < v < 1, "a ratio between 0 and 1 (e.g. 0.999)"))
    latency_objective: float = field(default=0.99, metadata=check(
        lambda v: 0 < v < 1, "a ratio between 0 and 1 (e.g. 0.99)"))
    latency_threshold_seconds: float = field(default=0.5, metadata=seconds(0, 3600))
    window_days: int = field(default=30, metadata=between(1, 365, " days"))


@dataclass(frozen=True)
class AlertmanagerConfig:
    pagerduty_routing_key_file: str = ""  # path on the Alertmanager host; never the key itself
    pagerduty_routing_key_env: str = field(  # read at render time when no file
        default="PAGERDUTY_ROUTING_KEY", metadata=matches(ENV_VAR_NAME, "an environment variable name"))
    # warnings to a second, low-urgency PagerDuty service; empty: the same key (service on dynamic notifications)
    pagerduty_warning_routing_key_file: str = ""
    pagerduty_url: str = field(default="", metadata=url(optional=True))  # empty: Alertmanager's default
    notification_webhook_url: str = field(default="", metadata=url(optional=True))  # info alerts; never a page
    watchdog_webhook_url: str = field(default="", metadata=url(optional=True))  # dead man's switch
    pages_enabled: bool = True  # development pages nobody


@dataclass(frozen=True)
class AlertsConfig:
    team: str = "platform"
    # runbook_url = <base>/<rule.runbook>.md; default: the runbooks this repository ships
    runbook_base_url: str = field(default="https://github.com/docqet/docqet-monitor/blob/main/monitoring/runbooks",
                                  metadata=url())
    # {AlertName: {threshold_name: value}} overrides of the catalog defaults
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict, metadata={
        "each": (lambda v: 0 <= v <= 1e15, "a number from 0 to 1e15")})
    disabled: tuple[str, ...] = ()
    slo: SloConfig = SloConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()


@dataclass(frozen=True)
class CloudWatchAlarmsConfig:
    # severity -> SNS topic ARN(s), comma-separated (subscribed to PagerDuty); "{region}" becomes the alarm's region
    sns_topics: Mapping[Literal["critical", "warning", "info"], str] = field(default_factory=dict, metadata={
        "each": (lambda v: all(re.fullmatch(SNS_TOPIC_ARN, a.strip(), re.ASCII) for a in v.split(",")),
                 "SNS topic ARNs, comma-separated (arn:aws:sns:{region}:123456789012:NAME)")})
    composite_alarms: bool = True  # one composite per service and severity; off where the API lacks them (moto)


@dataclass(frozen=True)
class SentryConfig:
    url: str = field(default="", metadata=url(optional=True, credentials=False))  # else SENTRY_URL, https://sentry.io
    # else SENTRY_ORG, SENTRY_PROJECTS (comma-separated); both are segments of the API's paths
    organization: str = field(default="", metadata=matches(SENTRY_SLUG, SENTRY_SLUG_EXPECTED, True))
    projects: tuple[str, ...] = field(default=(), metadata=matches(SENTRY_SLUG, SENTRY_SLUG_EXPECTED))
    api: Literal["workflows", "legacy"] = "workflows"
    owner_team: str = ""
    pagerduty_integration_id: str = ""
    pagerduty_services: Mapping[str, str] = field(default_factory=dict)  # severity -> PD service id
    email_target: str = ""  # info alerts go to email


# --- the whole file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    environment: str = field(default="development", metadata=matches(
        ENVIRONMENT_NAME, "a name of lower-case letters, digits and '-', starting with a letter, at most 63"))
    regions: tuple[str, ...] = field(default=(), metadata=REGIONS)  # empty: AWS_REGION / AWS_DEFAULT_REGION
    accounts: tuple[AccountConfig, ...] = field(default=(), metadata={"unique": ("role_arn", "name")})
    aws: AwsConfig = AwsConfig()
    cloudwatch: CloudWatchConfig = CloudWatchConfig()
    exporter: ExporterConfig = ExporterConfig()
    collectors: CollectorsConfig = CollectorsConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    alerts: AlertsConfig = AlertsConfig()
    cloudwatch_alarms: CloudWatchAlarmsConfig = CloudWatchAlarmsConfig()
    sentry: SentryConfig = SentryConfig()
    source: str = field(default="<defaults>", metadata={"internal": True})
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False,
                                     metadata={"internal": True})  # key path -> line in the file


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


def _got(value: Any) -> str:
    """A wrong value for an error: a scalar quoted short, a list or a mapping by its kind only (an item may be a
    secret that the field's own check would not have quoted)."""
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"a mapping of {len(value)}"
    return short(value)


def _convert(tp: Any, value: Any, source: str, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(args[0], value, source, path)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(source, path, f"expected {_type_name(tp)}, got {_got(value)}")
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
        return {_convert(key_t, str(k), source, f"{path}.{k}"): _convert(val_t, v, source, f"{path}.{k}")
                for k, v in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool) and tp in (int, float):
        _check_number(value, source, path)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # account ids and the like
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(source, path, f"expected {_type_name(tp)}, got {_got(value)}")
    if tp is str:
        _check_string(value, source, path)
    return value


def _check_number(value: float, source: str, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(source, path, f"expected a finite number, got {short(value)}")
    if abs(value) > MAX_INTEGER:
        raise ConfigError(source, path, f"expected a number of at most {MAX_INTEGER:.0e}, got {short(value)}")


def _check_string(value: str, source: str, path: str) -> None:
    """One line of at most :data:`MAX_STRING` characters; the error does not quote the value (it may be a secret,
    not yet known to the redactor)."""
    if len(value) > MAX_STRING:
        raise ConfigError(source, path, f"expected at most {MAX_STRING} characters, got {len(value)}")
    bad = next((i for i, c in enumerate(value) if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ConfigError(source, path, f"expected one line without control characters, got {short(value[bad])} "
                                        f"at character {bad + 1}")


def _check_field(f: dataclasses.Field, key: str, value: Any, raw: Any, source: str) -> Any:
    """The field's value checks (``check``: of each item of a list, ``each``, ``unique``), then ``normalize``."""
    predicate, expected = f.metadata.get("check", (None, ""))
    items = enumerate(value) if isinstance(value, tuple) else [(None, value)]
    for i, item in items if predicate is not None and value is not None else ():
        if not predicate(item):
            got = raw if i is None else item
            got = short(f.metadata["shown"](got) if "shown" in f.metadata and isinstance(got, str) else got)
            raise ConfigError(source, key if i is None else f"{key}[{i}]", f"expected {expected}, got {got}")
    if "each" in f.metadata:
        predicate, expected = f.metadata["each"]
        stack = [(key, value)]
        while stack:
            where, item = stack.pop()
            if isinstance(item, Mapping):
                stack += [(f"{where}.{k}", v) for k, v in item.items()]
            elif not predicate(item):
                raise ConfigError(source, where, f"expected {expected}, got {short(item)}")
    for attribute in f.metadata.get("unique", ()):
        first: dict[Any, int] = {}
        for i, item in enumerate(value):
            name = getattr(item, attribute)
            if name and name in first:
                raise ConfigError(source, f"{key}[{i}].{attribute}",
                                  f"duplicate {attribute} {short(name)} (also {key}[{first[name]}])")
            first.setdefault(name, i)
    return f.metadata["normalize"](value) if "normalize" in f.metadata else value


_SETTING_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,39}", re.ASCII)  # an unknown key quoted (else: like a known one)


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
        expected = f"expected one of: {', '.join(sorted(fields))}"
        if not _SETTING_NAME.fullmatch(unknown[0]) and not difflib.get_close_matches(unknown[0], fields):
            # a line of some other file (a secret?): not quoted
            raise ConfigError(source, path, f"a key that is not a setting name (not shown: is {source} a "
                                            f"docqet-monitor configuration?); {expected}", at=key)
        raise ConfigError(source, key, f"unknown key; {expected}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{path}.{name}" if path else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(source, key, f"required key is missing ({_type_name(hints[name])})")
            continue
        kwargs[name] = _check_field(f, key, _convert(hints[name], data[name], source, key), data[name], source)
    return cls(**kwargs)


def parse(data: Any, source: str = "<config>", lines: Mapping[str, int] | None = None) -> Config:
    """Validate already-parsed YAML data into a :class:`Config`; ``lines`` (key path -> line) for messages."""
    try:
        config = _build(Config, data, source, "")
        _one_partition(config, source)
    except ConfigError as exc:
        line = exc.line or _line_of(exc.at, lines or {})
        raise ConfigError(exc.source, exc.path, exc.message, line) from None
    return dataclasses.replace(config, source=source, lines=dict(lines or {}))


def _one_partition(config: Config, source: str, top: tuple[str, ...] | None = None,
                   top_from: str = "regions") -> None:
    """The regions and role ARNs of a config are in one AWS partition: the default credentials reach one, and a
    role is assumed with them (the first two that differ are named). ``top``: the top-level regions when the file
    sets none, taken from ``top_from`` (``$AWS_REGION``, the default region)."""
    named = [(top_from, r, partitions.of_region(r)) for r in (config.regions if top is None else top)]
    for i, account in enumerate(config.accounts):
        named.append((f"accounts[{i}].role_arn", account.role_arn, account.role_arn.split(":")[1]))
        named += [(f"accounts[{i}].regions", r, partitions.of_region(r)) for r in account.regions]
    known = [(path, value, partition) for path, value, partition in named if partition]
    for path, value, partition in known[1:]:
        first_path, first_value, first = known[0]
        if partition != first:
            raise ConfigError(source, path, f"{short(value)} is in the AWS partition {partition}, but "
                                            f"{short(first_value)} ({first_path}) is in {first}: one set of "
                                            "credentials reaches one partition; " + (
                                                "give each partition a configuration and an exporter of its own"
                                                if top is None else "the configuration sets no regions: set them"))


def config_error(config: Config, path: str, message: str) -> ConfigError:
    """A :class:`ConfigError` about ``path`` in ``config``'s file, with its line when the file was read."""
    return ConfigError(config.source, path, message, _line_of(path, config.lines))


def _line_of(path: str, lines: Mapping[str, int]) -> int | None:
    """The line of ``path``, else of the nearest enclosing key that has one."""
    while path:
        if path in lines:
            return lines[path]
        path = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", path) if re.search(r"[.\[]", path) else ""
    return None


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate one config file (see :mod:`~docqet_monitor.core.yamlfile` for what is refused)."""
    source = str(path)
    try:
        text = yamlfile.read_text(path)
    except yamlfile.BadFile as exc:
        raise ConfigError(source, exc.path, exc.message, exc.line) from None
    return loads(text, source)


def loads(text: str, source: str) -> Config:
    """Validate the text of a config file; ``source`` names it in errors."""
    try:
        data, lines = yamlfile.parse(text)
    except yamlfile.BadFile as exc:
        raise ConfigError(source, exc.path, exc.message, exc.line) from None
    return parse(data, source, lines)


def resolve_listen_address(config: Config, timeout: float = RESOLVE_TIMEOUT_SECONDS) -> None:
    """:class:`ConfigError` unless ``exporter.address`` resolves to an address to listen on (within ``timeout``)."""
    address = config.exporter.address
    result: list[Any] = []

    def lookup() -> None:
        try:
            result.append(socket.getaddrinfo(address, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE))
        except (OSError, UnicodeError) as exc:
            result.append(exc)

    worker = threading.Thread(target=lookup, name="resolve-listen-address", daemon=True)
    worker.start()
    worker.join(timeout)
    if not result:
        problem = f"no answer within {timeout:g} s"
    elif isinstance(result[0], Exception):
        problem = getattr(result[0], "strerror", None) or type(result[0]).__name__
    else:
        return
    raise ConfigError(config.source, "exporter.address", f"cannot resolve {short(address)}: {problem}",
                      config.lines.get("exporter.address"))


def resolve(env: str | None = None, path: str | None = None, environments: Path | None = None) -> Config:
    """The config chosen by ``--config``, ``--env`` (``NAME.yaml`` in ``environments``, the monitoring
    repository's directory), ``$DOCQET_MONITOR_CONFIG``, else the defaults."""
    if path and env:
        raise ConfigError("<command line>", "", "give either --env or --config, not both")
    if env:
        if not re.fullmatch(ENVIRONMENT_NAME, env, re.ASCII):  # it becomes a path: no "/", no ".."
            raise ConfigError("<command line>", "--env", f"expected an environment name ({ENVIRONMENT_NAME}), "
                                                         f"got {short(env)}")
        if environments is None:
            raise TypeError("resolve(env=...) needs the environments directory of the monitoring repository")
        file = environments / f"{env}.yaml"
        if not file.exists():
            known = ", ".join(sorted(p.stem for p in environments.glob("*.yaml")))
            raise ConfigError("<command line>", "--env", f"unknown environment {env!r}; expected one of: {known}")
        return load(file)
    path = path or os.environ.get(CONFIG_ENV_VAR)
    return load(path) if path else Config()


DEFAULT_REGION = "us-east-1"


def regions(config: Config) -> tuple[str, ...]:
    """The regions to watch: from the config, else the AWS region from the environment (:class:`ConfigError`
    when that is not a region name), else us-east-1. One from the environment or the default must be in the
    partition of the config's role ARNs and account regions (:class:`ConfigError` naming both)."""
    if config.regions:
        return config.regions
    name = next((n for n in ("AWS_REGION", "AWS_DEFAULT_REGION") if os.environ.get(n)), "")
    region = os.environ[name] if name else DEFAULT_REGION
    if not re.fullmatch(REGION, region, re.ASCII):
        raise ConfigError(f"${name}", "", f"expected an AWS region name like eu-west-1 (the region to watch: "
                                          f"the configuration sets no regions), got {short(region)}")
    try:
        _one_partition(config, config.source, (region,), f"${name}" if name else "the default region")
    except ConfigError as exc:
        raise config_error(config, exc.path, exc.message) from None
    return (region,)
