"""Reading a YAML config file that cannot crash or hang the tool, whatever the file holds.

Regular files only, at most :data:`MAX_BYTES`, strict UTF-8 (a UTF-8 byte order mark is allowed); one YAML
document composed from the parser's events by our own composer: no aliases (a "billion laughs" file fails at
its first ``*alias``), nesting at most :data:`MAX_DEPTH` deep, at most :data:`MAX_ITEMS` entries in a list or
mapping, no duplicate keys, keys at most :data:`MAX_KEY_CHARS` long. The safe constructor builds the data;
every value it cannot build is an error with its line. Alongside the data, :func:`parse` returns the line of
every key path (``a.b[0].c``), for messages.
"""

from __future__ import annotations

import codecs
import os
import stat
from typing import Any

import yaml
from yaml import events
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from docqet_monitor.core import secrets

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 16
MAX_KEY_CHARS = 100
MAX_ITEMS = 1000  # entries of one list or mapping
QUOTE_CHARS = 40

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class BadFile(Exception):
    """The file cannot be read as a config: ``message`` says why, ``line`` where (when known)."""

    def __init__(self, message: str, line: int | None = None, path: str = "") -> None:
        super().__init__(message)
        self.message, self.line, self.path = message, line, path


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` cut to ``limit`` characters plus "…"."""
    return text if len(text) <= limit else text[:limit] + "…"


def short(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters plus "…": error messages never echo a whole value. Known secrets
    are redacted before the cut, which would leave a part the redactor cannot recognise."""
    return clip(secrets.redact(repr(value)), limit)


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of a regular file of at most :data:`MAX_BYTES`, decoded as strict UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
    except OSError as exc:
        raise BadFile(f"cannot read the file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadFile("not a regular file (a config must be a file, not a pipe, device or directory)")
        try:
            data = file.read(MAX_BYTES + 1)
        except OSError as exc:
            raise BadFile(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise BadFile(f"the file is larger than {MAX_BYTES // 1024 // 1024} MiB; a config is a few kilobytes")
    return decode(data)


def decode(data: bytes) -> str:
    """Strict UTF-8 (a leading UTF-8 byte order mark is dropped); UTF-16/32 and binary files are named as such."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise BadFile("the file is UTF-32 (it starts with a byte order mark); save it as UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadFile("the file is UTF-16 (it starts with a byte order mark); save it as UTF-8")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise BadFile("the file holds NUL bytes: UTF-16 or binary, not UTF-8 text; save it as UTF-8", line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BadFile(f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded; "
                      "save the file as UTF-8", line) from None


class _Loader(_Base):  # type: ignore[misc]
    """The safe constructor with values it cannot build (huge integers, impossible dates) as marked errors."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError, RecursionError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {short(node.value)}: {clip(str(exc), 80)}",
                node.start_mark) from None


def _line(event: Any) -> int:
    return int(event.start_mark.line) + 1


class _Composer:
    """Nodes from the parser's events (PyYAML's own composer follows aliases and recurses without a limit)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.lines: dict[str, int] = {}

    def document(self) -> Node | None:
        loader = self.loader
        loader.get_event()  # StreamStart
        if loader.check_event(events.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        node = self.node("", 1)
        loader.get_event()  # DocumentEnd
        if not loader.check_event(events.StreamEndEvent):
            raise BadFile("more than one YAML document (---); a config is one document",
                          _line(loader.peek_event()))
        return node

    def node(self, path: str, depth: int) -> Node:
        loader = self.loader
        event = loader.get_event()
        if isinstance(event, events.AliasEvent):
            raise BadFile(f"YAML aliases (*{clip(str(event.anchor), 20)}) are not supported: write the value out",
                          _line(event), path)
        if isinstance(event, events.ScalarEvent):
            tag = event.tag if event.tag not in (None, "!") else loader.resolve(ScalarNode, event.value,
                                                                               event.implicit)
            return ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        if depth > MAX_DEPTH:
            raise BadFile(f"nested more than {MAX_DEPTH} levels deep", _line(event), path)
        if isinstance(event, events.SequenceStartEvent):
            tag = event.tag if event.tag not in (None, "!") else loader.resolve(SequenceNode, None, event.implicit)
            items = []
            while not loader.check_event(events.SequenceEndEvent):
                if len(items) == MAX_ITEMS:
                    raise BadFile(f"a list of more than {MAX_ITEMS} items", _line(loader.peek_event()), path)
                item_path = f"{path}[{len(items)}]"
                self.lines.setdefault(item_path, _line(loader.peek_event()))
                items.append(self.node(item_path, depth + 1))
            end = loader.get_event()
            return SequenceNode(tag, items, event.start_mark, end.end_mark, flow_style=event.flow_style)
        if isinstance(event, events.MappingStartEvent):
            tag = event.tag if event.tag not in (None, "!") else loader.resolve(MappingNode, None, event.implicit)
            pairs: list[tuple[Node, Node]] = []
            seen: dict[str, int] = {}
            while not loader.check_event(events.MappingEndEvent):
                line = _line(loader.peek_event())
                if len(pairs) == MAX_ITEMS:
                    raise BadFile(f"a mapping of more than {MAX_ITEMS} keys", line, path)
                key = self.node(f"{path}.?" if path else "?", depth + 1)
                name = key.value if isinstance(key, ScalarNode) else None
                key_path = (f"{path}.{name}" if path else str(name)) if name is not None else path
                if name is not None:
                    if len(name) > MAX_KEY_CHARS:
                        raise BadFile(f"a key longer than {MAX_KEY_CHARS} characters: {short(name)}", line, path)
                    if name == "<<":
                        raise BadFile("YAML merge keys (<<) are not supported: write the keys out", line, path)
                    if name in seen:
                        raise BadFile(f"duplicate key (first at line {seen[name]}, again at line {line})",
                                      line, key_path)
                    seen[name] = line
                    self.lines.setdefault(key_path, line)
                pairs.append((key, self.node(key_path, depth + 1)))
            end = loader.get_event()
            return MappingNode(tag, pairs, event.start_mark, end.end_mark, flow_style=event.flow_style)
        raise BadFile(f"unexpected YAML event {type(event).__name__}", _line(event), path)  # pragma: no cover


def parse(text: str) -> tuple[Any, dict[str, int]]:
    """The data of one YAML document and the line of each key path; :class:`BadFile` when refused."""
    loader = _Loader(text)
    try:
        composer = _Composer(loader)
        node = composer.document()
        return (None if node is None else loader.construct_document(node)), composer.lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise BadFile(f"invalid YAML: {clip(exc.problem or str(exc), 120)}",
                      mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise BadFile(f"invalid YAML: {clip(str(exc), 120)}") from None
    finally:
        loader.dispose()
