"""The runbook lint finds each kind of problem, and the committed runbooks pass it and say specific things."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from docqet_monitor.alerts import catalog, runbooks
from docqet_monitor.alerts.lint import known_series
from docqet_monitor.alerts.spec import AlertRule
from docqet_monitor.core.promql import metric_names
from docqet_monitor.exporters import collectors

COMMITTED = Path(__file__).resolve().parent.parent / "monitoring" / "runbooks"
SECTIONS = "".join(f"## {s}\n\nText.\n\n" for s in runbooks.SECTIONS)


def _rule(name: str, runbook: str) -> AlertRule:
    return AlertRule(name=name, severity="warning", summary="s", description="d", runbook=runbook,
                     dashboard="docqet-ecs-services", expr="vector(1)", for_="5m")


RULES = [_rule("EcsServiceCpuHigh", "ecs/cpu-high"), _rule("BurnFast", "slo/burn"), _rule("BurnSlow", "slo/burn")]
GOOD = {"ecs/cpu-high": f"# EcsServiceCpuHigh\n\n{SECTIONS}", "slo/burn": f"# BurnFast, BurnSlow\n\n{SECTIONS}"}


def _write(root: Path, pages: dict[str, str]) -> Path:
    for runbook, text in pages.items():
        path = root / f"{runbook}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_well_formed_pages_have_no_findings(tmp_path: Path) -> None:
    assert runbooks.lint(RULES, _write(tmp_path, GOOD), "runbooks") == []


def test_an_alert_without_its_page(tmp_path: Path) -> None:
    pages = {k: v for k, v in GOOD.items() if k != "slo/burn"}
    assert runbooks.lint(RULES, _write(tmp_path, pages), "runbooks") == [
        "BurnFast: no runbook (runbooks/slo/burn.md does not exist)",
        "BurnSlow: no runbook (runbooks/slo/burn.md does not exist)"]


def test_a_page_without_an_alert(tmp_path: Path) -> None:
    pages = {**GOOD, "ecs/cpu-hihg": GOOD["ecs/cpu-high"]}
    assert runbooks.lint(RULES, _write(tmp_path, pages), "runbooks") == [
        "runbooks/ecs/cpu-hihg.md: no alert uses this runbook (catalog runbook 'ecs/cpu-hihg')"]


def test_a_page_missing_a_section(tmp_path: Path) -> None:
    pages = {**GOOD, "ecs/cpu-high": GOOD["ecs/cpu-high"].replace("## Impact\n", "Impact\n")}
    assert runbooks.lint(RULES, _write(tmp_path, pages), "runbooks") == [
        "runbooks/ecs/cpu-high.md: missing section(s) '## Impact'"]


def test_sections_in_code_blocks_do_not_count_and_order_is_checked() -> None:
    fenced = GOOD["ecs/cpu-high"].replace("## Escalate\n", "```sh\n## Escalate\n```\n")
    assert runbooks.lint_pages(RULES[:1], {"ecs/cpu-high": fenced}) == [
        "runbooks/ecs/cpu-high.md: missing section(s) '## Escalate'"]
    swapped = "# EcsServiceCpuHigh\n\n## Impact\n\n## What it means\n\n## Confirm\n\n## Mitigate\n\n## Escalate\n"
    assert runbooks.lint_pages(RULES[:1], {"ecs/cpu-high": swapped}) == [
        "runbooks/ecs/cpu-high.md: sections out of order or repeated; expected '## What it means', '## Impact', "
        "'## Confirm', '## Mitigate', '## Escalate'"]
    extra = GOOD["ecs/cpu-high"] + "## Notes\n"
    assert runbooks.lint_pages(RULES[:1], {"ecs/cpu-high": extra}) == [
        "runbooks/ecs/cpu-high.md: unexpected section(s) '## Notes'"]


def test_the_title_names_every_alert_of_the_page() -> None:
    pages = {**GOOD, "slo/burn": GOOD["slo/burn"].replace("# BurnFast, BurnSlow", "# BurnFast")}
    assert runbooks.lint_pages(RULES, pages) == [
        "runbooks/slo/burn.md: title '# BurnFast' does not name exactly the alerts using this page; "
        "expected '# BurnFast, BurnSlow'"]


def test_no_runbooks_folder_means_nothing_to_check(tmp_path: Path) -> None:
    assert runbooks.lint(RULES, tmp_path / "runbooks") == []


# --- the committed runbooks ----------------------------------------------------------------------


def _pages() -> dict[str, str]:
    return runbooks.read_pages(COMMITTED)


def test_every_catalog_alert_has_a_well_formed_runbook() -> None:
    assert runbooks.lint(catalog.defaults(), COMMITTED) == []
    assert len(_pages()) >= len({rule.runbook for rule in catalog.defaults()})


def _sentences(text: str) -> set[str]:
    """The long sentences of the sections' prose: no code blocks or code spans (commands may repeat), not the
    header line under the title."""
    prose = re.sub(r"```.*?```", "", text[text.find("\n## "):], flags=re.DOTALL)
    prose = re.sub(r"`[^`]*`", "`…`", prose)
    return {s for s in (" ".join(part.split()) for part in re.split(r"(?<=[.:;!?])\s", prose)) if len(s) >= 60}


def test_no_prose_is_copied_from_page_to_page() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for runbook, text in _pages().items():
        for sentence in _sentences(text):
            seen[sentence].append(runbook)
    assert {sentence: pages for sentence, pages in seen.items() if len(pages) > 1} == {}


def _promql(text: str) -> list[str]:
    """The queries of the ```promql blocks: one per line, indented lines continue the query above."""
    queries: list[str] = []
    for block in re.findall(r"```promql\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and queries:
                queries[-1] += "\n" + line
            elif line.strip():
                queries.append(line)
    return queries


def test_the_runbooks_promql_reads_exported_metrics_and_parses(tmp_path: Path) -> None:
    queries = {f"{runbook} #{i}": q for runbook, text in _pages().items() for i, q in enumerate(_promql(text))}
    assert queries, "no ```promql block found"
    known = known_series(collectors.exported_metric_names())
    unknown = {where: sorted(n for n in metric_names(q) - known if n.startswith("docqet"))
               for where, q in queries.items()}
    assert {where: names for where, names in unknown.items() if names} == {}
    rules = tmp_path / "runbook-queries.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "runbooks", "rules": [
        {"record": "runbook:query", "expr": q} for q in queries.values()]}]}), encoding="utf-8")
    result = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("page", sorted({rule.runbook for rule in catalog.defaults()}))
def test_each_page_names_its_dashboard_panel(page: str) -> None:
    text = _pages()[page]
    for rule in catalog.defaults():
        if rule.runbook == page and rule.panel:
            assert rule.panel in text, f"{page}: the panel {rule.panel!r} of {rule.name} is not named"
