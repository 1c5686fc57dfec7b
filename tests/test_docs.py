"""The examples in README.md and docs/*.md are run, so they cannot drift from the tool.

Conventions (docs/development.md, "Examples that run"):

- A ```` ```console ```` block is run. Each ``$ `` line is a shell command (``\\`` at the end continues it);
  the lines after it, up to the next ``$ ``, are its whole output (stdout and stderr, as a terminal shows
  them). ``…`` in a line matches any text within that line; a line that is only ``…`` matches any number of
  lines. A command ends with exit code 0 unless its line ends with the comment ``# exit N`` (``# exit N: why``).
- Every block runs with bash (the working directory carries over from one ``$`` line to the next, as in a
  terminal) in a fresh copy of a directory made by ``docqet-monitor init``, ``~/repo`` under a new ``$HOME``,
  without network: ``AWS_ENDPOINT_URL`` points at a closed port, or, for ```` ```console aws ````, at the
  tests' moto server, reset and seeded with the demo's staging environment (eu-west-1), its edge and its
  sample bill.
- A ```` ```yaml file=NAME ```` block (any language) is written to NAME in the directory of every console
  block after it on the same page. A ```` ```yaml config ```` block must load as an environment file (the
  config loader and the alert catalog's checks).
- Every ``docqet-monitor ...`` invocation anywhere in the docs (any code block, inline code, headings) names
  only commands and options that exist; examples that cannot run here (a real Grafana, PagerDuty, AWS
  account, a server that does not return) stay in ```` ```sh ```` blocks and get this check only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
import requests
from helpers import CHECKOUT, free_port

from docqet_monitor.alerts import catalog
from docqet_monitor.cli import main
from docqet_monitor.core import config as config_mod

PAGES = [CHECKOUT.root / "README.md", *sorted((CHECKOUT.root / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent  # this checkout's virtualenv: its docqet-monitor
ELLIPSIS = "…"
COMMAND_TIMEOUT = 180


# --- reading the pages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    lang: str
    attrs: dict[str, str]
    text: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def fenced_blocks(page: str, text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text; the info string gives the language and ``key`` / ``key=value``
    attributes."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^ {0,3}(`{3,}|~{3,})\s*(.*)$", lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening.group(1), opening.group(2).split()
        end = i + 1
        while end < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[end]):
            end += 1
        attrs = dict(word.split("=", 1) if "=" in word else (word, "") for word in info[1:])
        found.append(Block(page, i + 1, info[0] if info else "", attrs, "\n".join(lines[i + 1:end])))
        i = end + 1
    return found


def prose(text: str) -> str:
    """The text outside fenced blocks."""
    return re.sub(r"(?ms)^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1`*\s*$", "", text)


def read(path: Path) -> tuple[str, str]:
    name = path.relative_to(CHECKOUT.root) if path.is_relative_to(CHECKOUT.root) else path
    return str(name), path.read_text(encoding="utf-8")


# --- console examples --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    command: str
    expected: tuple[str, ...]
    exit_code: int
    line: int


def steps(block: Block) -> list[Step]:
    """The commands of a console block with their expected output and exit code."""
    found: list[Step] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"{block.where}: a console block holds `$ command` lines and their output; "
                             f"line {block.line + 1 + i} is output of no command: {lines[i]!r}")
        start, command = i, lines[i][2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command += "\n" + lines[i]  # bash reads the continuation
        i += 1
        output_start = i
        while i < len(lines) and not lines[i].startswith("$ "):
            i += 1
        status = re.search(r"#\s*exit\s+(\d+)(?::[^#\n]*)?$", command.rstrip())
        found.append(Step(command, tuple(lines[output_start:i]), int(status.group(1)) if status else 0,
                          block.line + 1 + start))
    return found


def output_pattern(expected: tuple[str, ...]) -> re.Pattern[str]:
    """The whole output: ``…`` within a line is any text, a line of only ``…`` any lines."""
    parts = []
    for line in expected:
        if line.strip() == ELLIPSIS:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.rstrip().split(ELLIPSIS)) + r"[ \t]*\n")
    return re.compile("".join(parts))


def normalise(output: str) -> str:
    lines = [line.rstrip() for line in output.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def problem(step: Step, code: int, output: str) -> str | None:
    """Why the step's real exit code and output differ from the example's (None: they agree)."""
    shown = f"\n--- it printed (exit {code}) ---\n{output}--- the example expects (exit {step.exit_code}) ---\n" \
            + "".join(line + "\n" for line in step.expected)
    if code == 2 and step.exit_code != 2:
        return f"line {step.line}: `{step.command}` is a usage error (exit 2): an unknown command or option?{shown}"
    if code != step.exit_code:
        return f"line {step.line}: `{step.command}` exited {code}, the example says {step.exit_code}{shown}"
    if not output_pattern(step.expected).fullmatch(output):
        return f"line {step.line}: `{step.command}` printed something else than the example{shown}"
    return None


@dataclass
class Sandbox:
    """Where a console block runs: a copy of an initialised monitoring repository, its own HOME."""

    template: Path
    moto: str
    tmp: Path
    counter: Iterator[int] = field(default_factory=lambda: iter(range(1_000_000)))

    def directory(self) -> Path:
        """A new ``$HOME`` holding a copy of the monitoring repository, ``~/repo``, where the block starts."""
        home = self.tmp / f"example-{next(self.counter)}"
        shutil.copytree(self.template, home / "repo", symlinks=True)
        return home / "repo"

    def environ(self, home: Path, aws: bool) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCQET_MONITOR_", "PYTEST_"))}
        env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(home), LC_ALL="C.UTF-8",
                   TERM="dumb", COLUMNS="120", PYTHONUNBUFFERED="1",  # stdout and stderr in the order written
                   AWS_ENDPOINT_URL=self.moto if aws else f"http://127.0.0.1:{free_port()}")
        env.pop("VIRTUAL_ENV", None)
        return env


def seed_moto(endpoint: str) -> None:
    from docqet_monitor.demo.aws import patch_moto_percentiles, seed_staging
    from docqet_monitor.demo.cost_qdrant import seed_costs
    from docqet_monitor.demo.edge import seed_edge

    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    patch_moto_percentiles()
    seed_staging(endpoint, "eu-west-1")
    seed_edge(endpoint, "eu-west-1")
    seed_costs(endpoint, datetime.now(UTC).date(), "staging", "Environment")


def run_block(block: Block, files: list[Block], sandbox: Sandbox) -> list[str]:
    """Run a console block; what went differently from the page (empty: nothing)."""
    cwd = sandbox.directory()
    for f in files:
        name = Path(f.attrs["file"])
        assert not name.is_absolute() and ".." not in name.parts, f"{f.where}: file= must be a relative path"
        (cwd / name).parent.mkdir(parents=True, exist_ok=True)
        (cwd / name).write_text(f.text + "\n", encoding="utf-8")
    aws = "aws" in block.attrs
    if aws:
        seed_moto(sandbox.moto)
    env = sandbox.environ(cwd.parent, aws)
    state = cwd.with_name(".cwd")  # the working directory carries over from one `$` line to the next
    state.write_text(str(cwd))
    found = []
    for step in steps(block):
        script = f'cd "$(cat {shlex.quote(str(state))})" || exit 99\n{{\n{step.command}\n}}\n' \
                 f'status=$?; pwd > {shlex.quote(str(state))}; exit $status'
        done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT, check=False)
        why = problem(step, done.returncode, normalise(done.stdout.decode("utf-8", "replace")))
        if why:
            found.append(f"{block.page}:{why}")
    return found


def console_examples() -> list[tuple[Block, list[Block]]]:
    """Every console block of the pages, with the file blocks above it on its page."""
    found = []
    for path in PAGES:
        page, text = read(path)
        files: list[Block] = []
        for block in fenced_blocks(page, text):
            if "file" in block.attrs:
                files.append(block)
            if block.lang == "console":
                found.append((block, list(files)))
    return found


@pytest.fixture(scope="module")
def sandbox(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """``docqet-monitor init`` once; every block runs in a copy."""
    template = tmp_path_factory.mktemp("docs") / "template"
    done = subprocess.run([str(BIN / "docqet-monitor"), "init", str(template)], capture_output=True, timeout=300,
                          check=False, env={**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    assert done.returncode == 0, done.stderr.decode()
    return Sandbox(template, moto_server, tmp_path_factory.mktemp("examples"))


EXAMPLES = console_examples()


@pytest.mark.parametrize(("block", "files"), EXAMPLES, ids=[b.where for b, _ in EXAMPLES])
def test_console_examples_print_what_the_docs_say(block: Block, files: list[Block], sandbox: Sandbox) -> None:
    problems = run_block(block, files, sandbox)
    assert not problems, "\n\n".join(problems)


def test_every_command_has_a_runnable_example() -> None:
    """The commands the docs should show running, each in some console block."""
    commands = " ".join(step.command for block, _ in EXAMPLES for step in steps(block))
    for wanted in ("init", "validate", "exporter once", "alerts render", "dashboards build", "dashboards check",
                   "iam-policy", "prometheus-config", "sync"):
        pattern = r"\bdocqet-monitor(?:\s+\S+)*?\s+" + wanted.replace(" ", r"\s+") + r"\b"
        assert re.search(pattern, commands), f"no console example runs {wanted}"


# --- config blocks -----------------------------------------------------------------------------------------------


CONFIGS = [b for path in PAGES for b in fenced_blocks(*read(path)) if b.lang == "yaml" and "config" in b.attrs]


@pytest.mark.parametrize("block", CONFIGS, ids=[b.where for b in CONFIGS])
def test_config_examples_load(block: Block) -> None:
    config = config_mod.loads(block.text, block.where)
    catalog.rules(config)  # alerts.thresholds / alerts.disabled name real alerts and keys


# --- every invocation names real commands and options ------------------------------------------------------------

START = re.compile(r"(?:^|(?<=[\s/]))docqet-monitor(?=\s|$)")
CUT = re.compile(r"\s[|>]|\s&&|;|\s#|\s2>|\s<|`")
SEPARATORS = re.compile(r"(?:^|\$\s|&&|\|\||[|;(])")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")


def invocations(text: str) -> list[str]:
    """The argument strings of every ``docqet-monitor`` run in ``text`` (a command at the start of a shell
    command, after environment assignments or a path; not ``pip install docqet-monitor``)."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        for match in START.finditer(line):
            before = SEPARATORS.split(line[:match.start()])[-1].split()
            attached = line[:match.start()] and not line[match.start() - 1].isspace()
            if attached and not (before and before[-1].endswith("/")):
                continue
            words = before[:-1] if attached else before
            if all(ASSIGNMENT.match(w) or w in {"$", "sudo", "exec", "env"} for w in words):
                rest = line[match.end():]
                found.append(rest[:m.start()] if (m := CUT.search(rest)) else rest)
    return found


