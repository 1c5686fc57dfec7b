"""The container health check: ``python -m docqet_monitor.exporters.health`` exits 0 when the exporter of this
host answers ``/healthz`` with 200, else 1 saying why on stderr (Docker and ECS read exit 1 as unhealthy; they
reserve 2, so a bad URL is 1 as well).

It asks ``$DOCQET_MONITOR_HEALTH_URL``, by default ``http://127.0.0.1:19842/healthz``: set it when the exporter
serves another port or HTTPS (``--web.config.file`` with TLS). Over HTTPS the certificate is not verified: the
check asks its own host's exporter, by address, whose certificate names the service. ``/healthz`` needs no
credentials. Only the standard library is imported (Docker and ECS run it every 30 s).
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

URL_ENV = "DOCQET_MONITOR_HEALTH_URL"
DEFAULT_URL = "http://127.0.0.1:19842/healthz"  # exporter.port's default
TIMEOUT_SECONDS = 4.0  # under the image's HEALTHCHECK --timeout (5 s)


def problem(url: str, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """None when ``url`` answers 200, else why not."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urllib.parse.urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc:  # not echoed: it may hold a password
        return f"${URL_ENV}: expected an http:// or https:// URL such as {DEFAULT_URL}"
    if "@" in parts.netloc:
        return f"${URL_ENV}: /healthz needs no credentials; give the URL without them"
    context = ssl._create_unverified_context() if parts.scheme == "https" else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:  # URLError, a timeout, a reset; ValueError: a malformed URL
        return f"cannot reach {url}: {getattr(exc, 'reason', None) or exc}"


def main() -> int:
    why = problem(os.environ.get(URL_ENV) or DEFAULT_URL)
    if why:
        print(f"unhealthy: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
