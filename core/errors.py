"""One error hierarchy: every domain error carries the exit code the CLI maps it to, once, at its edge.

2: usage, configuration and missing settings (the user must change what they typed or wrote);
1: a failure at run time (an API answered an error, a check found problems).
"""

from __future__ import annotations

USAGE = 2
FAILURE = 1


class DocqetError(Exception):
    """A problem the user is told about in one sentence of ours (no traceback); ``exit_code`` says which kind."""

    exit_code = FAILURE


class UsageError(DocqetError):
    """Bad usage, a bad configuration or a missing setting: exit 2."""

    exit_code = USAGE


class RunError(DocqetError):
    """Something failed at run time (an API, a tool, a check): exit 1."""

    exit_code = FAILURE
