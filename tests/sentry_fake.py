"""A small in-memory Sentry behind ``responses``: it stores what is POSTed / PUT, lists it back paginated
(Link-header cursors), shapes objects the way Sentry answers (camelCase, ids, server-managed fields), and
validates every request body and every listed object against the published OpenAPI contracts."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from helpers import CONTRACTS, FIXTURES
from openapi_schema_validator import OAS30Validator

WORKFLOWS_SPEC = json.loads((CONTRACTS / "sentry-monitors-workflows-openapi.json").read_text())["paths"]
LEGACY_SPEC = json.loads((CONTRACTS / "sentry-alert-rules-openapi.json").read_text())["paths"]
SEEDS = FIXTURES / "sentry"
TOKEN = "sntrys_test_secret_token_123"
ORG_PATH = "/api/0/organizations/{organization_id_or_slug}"
Fault = Callable[[str, str], tuple[int, dict[str, str], str] | None]  # (method, path) -> a response, or None


def _schema(spec: dict[str, Any], path: str, method: str, strict: bool) -> dict[str, Any]:
    """The request body schema of an operation; ``strict`` forbids keys the contract does not name."""
    schema = copy.deepcopy(spec[path][method]["requestBody"]["content"]["application/json"]["schema"])
    if strict:
        schema["additionalProperties"] = False
    return schema


def _list_item_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    return spec[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"]


def validate(instance: Any, schema: dict[str, Any]) -> None:
    errors = sorted(OAS30Validator(schema).iter_errors(instance), key=str)
    assert not errors, f"does not match the Sentry contract: {errors[0].message} at {list(errors[0].path)}"


def seed(name: str) -> dict[str, Any]:
    return json.loads((SEEDS / name).read_text())


class FakeSentry:
    """One organization; ``projects`` maps slug -> numeric id. Each project has its default error monitor."""

    def __init__(self, url: str = "https://sentry.example", org: str = "docqet",
                 projects: dict[str, str] | None = None, page_size: int = 2) -> None:
        self.url, self.org, self.page_size = url, org, page_size
        self.projects = projects or {"api": "11", "web": "12"}
        self.ids = itertools.count(1000)
        self.detectors: dict[str, dict[str, Any]] = {}
        self.workflows: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.alert_rules: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []  # (method, path, body) of every request
        self.fault: Fault = lambda method, path: None
        for pid in self.projects.values():
            error = {**seed("error-detector.json"), "id": str(next(self.ids)), "projectId": pid}
            self.detectors[error["id"]] = error

    # --- plumbing ---

    def install(self, rsps: responses.RequestsMock) -> None:
        base = re.escape(self.url)
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/api/0/organizations/[^/]+/detectors/", self._list_detectors),
            ("POST", r"/api/0/organizations/[^/]+/projects/([^/]+)/detectors/", self._create_detector),
            ("PUT", r"/api/0/organizations/[^/]+/detectors/(\d+)/", self._update_detector),
            ("DELETE", r"/api/0/organizations/[^/]+/detectors/(\d+)/", self._delete(self.detectors)),
            ("GET", r"/api/0/organizations/[^/]+/workflows/", self._list(self.workflows, "/workflows/")),
            ("POST", r"/api/0/organizations/[^/]+/workflows/", self._create_workflow),
            ("PUT", r"/api/0/organizations/[^/]+/workflows/(\d+)/", self._update_workflow),
            ("DELETE", r"/api/0/organizations/[^/]+/workflows/(\d+)/", self._delete(self.workflows)),
            ("GET", r"/api/0/projects/[^/]+/([^/]+)/rules/", self._list_rules),
            ("POST", r"/api/0/projects/[^/]+/([^/]+)/rules/", self._create_rule),
            ("PUT", r"/api/0/projects/[^/]+/([^/]+)/rules/(\d+)/", self._update_rule),
            ("DELETE", r"/api/0/projects/[^/]+/[^/]+/rules/(\d+)/", self._delete(self.rules)),
            ("GET", r"/api/0/organizations/[^/]+/alert-rules/", self._list(self.alert_rules, "/alert-rules/")),
            ("POST", r"/api/0/organizations/[^/]+/alert-rules/", self._create_alert_rule),
            ("PUT", r"/api/0/organizations/[^/]+/alert-rules/(\d+)/", self._update_alert_rule),
            ("DELETE", r"/api/0/organizations/[^/]+/alert-rules/(\d+)/", self._delete(self.alert_rules)),
        ]
        for method, pattern, handler in routes:
            regex = re.compile(base + pattern + r"(\?.*)?$")
            rsps.add_callback(method, regex, callback=self._wrap(method, regex, handler))

    def _wrap(self, method: str, regex: re.Pattern[str], handler: Callable[..., Any]) -> Callable[..., Any]:
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            path = request.path_url.split("?")[0]
            body = json.loads(request.body) if request.body else None
            self.calls.append((method, path, body))
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, json.dumps({"detail": "Invalid token"})
            fault = self.fault(method, path)
            if fault:
                return fault
            groups = [g for g in regex.match(request.url).groups()[:-1]]  # type: ignore[union-attr]
            status, payload, headers = handler(request, body, *groups)
            return status, headers, "" if payload is None else json.dumps(payload)
        return callback

    def _page(self, request: Any, items: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
        query = parse_qs(urlsplit(request.url).query)
        offset = int(query.get("cursor", ["0:0:0"])[0].split(":")[1])
        page = items[offset:offset + self.page_size]
        more = offset + self.page_size < len(items)
        nxt = f"0:{offset + self.page_size}:0"
        base = request.url.split("?")[0]
        link = (f'<{base}?cursor=0:{max(offset - self.page_size, 0)}:1>; rel="previous"; '
                f'results="{str(offset > 0).lower()}"; cursor="0:{max(offset - self.page_size, 0)}:1", '
                f'<{base}?cursor={nxt}>; rel="next"; results="{str(more).lower()}"; cursor="{nxt}"')
        return 200, page, {"Link": link}

    def _now(self) -> str:
        return "2026-11-25T18:00:00.000000Z"

    def _delete(self, store: dict[str, dict[str, Any]]) -> Callable[..., Any]:
        def handler(request: Any, body: Any, ident: str) -> tuple[int, Any, dict[str, str]]:
            if store.pop(ident, None) is None:
                return 404, {"detail": "not found"}, {}
            return 204, None, {}
        return handler

    def _list(self, store: dict[str, dict[str, Any]], suffix: str) -> Callable[..., Any]:
        spec = WORKFLOWS_SPEC if suffix == "/workflows/" else LEGACY_SPEC
        item = _list_item_schema(spec, ORG_PATH + suffix)

        def handler(request: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
            items = [store[k] for k in sorted(store, key=int)]
            for obj in items:
                validate(obj, item)
            return self._page(request, items)
        return handler

    # --- monitors (detectors) ---

    def _detector(self, body: dict[str, Any], ident: str, project_id: str) -> dict[str, Any]:
        owner = body.get("owner")
        source = (body.get("data_sources") or [{}])[0]
        group = body.get("condition_group") or {}
        return {
            "id": ident, "projectId": project_id, "name": body["name"], "description": body.get("description"),
            "type": body["type"], "workflowIds": [], "createdBy": "1", "dateCreated": self._now(),
            "dateUpdated": self._now(), "enabled": body.get("enabled", True), "latestGroup": None,
            "owner": {"type": "team", "id": owner.split(":")[1], "name": "platform"} if owner else None,
            "config": {"comparisonDelta": None, **(body.get("config") or {})},  # with a server default
            "dataSources": [{"id": str(next(self.ids)), "organizationId": "1", "type": "snuba_query_subscription",
                             "sourceId": str(next(self.ids)), "queryObj": {
                                 "id": str(next(self.ids)), "status": 1, "subscription": None, "snubaQuery": {
                                     "id": str(next(self.ids)), "extrapolationMode": "unknown",
                                     **{k: source.get(k) for k in ("aggregate", "dataset", "query", "timeWindow",
                                                                   "environment", "eventTypes")}}}}],
            "conditionGroup": {"id": str(next(self.ids)), "organizationId": "1", "logicType": group.get("logic_type"),
                               "conditions": [{"id": str(next(self.ids)), **c} for c in group.get("conditions", [])],
                               "actions": []},
        }

    def _list_detectors(self, request: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
        wanted = parse_qs(urlsplit(request.url).query).get("project", [])
        ids = {self.projects.get(p, p) for p in wanted}
        items = [d for k, d in sorted(self.detectors.items(), key=lambda kv: int(kv[0]))
                 if not ids or d["projectId"] in ids]
        item = _list_item_schema(WORKFLOWS_SPEC, ORG_PATH + "/detectors/")
        for obj in items:
            validate(obj, item)
        return self._page(request, items)

    def _create_detector(self, request: Any, body: Any, project: str) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(WORKFLOWS_SPEC, ORG_PATH + "/projects/{project_id_or_slug}/detectors/", "post",
                               strict=True))
        ident = str(next(self.ids))
        self.detectors[ident] = self._detector(body, ident, self.projects[project])
        return 201, self.detectors[ident], {}

    def _update_detector(self, request: Any, body: Any, ident: str) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(WORKFLOWS_SPEC, ORG_PATH + "/detectors/{detector_id}/", "put", strict=True))
        if ident not in self.detectors:
            return 404, {"detail": "not found"}, {}
        self.detectors[ident] = self._detector(body, ident, self.detectors[ident]["projectId"])
        return 200, self.detectors[ident], {}

    # --- alerts (workflows) ---

    def _conditions(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": str(next(self.ids)), **c} for c in items]

    def _workflow(self, body: dict[str, Any], ident: str) -> dict[str, Any]:
        def action(a: dict[str, Any]) -> dict[str, Any]:
            shown = "PagerDuty: platform" if a["type"] == "pagerduty" else None  # filled in by the server
            return {"id": str(next(self.ids)), **a, "config": {**a["config"], "targetDisplay": shown}}
        triggers = body.get("triggers") or {"logic_type": "any-short", "conditions": []}
        return {
            "id": ident, "name": body["name"], "organizationId": "1", "createdBy": "1",
            "dateCreated": self._now(), "dateUpdated": self._now(), "lastTriggered": None,
            "enabled": body.get("enabled", True), "environment": body.get("environment"),
            "config": body.get("config") or {}, "owner": body.get("owner"),
            "detectorIds": [str(i) for i in body.get("detector_ids", [])],
            "triggers": {"id": str(next(self.ids)), "organizationId": "1", "logicType": triggers["logic_type"],
                         "conditions": self._conditions(triggers.get("conditions", [])), "actions": []},
            "actionFilters": [{"id": str(next(self.ids)), "organizationId": "1", "logicType": f["logic_type"],
                               "conditions": self._conditions(f.get("conditions", [])),
                               "actions": [action(a) for a in f.get("actions", [])]}
                              for f in body.get("action_filters", [])],
        }

    def _create_workflow(self, request: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(WORKFLOWS_SPEC, ORG_PATH + "/workflows/", "post", strict=True))
        missing = [i for i in body.get("detector_ids", []) if str(i) not in self.detectors]
        if missing:
            return 400, {"detectorIds": [f"unknown monitor(s) {missing}"]}, {}
        ident = str(next(self.ids))
        self.workflows[ident] = self._workflow(body, ident)
        return 201, self.workflows[ident], {}

    def _update_workflow(self, request: Any, body: Any, ident: str) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(WORKFLOWS_SPEC, ORG_PATH + "/workflows/{workflow_id}/", "put", strict=True))
        if ident not in self.workflows:
            return 404, {"detail": "not found"}, {}
        self.workflows[ident] = self._workflow(body, ident)
        return 200, self.workflows[ident], {}

    # --- legacy issue alert rules and metric alerts ---

    def _rule(self, body: dict[str, Any], ident: str, project: str) -> dict[str, Any]:
        def named(items: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
            return [{**i, "name": label} for i in items]  # the server adds a human-readable name
        return {"id": ident, "name": body["name"], "actionMatch": body["actionMatch"],
                "filterMatch": body.get("filterMatch", "all"), "frequency": body["frequency"],
                "environment": body.get("environment"), "owner": body.get("owner"),
                "conditions": named(body["conditions"], "A condition"), "filters": body.get("filters", []),
                "actions": named(body["actions"], "An action"), "dateCreated": self._now(), "projects": [project],
                "status": "active", "snooze": False, "lastTriggered": None,
                "createdBy": {"id": 1, "name": "Jane", "email": "jane@example.com"}}

    def _list_rules(self, request: Any, body: Any, project: str) -> tuple[int, Any, dict[str, str]]:
        item = _list_item_schema(LEGACY_SPEC, "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/rules/")
        items = [r for k, r in sorted(self.rules.items(), key=lambda kv: int(kv[0])) if r["projects"] == [project]]
        for obj in items:
            validate(obj, item)
        return self._page(request, items)

    def _create_rule(self, request: Any, body: Any, project: str) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(LEGACY_SPEC, "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/rules/",
                               "post", strict=True))
        ident = str(next(self.ids))
        self.rules[ident] = self._rule(body, ident, project)
        return 201, self.rules[ident], {}

    def _update_rule(self, request: Any, body: Any, project: str, ident: str) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(LEGACY_SPEC, "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/rules/"
                                            "{rule_id}/", "put", strict=True))
        self.rules[ident] = self._rule(body, ident, project)
        return 200, self.rules[ident], {}

    def _alert_rule(self, body: dict[str, Any], ident: str) -> dict[str, Any]:
        def trigger(t: dict[str, Any]) -> dict[str, Any]:
            tid = str(next(self.ids))
            return {"id": tid, "alertRuleId": ident, "label": t["label"], "thresholdType": body["thresholdType"],
                    "alertThreshold": float(t["alertThreshold"]), "resolveThreshold": None,
                    "dateCreated": self._now(),
                    "actions": [{**a, "id": str(next(self.ids)), "alertRuleTriggerId": tid, "inputChannelId": None,
                                 "targetIdentifier": str(a["targetIdentifier"]), "desc": "Send a notification"}
                                for a in t["actions"]]}
        return {"id": ident, "name": body["name"], "organizationId": "1", "queryType": body.get("queryType"),
                "dataset": body.get("dataset"), "query": body["query"], "aggregate": body["aggregate"],
                "thresholdType": body["thresholdType"], "resolveThreshold": None,
                "timeWindow": float(body["timeWindow"]), "environment": body.get("environment"),
                "triggers": [trigger(t) for t in body["triggers"]], "projects": body["projects"],
                "owner": body.get("owner"), "originalAlertRuleId": None, "comparisonDelta": None,
                "dateModified": self._now(), "dateCreated": self._now(), "createdBy": {"id": 1},
                "eventTypes": body.get("eventTypes")}

    def _create_alert_rule(self, request: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(LEGACY_SPEC, ORG_PATH + "/alert-rules/", "post", strict=True))
        ident = str(next(self.ids))
        self.alert_rules[ident] = self._alert_rule(body, ident)
        return 201, self.alert_rules[ident], {}

    def _update_alert_rule(self, request: Any, body: Any, ident: str) -> tuple[int, Any, dict[str, str]]:
        validate(body, _schema(LEGACY_SPEC, ORG_PATH + "/alert-rules/{alert_rule_id}/", "put", strict=True))
        self.alert_rules[ident] = self._alert_rule(body, ident)
        return 200, self.alert_rules[ident], {}

    def stores(self) -> tuple[dict[str, dict[str, Any]], ...]:
        return self.detectors, self.workflows, self.rules, self.alert_rules

    def writes(self) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] != "GET"]
