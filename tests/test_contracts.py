"""The vendored API contracts under tests/contracts/: self-contained, documented, and the PagerDuty schema strict.

PagerDuty's Events v2 OpenAPI file carries no licence, so tests/contracts/pagerduty-events-v2.schema.json is our
own schema written from PagerDuty's documentation; the cases below pin what it must accept and refuse.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import jsonschema
import pagerduty_events
import pytest
from helpers import CONTRACTS

TESTS = Path(__file__).resolve().parent
KEY = "0123456789abcdef0123456789abcdef"  # 32 characters, like an integration key

# What Alertmanager's pagerduty_configs (our rendered receiver) posts for a firing group.
TRIGGER: dict[str, Any] = {
    "routing_key": KEY, "event_action": "trigger", "dedup_key": "a" * 64,
    "payload": {"summary": "[staging] EcsServiceNoRunningTasks: api runs no task", "source": "docqet-monitor",
                "severity": "critical", "class": "EcsServiceNoRunningTasks", "component": "ecs", "group": "staging",
                "timestamp": "2015-07-17T08:42:58.315+0000",
                "custom_details": {"environment": "staging", "service": "api", "firing": "1"}},
    "client": "Alertmanager", "client_url": "http://127.0.0.1:9093/#/alerts?receiver=pagerduty-critical",
    "links": [{"href": "https://runbooks.test/ecs", "text": "Runbook"}, {"href": "https://grafana.test/d/x"}],
    "images": [{"src": "https://grafana.test/render/x.png", "href": "https://grafana.test/d/x", "alt": "panel"}],
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """TRIGGER with the value at ``path`` ("payload.severity", "links.0.href") replaced; ``...`` removes it."""
    body = copy.deepcopy(TRIGGER)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = body
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return body


ACCEPTED = {
    "alertmanager trigger": TRIGGER,
    "trigger, required fields only": {"routing_key": KEY, "event_action": "trigger",
                                      "payload": {"summary": "s", "source": "h", "severity": "info"}},
    "acknowledge": {"routing_key": KEY, "event_action": "acknowledge", "dedup_key": "srv01/mysql"},
    "resolve with payload": _with("event_action", "resolve"),
    "summary of 1024 characters": _with("payload.summary", "s" * 1024),
    "dedup_key of 255 characters": _with("dedup_key", "d" * 255),
    **{f"severity {s}": _with("payload.severity", s) for s in ("critical", "error", "warning", "info")},
}

# Refused by the published OpenAPI file (PagerDuty/api-schema reference/events-v2/openapiv3.json) too.
REFUSED_BY_THE_SPEC = {
    "not an object": [TRIGGER],
    "no routing_key": _with("routing_key", ...),
    "routing_key not a string": _with("routing_key", 12345678901234567890123456789012),
    "no event_action": _with("event_action", ...),
    "unknown event_action": _with("event_action", "create"),
    "dedup_key not a string": _with("dedup_key", 7),
    "payload not an object": _with("payload", "disk full"),
    "payload without summary": _with("payload.summary", ...),
    "payload without source": _with("payload.source", ...),
    "payload without severity": _with("payload.severity", ...),
    "unknown severity": _with("payload.severity", "page"),
    "summary not a string": _with("payload.summary", ["s"]),
    "custom_details not an object": _with("payload.custom_details", ["service=api"]),
    "links not an array": _with("links", {"href": "https://x.test"}),
    "link without href": _with("links.0.href", ...),
    "image without src": _with("images.0.src", ...),
    "client not a string": _with("client", 1),
}

# Refused by PagerDuty's documented limits, which the OpenAPI file does not state.
REFUSED_BY_THE_DOCS = {
    "routing_key of 31 characters": _with("routing_key", KEY[:31]),
    "routing_key of 33 characters": _with("routing_key", KEY + "0"),
    "dedup_key of 256 characters": _with("dedup_key", "d" * 256),
    "summary of 1025 characters": _with("payload.summary", "s" * 1025),
    "trigger without payload": _with("payload", ...),
    "resolve without dedup_key": {"routing_key": KEY, "event_action": "resolve"},
    "image not served over https": _with("images.0.src", "http://grafana.test/render/x.png"),
    "body over 512 KB": _with("payload.custom_details", {"log": "x" * pagerduty_events.MAX_BODY_BYTES}),
}


def test_the_pagerduty_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(pagerduty_events.SCHEMA)


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_pagerduty_schema_accepts_documented_requests(body: dict[str, Any]) -> None:
    assert pagerduty_events.errors(body) == []


@pytest.mark.parametrize("body", [*REFUSED_BY_THE_SPEC.values(), *REFUSED_BY_THE_DOCS.values()],
                         ids=[*REFUSED_BY_THE_SPEC, *REFUSED_BY_THE_DOCS])
def test_the_pagerduty_schema_refuses_what_pagerduty_refuses(body: Any) -> None:
    assert pagerduty_events.errors(body)
    with pytest.raises(AssertionError, match="not a valid PagerDuty Events API v2 request"):
        pagerduty_events.validate(body)


def test_every_contract_is_listed_in_the_readme_with_its_checksum() -> None:
    """The README's sha256 column pins the vendored copies byte for byte (and names every file)."""
    readme = (CONTRACTS / "README.md").read_text()
    listed = dict(re.findall(r"^\| `([^`]+)` \|.*\| ([0-9a-f]{64}) \|", readme, flags=re.MULTILINE))
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in CONTRACTS.iterdir() if p.name != "README.md"}
    assert listed == files


def test_no_test_reads_files_beside_the_checkout() -> None:
    """The suite runs from a clean clone: no test module may read the shared folder beside the checkout."""
    beside = re.compile(r"\.\./shared|/\s*[\"']shared[\"']|[\"']shared[\"']\s*/")
    offenders = [f"{path.relative_to(TESTS)}:{n}: {line.strip()}"
                 for path in sorted(TESTS.rglob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), 1) if beside.search(line)]
    assert offenders == []
