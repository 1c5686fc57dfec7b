"""Metric families: the collector contract and rendering to the Prometheus text format."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, runtime_checkable

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.utils import floatToGoString


@dataclass(frozen=True)
class Rendered:
    """One family's series as exposition text, rendered once (the AWS collectors keep each target's families so,
    half the memory of prometheus_client's objects, and render nothing again when they publish).

    ``header``: its HELP and TYPE lines; empty when ``text`` is prometheus_client's rendering of a family that is
    not a plain gauge, counter or untyped one (that text holds its own). ``text``: its series lines, each series
    once. ``common``: labels every series carries; two families of one name whose common labels differ in a value
    cannot share a series.
    """

    name: str
    header: bytes
    text: bytes
    common: tuple[tuple[str, str], ...] = ()


Families = list[Metric] | list[Rendered]  # what a collector hands over: prometheus_client's families or rendered ones


@dataclass(frozen=True)
class Collection:
    """What one refresh of a collector produced. Any error marks the collector as failed (up 0)."""

    families: Families = field(default_factory=list)
    errors: tuple[str, ...] = ()


class Collector(Protocol):
    """A source of metric families. ``collect`` may do slow I/O; it runs in the background only."""

    name: str
    interval_seconds: float

    def collect(self) -> Collection: ...


Publish = Callable[[Families], None]  # hands over the families found so far, while a refresh goes on


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


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TEXT_TYPES = {"gauge": "gauge", "counter": "counter", "unknown": "untyped"}
CHUNK_CHARS = 1 << 20  # a part's plain text is kept (and sent) in chunks of about 1 MiB


def _label_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


def _number(value: float) -> str:
    """``floatToGoString``, with Python's repr for the common case (below 1e6, where they agree)."""
    value = float(value)
    return repr(value) if -math.inf < value < 1e6 else floatToGoString(value)


def _header(name: str, documentation: str, kind: str) -> str:
    """A family's HELP and TYPE lines, its help text escaped as prometheus_client escapes it (pure)."""
    documentation = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {documentation}\n# TYPE {name} {kind}\n"


def _text_lines(group: list[Metric]) -> list[str] | None:
    """The 0.0.4 text lines of one family (``group``: its families of one name, first one's HELP and TYPE),
    repeated series dropped (first one wins); None when the family is not a plain gauge, counter or untyped
    family with legacy names (the caller renders it with prometheus_client)."""
    first = group[0]
    kind = _TEXT_TYPES.get(first.type)
    if kind is None or not _METRIC_NAME.fullmatch(first.name):
        return None
    name = f"{first.name}_total" if kind == "counter" else first.name
    lines = [_header(name, first.documentation, kind)]
    orders: dict[tuple[str, ...], tuple[str, ...]] = {}
    seen: set[str] = set()
    for family in group:
        if family.type != first.type:
            return None
        for sample in family.samples:
            if sample.name != name:
                return None
            labels = sample.labels
            if labels:
                keys = tuple(labels)
                order = orders.get(keys)
                if order is None:
                    if not all(_LABEL_NAME.fullmatch(k) for k in keys):
                        return None
                    order = orders[keys] = tuple(sorted(keys))
                series = name + "{" + ",".join([f'{k}="{_label_value(labels[k])}"' for k in order]) + "}"
            else:
                series = name
            if series in seen:
                continue
            seen.add(series)
            stamp = "" if sample.timestamp is None else f" {int(float(sample.timestamp) * 1000):d}"
            lines.append(f"{series} {_number(sample.value)}{stamp}\n")
    return lines


def rendered(families: Iterable[Metric]) -> list[Rendered]:
    """The families rendered, one :class:`Rendered` per name in the order of first appearance (pure): families of
    one name merged (the first one's HELP and TYPE), a repeated series dropped (the first one wins).

    The same text as prometheus_client's ``generate_latest`` of :func:`dedupe` d families, about 4x faster: plain
    gauges, counters and untyped families are written here, any other family by prometheus_client.
    """
    groups: dict[str, list[Metric]] = {}
    for family in families:
        groups.setdefault(family.name, []).append(family)
    result = []
    for name, group in groups.items():
        lines = _text_lines(group)
        if lines is None:
            text = generate_latest(_Families(dedupe(group)))  # type: ignore[arg-type]
            result.append(Rendered(name, b"", text))
        else:
            result.append(Rendered(name, lines[0].encode(), "".join(lines[1:]).encode()))
    return result


def gauge(name: str, documentation: str, labels: Sequence[str],
          samples: Sequence[tuple[Sequence[str], float]]) -> Rendered:
    """A gauge family from ``(label values, value)`` pairs, rendered as :func:`rendered` renders prometheus_client's
    gauge of them (pure), without building one: a repeated series is dropped (the first one wins). Its ``common``
    labels are those whose value all its series share (so families of different accounts or regions are joined
    without comparing). ValueError for a name or label name the text format does not allow."""
    if not _METRIC_NAME.fullmatch(name) or not all(_LABEL_NAME.fullmatch(label) for label in labels):
        raise ValueError(f"not a legacy metric or label name: {name} {list(labels)}")
    header = _header(name, documentation, "gauge").encode()
    inner = ",".join(f'{labels[i]}="{{{i}}}"' for i in sorted(range(len(labels)), key=labels.__getitem__))
    template = f"{name}{{{{{inner}}}}}" if labels else name  # e.g. 'x{{a="{1}",b="{0}"}}'
    values: dict[str, float] = {}
    for label_values, value in samples:
        values.setdefault(template.format(*map(_label_value, label_values)), value)
    first = samples[0][0] if samples else ()
    common = tuple((label, first[i]) for i, label in enumerate(labels)
                   if first and all(label_values[i] == first[i] for label_values, _ in samples))
    text = "".join([f"{series} {_number(value)}\n" for series, value in values.items()])
    return Rendered(name, header, text.encode(), common)


