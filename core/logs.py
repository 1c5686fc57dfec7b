"""Logging setup: human-readable lines or one JSON object per line (the platform's structured logs), secrets
redacted (core/secrets.py)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from docqet_monitor.core.secrets import RedactingFilter, redact

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_notes = logging.getLogger("docqet_monitor")
_json_lines = False  # --log-format json: set by setup()
_options = (0, "text")  # setup()'s verbosity and format, for a child process that logs the same way


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra={...}`` fields become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}" + (f" {extra}" if extra else "")
        if record.exc_info or record.exc_text:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))
        return line


def setup(verbosity: int, fmt: str) -> None:
    """Log to stderr: info events by default, -v debug, -vv also one line per AWS/HTTP attempt (service,
    operation, outcome, attempt, duration; never parameters). Library loggers stay at warning: their debug
    output can carry request headers."""
    level = logging.INFO if verbosity == 0 else logging.DEBUG
    logging.getLogger("docqet_monitor.requests").setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    global _json_lines, _options
    _json_lines, _options = fmt == "json", (verbosity, fmt)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())  # every record, from any logger, loses the secrets the process knows
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "requests"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def options() -> tuple[int, str]:
    """The verbosity and format :func:`setup` was given (0 and text before it ran)."""
    return _options


def note(line: str, level: int = logging.INFO) -> None:
    """A line for the reader on stderr (a finding, a warning, what is being read): the line itself, or under
    --log-format json one log record at ``level`` with the line as its message, like every other stderr line;
    either way with secrets redacted."""
    if _json_lines:
        _notes.log(level, line)
    else:
        print(redact(line), file=sys.stderr, flush=True)
