"""Route 53 health checks (global): ListHealthChecks (1,000 a page) and their Name tags with
ListTagsForResources (10 health checks a call, the AWS limit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from docqet_monitor.core.paging import pages

PAGE_SIZE = 1000  # ListHealthChecks MaxItems: Route 53 returns at most 1,000 a page (100 when not asked)
MAX_TAG_RESOURCES = 10  # ListTagsForResources ResourceIds: 1-10 (botocore's model)
PROTOCOLS = {"HTTP": "http", "HTTPS": "https", "HTTP_STR_MATCH": "http", "HTTPS_STR_MATCH": "https", "TCP": "tcp"}


@dataclass(frozen=True)
class HealthCheck:
    id: str
    type: str = ""
    target: str = ""  # protocol://host:port/path; empty for CALCULATED, CLOUDWATCH_METRIC, RECOVERY_CONTROL
    name: str = ""  # the Name tag


class Route53Api(Protocol):
    """What the collector needs from Route 53 (pagination and batching inside)."""

    def health_checks(self) -> list[HealthCheck]: ...

    def names(self, ids: Sequence[str]) -> dict[str, str]:
        """Health check id -> its Name tag (health checks without one are left out)."""
        ...


def target(config: Mapping[str, Any]) -> str:
    """``protocol://host:port/path`` of an endpoint health check's config; empty for the others (pure)."""
    protocol = PROTOCOLS.get(str(config.get("Type") or ""))
    host = config.get("FullyQualifiedDomainName") or config.get("IPAddress")
    if protocol is None or not isinstance(host, str) or not host:
        return ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = config.get("Port")
    path = str(config.get("ResourcePath") or "") if protocol != "tcp" else ""
    return f"{protocol}://{host}" + (f":{port}" if isinstance(port, int) else "") + (
        path if path.startswith("/") or not path else f"/{path}")


def parse_health_check(raw: Mapping[str, Any]) -> HealthCheck | None:
    """Our view of a ListHealthChecks entry; None without an id (pure)."""
    hc_id = raw.get("Id")
    if not isinstance(hc_id, str) or not hc_id:
        return None
    config = raw.get("HealthCheckConfig")
    config = config if isinstance(config, dict) else {}
    return HealthCheck(hc_id, str(config.get("Type") or ""), target(config))


class BotoRoute53Api:
    """:class:`Route53Api` over a boto3 Route 53 client."""

    def __init__(self, route53: Any) -> None:
        self._route53 = route53

    def health_checks(self) -> list[HealthCheck]:
        found = (parse_health_check(raw) if isinstance(raw, dict) else None
                 for page in pages(self._route53.list_health_checks, {"MaxItems": str(PAGE_SIZE)}, "Marker",
                                   "NextMarker")
                 for raw in page.get("HealthChecks", []))
        return [hc for hc in found if hc is not None]

    def names(self, ids: Sequence[str]) -> dict[str, str]:
        result = {}
        for i in range(0, len(ids), MAX_TAG_RESOURCES):
            answer = self._route53.list_tags_for_resources(ResourceType="healthcheck",
                                                           ResourceIds=list(ids[i:i + MAX_TAG_RESOURCES]))
            for tag_set in answer.get("ResourceTagSets", []):
                tags = {t.get("Key"): t.get("Value") for t in tag_set.get("Tags") or () if isinstance(t, dict)}
                if isinstance(tags.get("Name"), str) and isinstance(tag_set.get("ResourceId"), str):
                    result[tag_set["ResourceId"]] = tags["Name"]
        return result
