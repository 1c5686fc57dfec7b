"""The tool's own crash reports: to Sentry when ``SENTRY_DSN`` is set (sentry_sdk is imported only then, so a
command that needs no Sentry, ``exporter serve`` without it, does not load it)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from docqet_monitor import __version__
from docqet_monitor.core import secrets
from docqet_monitor.core.errors import UsageError

DSN_ENV = "SENTRY_DSN"


def init_self_monitoring(environment: str, environ: Mapping[str, str] = os.environ) -> None:
    """Send the tool's crashes to Sentry when ``SENTRY_DSN`` is set (nothing otherwise); without the stack
    frames' local variables, which hold the environment and its tokens."""
    dsn = environ.get(DSN_ENV, "").strip()
    if dsn:
        import sentry_sdk
        from sentry_sdk.utils import BadDsn

        try:
            sentry_sdk.init(dsn=dsn, environment=environment, release=f"docqet-monitor@{__version__}",
                            traces_sample_rate=0, include_local_variables=False, before_send=secrets.scrub_event)
        except BadDsn:  # its message quotes parts of the DSN, the key among them
            raise UsageError(f"${DSN_ENV}: expected a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID), for the "
                             "tool's own crash reports; the value is not shown") from None