def _series(line: bytes) -> bytes:
    """A series line without its value (and timestamp): the name and labels, which identify the series."""
    brace, space = line.find(b"{"), line.find(b" ")
    return line[:line.rindex(b"}") + 1] if 0 <= brace < space else line[:space]


def _lines(text: bytes) -> list[bytes]:
    """Series lines without their newline (a label value may hold a carriage return: not ``splitlines``)."""
    return text.split(b"\n")[:-1]


def _apart(a: tuple[tuple[str, str], ...], b: dict[str, str]) -> bool:
    """Whether two families with these common labels cannot share a series: a label both always carry has
    different values."""
    return any(b.get(key, value) != value for key, value in a)


def _joined(group: list[Rendered]) -> Iterator[bytes]:
    """The text of one family from its rendered families of one name, in order (pure): the first one's HELP and
    TYPE, each series once (the first one wins). Families that cannot share a series are joined as they are; the
    lines of the others are compared."""
    yield group[0].header
    seen: set[bytes] | None = None
    commons = [dict(family.common) for family in group]
    shared = sorted(set.intersection(*(set(common) for common in commons)))  # labels every family always carries
    keys: set[tuple[str, ...]] = set()  # their values in the families joined so far
    for k, family in enumerate(group):
        key = tuple(commons[k][label] for label in shared)
        # a new key is apart from every family before (the common case: one per account and region), found
        # without comparing it with each of them
        if seen is None and (key not in keys or all(_apart(family.common, before) for before in commons[:k])):
            keys.add(key)
            yield family.text
            continue
        if seen is None:
            seen = {_series(line) for before in group[:k] for line in _lines(before.text)}
        kept = []
        for line in _lines(family.text):
            series = _series(line)
            if series not in seen:
                seen.add(series)
                kept.append(line + b"\n")
        yield b"".join(kept)


def render_chunks(families: Families) -> Iterator[bytes]:
    """:func:`render` in chunks of about ``CHUNK_CHARS`` bytes: no single large string or bytes is built (building
    one holds the GIL, and a scrape waits, for tens of milliseconds at 100k series); a family's text that long
    is a chunk of its own (not copied)."""
    groups: dict[str, list[Rendered]] = {}
    for family in _as_rendered(families):
        groups.setdefault(family.name, []).append(family)
    pending: list[bytes] = []
    size = 0
    for group in groups.values():
        for piece in _joined(group):
            if len(piece) >= CHUNK_CHARS:
                if pending:
                    yield b"".join(pending)
                    pending, size = [], 0
                yield piece
                continue
            pending.append(piece)
            size += len(piece)
            if size >= CHUNK_CHARS:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _as_rendered(families: Families) -> list[Rendered]:
    return rendered(families) if families and isinstance(families[0], Metric) else families  # type: ignore[return-value]


def render(families: Families) -> bytes:
    """The Prometheus text exposition (0.0.4) of the families (:func:`rendered` ones or prometheus_client's),
    duplicates removed: families of one name merged (the first one's HELP and TYPE), a repeated series dropped
    (the first one wins): the same bytes as prometheus_client's ``generate_latest`` of :func:`dedupe` d families.
    """
    return b"".join(render_chunks(families))


@dataclass(frozen=True)
class Part:
    """One collector's share of the exposition (the families named ``names``): its text as one gzip member.

    The exposition is the concatenation of the parts, in plain text and in gzip alike (a gzip stream may hold
    several members, RFC 1952 2.2); so each family must live in one part only (the text format forbids a family
    split across the exposition).
    """

    gzipped: bytes
    names: frozenset[str] = frozenset()

    @cached_property
    def chunks(self) -> tuple[bytes, ...]:
        """The plain text, inflated on the first scrape that does not accept gzip and kept until the part changes
        (Prometheus asks for gzip: most parts never are; zlib releases the GIL while it inflates)."""
        return (zlib.decompress(self.gzipped, wbits=31),)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def size(self) -> int:
        """Length of the plain text."""
        return int.from_bytes(self.gzipped[-4:], "little")  # ISIZE (RFC 1952): the length modulo 2**32

    @property
    def crc(self) -> int:
        """CRC-32 of the plain text, read from the gzip member's trailer (RFC 1952)."""
        return int.from_bytes(self.gzipped[-8:-4], "little")


def render_part(families: Families) -> Part:
    """Render a part of the exposition, :func:`render_chunks` of ``families``, as one gzip member with no
    timestamp; the plain text is not kept (zlib releases the GIL while it compresses)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    gzipped = b"".join([*(deflate.compress(chunk) for chunk in render_chunks(families)), deflate.flush()])
    return Part(gzipped, frozenset(f.name for f in families))
