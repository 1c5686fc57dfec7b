"""Writing generated files: every path stays under the output directory, secret files are owner-only from birth.

A file holding a secret is created with mode 0600 by ``os.open`` (never created readable and chmod-ed after),
its mode forced to 0600 before the first byte even when it already existed, and never through a symbolic link.
"""

from __future__ import annotations

import os
from pathlib import Path

from docqet_monitor.core.errors import UsageError

SECRET_MODE = 0o600


class OutsideOutput(UsageError):
    """A generated path that would land outside the output directory (exit 2)."""


def under(out: Path, rel: str) -> Path:
    """``out / rel``, refused unless it resolves to a path inside ``out`` (no ``..``, no absolute ``rel``)."""
    path = out / rel
    root = out.resolve()
    if Path(rel).is_absolute() or not path.resolve().is_relative_to(root) or path.resolve() == root:
        raise OutsideOutput(f"refusing to write {rel!r:.60}: it is not inside the output directory {out}")
    return path


def git_work_tree(path: Path) -> Path | None:
    """The top of the git work tree holding ``path`` (which need not exist yet), found by walking up for ``.git``."""
    for directory in (path.resolve(), *path.resolve().parents):
        if (directory / ".git").exists():
            return directory
    return None


def write_text(path: Path, text: str, secret: bool = False) -> None:
    """Write ``text`` to ``path``; with ``secret`` the file is mode 0600 before its first byte is written."""
    if not secret:
        path.write_text(text, encoding="utf-8")
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, SECRET_MODE)
    try:
        os.fchmod(fd, SECRET_MODE)  # an existing file keeps its mode through O_CREAT: narrow it before writing
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            fd = -1
            file.write(text)
    finally:
        if fd >= 0:
            os.close(fd)
