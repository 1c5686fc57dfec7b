"""Read metric names and Grafana variables out of PromQL text (pure functions, no PromQL engine).

``metric_names(expr)`` tokenises the expression and keeps the identifiers that name series: not inside
strings, label matchers ``{...}`` or ranges ``[...]``, not followed by ``(`` (functions), not keywords or
aggregation operators, not in the label lists of ``by``/``without``/``on``/``ignoring``/``group_left``/
``group_right``. A ``{__name__="..."}`` matcher counts as a metric name, and so does each name of a
``{__name__=~"a|b"}`` alternation of plain names. Grafana variables (``$x``, ``${x:fmt}``, ``[[x]]``) are
skipped. The alert lint reuses this module.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<space>\s+)
  | (?P<op>=~|!~|!=|==|<=|>=|.)
    """,
    re.VERBOSE,
)
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = frozenset({
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
    # aggregation operators, which may be followed by ``by (...)`` instead of ``(``
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
}) | _GROUPING
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\]")
_VARIABLE_QUERY = re.compile(r"^\s*(label_values|query_result)\s*\((.*)\)\s*$", re.DOTALL)


def _tokens(expr: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "op", m.group()) for m in _TOKEN.finditer(expr)
            if m.lastgroup not in ("space", "comment")]


def _skip_group(tokens: list[tuple[str, str]], i: int, open_: str, close: str) -> int:
    """Index after the bracket group that starts at ``tokens[i]`` (which is ``open_``)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j] == ("op", open_):
            depth += 1
        elif tokens[j] == ("op", close):
            depth -= 1
            if depth == 0:
                return j + 1
    return len(tokens)


_NAME_ALTERNATION = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?:\|[a-zA-Z_:][a-zA-Z0-9_:]*)*")


def _matcher_names(tokens: list[tuple[str, str]]) -> set[str]:
    """``__name__="x"`` and ``__name__=~"x|y"`` (plain names only) matchers inside one ``{...}`` group."""
    names: set[str] = set()
    for (kind, name), (_, op), (vkind, value) in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if kind != "ident" or name != "__name__" or vkind != "string":
            continue
        if op == "=":
            names.add(value[1:-1])
        elif op == "=~" and _NAME_ALTERNATION.fullmatch(value[1:-1]):
            names.update(value[1:-1].split("|"))
    return names


def metric_names(expr: str) -> frozenset[str]:
    """The metric (and recording rule) names a PromQL expression reads."""
    tokens = _tokens(expr)
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if (kind, text) == ("op", "{"):
            end = _skip_group(tokens, i, "{", "}")
            names |= _matcher_names(tokens[i:end])
            i = end
        elif (kind, text) == ("op", "["):
            i = _skip_group(tokens, i, "[", "]")
        elif kind == "ident" and text.lower() in _GROUPING and following == ("op", "("):
            i = _skip_group(tokens, i + 1, "(", ")")
        elif kind == "ident" and following != ("op", "(") and text.lower() not in _KEYWORDS:
            names.add(text)
            i += 1
        else:
            i += 1
    return frozenset(names)


def variable_query_expr(query: str) -> str:
    """The PromQL inside a Grafana Prometheus variable query (``label_values(expr, label)``, ``query_result``)."""
    match = _VARIABLE_QUERY.match(query)
    if not match:
        return query
    function, args = match.groups()
    if function == "query_result":
        return args
    selector, comma, label = args.rpartition(",")
    return selector if comma and re.fullmatch(r"\s*[A-Za-z_]\w*\s*", label) else ""  # label_values(label): none


def variables(text: str) -> frozenset[str]:
    """Grafana template variables referenced in ``text``; Grafana's global ``$__...`` variables excluded."""
    found = {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(text)}
    return frozenset(v for v in found if not v.startswith("__"))


def number(value: float) -> str:
    """A threshold as PromQL / YAML writes it: ``5`` not ``5.0``, ``0.001`` not ``0.0010000000000000009``."""
    value = round(float(value), 12)
    return str(int(value)) if value.is_integer() else repr(value)
