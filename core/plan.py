"""The one plan engine: a pure diff of desired objects against live ones, its output, and a runner that applies it.

Backends (CloudWatch and Sentry alerts, Grafana dashboards) turn the code into desired objects and normalise
what they list into the same shape (server-managed fields dropped, API defaults applied, lists ordered), so
that an unchanged object compares equal. Everything here is pure except :func:`apply`, which calls the backend
it is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from docqet_monitor.core.errors import USAGE, RunError

Action = Literal["create", "update", "delete"]
SYMBOLS = {"create": "+", "update": "~", "delete": "-"}
PAST = {"create": "created", "update": "updated", "delete": "deleted"}


class PlanError(RunError):
    """The plan cannot be made or applied safely (an ownership clash, a missing object); nothing was written."""


class PlanInputError(PlanError):
    """The catalog or the configuration asks for what the target cannot have (checked before any call): exit 2."""

    exit_code = USAGE


@dataclass(frozen=True)
class Desired:
    """An object the catalog wants: ``kind`` orders the apply (earlier kinds are created first)."""

    key: str
    kind: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Live:
    """An object that exists, already normalised; ``owned`` when it carries our ownership mark."""

    key: str
    kind: str
    body: Mapping[str, Any]
    owned: bool
    ref: Any = None  # the backend's handle (an ARN, an id, a version)
    note: str = ""  # why it is not ours to change (a conflict), or what a change of it overwrites
    prunable: bool = True  # owned objects only: False keeps it from deletion (ownership not certain enough)


@dataclass(frozen=True)
class Change:
    action: Action
    key: str
    kind: str
    desired: Mapping[str, Any] | None = None
    live: Live | None = None
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (path, old, new) for updates


@dataclass(frozen=True)
class Plan:
    target: str
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()  # owned, no longer desired, kept because --prune was not given
    conflicts: tuple[Live, ...] = ()  # desired, but the live object is not ours to change (clash="report")

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)


def canonical(value: Any, ordered: bool = False) -> Any:
    """A value with dict keys (and, unless ``ordered``, list items) in a stable order, ints and floats unified,
    for comparing."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v, ordered) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        items = [canonical(v, ordered) for v in value]
        return items if ordered else sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def changed_fields(old: Any, new: Any, path: str = "", ordered: bool = False) -> list[tuple[str, Any, Any]]:
    """Dotted paths whose values differ; nested mappings are walked, anything else compared whole (lists as
    sets unless ``ordered``)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[tuple[str, Any, Any]] = []
        for k in sorted(set(old) | set(new), key=str):
            out += changed_fields(old.get(k), new.get(k), f"{path}.{k}" if path else str(k), ordered)
        return out
    return [] if canonical(old, ordered) == canonical(new, ordered) else [(path, old, new)]


def diff(target: str, desired: Iterable[Desired], live: Iterable[Live], prune: bool,
         kinds: Sequence[str] = (), *, ordered: bool = False,
         clash: Literal["error", "report"] = "error") -> Plan:
    """Desired vs live: create / update / delete (owned objects only, with ``prune``) / no-op.

    Objects are matched by (kind, key); a duplicate of ours is deleted like a leftover. A desired object whose
    key is taken by an object we do not own is never overwritten: an error (``clash="error"``), or a conflict
    listed in the plan while the other changes go ahead (``clash="report"``). Lists compare as sets unless
    ``ordered``. Creates and updates come in ``kinds`` order, deletes after them in reverse.
    """
    wanted = {(d.kind, d.key): d for d in desired}
    found: dict[tuple[str, str], Live] = {}
    extra: list[Live] = []  # a second object of ours with the same name (e.g. from a retried create)
    for item in live:
        if (item.kind, item.key) in found:
            extra.append(item)
        else:
            found[(item.kind, item.key)] = item
    clashes = sorted(k for _, k in (w for w in wanted if w in found and not found[w].owned))
    if clashes and clash == "error":
        raise PlanError(f"{target}: {len(clashes)} object(s) exist with our name but without our ownership mark "
                        f"(not overwriting them; rename or remove them by hand): {', '.join(clashes)}")
    order = {k: i for i, k in enumerate(kinds)}
    changes: list[Change] = []
    unchanged: list[str] = []
    conflicts: list[Live] = []
    for ident, d in sorted(wanted.items(), key=lambda kv: (order.get(kv[1].kind, len(order)), kv[0])):
        if ident not in found:
            changes.append(Change("create", d.key, d.kind, desired=d.body))
            continue
        if not found[ident].owned:
            conflicts.append(found[ident])
            continue
        fields = changed_fields(found[ident].body, d.body, ordered=ordered)
        if fields:
            changes.append(Change("update", d.key, d.kind, desired=d.body, live=found[ident], fields=tuple(fields)))
        else:
            unchanged.append(d.key)
    gone = sorted([*(item for k, item in found.items() if item.owned and item.prunable and k not in wanted),
                   *(item for item in extra if item.owned and item.prunable)],
                  key=lambda item: (-order.get(item.kind, len(order)), item.key))
    if prune:
        changes += [Change("delete", item.key, item.kind, live=item) for item in gone]
    return Plan(target, tuple(changes), tuple(unchanged), () if prune else tuple(item.key for item in gone),
                tuple(conflicts))


# --- output -----------------------------------------------------------------------------------


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def summary(plans: Sequence[Plan]) -> str:
    adds, changes, destroys = (sum(p.count(a) for p in plans) for a in ("create", "update", "delete"))
    if not adds + changes + destroys:
        return "No changes."
    return f"Plan: {adds} to add, {changes} to change, {destroys} to destroy."


def render_text(plans: Sequence[Plan]) -> str:
    """The familiar form: ``+ create``, ``~ update`` with old -> new per field, ``- delete``, one summary."""
    lines: list[str] = []
    for plan in plans:
        for c in plan.changes:
            lines.append(f"{SYMBOLS[c.action]} {c.action} {plan.target} {c.kind} {c.key}")
            lines += [f"    {path}: {_short(old)} -> {_short(new)}" for path, old, new in c.fields]
            if c.live is not None and c.live.note:
                lines.append(f"    ({c.live.note})")
        lines += [f"! conflict {plan.target} {item.kind} {item.key}: {item.note}" for item in plan.conflicts]
        if plan.orphans:
            lines.append(f"  {plan.target}: {len(plan.orphans)} object(s) we own are no longer in the code "
                         f"(deleted only with --prune): {', '.join(plan.orphans)}")
    lines.append(summary(plans))
    return "\n".join(lines)


def to_json(plans: Sequence[Plan]) -> dict[str, Any]:
    """The plan for machines."""
    return {
        "changes": [
            {"target": p.target, "action": c.action, "kind": c.kind, "key": c.key,
             "fields": [{"path": path, "old": old, "new": new} for path, old, new in c.fields],
             "desired": c.desired}
            for p in plans for c in p.changes
        ],
        "orphans": [{"target": p.target, "key": k} for p in plans for k in p.orphans],
        "conflicts": [{"target": p.target, "kind": c.kind, "key": c.key, "reason": c.note}
                      for p in plans for c in p.conflicts],
        "summary": {a: sum(p.count(a) for p in plans) for a in ("create", "update", "delete")},
    }


# --- apply ------------------------------------------------------------------------------------


class Backend(Protocol):
    """Writes one plan's changes; ``delete_batch`` changes are deleted per ``delete`` call."""

    delete_batch: int

    def create(self, change: Change) -> None: ...

    def update(self, change: Change) -> None: ...

    def delete(self, changes: Sequence[Change]) -> None: ...


