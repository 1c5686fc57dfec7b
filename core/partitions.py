"""AWS partitions (``aws``, ``aws-cn``, ``aws-us-gov``...) of region names, from botocore's own data files: not
through a botocore session, which would read the AWS profile first (a bad one is not this module's business)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.loaders


@cache
def _known() -> list[dict[str, Any]]:
    return list(botocore.loaders.create_loader().load_data("partitions")["partitions"])


def of_region(region: str) -> str | None:
    """The partition whose region names ``region`` matches (botocore's ``regionRegex``); None when none does."""
    return next((p["id"] for p in _known() if re.fullmatch(p["regionRegex"], region)), None)
