"""AWS partitions (``aws``, ``aws-cn``, ``aws-us-gov``...) of region names, and where a partition serves its global
services, from botocore's own data files: not through a botocore session, which would read the AWS profile first
(a bad one is not this module's business)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.loaders
from botocore.regions import EndpointResolver


@cache
def _data(name: str) -> Any:
    """One of botocore's data files (``partitions``, ``endpoints``), read once."""
    return botocore.loaders.create_loader().load_data(name)


@cache
def _resolver() -> EndpointResolver:
    return EndpointResolver(_data("endpoints"))


def of_region(region: str) -> str | None:
    """The partition whose region names ``region`` matches (botocore's ``regionRegex``); None when none does."""
    return next((p["id"] for p in _data("partitions")["partitions"] if re.fullmatch(p["regionRegex"], region)), None)


@cache
def global_region(service: str, region: str) -> str | None:
    """Where ``service``, global in ``region``'s partition (CloudFront, Route 53, Cost Explorer), answers and
    publishes its CloudWatch metrics: the credential scope of the partition's global endpoint in botocore's
    endpoint data (us-east-1 in ``aws``, cn-northwest-1 in ``aws-cn``, us-gov-west-1 for Route 53 in GovCloud);
    None where the partition offers no such endpoint (CloudFront and Cost Explorer in GovCloud)."""
    endpoint = _resolver().construct_endpoint(service, region) or {}
    if endpoint.get("endpointName") in (None, region) or "credentialScope" not in endpoint:
        return None  # a regional endpoint that botocore guessed: the service is not offered there
    return str(endpoint["credentialScope"]["region"])