def _options(command: click.Command) -> dict[str, click.Option]:
    return {name: p for p in command.params if isinstance(p, click.Option) for name in p.opts + p.secondary_opts}


CONTEXT = click.Context(main)  # for get_command: the CLI imports some commands' modules when first asked


def unknown_names(arguments: str) -> list[str]:
    """Commands and options in ``docqet-monitor ARGUMENTS`` that do not exist (``[...]``, ``a|b``,
    ``a/b`` and placeholders read as a synopsis: every alternative must exist)."""
    try:
        tokens = shlex.split(arguments)
    except ValueError:
        tokens = arguments.split()
    tokens = [t.strip("[]") for t in tokens if t.strip("[]")]
    commands: list[click.Command] = [main]
    problems = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if re.match(r"^-[A-Za-z]|^--[A-Za-z]", token):
            name = token.split("=", 1)[0]
            for command in commands:
                options = {**_options(command), "--help": None, "-h": None}
                repeated = re.fullmatch(r"-([A-Za-z])\1+", name)
                if name not in options and not (repeated and f"-{repeated.group(1)}" in options):
                    problems.append(f"{command.name}: no option {name}")
            option = _options(commands[0]).get(name)
            if option is not None and not option.is_flag and not option.count and "=" not in token:
                i += 1  # its value
            continue
        if all(isinstance(c, click.Group) for c in commands) and re.fullmatch(r"[a-z][a-z0-9|/-]*", token):
            # (`…`, `<command>`, `COMMAND`: a placeholder, not a command name)
            found = []
            for alternative in re.split(r"[|/]", token):
                sub = next((c.get_command(CONTEXT, alternative) for c in commands
                            if c.get_command(CONTEXT, alternative)), None)
                if sub is None:
                    problems.append(f"{' '.join(c.name or '' for c in commands)}: no command {alternative}")
                else:
                    found.append(sub)
            if not found:
                break
            commands = found
    return problems


