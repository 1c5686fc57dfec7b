"""PagerDuty Events API v2 request bodies checked against tests/contracts/pagerduty-events-v2.schema.json."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from helpers import CONTRACTS

SCHEMA: dict[str, Any] = json.loads((CONTRACTS / "pagerduty-events-v2.schema.json").read_text())
MAX_BODY_BYTES: int = SCHEMA["x-max-body-bytes"]  # "Events API payloads are limited to 512 KB"
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(body: Any) -> list[str]:
    """Why PagerDuty would refuse ``body`` (an ``/enqueue`` request), or an empty list."""
    found = [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in _VALIDATOR.iter_errors(body)]
    size = len(json.dumps(body, separators=(",", ":")).encode())
    if size > MAX_BODY_BYTES:
        found.append(f"body: {size} bytes, over the {MAX_BODY_BYTES}-byte limit")
    return found


def validate(body: Any) -> None:
    """Fail the test when PagerDuty would refuse ``body``."""
    problems = errors(body)
    if problems:
        raise AssertionError(f"not a valid PagerDuty Events API v2 request: {problems}")
