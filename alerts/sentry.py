"""Sentry alerts from the catalog, over Sentry's web API (requests).

Two API generations: **Monitors** (``/organizations/{org}/detectors/``, created per project) with **Alerts**
(``/organizations/{org}/workflows/``) by default, and with ``sentry.api: legacy`` the deprecated issue-alert
rules (``/projects/{org}/{project}/rules/``) and metric alerts (``/organizations/{org}/alert-rules/``) that
self-hosted Sentry still has. Per configured project, each catalog rule with a ``sentry=`` block becomes one
alert (plus a metric monitor for metric rules). Actions route critical and warning to the PagerDuty
integration (the service per severity) and info to email.

Names are ``[docqet-monitor] <Alert> (<project>, <environment>)``: one Sentry project usually serves several
environments, and each environment's sync keeps to its own alerts (a rule fixed to one environment, like a new
issue in production, is synced by that environment only).

Ownership: the name prefix ``[docqet-monitor]``, no other environment in the name, and the owner team when
configured; alerts connected only to monitors of projects we do not sync are left out. Objects are compared in
one normalised shape built from both the catalog and what Sentry lists (server fields dropped, ids turned
into names), so an unchanged alert never shows as changed.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from docqet_monitor.alerts import runbooks
from docqet_monitor.alerts.spec import AlertRule
from docqet_monitor.core import http, secrets
from docqet_monitor.core.config import SENTRY_SLUG, SENTRY_SLUG_EXPECTED, TOKEN_URL_EXPECTED, Config, is_token_url
from docqet_monitor.core.errors import RunError
from docqet_monitor.core.plan import Change, Desired, Live, Plan, PlanError, PlanInputError, diff
from docqet_monitor.core.yamlfile import short

log = logging.getLogger(__name__)

TARGET = "sentry"
PREFIX = "[docqet-monitor]"
DEFAULT_URL = "https://sentry.io"
TOKEN_ENV = "SENTRY_AUTH_TOKEN"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a Sentry answer (one page of a listing) larger than this is refused
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer Retry-After or rate-limit reset is not waited for in full
MAX_DETECTOR_NAME = 200  # monitors; alerts allow 256
FREQUENCY_MINUTES = 30  # at most one notification per issue every 30 minutes
# metric alert windows Sentry accepts (minutes) and the intervals of frequency conditions
TIME_WINDOWS = (1, 5, 10, 15, 30, 60, 120, 240, 1440)
INTERVALS = {1: "1m", 5: "5m", 15: "15m", 60: "1h", 1440: "1d", 10080: "1w", 43200: "30d"}
PRIORITY = {"critical": 75, "warning": 50}  # issue priority a metric monitor opens (high / low)
KINDS = ("detector", "workflow", "rule", "alert-rule")
_ID = re.compile(r"[0-9]{1,20}")  # what Sentry's ids look like; they become segments of the API's paths
_LINK = re.compile(r'<([^>]*)>;\s*rel="next";\s*results="true";\s*cursor="([^"]*)"')


class SentryError(RunError):
    """A Sentry API call failed (after retries); the message never carries the token."""


@dataclass(frozen=True)
class Settings:
    """Where and how to reach Sentry, from config with the environment as fallback (never the token)."""

    url: str
    organization: str
    projects: tuple[str, ...]
    api: str = "workflows"
    environment: str = "development"
    owner_team: str = ""
    pagerduty_integration_id: str = ""
    pagerduty_services: Mapping[str, str] = field(default_factory=dict)
    email_target: str = ""
    runbook_base_url: str = ""  # alerts.runbook_base_url: metric monitors link their rule's runbook

    @property
    def owner(self) -> str | None:
        return f"team:{self.owner_team.removeprefix('team:')}" if self.owner_team else None


def settings(config: Config, environ: Mapping[str, str] = os.environ) -> Settings:
    s = config.sentry
    projects = s.projects or tuple(p.strip() for p in environ.get("SENTRY_PROJECTS", "").split(",") if p.strip())
    return Settings(url=(s.url or environ.get("SENTRY_URL") or DEFAULT_URL).rstrip("/"),
                    organization=s.organization or environ.get("SENTRY_ORG", ""), projects=projects, api=s.api,
                    environment=config.environment, owner_team=s.owner_team,
                    pagerduty_integration_id=s.pagerduty_integration_id, pagerduty_services=s.pagerduty_services,
                    email_target=s.email_target, runbook_base_url=config.alerts.runbook_base_url)


def missing(st: Settings, environ: Mapping[str, str] = os.environ) -> str:
    """Why Sentry cannot be synced ("" when it can)."""
    if not st.organization:
        return "no Sentry organization (sentry.organization or SENTRY_ORG)"
    if not st.projects:
        return "no Sentry projects (sentry.projects or SENTRY_PROJECTS)"
    try:
        if not secrets.env_token(environ, TOKEN_ENV):
            return f"no Sentry token ({TOKEN_ENV})"
    except ValueError as exc:
        return f"{TOKEN_ENV}: {exc}"
    bad = [slug for slug in (st.organization, *st.projects) if not re.fullmatch(SENTRY_SLUG, slug, re.ASCII)]
    if bad:
        return f"SENTRY_ORG / SENTRY_PROJECTS: expected {SENTRY_SLUG_EXPECTED}, got {short(bad[0])}"
    if not is_token_url(st.url):
        return f"SENTRY_URL: expected {TOKEN_URL_EXPECTED}, got {short(secrets.without_password(st.url))}"
    return ""


# --- the HTTP client ----------------------------------------------------------------------------


class Api:
    """Sentry's web API: Bearer token, Link-header pagination, rate limits honoured, 5xx retried with backoff."""

    def __init__(self, url: str, token: str, session: requests.Session | None = None, attempts: int = 5,
                 backoff_seconds: float = 1.0, timeout_seconds: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._session = session or http.session()
        secrets.register(token, secrets.url_password(url))
        self._attempts, self._backoff, self._timeout = attempts, backoff_seconds, timeout_seconds
        self._sleep, self._clock = sleep, clock
        self._not_before = 0.0
        self.requests = 0

    def _redact(self, text: str) -> str:
        return secrets.redact(text)

    def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                body: Any = None) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        what = f"{method} {path.split('?')[0]}"
        for attempt in range(1, self._attempts + 1):
            wait = self._not_before - self._clock()
            if wait > 0:
                self._sleep(wait)
            self.requests += 1
            try:
                resp = http.request(self._session, method, url, params=params, json=body,
                                    deadline_seconds=self._timeout, max_bytes=MAX_RESPONSE_BYTES,
                                    service="sentry", attempt=attempt,
                                    headers={"Authorization": f"Bearer {self._token}"})
            except http.ResponseTooLarge as exc:
                raise SentryError(f"{what}: {exc}") from None
            except (requests.RequestException, http.DeadlineExceeded) as exc:
                if attempt == self._attempts:
                    raise SentryError(self._redact(f"{what}: {type(exc).__name__} after {attempt} attempts"
                                                   )) from None
                self._sleep(self._backoff * 2 ** (attempt - 1))
                continue
            self._note_rate_limit(resp)
            if resp.status_code == 429 or resp.status_code >= 500:
                if attempt == self._attempts:
                    break
                delay = self._retry_delay(resp, attempt)
                log.info("sentry %s: HTTP %s, retrying in %.1fs", what, resp.status_code, delay)
                if delay > 0:
                    self._sleep(delay)
                continue
            if resp.status_code >= 400:
                break
            return resp
        detail = resp.text[:300].replace("\n", " ")
        raise SentryError(self._redact(f"{what}: HTTP {resp.status_code}: {detail}"))

    def _retry_delay(self, resp: requests.Response, attempt: int) -> float:
        """Retry-After (seconds) on a 429; nothing more when the rate-limit reset is already awaited; else
        exponential backoff."""
        if resp.status_code == 429:
            retry_after = resp.headers.get("Retry-After", "")
            if retry_after.replace(".", "", 1).isdigit():
                return min(float(retry_after), MAX_RETRY_AFTER_SECONDS)
            if self._not_before > self._clock():
                return 0.0
        return self._backoff * 2 ** (attempt - 1)

    def _note_rate_limit(self, resp: requests.Response) -> None:
        """When the rate-limit window is used up, hold the next request until it resets."""
        try:
            remaining = float(resp.headers.get("X-Sentry-Rate-Limit-Remaining", "1"))
            reset = float(resp.headers.get("X-Sentry-Rate-Limit-Reset", "0"))
        except ValueError:  # not numbers (a proxy's?): nothing to go by
            return
        if remaining <= 0 and reset:
            self._not_before = min(reset, self._clock() + MAX_RETRY_AFTER_SECONDS)

    def _decode(self, resp: requests.Response, method: str, path: str) -> Any:
        try:
            return http.loads(resp.content)
        except (ValueError, http.TooDeep):
            detail = resp.text[:200].replace("\n", " ")
            raise SentryError(self._redact(f"{method} {path.split('?')[0]}: HTTP {resp.status_code} is not JSON "
                                           f"(is the Sentry URL right?): {detail}")) from None

    def json(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.request(method, path, body=body)
        return self._decode(resp, method, path) if resp.content else None

    def list(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every page: follows the ``rel="next"; results="true"`` cursor of the Link header."""
        items: list[dict[str, Any]] = []
        query = dict(params or {})
        while True:
            resp = self.request("GET", path, params=query)
            items += self._decode(resp, "GET", path)
            match = _LINK.search(resp.headers.get("Link", ""))
            if not match:
                return items
            query["cursor"] = match.group(2)


# --- desired objects (pure) ---------------------------------------------------------------------


def _name(rule: AlertRule, project: str, st: Settings) -> str:
    return f"{PREFIX} {rule.name} ({project}, {st.environment})"


def validate(rules: Iterable[AlertRule], st: Settings) -> None:
    """Catalog and config problems, all at once, before any call."""
    rules, problems = list(rules), []
    for sev in sorted({r.severity for r in rules if r.sentry and r.severity != "info"}):
        if not st.pagerduty_integration_id.isdigit():
            problems.append(f"sentry.pagerduty_integration_id: expected the PagerDuty integration id (digits) "
                            f"for {sev} alerts, got {st.pagerduty_integration_id!r}")
        if not str(st.pagerduty_services.get(sev, "")).isdigit():
            problems.append(f"sentry.pagerduty_services.{sev}: expected the PagerDuty service id (digits)")
    if st.email_target and not re.fullmatch(r"(team|user):\d+", st.email_target):
        problems.append(f"sentry.email_target: expected team:<id> or user:<id>, got {st.email_target!r}")
    if st.api == "legacy" and not st.email_target and any(
            r.sentry and r.sentry.kind == "metric" and r.severity == "info" for r in rules):
        problems.append("sentry.email_target: legacy metric alerts for info need a team:<id> or user:<id>")
    for rule in rules:
        s = rule.sentry
        if s is None:
            continue
        where = f"alert {rule.name} (sentry)"
        if s.kind in ("event_frequency", "metric") and s.threshold not in rule.thresholds:
            problems.append(f"{where}: threshold {s.threshold!r} is not one of the rule's thresholds")
        if s.kind == "event_frequency" and s.time_window_minutes not in INTERVALS:
            problems.append(f"{where}: time_window_minutes must be one of {sorted(INTERVALS)}")
        if s.kind == "metric" and (not s.aggregate or s.time_window_minutes not in TIME_WINDOWS):
            problems.append(f"{where}: a metric alert needs an aggregate and time_window_minutes in {TIME_WINDOWS}")
        longest = max((_name(rule, p, st) for p in st.projects), key=len, default="")
        if len(longest) > MAX_DETECTOR_NAME:
            problems.append(f"{where}: name {longest[:50]}... is longer than {MAX_DETECTOR_NAME} characters")
    if problems:
        raise PlanInputError("invalid Sentry alert input:\n  " + "\n  ".join(problems))


def _threshold(rule: AlertRule) -> float:
    value = float(rule.thresholds[rule.sentry.threshold])  # type: ignore[union-attr]
    return int(value) if value.is_integer() else value  # type: ignore[return-value]


def _environment(rule: AlertRule, st: Settings) -> str:
    return rule.sentry.environment or st.environment  # type: ignore[union-attr]


def _email(st: Settings) -> tuple[str, str]:
    """(target type, id) of the info email: a team, a user, else the issue owners."""
    kind, _, ident = st.email_target.partition(":")
    return (kind, ident) if ident else ("issue_owners", "")


def _workflow_action(rule: AlertRule, st: Settings) -> dict[str, Any]:
    if rule.severity == "info":
        kind, ident = _email(st)
        data = {} if ident else {"fallthroughType": "ActiveMembers"}
        return {"type": "email", "integrationId": None, "data": data, "status": "active",
                "config": {"targetType": kind, "targetIdentifier": ident or None}}
    return {"type": "pagerduty", "integrationId": st.pagerduty_integration_id, "status": "active",
            "data": {"priority": rule.severity},
            "config": {"targetType": "specific", "targetIdentifier": str(st.pagerduty_services[rule.severity])}}


def _cond(kind: str, comparison: Any) -> dict[str, Any]:
    return {"type": kind, "comparison": comparison, "conditionResult": True}


def _description(rule: AlertRule, st: Settings) -> str:
    """A metric monitor's description, which Sentry puts in the issues it opens: the rule's, and its runbook."""
    runbook = f" Runbook: {runbooks.url(st.runbook_base_url, rule.runbook)}" if st.runbook_base_url else ""
    return rule.description + runbook


def workflow_objects(rule: AlertRule, project: str, st: Settings) -> list[Desired]:
    """The monitor (metric rules) and the alert of one rule in one project (new API, comparable shape)."""
    s, name = rule.sentry, _name(rule, project, st)
    assert s is not None
    owner = {"owner": st.owner} if st.owner else {}
    out = []
    triggers: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    if s.kind == "new_issue":
        triggers.append(_cond("first_seen_event", True))
    elif s.kind == "regression":
        triggers.append(_cond("regression_event", True))
    elif s.kind == "event_frequency":
        filters.append(_cond("event_frequency_count", {"value": _threshold(rule),
                                                       "interval": INTERVALS[s.time_window_minutes]}))
    if s.kind == "metric":
        transactions = s.dataset == "transactions"
        out.append(Desired(name, "detector", {
            "name": name, "project": project, "type": "metric_issue", "enabled": True, **owner,
            "description": _description(rule, st), "config": {"detectionType": "static"},
            "query": {"aggregate": s.aggregate, "dataset": s.dataset, "query": s.query,
                      "timeWindow": s.time_window_minutes * 60, "environment": _environment(rule, st),
                      "eventTypes": ["transaction"] if transactions else ["default", "error"]},
            "condition_group": {"logic_type": "any", "conditions": [
                {"type": "gt", "comparison": _threshold(rule), "conditionResult": PRIORITY.get(rule.severity, 50)},
                {"type": "lte", "comparison": _threshold(rule), "conditionResult": 0}]},
        }))
    out.append(Desired(name, "workflow", {
        "name": name, "enabled": True, **owner, "environment": _environment(rule, st),
        "config": {"frequency": FREQUENCY_MINUTES},
        "triggers": {"logic_type": "any-short", "conditions": triggers},
        "action_filters": [{"logic_type": "all", "conditions": filters, "actions": [_workflow_action(rule, st)]}],
        "detectors": [name if s.kind == "metric" else f"error:{project}"],
    }))
    return out


def _legacy_action(rule: AlertRule, st: Settings, metric: bool) -> dict[str, Any]:
    if rule.severity == "info":
        kind, ident = _email(st)
        if metric:
            return {"type": "email", "targetType": kind if ident else "team", "targetIdentifier": ident}
        target = {"team": "Team", "user": "Member"}.get(kind, "IssueOwners")
        action = {"id": "sentry.mail.actions.NotifyEmailAction", "targetType": target,
                  "fallthroughType": "ActiveMembers"}
        return {**action, "targetIdentifier": int(ident)} if ident else action
    service = int(st.pagerduty_services[rule.severity])
    if metric:
        return {"type": "pagerduty", "targetType": "specific", "targetIdentifier": service,
                "integrationId": int(st.pagerduty_integration_id), "priority": rule.severity}
    return {"id": "sentry.integrations.pagerduty.notify_action.PagerDutyNotifyServiceAction",
            "account": int(st.pagerduty_integration_id), "service": service, "severity": rule.severity}


LEGACY_CONDITIONS = {"new_issue": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition",
                     "regression": "sentry.rules.conditions.regression_event.RegressionEventCondition",
                     "event_frequency": "sentry.rules.conditions.event_frequency.EventFrequencyCondition"}


def legacy_objects(rule: AlertRule, project: str, st: Settings) -> list[Desired]:
    """The issue-alert rule or the metric alert of one rule in one project (legacy API, request shape)."""
    s, name = rule.sentry, _name(rule, project, st)
    assert s is not None
    owner = {"owner": st.owner} if st.owner else {}
    if s.kind == "metric":
        transactions = s.dataset == "transactions"
        return [Desired(name, "alert-rule", {
            "name": name, "projects": [project], "aggregate": s.aggregate, "dataset": s.dataset, "query": s.query,
            "timeWindow": s.time_window_minutes, "thresholdType": 0, "environment": _environment(rule, st),
            "queryType": 1 if transactions else 0,
            "eventTypes": ["transaction"] if transactions else ["default", "error"], **owner,
            "triggers": [{"label": "critical", "alertThreshold": _threshold(rule),
                          "actions": [_legacy_action(rule, st, metric=True)]}],
        })]
    condition: dict[str, Any] = {"id": LEGACY_CONDITIONS[s.kind]}
    if s.kind == "event_frequency":
        condition |= {"value": _threshold(rule), "interval": INTERVALS[s.time_window_minutes]}
    return [Desired(f"{name}", "rule", {
        "name": name, "project": project, "actionMatch": "any", "filterMatch": "all",
        "frequency": FREQUENCY_MINUTES, "environment": _environment(rule, st), **owner,
        "conditions": [condition], "filters": [], "actions": [_legacy_action(rule, st, metric=False)],
    })]


def desired(rules: Iterable[AlertRule], st: Settings) -> list[Desired]:
    """Every rule's objects in every project; a rule fixed to another environment is that environment's."""
    build = legacy_objects if st.api == "legacy" else workflow_objects
    mine = [r for r in rules if r.sentry and r.sentry.environment in ("", st.environment)]
    return [d for rule in mine for project in st.projects for d in build(rule, project, st)]


# --- live objects, normalised into the same shape -------------------------------------------------


_ENVIRONMENT = re.compile(r", ([^,()]+)\)$")  # the environment at the end of our names


def _owned(name: str, owner: Any, st: Settings) -> bool:
    """Our prefix, not another environment's name (projects are shared), and our owner team when we have one."""
    if isinstance(owner, Mapping):  # a monitor's owner is an object
        owner = f"{owner.get('type')}:{owner.get('id')}"
    env = _ENVIRONMENT.search(name)
    return (name.startswith(PREFIX + " ") and (env is None or env.group(1) == st.environment)
            and (st.owner is None or owner == st.owner))


def _conditions(items: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    return [{k: c.get(k) for k in ("type", "comparison", "conditionResult")} for c in items or ()]


def _action(a: Mapping[str, Any]) -> dict[str, Any]:
    config = a.get("config") or {}
    return {"type": a.get("type"), "integrationId": a.get("integrationId"), "data": a.get("data") or {},
            "status": a.get("status", "active"),
            "config": {k: config.get(k) for k in ("targetType", "targetIdentifier")}}  # targetDisplay: display


def _snuba(detector: Mapping[str, Any]) -> dict[str, Any]:
    source = (detector.get("dataSources") or [{}])[0]
    q = (source.get("queryObj") or {}).get("snubaQuery") or {}
    return {k: q.get(k) for k in ("aggregate", "dataset", "query", "timeWindow", "environment", "eventTypes")}


def normalise_detector(d: Mapping[str, Any], project: str) -> dict[str, Any]:
    group = d.get("conditionGroup") or {}
    owner = d.get("owner")
    return {"name": d["name"], "project": project, "type": d.get("type"), "enabled": d.get("enabled", True),
            "owner": f"{owner['type']}:{owner['id']}" if owner else None, "description": d.get("description"),
            "config": {"detectionType": (d.get("config") or {}).get("detectionType")}, "query": _snuba(d),
            "condition_group": {"logic_type": group.get("logicType"),
                                "conditions": _conditions(group.get("conditions"))}}


def normalise_workflow(w: Mapping[str, Any], detector_refs: Mapping[str, str]) -> dict[str, Any]:
    triggers = w.get("triggers") or {}
    return {
        "name": w["name"], "enabled": w.get("enabled", True), "owner": w.get("owner"),
        "environment": w.get("environment"), "config": {"frequency": (w.get("config") or {}).get("frequency")},
        "triggers": {"logic_type": triggers.get("logicType"), "conditions": _conditions(triggers.get("conditions"))},
        "action_filters": [{"logic_type": f.get("logicType"), "conditions": _conditions(f.get("conditions")),
                            "actions": [_action(a) for a in f.get("actions") or ()]}
                           for f in w.get("actionFilters") or ()],
        "detectors": [detector_refs.get(str(i), f"id:{i}") for i in w.get("detectorIds") or ()],
    }


_SERVER_KEYS = {"name", "uuid", "_valid"}  # added by the server to legacy conditions and actions


def normalise_rule(r: Mapping[str, Any], project: str) -> dict[str, Any]:
    def strip(items: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
        return [{k: v for k, v in item.items() if k not in _SERVER_KEYS} for item in items or ()]

    return {"name": r["name"], "project": project, "actionMatch": r.get("actionMatch"),
            "filterMatch": r.get("filterMatch") or "all", "frequency": r.get("frequency"),
            "environment": r.get("environment"), "owner": r.get("owner"), "conditions": strip(r.get("conditions")),
            "filters": strip(r.get("filters")), "actions": strip(r.get("actions"))}


def _metric_action(a: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: a.get(k) for k in ("type", "targetType", "targetIdentifier")}
    if a.get("type") == "pagerduty":
        out |= {"targetIdentifier": int(a["targetIdentifier"]), "integrationId": int(a["integrationId"]),
                "priority": a.get("priority") or "critical"}
    return out


def normalise_alert_rule(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": r["name"], "projects": sorted(r.get("projects") or ()), "aggregate": r.get("aggregate"),
            "dataset": r.get("dataset"), "query": r.get("query", ""), "timeWindow": int(r.get("timeWindow") or 0),
            "thresholdType": r.get("thresholdType"), "environment": r.get("environment"),
            "queryType": r.get("queryType"), "eventTypes": sorted(r.get("eventTypes") or ()), "owner": r.get("owner"),
            "triggers": [{"label": t.get("label"), "alertThreshold": t.get("alertThreshold"),
                          "actions": [_metric_action(a) for a in t.get("actions") or ()]}
                         for t in r.get("triggers") or ()]}


class Sentry:
    """Lists, normalises and writes one organization's alerts through an :class:`Api`."""

    delete_batch = 1

    def __init__(self, api: Api, st: Settings) -> None:
        self.api, self.st = api, st
        self.org = f"/api/0/organizations/{st.organization}"
        self.detector_ids: dict[str, str] = {}  # monitor names and error:<project> -> id, filled by live()

    # listing

    def live(self) -> list[Live]:
        """What Sentry has, normalised; :class:`SentryError` when an answer does not have the shape of its objects
        (the normalisers read Sentry's fields as the contract gives them)."""
        try:
            return self._legacy_live() if self.st.api == "legacy" else self._workflows_live()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise SentryError(f"an answer does not have the shape of Sentry's alerts ({type(exc).__name__}: "
                              f"{str(exc)[:80]})") from None

    def _listed(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[Mapping[str, Any]]:
        """The objects of a listing, each with a numeric ``id`` (a segment of the paths that change it) and a
        ``name``; :class:`SentryError` for an answer that is not a Sentry object, before anything is changed."""
        for obj in self.api.list(path, params):
            named = isinstance(obj, Mapping) and isinstance(obj.get("name"), str)
            if not (named and _ID.fullmatch(str(obj.get("id")))):
                raise SentryError(f"GET {path}: an entry without a numeric id and a name is not a Sentry object")
            yield obj

    def _workflows_live(self) -> list[Live]:
        found: list[Live] = []
        refs: dict[str, str] = {}
        for project in self.st.projects:
            for d in self._listed(f"{self.org}/detectors/", {"project": project}):
                if d.get("type") == "error":
                    refs[str(d["id"])] = f"error:{project}"
                    self.detector_ids[f"error:{project}"] = str(d["id"])
                    continue
                refs[str(d["id"])] = d["name"]
                if d["name"].startswith(PREFIX):
                    self.detector_ids[d["name"]] = str(d["id"])
                found.append(self._live(d, "detector", normalise_detector(d, project), str(d["id"])))
        for w in self._listed(f"{self.org}/workflows/"):
            if w.get("detectorIds") and not any(str(i) in refs for i in w["detectorIds"]):
                continue  # listed organization-wide: an alert of projects we do not sync is not ours to touch
            found.append(self._live(w, "workflow", normalise_workflow(w, refs), str(w["id"])))
        return found

    def _legacy_live(self) -> list[Live]:
        found: list[Live] = []
        for project in self.st.projects:
            for r in self._listed(f"/api/0/projects/{self.st.organization}/{project}/rules/"):
                found.append(self._live(r, "rule", normalise_rule(r, project), (project, str(r["id"]))))
        for r in self._listed(f"{self.org}/alert-rules/"):
            if set(r.get("projects") or ()) & set(self.st.projects):
                found.append(self._live(r, "alert-rule", normalise_alert_rule(r), str(r["id"])))
        return found

    def _live(self, raw: Mapping[str, Any], kind: str, body: dict[str, Any], ref: Any) -> Live:
        """A listed object; its owner is compared only when we set one (``sentry.owner_team``)."""
        if self.st.owner is None:
            body.pop("owner", None)
        return Live(raw["name"], kind, body, _owned(raw["name"], raw.get("owner"), self.st), ref)

    # writing

    def _body(self, change: Change) -> tuple[str, str, dict[str, Any]]:
        """(method path for create, path for update/delete, request body) of a change."""
        b = dict(change.desired or {})
        ref = change.live.ref if change.live else None
        if change.kind == "detector":
            query = b.pop("query")
            body = {k: v for k, v in b.items() if k != "project"}
            body["data_sources"] = [{**query, "queryType": 1 if query["dataset"] == "transactions" else 0}]
            return f"{self.org}/projects/{b['project']}/detectors/", f"{self.org}/detectors/{ref}/", body
        if change.kind == "workflow":
            b["detector_ids"] = [int(self.detector_ids[r]) for r in b.pop("detectors")]  # checked by make_plan
            return f"{self.org}/workflows/", f"{self.org}/workflows/{ref}/", b
        if change.kind == "rule":
            project = b.pop("project")
            base = f"/api/0/projects/{self.st.organization}/{project}/rules/"
            return base, f"{base}{ref[1] if ref else ''}/", b
        return f"{self.org}/alert-rules/", f"{self.org}/alert-rules/{ref}/", b

    def create(self, change: Change) -> None:
        create, _, body = self._body(change)
        made = self.api.json("POST", create, body)
        if change.kind == "detector":
            if not (isinstance(made, Mapping) and _ID.fullmatch(str(made.get("id")))):
                raise SentryError(f"POST {create}: the answer has no numeric id of the monitor it created")
            self.detector_ids[change.key] = str(made["id"])

    def update(self, change: Change) -> None:
        _, path, body = self._body(change)
        self.api.json("PUT", path, body)

    def delete(self, changes: Sequence[Change]) -> None:
        for change in changes:
            ref = change.live.ref if change.live else None
            path = {"detector": f"{self.org}/detectors/{ref}/", "workflow": f"{self.org}/workflows/{ref}/",
                    "alert-rule": f"{self.org}/alert-rules/{ref}/"}.get(change.kind)
            if change.kind == "rule":
                path = f"/api/0/projects/{self.st.organization}/{ref[0]}/rules/{ref[1]}/"  # type: ignore[index]
            self.api.request("DELETE", path or "")


def make_plan(sentry: Sentry, rules: Sequence[AlertRule], prune: bool) -> Plan:
    """Validate the catalog input, then list what Sentry has and diff."""
    rules = [r for r in rules if r.sentry is not None]
    validate(rules, sentry.st)
    wanted = desired(rules, sentry.st)
    try:
        found = sentry.live()
    except SentryError as exc:
        raise SentryError(f"cannot read the Sentry alerts of organization {sentry.st.organization} at "
                          f"{sentry.st.url}: {exc}") from None
    monitors = set(sentry.detector_ids) | {d.key for d in wanted if d.kind == "detector"}
    unknown = sorted({ref for d in wanted if d.kind == "workflow" for ref in d.body["detectors"]} - monitors)
    if unknown:
        raise PlanError(f"sentry: no monitor for {', '.join(unknown)}: does the project exist, with its error "
                        "monitor? (nothing was changed)")
    return diff(TARGET, wanted, found, prune, KINDS)