def all_invocations(path: Path) -> list[tuple[str, str]]:
    page, text = read(path)
    found = [(f"{b.where}", args) for b in fenced_blocks(page, text) for args in invocations(b.text)]
    for span in re.findall(r"`([^`\n]+)`", prose(text)):
        found += [(page, args) for args in invocations(span)]
        if span.split()[:1] and main.get_command(CONTEXT, span.split()[0]):  # `alerts render --check`: no program name
            found.append((page, f" {span}"))
    return found


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_every_invocation_names_real_commands_and_options(path: Path) -> None:
    found = all_invocations(path)
    problems = [f"{where}: docqet-monitor{args}: {why}" for where, args in found for why in unknown_names(args)]
    assert not problems, "\n".join(problems)


def test_the_docs_are_read() -> None:
    """The checks above see the pages' examples (a parser that finds nothing would pass everything)."""
    assert len(PAGES) >= 9 and any(p.name == "README.md" for p in PAGES)
    assert len(EXAMPLES) >= 10
    assert sum(len(all_invocations(p)) for p in PAGES) >= 50


# --- the checks fail on drifted examples -------------------------------------------------------------------------

DRIFTED = """\
A page whose examples drifted.

```yaml file=bad.yaml
regions: [nowhere]
```

```console
$ docqet-monitor iam-policy --role exporter | head -2
{
  "Version": "2012-10-17",
$ docqet-monitor iam-policy --role exporter | head -1
[
$ docqet-monitor --config bad.yaml validate
Error: invalid configuration: …
$ docqet-monitor exporter once --no-such-option   # exit 1
$ docqet-monitor --config bad.yaml validate   # exit 2
Error: invalid configuration: bad.yaml, line 1: regions[0]: …
```

See `docqet-monitor alerts sing --env staging`, `docqet-monitor --env staging validate --stric` and
`alerts render --chek`.
"""


