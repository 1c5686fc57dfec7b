"""CloudFront distributions (global): ListDistributions (100 a page, the AWS maximum)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from docqet_monitor.core.paging import pages

PAGE_SIZE = 100  # ListDistributions MaxItems: the maximum and the default are both 100


@dataclass(frozen=True)
class Distribution:
    id: str
    domain_name: str = ""
    alias: str = ""  # the first CNAME, or empty
    enabled: bool = True


class CloudFrontApi(Protocol):
    """What the collector needs from CloudFront (pagination inside)."""

    def distributions(self) -> list[Distribution]: ...


def parse_distribution(raw: Mapping[str, Any]) -> Distribution | None:
    """Our view of a DistributionSummary; None without an id (pure)."""
    dist_id = raw.get("Id")
    if not isinstance(dist_id, str) or not dist_id:
        return None
    aliases = (raw.get("Aliases") or {}).get("Items") or []
    enabled = raw.get("Enabled")
    return Distribution(dist_id, str(raw.get("DomainName") or ""),
                        aliases[0] if aliases and isinstance(aliases[0], str) else "",
                        enabled if isinstance(enabled, bool) else True)


class BotoCloudFrontApi:
    """:class:`CloudFrontApi` over a boto3 CloudFront client (the list sits in ``DistributionList``)."""

    def __init__(self, cloudfront: Any) -> None:
        self._cloudfront = cloudfront

    def distributions(self) -> list[Distribution]:
        def listing(**params: Any) -> Mapping[str, Any]:
            return self._cloudfront.list_distributions(**params).get("DistributionList") or {}

        found = (parse_distribution(raw) if isinstance(raw, dict) else None
                 for page in pages(listing, {"MaxItems": str(PAGE_SIZE)}, "Marker", "NextMarker")
                 for raw in page.get("Items") or [])
        return [d for d in found if d is not None]
