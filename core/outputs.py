"""Writing generated files: every path stays under the output directory, each file is written whole or not at
all, and secret files are owner-only from birth.

A file is written into a new file beside it, then renamed over it: a reader (Prometheus reloading its rules) never
sees half a file, and a write that fails (a full disk) leaves the old one. A file holding a secret is created with
mode 0600 by ``os.open`` (never created readable and chmod-ed after), and never written through a symbolic link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
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
    """Write ``text`` to ``path`` whole (a new file renamed over it), keeping the mode of the file it replaces; with
    ``secret`` the file is mode 0600 before its first byte is written, and a symbolic link in its place is refused.
    A link to a file that holds no secret stays a link: the file it points at is replaced."""
    if secret and path.is_symlink():
        raise OSError(errno.ELOOP, "a symbolic link stands where a file holding a secret goes", str(path))
    target = path if secret else path.resolve()
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 SECRET_MODE if secret else 0o666)  # less the umask, as for any new file
    try:
        if secret:
            os.fchmod(fd, SECRET_MODE)
        elif target.exists():
            os.fchmod(fd, stat.S_IMODE(target.stat().st_mode))
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            fd = -1
            file.write(text)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
