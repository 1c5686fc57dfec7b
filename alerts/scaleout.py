"""Checks of the ``prometheus-config`` options: each bad value is a usage error naming the option (exit 2)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from docqet_monitor.core import secrets
from docqet_monitor.core.config import ENVIRONMENT_NAME, HOSTNAME, NAME
from docqet_monitor.core.errors import UsageError
from docqet_monitor.core.yamlfile import short

_HOST_PORT = re.compile(rf"(?P<host>{HOSTNAME}|\[[0-9a-fA-F:.]+\]):(?P<port>\d{{1,5}})", re.ASCII)
_URL = re.compile(rf"https?://({HOSTNAME}|\[[0-9a-fA-F:.]+\])(:\d{{1,5}})?(/\S*)?", re.ASCII)


def environment(env: str | None) -> str:
    if not env:
        raise UsageError("prometheus-config needs --env NAME (the environment its series are labelled with)")
    if not re.fullmatch(ENVIRONMENT_NAME, env, re.ASCII):
        raise UsageError(f"--env: expected an environment name (lower-case letters, digits, '-'), got {short(env)}")
    return env


def exporters(targets: Sequence[str], shards: int) -> list[str]:
    """One HOST:PORT per shard, no repeats."""
    if len(targets) != shards:
        raise UsageError(f"--exporter: expected one HOST:PORT per shard ({shards}), got {len(targets)}")
    for target in targets:
        match = _HOST_PORT.fullmatch(target)
        if not match or not 0 < int(match["port"]) < 65536:
            raise UsageError(f"--exporter: expected HOST:PORT, got {short(target)}")
    if len(set(targets)) != len(targets):
        raise UsageError("--exporter: the same exporter is given twice")
    return list(targets)


def url(option: str, value: str | None) -> str:
    """``value``, an http(s) URL without credentials (a URL with them is refused without being quoted)."""
    if not value:
        raise UsageError(f"{option} is required for this role")
    if secrets.has_credentials(value):
        raise UsageError(f"{option}: a URL with credentials (USER:PASSWORD@) is not accepted: they would be printed; "
                         "give the URL without them")
    if not _URL.fullmatch(value):
        raise UsageError(f"{option}: expected an http(s) URL, got {short(value)}")
    return value


def name(option: str, value: str) -> str:
    if not re.fullmatch(NAME, value, re.ASCII):
        raise UsageError(f"{option}: expected a name of letters, digits, '.', '_' and '-', got {short(value)}")
    return value


def rules_dir(folder: Path) -> Path:
    """The absolute folder, which must hold rule files (as ``alerts render`` writes them)."""
    if not sorted(folder.glob("*.yml")):
        raise UsageError(f"--rules-dir: no rule files (*.yml) in {folder}; run `docqet-monitor alerts render` "
                         "or give the folder that holds this environment's rules")
    return folder.resolve()
