"""Metric families: the collector contract and rendering to the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest


@dataclass(frozen=True)
class Collection:
    """What one refresh of a collector produced. Any error marks the collector as failed (up 0)."""

    families: list[Metric] = field(default_factory=list)
    errors: tuple[str, ...] = ()


class Collector(Protocol):
    """A source of metric families. ``collect`` may do slow I/O; it runs in the background only."""

    name: str
    interval_seconds: float

    def collect(self) -> Collection: ...


def dedupe(families: Iterable[Metric]) -> list[Metric]:
    """Merge families of the same name and drop repeated series (first one wins), keeping order."""
    merged: dict[str, Metric] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for family in families:
        target = merged.get(family.name)
        if target is None:
            target = merged[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key not in seen:
                seen.add(key)
                target.samples.append(sample)
    return list(merged.values())


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def render(families: Iterable[Metric]) -> bytes:
    """The Prometheus text exposition (0.0.4) of the families, duplicates removed."""
    return generate_latest(_Families(dedupe(families)))  # type: ignore[arg-type]
