"""Fault injection through botocore's ``before-send`` event: a handler that answers a request with an error
response, a malformed body or a timeout instead of sending it, on real clients made by :class:`Aws`.

A fault is ``fault(call) -> AWSResponse | None`` (None: send the request); raising (e.g. ReadTimeoutError)
is what a dead endpoint does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from docqet_monitor.core.aws import Aws


@dataclass(frozen=True)
class Request:
    """One attempt about to be sent."""

    service: str
    region: str
    operation: str
    protocol: str  # json | query | ...
    url: str


Fault = Callable[[Request], AWSResponse | None]


class Body:
    """A raw HTTP body for :class:`AWSResponse` (what botocore reads from urllib3)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def response(request: Request, status: int, body: bytes, content_type: str) -> AWSResponse:
    return AWSResponse(request.url, status, {"Content-Type": content_type, "Content-Length": str(len(body))},
                       Body(body))


def error(request: Request, status: int, code: str) -> AWSResponse:
    """An AWS error response in the request's protocol."""
    if request.protocol == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
                "<RequestId>fault</RequestId></ErrorResponse>").encode()
        return response(request, status, body, "text/xml")
    if request.protocol == "rest-xml":  # S3
        body = f"<Error><Code>{code}</Code><Message>injected</Message><RequestId>fault</RequestId></Error>".encode()
        return response(request, status, body, "application/xml")
    return response(request, status, json.dumps({"__type": code, "message": "injected"}).encode(),
                    "application/x-amz-json-1.1")


def throttled(request: Request) -> AWSResponse:
    return error(request, 400, "Throttling" if request.protocol == "query" else "ThrottlingException")


def unavailable(request: Request) -> AWSResponse:
    return error(request, 503, "ServiceUnavailable" if request.protocol == "query" else "ServiceUnavailableException")


def timeout(request: Request) -> AWSResponse:
    raise ReadTimeoutError(endpoint_url=request.url)


def every_nth(n: int, make: Callable[[Request], AWSResponse]) -> Fault:
    """A fault on every ``n``-th attempt to each service in each region; never on the attempt right after a
    thread's faulted one, so a retry gets through."""
    lock = threading.Lock()
    counts: dict[tuple[str, str], int] = {}
    local = threading.local()

    def fault(request: Request) -> AWSResponse | None:
        with lock:
            key = (request.service, request.region)
            counts[key] = counts.get(key, 0) + 1
            hit = counts[key] % n == 0
        hit = hit and not getattr(local, "faulted", False)
        local.faulted = hit
        return make(request) if hit else None
    return fault


def when(predicate: Callable[[Request], bool], make: Callable[[Request], AWSResponse]) -> Fault:
    return lambda request: make(request) if predicate(request) else None


@dataclass
class FaultyAws(Aws):
    """:class:`Aws` whose clients pass each attempt through ``self.fault`` (set and cleared by tests)."""

    fault: Fault | None = None
    injected: list[Request] = field(default_factory=list)

    def instrument(self, client: Any, account: str = "") -> None:
        model = client.meta.service_model
        service, region, protocol = model.service_name, client.meta.region_name, model.resolved_protocol

        def before_send(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
            call = Request(service, region, event_name.rsplit(".", 1)[-1], protocol, request.url)
            fault = self.fault
            try:
                answer = None if fault is None else fault(call)
            except Exception:  # a dead endpoint
                self.injected.append(call)
                raise
            if answer is not None:
                self.injected.append(call)
            return answer

        super().instrument(client, account)
        # after the in-flight limits: a hanging fault holds its slots as a hung request does
        client.meta.events.register_last("before-send.*.*", before_send)
