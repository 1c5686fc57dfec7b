"""boto3 clients with adaptive retries, timeouts, in-flight limits and request accounting.

Requests in flight are limited per (account, region, AWS service) — ``aws.max_concurrency`` — under a cap for
all of them together, ``aws.max_concurrency_total``: a region whose endpoint hangs holds only its own slots,
and the other regions' requests go on. Role credentials are assumed per (account, region), lazily, through that
region's STS endpoint, so no region's STS holds another's.

The account id of the default credentials comes from one STS GetCallerIdentity per process (cached); a role
account's id is read from its role ARN.

Every HTTP attempt is counted in :class:`~exporters.stats.Stats` (``docqet_exporter_aws_requests_total``),
failures by error code, and successful billable calls add to the estimated cost. A response that cannot be
parsed, or lacks a field the collectors rely on, is an error too (code ``ResponseParserError`` /
``MalformedResponse``), raised to the caller like any other failed call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore import utils
from botocore.config import Config as BotoConfig
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
from botocore.session import get_session

from docqet_monitor.core import botoshare, secrets
from docqet_monitor.core.config import AccountConfig, AwsConfig
from docqet_monitor.core.errors import RunError, UsageError
from docqet_monitor.core.paging import RepeatedTokenError
from docqet_monitor.core.stats import (
    CLOUDWATCH_USD_PER_REQUEST,
    COST_EXPLORER_USD_PER_REQUEST,
    GET_METRIC_DATA_USD_PER_METRIC,
    Stats,
)

DEFAULT_ACCOUNT_NAME = "default"  # the name of the default credentials' account in account_info
requests_log = logging.getLogger("docqet_monitor.requests")  # one debug line per AWS/HTTP attempt (-vv)

# Top-level response fields the collectors rely on, by (service, operation); AWS always sends them.
REQUIRED_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("cloudwatch", "GetMetricData"): ("MetricDataResults",),
    ("ecs", "ListClusters"): ("clusterArns",),
    ("ecs", "ListServices"): ("serviceArns",),
    ("ecs", "DescribeServices"): ("services",),
    ("sts", "GetCallerIdentity"): ("Account",),
    ("rds", "DescribeDBClusters"): ("DBClusters",),
    ("rds", "DescribeDBInstances"): ("DBInstances",),
    ("elasticache", "DescribeReplicationGroups"): ("ReplicationGroups",),
    ("elasticache", "DescribeCacheClusters"): ("CacheClusters",),
    ("elbv2", "DescribeLoadBalancers"): ("LoadBalancers",),
    ("rds", "DescribeGlobalClusters"): ("GlobalClusters",),
}


class MalformedResponseError(RunError):
    """A successful AWS response without a field it always carries."""

    code = "MalformedResponse"

    def __init__(self, service: str, operation: str, missing: tuple[str, ...]) -> None:
        self.service, self.operation, self.missing = service, operation, missing
        super().__init__(f"{service} {operation}: response lacks {', '.join(missing)}")


class AwsError(RunError):
    """An AWS call failed: what we were doing, where, and the reason in a few words (:func:`explain`)."""


FAULTS = (BotoCoreError, ClientError, RepeatedTokenError, MalformedResponseError)  # what an AWS call can raise


MESSAGE_CHARS = 200  # of AWS's error message, in ours


class AwsSettingsError(UsageError):
    """The AWS settings (``AWS_*`` variables, the shared config and credentials files) make no client (exit 2)."""


def settings_error(exc: Exception) -> AwsSettingsError:
    """What creating a client raised (no request is sent then: it is the settings), in a sentence that quotes no
    endpoint URL (it may hold credentials)."""
    if isinstance(exc, BotoCoreError):
        why = explain(exc)
    elif isinstance(exc, OSError):  # the CA bundle, loaded into the shared TLS context (core.botoshare)
        why = f"cannot load the CA bundle ($AWS_CA_BUNDLE or a profile's ca_bundle): {exc.strerror or exc}"
    else:  # botocore's ValueError: "Invalid endpoint: <url>"
        why = ("an endpoint URL is not an http(s) URL ($AWS_ENDPOINT_URL, $AWS_ENDPOINT_URL_<SERVICE> or a "
               "profile's endpoint_url; not shown)")
    return AwsSettingsError(f"the AWS settings (AWS_* variables, the shared config and credentials files): {why}")


def explain(exc: BaseException) -> str:
    """A botocore failure in a few words, its type last: ``no AWS credentials found (NoCredentialsError)``."""
    name = type(exc).__name__
    if isinstance(exc, NoCredentialsError):
        return f"no AWS credentials found ({name})"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot connect to {exc.kwargs.get('endpoint_url', 'the endpoint')} ({name})"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        text = " ".join(str(error.get("Message") or "").split())  # one line: a proxy's HTML page has many
        message = f": {text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + '…'}" if text else ""
        return f"AWS answered {error.get('Code') or status}{message} (HTTP {status}, {name})"
    return f"{exc} ({name})"


@contextmanager
def failing_as(what: str = "") -> Iterator[None]:
    """Turn an AWS failure in the block into :class:`AwsError` ``<what>: <reason>``, e.g.
    ``cannot read CloudWatch alarms in eu-west-1: no AWS credentials found (NoCredentialsError)`` (only the reason
    when the caller already says what failed)."""
    try:
        yield
    except FAULTS as exc:
        raise AwsError(f"{what}: {explain(exc)}" if what else explain(exc)) from exc


def missing_fields(service: str, operation: str, parsed: dict[str, Any]) -> tuple[str, ...]:
    """The required fields absent from a parsed response (pure)."""
    return tuple(f for f in REQUIRED_FIELDS.get((service, operation), ()) if f not in parsed)


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, but epoch seconds (the JSON protocols' timestamps: every CloudWatch datapoint)
    straight to UTC: botocore gives them the local time zone through dateutil, which made parsing a
    GetMetricData answer about 6 times slower."""
    if type(value) in (int, float):  # JSON numbers (a bool is left to botocore)
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):  # out of range: botocore's fallbacks
            pass
    return utils.parse_timestamp(value)


