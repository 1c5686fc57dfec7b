"""The one pagination loop for AWS list/describe calls: follow the next token, stop on a repeated one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from docqet_monitor.core.errors import RunError

T = TypeVar("T")


class RepeatedTokenError(RunError):
    """A paged API answered a next token it had already given: following it would loop forever."""


def pages(call: Callable[..., Mapping[str, Any]], params: Mapping[str, Any], token_in: str,
          token_out: str | None = None) -> Iterator[Mapping[str, Any]]:
    """Every page of ``call(**params)``, passing ``token_in`` from each page's ``token_out`` (default the same).

    Stops when a page has no token; raises :class:`RepeatedTokenError` when a token comes back a second time.
    """
    token_out = token_out or token_in
    request = dict(params)
    seen: set[str] = set()
    while True:
        page = call(**request)
        yield page
        token = page.get(token_out)
        if not token:
            return
        if token in seen:
            raise RepeatedTokenError(f"the API returned the page token {str(token)[:40]!r} twice")
        seen.add(token)
        request[token_in] = token


def described(call: Callable[..., Mapping[str, Any]], key: str, parse: Callable[[Mapping[str, Any]], T | None],
              max_records: int) -> list[T]:
    """Every item under ``key`` of an RDS-style ``Describe*`` (``MaxRecords`` / ``Marker`` pages), parsed;
    an item that is not an object, or that ``parse`` rejects (None), is left out."""
    found = (parse(raw) if isinstance(raw, dict) else None
             for page in pages(call, {"MaxRecords": max_records}, "Marker") for raw in page.get(key, []))
    return [item for item in found if item is not None]

