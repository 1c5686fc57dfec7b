"""API Gateway stages of one region: REST APIs (v1: GetRestApis, 500 a page, then GetStages per API, which
answers every stage at once) and HTTP APIs (v2: GetApis and GetStages, paged; WebSocket APIs are left out)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from docqet_monitor.core.paging import pages

T = TypeVar("T")
REST_PAGE_SIZE = 500  # GetRestApis limit: 500 at most (25 when not asked)
V2_PAGE_SIZE = 100  # GetApis / GetStages (v2) MaxResults: no documented maximum; we hold ourselves to 100

Protocol_ = Literal["rest", "http"]


@dataclass(frozen=True)
class ApiStage:
    """One deployed stage of an API. CloudWatch knows REST stages by (ApiName, Stage), HTTP ones by (ApiId, Stage)."""

    api: str  # the API's name
    api_id: str
    protocol: Protocol_
    stage: str


class ApiGatewayApi(Protocol):
    """What the collector needs from API Gateway v1 and v2 (pagination inside)."""

    def stages(self) -> list[ApiStage]: ...


def _named(raw: Mapping[str, Any], name_key: str, id_key: str) -> tuple[str, str] | None:
    name, api_id = raw.get(name_key), raw.get(id_key)
    return (name, api_id) if isinstance(name, str) and isinstance(api_id, str) and name and api_id else None


def rest_apis(items: Sequence[Any]) -> list[tuple[str, str]]:
    """(name, id) of GetRestApis items (pure)."""
    return [api for api in (_named(raw, "name", "id") for raw in items if isinstance(raw, dict)) if api]


def http_apis(items: Sequence[Any]) -> list[tuple[str, str]]:
    """(name, id) of the HTTP APIs among GetApis items (pure)."""
    return [api for api in (_named(raw, "Name", "ApiId") for raw in items
                            if isinstance(raw, dict) and raw.get("ProtocolType") == "HTTP") if api]


def stage_names(items: Sequence[Any], key: str) -> list[str]:
    """Stage names from GetStages items (``stageName`` in v1, ``StageName`` in v2) (pure)."""
    return [raw[key] for raw in items if isinstance(raw, dict) and isinstance(raw.get(key), str) and raw[key]]


class BotoApiGatewayApi:
    """:class:`ApiGatewayApi` over boto3 ``apigateway`` and ``apigatewayv2`` clients; GetStages calls run
    ``workers`` at a time."""

    def __init__(self, v1: Any, v2: Any, workers: int = 5) -> None:
        self._v1, self._v2, self._workers = v1, v2, workers

    def stages(self) -> list[ApiStage]:
        rest = rest_apis([raw for page in pages(self._v1.get_rest_apis, {"limit": REST_PAGE_SIZE}, "position")
                          for raw in page.get("items") or []])
        http = http_apis([raw for page in pages(self._v2.get_apis, {"MaxResults": str(V2_PAGE_SIZE)}, "NextToken")
                          for raw in page.get("Items") or []])
        jobs: list[tuple[Protocol_, str, str]] = [("rest", *api) for api in rest] + [("http", *api) for api in http]
        found = self._parallel(lambda job: [ApiStage(job[1], job[2], job[0], stage) for stage in self._stages(*job)],
                               jobs)
        return [stage for part in found for stage in part]

    def _stages(self, protocol: Protocol_, _name: str, api_id: str) -> list[str]:
        if protocol == "rest":
            return stage_names(self._v1.get_stages(restApiId=api_id).get("item") or [], "stageName")
        params = {"ApiId": api_id, "MaxResults": str(V2_PAGE_SIZE)}
        return [name for page in pages(self._v2.get_stages, params, "NextToken")
                for name in stage_names(page.get("Items") or [], "StageName")]

    def _parallel(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            return list(pool.map(fn, items))
