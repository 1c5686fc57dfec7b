"""``--web.config.file``: TLS and basic auth for the exporter, in the web configuration format of Prometheus's
exporter-toolkit (what node_exporter and the other official exporters read)::

    tls_server_config:
      cert_file: server.crt          # relative paths: from the web config file's folder
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional; with client_ca_file
      client_ca_file: clients-ca.crt
      min_version: TLS12             # optional: TLS12 (default) or TLS13
    basic_auth_users:
      prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')

Either section may be left out. Unknown keys, missing files, a bad certificate or a value that is not a bcrypt
hash are usage errors (exit 2) naming the file and key.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import ssl
import threading
import time
from base64 import b64decode
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from docqet_monitor.core.errors import UsageError

MAX_FILE_BYTES = 1024 * 1024
CLIENT_AUTH = {"NoClientCert": ssl.CERT_NONE, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
               "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")  # no verification: Python's ssl cannot
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
TOP_KEYS = ("tls_server_config", "basic_auth_users")
TLS_KEYS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version")
BCRYPT = re.compile(r"^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$")
# checked when the user is unknown, so an unknown user costs the same bcrypt work as a wrong password
DUMMY_HASH = bcrypt.hashpw(b"docqet-monitor: no such user", bcrypt.gensalt(rounds=10))
CACHE_SIZE = 64
RELOAD_CHECK_SECONDS = 1.0  # how often a new connection may look whether the files changed

log = logging.getLogger(__name__)


class WebConfigError(UsageError):
    """A bad web configuration file (exit 2)."""

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(f"{source}{': ' + key if key else ''}: {message}")


@dataclass(frozen=True)
class WebConfig:
    source: str
    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    files: tuple[str, ...] = ()  # the certificate, key and CA files it loaded


def load(path: str | Path) -> WebConfig:
    """Read and check a web configuration file; certificates are loaded now, so a bad one stops the start."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise WebConfigError(source, "", f"cannot read the web configuration: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise WebConfigError(source, "", f"larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise WebConfigError(source, "", "YAML aliases are not allowed")
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise WebConfigError(source, "", "not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise WebConfigError(source, "", f"{where}not valid YAML ({getattr(exc, 'problem', None) or 'syntax'})"
                             ) from None
    return parse(data or {}, source, path.parent)


def parse(data: Any, source: str, base: Path) -> WebConfig:
    """A parsed web configuration (``base``: the folder relative file names start from)."""
    _mapping(data, source, "", TOP_KEYS)
    tls, files = _tls(data["tls_server_config"], source, base) if data.get("tls_server_config") is not None \
        else (None, ())
    users = data.get("basic_auth_users") or {}
    _mapping(users, source, "basic_auth_users", None)
    hashes = {}
    for user, hashed in users.items():
        key = f"basic_auth_users.{str(user)[:40]}"
        if not isinstance(user, str) or not user or ":" in user:
            raise WebConfigError(source, key, "expected a user name (a string without ':')")
        if not isinstance(hashed, str) or not BCRYPT.match(hashed):
            raise WebConfigError(source, key, "expected a bcrypt hash ($2y$10$... from htpasswd -B)")
        hashes[user] = hashed.encode()
    return WebConfig(source, tls, hashes, files)


def _mapping(data: Any, source: str, key: str, allowed: tuple[str, ...] | None) -> None:
    if not isinstance(data, dict):
        raise WebConfigError(source, key, "expected a mapping")
    unknown = [str(k)[:40] for k in data if allowed is not None and k not in allowed]
    if unknown:
        raise WebConfigError(source, f"{key + '.' if key else ''}{unknown[0]}",
                             f"unknown key; expected one of {', '.join(allowed or ())}")


def _file(tls: dict[str, Any], key: str, source: str, base: Path) -> str:
    value = tls.get(key)
    if not isinstance(value, str) or not value:
        raise WebConfigError(source, f"tls_server_config.{key}", "expected a file name")
    path = base / value
    if not path.is_file():
        raise WebConfigError(source, f"tls_server_config.{key}", f"no such file: {str(path)[:200]}")
    return str(path)


def _tls(tls: Any, source: str, base: Path) -> tuple[ssl.SSLContext, tuple[str, ...]]:
    _mapping(tls, source, "tls_server_config", TLS_KEYS)
    auth = tls.get("client_auth_type", "NoClientCert")
    if auth in UNSUPPORTED_CLIENT_AUTH:
        raise WebConfigError(source, "tls_server_config.client_auth_type",
                             f"{auth} (a client certificate without verification) is not supported; use "
                             "VerifyClientCertIfGiven or RequireAndVerifyClientCert")
    if auth not in CLIENT_AUTH:
        raise WebConfigError(source, "tls_server_config.client_auth_type", f"expected one of {', '.join(CLIENT_AUTH)}")
    version = tls.get("min_version", "TLS12")
    if version not in TLS_VERSIONS:
        raise WebConfigError(source, "tls_server_config.min_version", f"expected one of {', '.join(TLS_VERSIONS)}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[version]
    cert, key = _file(tls, "cert_file", source, base), _file(tls, "key_file", source, base)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise WebConfigError(source, "tls_server_config.cert_file",
                             f"cannot load the certificate and key: {getattr(exc, 'reason', None) or exc}") from None
    context.verify_mode = CLIENT_AUTH[auth]
    files = (cert, key)
    if auth != "NoClientCert":
        ca = _file(tls, "client_ca_file", source, base)
        files += (ca,)
        try:
            context.load_verify_locations(ca)
        except (ssl.SSLError, OSError) as exc:
            raise WebConfigError(source, "tls_server_config.client_ca_file",
                                 f"cannot load the CA certificates: {getattr(exc, 'reason', None) or exc}") from None
    elif tls.get("client_ca_file"):
        raise WebConfigError(source, "tls_server_config.client_ca_file",
                             "set client_auth_type too (VerifyClientCertIfGiven or RequireAndVerifyClientCert)")
    return context, files


class Watched:
    """The web configuration the HTTP server uses: read again when its file, or a certificate, key or CA file it
    names, changes (looked at by a new connection, at most once every :data:`RELOAD_CHECK_SECONDS`), as Prometheus's
    exporter-toolkit reads it at each request, so a rotated certificate is served without a restart. A change that
    does not load is a warning, once, and the configuration in use stays."""

    def __init__(self, web: WebConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock, self._lock = clock, threading.Lock()
        self._use(web, _stamps(web))
        self._checked = clock()

    def _use(self, web: WebConfig, stamp: tuple[Any, ...]) -> None:
        self.web, self.auth, self._stamp = web, BasicAuth(web.users) if web.users else None, stamp

    def current(self) -> tuple[ssl.SSLContext | None, BasicAuth | None]:
        """The TLS context and basic auth for a new connection."""
        with self._lock:
            now = self._clock()
            if now - self._checked >= RELOAD_CHECK_SECONDS:
                self._checked = now
                stamp = _stamps(self.web)
                if stamp != self._stamp:
                    try:
                        web = load(self.web.source)
                    except WebConfigError as exc:
                        self._stamp = stamp  # said once per change
                        log.warning("the web configuration changed but does not load; still serving the one loaded "
                                    "before: %s", exc)
                    else:
                        self._use(web, _stamps(web))
                        log.info("web configuration %s loaded again (it or a file it names changed)", web.source)
            return self.web.tls, self.auth


def _stamps(web: WebConfig) -> tuple[Any, ...]:
    """What identifies the content of the web configuration's files now: (inode, size, mtime) of each, following
    links (a Kubernetes secret volume swaps a link)."""
    found = []
    for path in (web.source, *web.files):
        try:
            st = os.stat(path)
        except OSError:
            found.append(None)
        else:
            found.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(found)


class BasicAuth:
    """Checks ``Authorization: Basic`` headers against bcrypt hashes. Unknown users are checked against a dummy
    hash (the same bcrypt work as a wrong password); successes are cached by a digest of the credentials, so a
    scrape every few seconds does not pay bcrypt each time."""

    def __init__(self, users: dict[str, bytes]) -> None:
        self.users = users
        self._ok: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, header: str | None) -> bool:
        user, password = _credentials(header)
        if user is None or password is None:
            return False
        digest = hashlib.sha256(user.encode() + b"\0" + password).digest()
        with self._lock:
            if digest in self._ok:
                self._ok.move_to_end(digest)
                return True
        hashed = self.users.get(user)
        try:
            ok = bcrypt.checkpw(password, hashed or DUMMY_HASH) and hashed is not None
        except ValueError:
            ok = False
        if ok:
            with self._lock:
                self._ok[digest] = None
                while len(self._ok) > CACHE_SIZE:
                    self._ok.popitem(last=False)
        return ok


def _credentials(header: str | None) -> tuple[str | None, bytes | None]:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = b64decode(value.strip(), validate=True)
    except ValueError:
        return None, None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None, None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None, None
