"""Shards: N exporters split the work with no coordination, each keeping a stable share of it.

A piece of work (an ``(account, region)`` pair, or a resource inside one) belongs to shard
``sha256("account/region[/kind/resource]") mod N + 1``: the same on every host and process (Python's ``hash()``
is salted per process) and independent of every other key, so a shard's share does not move when unrelated
resources come and go. Data that is not per account and region (Cost Explorer, global services) is shard 1's.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SPEC = re.compile(r"(\d{1,4})/(\d{1,4})", re.ASCII)
EXPECTED = "K/N with 1 <= K <= N, e.g. 2/3"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based); ``Shard()`` is the whole work (no sharding)."""

    index: int = 1
    count: int = 1
    sharded: bool = False  # given explicitly (even as 1/1): self-metrics carry the shard label

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """``"K/N"`` -> the shard; ``""`` -> no sharding. ValueError naming what is expected otherwise."""
        if spec == "":
            return cls()
        found = SPEC.fullmatch(spec.strip())
        if found is None or not 1 <= int(found.group(1)) <= int(found.group(2)):
            raise ValueError(f"expected {EXPECTED}, got {spec!r}")
        return cls(int(found.group(1)), int(found.group(2)), sharded=True)

    @property
    def label(self) -> str:
        """The ``shard`` label value, e.g. ``2/3``; empty when not sharded."""
        return f"{self.index}/{self.count}" if self.sharded else ""

    @property
    def runs_global(self) -> bool:
        """Whether this shard collects account-wide and global data (shard 1 does)."""
        return self.index == 1

    def owns(self, *key: str) -> bool:
        """Whether the work named by ``key`` (account, region[, kind, resource]) is this shard's (pure)."""
        if self.count == 1:
            return True
        digest = hashlib.sha256("/".join(key).encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


def valid(spec: str) -> bool:
    try:
        Shard.parse(spec)
    except ValueError:
        return False
    return True