def estimated_cost(service: str, operation: str, params: dict[str, Any]) -> float:
    """USD billed for one successful call (pure)."""
    if service == "cloudwatch":
        if operation == "GetMetricData":
            return len(params.get("MetricDataQueries", [])) * GET_METRIC_DATA_USD_PER_METRIC
        return CLOUDWATCH_USD_PER_REQUEST
    if service == "ce":
        return COST_EXPLORER_USD_PER_REQUEST
    return 0.0


@dataclass
class Aws:
    """Makes clients for one or more accounts; all of them share the stats and the in-flight limits."""

    settings: AwsConfig = field(default_factory=AwsConfig)
    stats: Stats = field(default_factory=Stats)
    session_factory: Callable[[], boto3.Session] = boto3.Session
    _limit: threading.BoundedSemaphore = field(init=False, repr=False)
    _limits: dict[tuple[str, str, str], threading.BoundedSemaphore] = field(init=False, repr=False,
                                                                           default_factory=dict)
    _held: threading.local = field(init=False, repr=False, default_factory=threading.local)
    _sessions: dict[tuple[str, str], boto3.Session] = field(init=False, repr=False, default_factory=dict)
    _clients: dict[tuple[str, str, str], Any] = field(init=False, repr=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _limits_lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _identity: threading.Condition = field(init=False, repr=False, default_factory=threading.Condition)
    _own_account: str | None = field(init=False, repr=False, default=None)
    _asking: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        self._limit = threading.BoundedSemaphore(self.settings.max_concurrency_total)
        botoshare.install()

    def account_id(self, account: AccountConfig | None, region: str) -> str:
        """The 12-digit id of ``account``; for the default credentials one GetCallerIdentity per process.

        The call goes to ``region``'s STS endpoint. A caller that finds another region's call in flight waits
        for it at most ``connect_timeout_seconds``, then asks its own region: a hung region does not hold the
        others. The answer is named ``default`` in ``docqet_exporter_account_info``.
        """
        if account is not None:
            return account.account_id
        with self._identity:
            if self._own_account is None and self._asking:
                self._identity.wait_for(lambda: self._own_account is not None or not self._asking,
                                        timeout=self.settings.connect_timeout_seconds)
            if self._own_account is not None:
                return self._own_account
            self._asking += 1
        found = None
        try:
            found = str(self.client("sts", region).get_caller_identity()["Account"])
        finally:
            with self._identity:
                self._asking -= 1
                if found is not None and self._own_account is None:
                    self._own_account = found
                    self.stats.name_account(found, DEFAULT_ACCOUNT_NAME)
                self._identity.notify_all()
        return self._own_account or found

    def client(self, service: str, region: str, account: AccountConfig | None = None) -> Any:
        """A boto3 client for ``service`` in ``region``, in ``account`` (by role) or the default chain.

        Clients are cached and thread-safe; they are created under a lock because boto3 sessions are not.
        """
        key = (service, region, account.role_arn if account else "")
        with self._lock:
            if key not in self._clients:
                botocfg = BotoConfig(
                    region_name=region,
                    retries={"mode": "adaptive", "total_max_attempts": self.settings.max_attempts},
                    connect_timeout=self.settings.connect_timeout_seconds,
                    read_timeout=self.settings.read_timeout_seconds,
                    max_pool_connections=self.settings.max_concurrency,
                )
                try:
                    client = self._session(account, region).client(service, config=botocfg)
                    botoshare.adopt(client)
                except (BotoCoreError, ValueError, OSError) as exc:
                    raise settings_error(exc) from None
                self.instrument(client, account.role_arn if account else "")
                self._clients[key] = client
            return self._clients[key]

    def instrument(self, client: Any, account: str = "") -> None:
        """Hook accounting and the in-flight limits into a botocore client (also used on test clients);
        ``account`` (the role ARN, empty for the default credentials) keys its limit with region and service."""
        service = client.meta.service_model.service_name
        key = (account, client.meta.region_name or "", service)
        with self._limits_lock:  # not _lock: client() holds it while it instruments
            limit = self._limits.setdefault(key, threading.BoundedSemaphore(self.settings.max_concurrency))
        events = client.meta.events
        events.register("provide-client-params.*.*", self._remember_params)
        events.register("before-send.*.*", lambda **_: self._acquire(limit))
        events.register("response-received.*.*",
                        lambda **kw: self._on_response(service, **kw))
        events.register("after-call-error.*.*", lambda **kw: self._on_call_error(service, **kw))
        events.register("after-call.*.*", lambda **kw: self._on_success(service, **kw))

    # --- event handlers ---

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["docqet_params"] = params

    def _acquire(self, limit: threading.BoundedSemaphore) -> None:
        """Its own (account, region, service) slot first, then one of all: waiting never holds a global slot."""
        limit.acquire()
        self._limit.acquire()
        self._held.value = limit
        self._held.started = time.monotonic()

    def _release(self) -> None:
        limit = getattr(self._held, "value", None)
        if limit is not None:
            self._held.value = None
            self._limit.release()
            limit.release()

    def _on_response(self, service: str, event_name: str, response_dict: dict[str, Any] | None,
                     parsed_response: dict[str, Any] | None, exception: Exception | None,
                     context: dict[str, Any] | None = None, **_: Any) -> None:
        started = getattr(self._held, "started", None)
        self._release()
        operation = event_name.rsplit(".", 1)[-1]
        code = None
        if exception is not None:
            code = type(exception).__name__
        elif response_dict is not None and response_dict.get("status_code", 200) >= 300:
            code = ((parsed_response or {}).get("Error") or {}).get("Code") or str(response_dict["status_code"])
        self.stats.count_request(service, operation, code)
        if requests_log.isEnabledFor(logging.DEBUG):  # -vv: every attempt, never its parameters
            attempt = ((context or {}).get("retries") or {}).get("attempt", 1)
            requests_log.debug("aws %s %s", service, operation, extra={
                "service": service, "operation": operation, "outcome": code or "ok", "attempt": attempt,
                "duration_ms": round((time.monotonic() - started) * 1000, 1) if started else None})

    def _on_call_error(self, service: str, event_name: str, exception: Exception, **_: Any) -> None:
        """An attempt that ended without ``response-received`` (a response that cannot be parsed)."""
        if getattr(self._held, "value", None) is not None:
            self.stats.count_request(service, event_name.rsplit(".", 1)[-1], type(exception).__name__)
            self._release()

    def _on_success(self, service: str, http_response: Any, parsed: dict[str, Any], model: Any,
                    context: dict[str, Any], **_: Any) -> None:
        self._release()
        if http_response.status_code >= 300:
            return
        self.stats.add_cost(estimated_cost(service, model.name, context.get("docqet_params", {})))
        missing = missing_fields(service, model.name, parsed)
        if missing:
            self.stats.count_error(service, model.name, MalformedResponseError.code)
            raise MalformedResponseError(service, model.name, missing)

    # --- sessions ---

    def _session(self, account: AccountConfig | None, region: str) -> boto3.Session:
        """The session of ``account`` in ``region`` (called with ``_lock`` held; no request is sent here).

        A role is assumed per region through that region's STS endpoint, on the first request that needs it.
        """
        key = (account.role_arn, region) if account else ("", "")
        if key not in self._sessions:
            if account:
                session = self._assume(account, region)
            else:
                session = self.session_factory()
                botoshare.equip(session._session)
            parsers = session._session.get_component("response_parser_factory")  # boto3 keeps botocore's private
            parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
            self._sessions[key] = session
        return self._sessions[key]

    def _assume(self, account: AccountConfig, region: str) -> boto3.Session:
        # a regional STS endpoint: no region from the environment is needed (the config names them); the client
        # comes from the default credentials' session (not a new session, with models of its own)
        sts = self._session(None, region).client("sts", region_name=region)
        botoshare.adopt(sts)
        self.instrument(sts)

        secrets.register(account.external_id)

        def refresh() -> dict[str, str]:
            extra = {"ExternalId": account.external_id} if account.external_id else {}
            creds = sts.assume_role(RoleArn=account.role_arn, RoleSessionName="docqet-monitor",
                                    **extra)["Credentials"]
            secrets.register(creds["SecretAccessKey"], creds["SessionToken"])
            return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"], "expiry_time": creds["Expiration"].isoformat()}

        botocore_session = get_session()
        botoshare.equip(botocore_session)
        botocore_session._credentials = DeferredRefreshableCredentials(refresh_using=refresh,
                                                                       method="sts-assume-role")
        return boto3.Session(botocore_session=botocore_session)
