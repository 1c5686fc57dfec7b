"""Metric families: the collector contract and rendering to the Prometheus text format."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

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


Publish = Callable[[list[Metric]], None]  # hands over the families found so far, while a refresh goes on


@runtime_checkable
class Progressive(Protocol):
    """A collector whose parts finish at different times (the regions of an AWS collector).

    ``collect_progressively(publish, wait_all)`` calls ``publish`` with the families so far while parts are still
    running; without ``wait_all`` it may return before a slow part ends (that part's last good families stand).
    A collector with ``global_data = True`` reads account-wide or global data: sharded, only shard 1 runs it.
    """

    def collect_progressively(self, publish: Publish, wait_all: bool = False) -> Collection: ...


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