def test_drifted_examples_fail(sandbox: Sandbox, tmp_path: Path) -> None:
    block = next(b for b in fenced_blocks("drifted.md", DRIFTED) if b.lang == "console")
    files = [b for b in fenced_blocks("drifted.md", DRIFTED) if "file" in b.attrs]
    problems = run_block(block, files, sandbox)
    assert len(problems) == 3, "\n\n".join(problems)  # the first and the last step agree with the tool
    assert "`docqet-monitor iam-policy --role exporter | head -1` printed something else" in problems[0]
    assert "`docqet-monitor --config bad.yaml validate` exited 2, the example says 0" not in problems[1]
    assert "is a usage error (exit 2)" in problems[1] and "bad.yaml validate" in problems[1]
    assert "is a usage error (exit 2)" in problems[2] and "--no-such-option" in problems[2]
    (tmp_path / "drifted.md").write_text(DRIFTED)
    assert [why for _, args in all_invocations(tmp_path / "drifted.md") for why in unknown_names(args)] == \
        ["once: no option --no-such-option", "alerts: no command sing", "validate: no option --stric",
         "render: no option --chek"]


def test_the_output_pattern() -> None:
    assert output_pattern(("a …", ELLIPSIS, "z")).fullmatch("a b c\nx\ny\nz\n")
    assert output_pattern(("a …", ELLIPSIS, "z")).fullmatch("a \nz\n")
    assert not output_pattern(("a …", "z")).fullmatch("a b\nx\nz\n")  # `…` in a line stays in the line
    assert not output_pattern(("a",)).fullmatch("a\nmore\n")  # the whole output, not a prefix
    assert output_pattern(()).fullmatch("")


def test_invocations_are_commands_not_package_names() -> None:
    assert invocations("pip install docqet-monitor && docqet-monitor init") == [" init"]
    assert invocations("docker build -t docqet-monitor .") == []
    assert invocations("ExecStart=/opt/x/.venv/bin/docqet-monitor --env production exporter serve") == \
        [" --env production exporter serve"]
    assert invocations("GRAFANA_TOKEN=x docqet-monitor dashboards plan > plan.txt") == [" dashboards plan"]
    assert unknown_names(" alerts plan|apply --target cloudwatch|sentry [--prune]") == []
    assert unknown_names(" -vv --log-format json exporter once --shard 1/2") == []
    assert unknown_names(" dashboards plan|publsh") == ["dashboards: no command publsh"]
    assert unknown_names(" … --env staging") == unknown_names(" COMMAND --help") == []


def test_the_steps_of_a_console_block() -> None:
    block = Block("x.md", 1, "console", {}, "$ a   # exit 2: why\n$ b  # exit 1 when stale\n$ c \\\n  d\nout\n…")
    assert [(s.command.split()[0], s.exit_code, s.expected, s.line) for s in steps(block)] == \
        [("a", 2, (), 2), ("b", 0, (), 3), ("c", 0, ("out", ELLIPSIS), 4)]
    with pytest.raises(ValueError, match="output of no command"):
        steps(Block("x.md", 1, "console", {}, "output first"))
