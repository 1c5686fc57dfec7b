"""The generic plan: pure diff, ownership, normalisation helpers, output forms and the apply runner."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from docqet_monitor.core import plan as p


def _d(key: str, kind: str = "alarm", **body: object) -> p.Desired:
    return p.Desired(key, kind, body)


def _l(key: str, owned: bool = True, kind: str = "alarm", **body: object) -> p.Live:
    return p.Live(key, kind, body, owned, ref=f"ref-{key}")


def test_diff_creates_updates_deletes_and_leaves_equal_objects_alone() -> None:
    desired = [_d("a", threshold=80, actions=["x", "y"]), _d("b", threshold=1), _d("c", threshold=5)]
    live = [_l("a", threshold=80.0, actions=["y", "x"]), _l("b", threshold=2), _l("old", threshold=9)]
    plan = p.diff("cloudwatch", desired, live, prune=True)
    assert [(c.action, c.key) for c in plan.changes] == [("update", "b"), ("create", "c"), ("delete", "old")]
    assert plan.changes[0].fields == (("threshold", 2, 1),)
    assert plan.unchanged == ("a",)
    assert (plan.count("create"), plan.count("update"), plan.count("delete")) == (1, 1, 1)


def test_without_prune_owned_leftovers_are_only_listed() -> None:
    plan = p.diff("sentry", [], [_l("old"), _l("theirs", owned=False)], prune=False)
    assert plan.changes == ()
    assert plan.orphans == ("old",)
    assert "deleted only with --prune" in p.render_text([plan])
    assert p.render_text([plan]).endswith("No changes.")


def test_unowned_objects_are_never_deleted_and_a_name_clash_is_an_error() -> None:
    plan = p.diff("cloudwatch", [_d("mine")], [_l("mine"), _l("theirs", owned=False)], prune=True)
    assert plan.changes == ()
    with pytest.raises(p.PlanError, match=r"without our ownership mark.*theirs"):
        p.diff("cloudwatch", [_d("theirs")], [_l("theirs", owned=False)], prune=True)


def test_a_duplicate_of_ours_is_pruned_and_objects_of_other_kinds_do_not_match() -> None:
    first, second = _l("a", t=1), p.Live("a", "alarm", {"t": 1}, True, ref="ref-a-2")
    plan = p.diff("sentry", [_d("a", t=1), _d("a", kind="workflow", t=1)], [first, second], prune=True)
    assert [(c.action, c.kind, c.key) for c in plan.changes] == [("create", "workflow", "a"), ("delete", "alarm", "a")]
    assert plan.changes[1].live is second and plan.unchanged == ("a",)


def test_kinds_order_creates_first_kinds_first_and_deletes_them_last() -> None:
    desired = [_d("w", kind="workflow"), _d("m", kind="detector")]
    live = [_l("w2", kind="workflow"), _l("m2", kind="detector")]
    plan = p.diff("sentry", desired, live, prune=True, kinds=("detector", "workflow"))
    assert [(c.action, c.key) for c in plan.changes] == [
        ("create", "m"), ("create", "w"), ("delete", "w2"), ("delete", "m2")]


def test_changed_fields_walks_mappings_and_compares_lists_as_sets() -> None:
    old = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    new = {"a": {"b": 2, "c": [2, 1]}, "d": "x", "e": True}
    assert p.changed_fields(old, new) == [("a.b", 1, 2), ("e", None, True)]


def test_ordered_lists_compare_in_order() -> None:
    assert p.changed_fields({"panels": [1, 2]}, {"panels": [2, 1]}) == []
    assert p.changed_fields({"panels": [1, 2]}, {"panels": [2, 1]}, ordered=True) == [("panels", [1, 2], [2, 1])]
    plan = p.diff("grafana", [_d("a", panels=[1, 2])], [_l("a", panels=[2, 1])], prune=False, ordered=True)
    assert [(c.action, c.key) for c in plan.changes] == [("update", "a")]


def test_a_clash_can_be_reported_as_a_conflict_while_the_rest_goes_ahead() -> None:
    theirs = p.Live("x", "alarm", {"t": 0}, owned=False, note="edited by hand; rerun with --force to overwrite")
    plan = p.diff("grafana", [_d("x", t=1), _d("y", t=1)], [theirs], prune=True, clash="report")
    assert [(c.action, c.key) for c in plan.changes] == [("create", "y")]
    assert plan.conflicts == (theirs,)
    text = p.render_text([plan])
    assert "! conflict grafana alarm x: edited by hand; rerun with --force to overwrite" in text
    assert text.endswith("Plan: 1 to add, 0 to change, 0 to destroy.")
    assert p.to_json([plan])["conflicts"] == [{"target": "grafana", "kind": "alarm", "key": "x",
                                               "reason": "edited by hand; rerun with --force to overwrite"}]
    with pytest.raises(p.PlanError, match=r"1 conflict\(s\) left unchanged \(see above\): grafana alarm x") as err:
        p.check_conflicts([plan])
    assert err.value.exit_code == 1
    p.check_conflicts([p.diff("grafana", [_d("y")], [], prune=False)])


def test_bad_input_exits_2_and_a_clash_1() -> None:
    assert p.PlanInputError("bad").exit_code == 2 and p.PlanError("clash").exit_code == 1


def test_render_text_and_json_forms() -> None:
    plan = p.diff("cloudwatch", [_d("a", t=1), _d("b", t=2)], [_l("a", t=3), _l("z", t=0)], prune=True)
    text = p.render_text([plan])
    assert "~ update cloudwatch alarm a\n    t: 3 -> 1" in text
    assert "+ create cloudwatch alarm b" in text
    assert "- delete cloudwatch alarm z" in text
    assert text.endswith("Plan: 1 to add, 1 to change, 1 to destroy.")
    data = p.to_json([plan])
    assert data["summary"] == {"create": 1, "update": 1, "delete": 1}
    assert data["changes"][0]["fields"] == [{"path": "t", "old": 3, "new": 1}]


class _Recorder:
    delete_batch = 2

    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.fail_on = fail_on

    def _do(self, action: str, keys: tuple[str, ...]) -> None:
        if self.fail_on in keys:
            raise RuntimeError(f"boom on {self.fail_on}")
        self.calls.append((action, keys))

    def create(self, change: p.Change) -> None:
        self._do("create", (change.key,))

    def update(self, change: p.Change) -> None:
        self._do("update", (change.key,))

    def delete(self, changes: Sequence[p.Change]) -> None:
        self._do("delete", tuple(c.key for c in changes))


def test_apply_batches_deletes_up_to_the_backend_limit() -> None:
    plan = p.diff("t", [_d("new")], [_l(k) for k in ("x1", "x2", "x3")], prune=True)
    backend, shown = _Recorder(), []
    report = p.apply(plan, backend, progress=shown.append)
    assert report.ok
    assert shown == ["+ created t alarm new", "- deleted t alarm x1", "- deleted t alarm x2", "- deleted t alarm x3"]
    assert backend.calls == [("create", ("new",)), ("delete", ("x1", "x2")), ("delete", ("x3",))]


def test_a_failure_midway_reports_what_was_and_was_not_applied() -> None:
    plan = p.diff("t", [_d("a"), _d("b"), _d("c")], [], prune=False)
    report = p.apply(plan, _Recorder(fail_on="b"))
    assert not report.ok
    assert [c.key for c in report.applied] == ["a"]
    assert [(c.key, err) for c, err in report.failed] == [("b", "boom on b")]
    assert [c.key for c in report.skipped] == ["c"]
    text = report.render()
    assert "+ created t alarm a" in text and "! failed to create t alarm b: boom on b" in text
    assert "not applied: create t alarm c" in text
    assert "created" not in report.render(applied=False).splitlines()[0]
