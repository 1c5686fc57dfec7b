"""One redaction layer: every secret the process knows is replaced by ``<redacted>`` in log records (a filter on
the root handlers, see core/logs.py) and in the CLI's error messages (its error edge, cli.py).

Secrets are registered as the process learns them: the environment variables in :data:`SECRET_ENV_VARS` at
start-up, then the configuration's (Qdrant API keys from their ``api_key_env`` variables, external ids of role
accounts, the PagerDuty key variable, passwords in URLs). A value is also redacted in its URL-encoded and
JSON-escaped forms, since servers echo it back that way. Values shorter than :data:`MIN_LENGTH` are not
registered: they would blank out ordinary words and no real key is that short.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from docqet_monitor.core.config import Config

REDACTED = "<redacted>"
MIN_LENGTH = 4
SECRET_ENV_VARS = ("QDRANT_API_KEY", "SENTRY_AUTH_TOKEN", "GRAFANA_TOKEN", "PAGERDUTY_ROUTING_KEY",
                   "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
URL_ENV_VARS = ("QDRANT_URL", "GRAFANA_URL", "SENTRY_URL", "SENTRY_DSN")


class Redactor:
    """A thread-safe set of secrets and the text substitution over them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._needles: tuple[str, ...] = ()

    def add(self, *values: str | None) -> None:
        with self._lock:
            needles = set(self._needles)
            for value in values:
                if value and len(value) >= MIN_LENGTH:
                    needles |= {value, quote(value, safe=""), json.dumps(value)[1:-1]}
            self._needles = tuple(sorted(needles, key=len, reverse=True))  # longest first: no partial leftovers

    def redact(self, text: str) -> str:
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, REDACTED)
        return text

    def known(self) -> tuple[str, ...]:
        """Every form of every secret registered (for a child process's own redactor)."""
        return self._needles

    def clear(self) -> None:
        with self._lock:
            self._needles = ()


REDACTOR = Redactor()


def register(*values: str | None) -> None:
    """Add secrets to the process-wide redactor."""
    REDACTOR.add(*values)


def redact(text: str) -> str:
    """``text`` with every known secret replaced by ``<redacted>`` (pure over the registered secrets)."""
    return REDACTOR.redact(text)


def url_password(url: str) -> str | None:
    """The password of a URL's userinfo (``https://user:pw@host``), if any (pure)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def without_password(url: str) -> str:
    """``url`` with the password of its user info (``user:password@``) replaced by ``<redacted>``, also when it is
    not a valid URL (pure): what an error may quote of a URL that has not been registered."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not (sep and at and ":" in userinfo):
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:{REDACTED}@{host}"


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries user info (``user[:password]@``) before its host (pure)."""
    _, sep, rest = url.partition("://")
    return bool(sep) and "@" in re.split(r"[/?#]", rest, maxsplit=1)[0]


def env_token(environ: Mapping[str, str], name: str) -> str:
    """The token or key in ``$name`` ('' when unset) without the whitespace around it, as Prometheus trims the
    secrets it reads from files (a file's trailing newline, a pasted space). ValueError, not showing the value,
    when a character is left that a request header cannot carry: every request would fail."""
    token = environ.get(name, "").strip()
    bad = next((i for i, c in enumerate(token) if not " " < c < "\x7f"), None)
    if bad is not None:
        c = token[bad]
        kind = ("a line break" if c in "\r\n" else "whitespace" if c.isspace() else
                "a non-ASCII character" if c > "\x7f" else "a control character")
        raise ValueError(f"expected a token of printable ASCII without spaces, got {kind} at character {bad + 1} "
                         "(the value is not shown)")
    return token


def register_environment(environ: Mapping[str, str]) -> None:
    """The secrets every command may meet: tokens and keys from their variables (as sent: trimmed), passwords in
    URL variables."""
    register(*(environ.get(name, "").strip() for name in SECRET_ENV_VARS))
    register(*(url_password(environ.get(name, "")) for name in URL_ENV_VARS))


def register_config(config: Config, environ: Mapping[str, str]) -> None:
    """The secrets a configuration points at: Qdrant keys (``api_key_env``), the PagerDuty key variable, external
    ids of role accounts, and passwords written into Qdrant URLs."""
    qdrant = config.collectors.qdrant.nodes
    register(*(environ.get(n.api_key_env, "").strip() for n in qdrant if n.api_key_env))
    register(environ.get(config.alerts.alertmanager.pagerduty_routing_key_env or "", "").strip())
    register(*(a.external_id for a in config.accounts))
    register(*(url_password(n.url) for n in qdrant))  # grafana.url and sentry.url take none


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, its string extras and its exception text with secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:  # formatters print exc_text (cached) when it is set
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_RECORD_FIELDS: set[str] = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


def scrub_event(event: dict[str, Any], _hint: Any = None) -> dict[str, Any] | None:
    """A Sentry ``before_send`` hook: the crash report with secrets redacted (dropped if that breaks it)."""
    text = json.dumps(event, default=str)
    scrubbed = redact(text)
    if scrubbed == text:
        return event
    try:
        return json.loads(scrubbed)
    except ValueError:  # a secret spanning JSON syntax: send nothing rather than the secret
        return None