def _applied_line(target: str, c: Change) -> str:
    return f"{SYMBOLS[c.action]} {PAST[c.action]} {target} {c.kind} {c.key}"


@dataclass
class Report:
    """What an apply did: applied changes, the one that failed (with the error), and those not attempted."""

    target: str
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def render(self, applied: bool = True) -> str:
        """Every change's fate (``applied=False``: the applied ones were already shown as progress)."""
        lines = [_applied_line(self.target, c) for c in (self.applied if applied else ())]
        lines += [f"! failed to {c.action} {self.target} {c.kind} {c.key}: {err}" for c, err in self.failed]
        lines += [f"  not applied: {c.action} {self.target} {c.kind} {c.key}" for c in self.skipped]
        done = f"{self.target}: {len(self.applied)} change(s) applied"
        if not self.ok:
            done += (f", {len(self.failed)} failed, {len(self.skipped)} not attempted"
                     " (fix the error and run apply again: it picks up where this stopped)")
        return "\n".join([*lines, done + "."])


def apply(plan: Plan, backend: Backend, progress: Callable[[str], None] = lambda _: None) -> Report:
    """Apply a plan's changes in order; stop at the first failure and report what was and was not done."""
    report = Report(plan.target)
    steps: list[list[Change]] = []
    for c in plan.changes:
        batchable = c.action == "delete" and steps and steps[-1][0].action == "delete"
        if batchable and len(steps[-1]) < backend.delete_batch and steps[-1][0].kind == c.kind:
            steps[-1].append(c)
        else:
            steps.append([c])
    for i, step in enumerate(steps):
        try:
            if step[0].action == "delete":
                backend.delete(step)
            else:
                getattr(backend, step[0].action)(step[0])
        except Exception as exc:  # a backend error of any kind: report it, leave the rest unapplied
            report.failed += [(c, str(exc)) for c in step]
            report.skipped = [c for later in steps[i + 1:] for c in later]
            return report
        report.applied += step
        for c in step:
            progress(_applied_line(plan.target, c))
    return report


def check_conflicts(plans: Sequence[Plan]) -> None:
    """:class:`PlanError` naming the objects a plan leaves alone because they are not ours to change."""
    conflicts = [f"{p.target} {c.kind} {c.key}" for p in plans for c in p.conflicts]
    if conflicts:
        raise PlanError(f"{len(conflicts)} conflict(s) left unchanged (see above): {', '.join(conflicts)}")
