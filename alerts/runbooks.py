"""The runbook lint: every alert has its page under ``monitoring/runbooks/``, every page belongs to an alert,
and every page has the title and the five sections of the format (pure: rules and page texts in, findings out).

A page is ``<runbooks dir>/<runbook>.md``, ``<runbook>`` being the rule's ``runbook`` (alerts may share a page
only when the catalog gives them the same ``runbook``). Its first heading is ``# <AlertName>`` — every alert
that uses the page, when shared — and its second-level sections are exactly :data:`SECTIONS`, in that order.
Headings inside fenced code blocks do not count.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from docqet_monitor.alerts.spec import AlertRule

SECTIONS = ("What it means", "Impact", "Confirm", "Mitigate", "Escalate")
SUFFIX = ".md"


def url(base: str, runbook: str) -> str:
    """The page of ``runbook`` (``monitoring/runbooks/<runbook>.md``) under ``base``, ``alerts.runbook_base_url``."""
    return f"{base.rstrip('/')}/{runbook}{SUFFIX}"
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,2})\s+(.*?)\s*#*\s*$")
_NAME = re.compile(r"[A-Z][A-Za-z0-9]+")


def read_pages(directory: Path) -> dict[str, str]:
    """``{runbook: text}`` of every ``*.md`` under ``directory`` (runbook: the path below it, without ``.md``)."""
    return {path.relative_to(directory).with_suffix("").as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(directory.rglob(f"*{SUFFIX}")) if path.is_file()}


def headings(text: str) -> list[tuple[int, str]]:
    """The first- and second-level ATX headings outside fenced code blocks: ``(level, title)``."""
    found, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            found.append((len(m.group(1)), m.group(2)))
    return found


def lint_pages(rules: Iterable[AlertRule], pages: Mapping[str, str], where: str = "runbooks") -> list[str]:
    """Findings, empty when every alert has a well-formed page and every page an alert.

    ``where`` prefixes page paths in the findings (the runbooks directory as the user knows it).
    """
    users: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        users[rule.runbook].append(rule.name)
    findings = [f"{name}: no runbook ({where}/{runbook}{SUFFIX} does not exist)"
                for runbook, names in users.items() if runbook not in pages for name in names]
    for runbook, text in sorted(pages.items()):
        page = f"{where}/{runbook}{SUFFIX}"
        if runbook not in users:
            findings.append(f"{page}: no alert uses this runbook (catalog runbook {runbook!r})")
            continue
        findings += [f"{page}: {problem}" for problem in _problems(text, users[runbook])]
    return findings


def lint(rules: Iterable[AlertRule], directory: Path, where: str = "") -> list[str]:
    """:func:`lint_pages` over the pages in ``directory``; no findings when the directory does not exist
    (a monitoring repository without runbooks links to the default ``alerts.runbook_base_url``)."""
    if not directory.is_dir():
        return []
    return lint_pages(rules, read_pages(directory), where or str(directory))


def _problems(text: str, names: list[str]) -> list[str]:
    found = headings(text)
    titles = [title for level, title in found if level == 1]
    sections = [title for level, title in found if level == 2]
    problems = []
    if not titles:
        problems.append(f"no title; expected '# {', '.join(names)}'")
    elif set(_NAME.findall(titles[0])) != set(names):
        problems.append(f"title '# {titles[0]}' does not name exactly the alerts using this page; expected "
                        f"'# {', '.join(names)}'")
    missing = [s for s in SECTIONS if s not in sections]
    if missing:
        problems.append("missing section(s) " + ", ".join(f"'## {s}'" for s in missing))
    extra = [s for s in sections if s not in SECTIONS]
    if extra:
        problems.append("unexpected section(s) " + ", ".join(f"'## {s}'" for s in extra))
    if not missing and not extra and sections != list(SECTIONS):
        problems.append("sections out of order or repeated; expected " + ", ".join(f"'## {s}'" for s in SECTIONS))
    return problems
