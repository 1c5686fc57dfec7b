"""WAF (v2) web ACLs: ListWebACLs (100 a page, the AWS maximum) per scope, then GetWebACL for each ACL's
CloudWatch metric names (its ``VisibilityConfig.MetricName`` and its rules'): REGIONAL ACLs in each region,
CLOUDFRONT ACLs once per account in us-east-1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from docqet_monitor.core.paging import pages

PAGE_SIZE = 100  # ListWebACLs Limit: 1-100 (botocore's model)

Scope = Literal["REGIONAL", "CLOUDFRONT"]


@dataclass(frozen=True)
class WebAcl:
    name: str
    id: str
    scope: Scope
    metric_name: str = ""  # the WebACL dimension of its CloudWatch metrics
    rules: tuple[tuple[str, str], ...] = ()  # (rule name, its metric name) for rules that publish metrics


class WafApi(Protocol):
    """What the collector needs from WAF v2 (pagination inside)."""

    def web_acls(self, scope: Scope) -> list[tuple[str, str]]:
        """(name, id) of the scope's web ACLs."""
        ...

    def web_acl(self, name: str, acl_id: str, scope: Scope) -> WebAcl | None: ...


def _metric_name(raw: Mapping[str, Any]) -> str:
    config = raw.get("VisibilityConfig")
    if not isinstance(config, dict) or config.get("CloudWatchMetricsEnabled") is False:
        return ""
    name = config.get("MetricName")
    return name if isinstance(name, str) else ""


def parse_web_acl(raw: Mapping[str, Any], scope: Scope) -> WebAcl | None:
    """Our view of GetWebACL's ``WebACL``; None without a name and an id (pure)."""
    name, acl_id = raw.get("Name"), raw.get("Id")
    if not (isinstance(name, str) and name and isinstance(acl_id, str) and acl_id):
        return None
    rules = tuple((r["Name"], _metric_name(r)) for r in raw.get("Rules") or ()
                  if isinstance(r, dict) and isinstance(r.get("Name"), str) and _metric_name(r))
    return WebAcl(name, acl_id, scope, _metric_name(raw), rules)


class BotoWafApi:
    """:class:`WafApi` over a boto3 ``wafv2`` client (of the region whose REGIONAL ACLs it reads, or us-east-1
    for CLOUDFRONT)."""

    def __init__(self, wafv2: Any) -> None:
        self._wafv2 = wafv2

    def web_acls(self, scope: Scope) -> list[tuple[str, str]]:
        return [(raw["Name"], raw["Id"])
                for page in pages(self._wafv2.list_web_acls, {"Scope": scope, "Limit": PAGE_SIZE}, "NextMarker")
                for raw in page.get("WebACLs") or []
                if isinstance(raw, dict) and isinstance(raw.get("Name"), str) and isinstance(raw.get("Id"), str)]

    def web_acl(self, name: str, acl_id: str, scope: Scope) -> WebAcl | None:
        raw = self._wafv2.get_web_acl(Name=name, Id=acl_id, Scope=scope).get("WebACL")
        return parse_web_acl(raw, scope) if isinstance(raw, dict) else None
