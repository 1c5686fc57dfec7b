"""The exporter's HTTP edges: idle and header timeouts, a bounded worker pool, HEAD, Accept-Encoding q-values,
HTTP/0.9 and TLS bytes on the plain port, and TLS plus basic auth from a --web.config.file (exporter-toolkit
format), checked with a generated self-signed certificate and requests."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import pytest
import requests
from helpers import certificate, free_port
from prometheus_client.core import GaugeMetricFamily

from docqet_monitor.core import config
from docqet_monitor.core.stats import Stats
from docqet_monitor.exporters import health, webconfig
from docqet_monitor.exporters.metrics import Collection
from docqet_monitor.exporters.server import Exporter, accepts_gzip, serve

VENV_BIN = Path(sys.executable).parent
PASSWORD = "scrape-password-42"


class Static:
    name, interval_seconds = "static", 60.0

    def collect(self) -> Collection:
        family = GaugeMetricFamily("docqet_test_value", "A test value.", labels=["item"])
        for i in range(200):
            family.add_metric([f"item-{i}"], i)
        return Collection([family])


def _exporter() -> Exporter:
    exporter = Exporter([Static()], Stats())
    exporter.refresh_all()
    return exporter


@contextmanager
def _served(web: webconfig.WebConfig | None = None, **kwargs: float) -> Iterator[tuple[str, int]]:
    httpd = serve(_exporter(), "127.0.0.1", 0, web, **kwargs)  # type: ignore[arg-type]
    try:
        yield ("https" if web and web.tls else "http"), httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` and read until the server closes (socket.timeout if it holds the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


# --- methods, encodings, protocol edges -------------------------------------------------------------------


def test_head_is_get_without_a_body() -> None:
    with _served() as (_, port):
        get = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5, headers={"Accept-Encoding": "identity"})
        head = requests.head(f"http://127.0.0.1:{port}/metrics", timeout=5, headers={"Accept-Encoding": "identity"})
        raw = _raw(port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(get.content)) and head.headers["Content-Type"].startswith(
        "text/plain; version=0.0.4")
    assert raw.endswith(b"\r\n\r\n")  # headers only


@pytest.mark.parametrize(("header", "gzipped"), [
    ("gzip", True), ("gzip;q=0", False), ("gzip; q=0.000", False), ("identity, gzip;q=0.5", True),
    ("*", True), ("*;q=0", False), ("gzip;q=0, *", False), ("deflate", False), ("", False), ("GZIP;Q=1", True),
    ("gzip;q=nan", False), ("br, x-gzip", True),
])
def test_accept_encoding_honours_q_values(header: str, gzipped: bool) -> None:
    assert accepts_gzip(header) is gzipped


def test_gzip_q0_gets_identity_over_http() -> None:
    with _served() as (_, port):
        plain = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5, headers={"Accept-Encoding": "gzip;q=0"},
                             stream=True)
        zipped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5, headers={"Accept-Encoding": "gzip"},
                              stream=True)
        assert "Content-Encoding" not in plain.headers
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(zipped.raw.read()) == plain.raw.read()


def test_http_0_9_is_answered_400_and_closed() -> None:
    with _served() as (_, port):
        answer = _raw(port, b"GET /metrics\r\n")  # before: the server waited for headers, the client for a reply
    assert answer.startswith(b"HTTP/1.0 400 expected an HTTP/1.0 or HTTP/1.1 request line")


def test_tls_bytes_on_the_plain_port_are_closed_at_once() -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with _served() as (_, port), socket.create_connection(("127.0.0.1", port), timeout=5) as sock, \
            pytest.raises((ssl.SSLError, ConnectionError)):  # not TimeoutError: the server does not hold it
        context.wrap_socket(sock)


def test_idle_connections_time_out_and_take_no_thread_each() -> None:
    before = threading.active_count()
    with _served(timeout_seconds=1, workers=2, queue_size=2) as (_, port):
        threads = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(30)]
        try:
            time.sleep(0.3)
            assert threading.active_count() == threads  # one deadline thread for all, not a timer per request
            for sock in idle:
                assert sock.recv(1) == b""  # closed by the server: refused (pool full) or idle past 1 s
        finally:
            for sock in idle:
                sock.close()
        assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    assert threads - before <= 4  # the accept loop, two workers and the deadlines, not a thread per connection


def test_headers_dripped_slowly_are_cut_off() -> None:
    with _served(timeout_seconds=1) as (_, port), socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        with pytest.raises(OSError):  # reset or closed; before: a header every 0.5 s kept it open for ever
            for _ in range(40):
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.5)
        # (a closed connection surfaces as a BrokenPipe/ConnectionReset on a later send)


# --- TLS and basic auth -------------------------------------------------------------------------------------


def _web_config(folder: Path, text: str) -> Path:
    path = folder / "web.yml"
    path.write_text(text)
    return path


@pytest.fixture
def tls_and_auth(tmp_path: Path) -> Path:
    certificate(tmp_path)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$")
    return _web_config(tmp_path, f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                 f"basic_auth_users:\n  prometheus: '{hashed}'\n")


def _served_certificate(port: int) -> bytes:
    return ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port)))


def test_a_rotated_certificate_and_new_users_are_served_without_a_restart(
        tls_and_auth: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """As exporter-toolkit reads the web configuration at each request: when cert-manager (or a short-lived
    certificate's renewal) replaces the files, the next connection gets the new certificate, and a changed user
    list applies. A change that does not load (a key not written yet) keeps the configuration in use, said once."""
    monkeypatch.setattr(webconfig, "RELOAD_CHECK_SECONDS", 0.0)
    folder = tls_and_auth.parent
    with _served(webconfig.load(tls_and_auth)) as (scheme, port):
        first = _served_certificate(port)
        certificate(folder)  # renewed: a new key and certificate in the same files
        renewed = _served_certificate(port)
        assert renewed != first
        assert renewed == ssl.PEM_cert_to_DER_cert((folder / "server.crt").read_text())
        url, ca = f"{scheme}://localhost:{port}/metrics", str(folder / "server.crt")
        assert requests.get(url, verify=ca, auth=("prometheus", PASSWORD), timeout=5).status_code == 200
        hashed = bcrypt.hashpw(b"rotated-password", bcrypt.gensalt(rounds=4)).decode()
        tls_and_auth.write_text(tls_and_auth.read_text().split("basic_auth_users:")[0]
                                + f"basic_auth_users:\n  prometheus: '{hashed}'\n")
        assert requests.get(url, verify=ca, auth=("prometheus", PASSWORD), timeout=5).status_code == 401
        assert requests.get(url, verify=ca, auth=("prometheus", "rotated-password"), timeout=5).status_code == 200
        (folder / "server.key").write_text("not a key yet\n")
        assert [_served_certificate(port) for _ in range(3)] == [renewed] * 3
        assert caplog.text.count("the web configuration changed but does not load") == 1
        assert "tls_server_config.cert_file: cannot load the certificate and key" in caplog.text


def test_tls_and_basic_auth(tls_and_auth: Path) -> None:
    web = webconfig.load(tls_and_auth)
    ca = str(tls_and_auth.parent / "server.crt")
    with _served(web) as (scheme, port):
        url = f"{scheme}://localhost:{port}"
        ok = requests.get(f"{url}/metrics", verify=ca, auth=("prometheus", PASSWORD), timeout=5)
        assert ok.status_code == 200 and b"docqet_test_value" in ok.content
        again = requests.get(f"{url}/metrics", verify=ca, auth=("prometheus", PASSWORD), timeout=5)
        assert again.status_code == 200  # (served from the success cache)
        for auth in (("prometheus", "wrong"), ("nobody", PASSWORD), None):
            denied = requests.get(f"{url}/metrics", verify=ca, auth=auth, timeout=5)
            assert denied.status_code == 401, auth
            assert denied.headers["WWW-Authenticate"].startswith('Basic realm="docqet-monitor"')
            assert b"docqet_test_value" not in denied.content
        assert requests.head(f"{url}/metrics", verify=ca, timeout=5).status_code == 401
        assert requests.get(f"{url}/healthz", verify=ca, timeout=5).status_code == 200  # probes stay open
        with pytest.raises(requests.ConnectionError):  # plain HTTP to the TLS port: closed, not held
            requests.get(f"http://localhost:{port}/metrics", timeout=5)


def test_unknown_users_cost_the_same_bcrypt_work(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(webconfig.bcrypt, "checkpw", spy)
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=4))
    auth = webconfig.BasicAuth({"alice": hashed})
    basic = "Basic " + __import__("base64").b64encode(b"mallory:right").decode()
    assert not auth.check(basic)
    assert checked == [webconfig.DUMMY_HASH]  # bcrypt ran, against the dummy hash
    assert not auth.check("Basic !!!") and not auth.check("Bearer x") and not auth.check(None)


def test_client_certificates_when_required(tmp_path: Path) -> None:
    ca = certificate(tmp_path, "ca", ca=True)
    certificate(tmp_path, "server", issuer=ca)
    certificate(tmp_path, "client", issuer=ca)
    web = webconfig.load(_web_config(tmp_path, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                               "  client_auth_type: RequireAndVerifyClientCert\n"
                                               "  client_ca_file: ca.crt\n"))
    with _served(web) as (scheme, port):
        url = f"{scheme}://localhost:{port}/metrics"
        cert = (str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
        assert requests.get(url, verify=str(tmp_path / "ca.crt"), cert=cert, timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(url, verify=str(tmp_path / "ca.crt"), timeout=5)


@pytest.mark.parametrize(("text", "message"), [
    ("tls_server_config: {cert_file: nope.crt, key_file: nope.key}\n", "tls_server_config.cert_file: no such file"),
    ("basic_auth_users: {alice: plaintext}\n", "basic_auth_users.alice: expected a bcrypt hash"),
    ("basic_auth_user: {}\n", "basic_auth_user: unknown key"),
    ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
     "tls_server_config.client_auth_type: RequireAnyClientCert (a client certificate without verification) is "
     "not supported"),
    ("a: &x [1]\nb: *x\n", "YAML aliases are not allowed"),
    ("- 1\n", "expected a mapping"),
    ("basic_auth_users: {alice: [\n", "line 2: not valid YAML"),
    ("basic_auth_users: {alice: '$2y$04$short'}\n", "basic_auth_users.alice: expected a bcrypt hash"),
])
def test_a_bad_web_config_is_exit_2_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = _web_config(tmp_path, text)
    config = tmp_path / "monitor.yaml"
    config.write_text("collectors: {ecs: {enabled: false}, rds: {enabled: false}, cost: {enabled: false}, "
                      "qdrant: {enabled: false}}\n")
    result = subprocess.run([str(VENV_BIN / "docqet-monitor"), "--config", str(config), "exporter", "serve",
                             "--port", "0", "--web.config.file", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert f"{path}: {message}" in result.stderr and "Traceback" not in result.stderr


def test_serve_with_a_web_config_file(tls_and_auth: Path) -> None:
    config = tls_and_auth.parent / "monitor.yaml"
    config.write_text("collectors: {ecs: {enabled: false}, rds: {enabled: false}, cost: {enabled: false}, "
                      "qdrant: {enabled: false}}\n")
    port = free_port()
    proc = subprocess.Popen([str(VENV_BIN / "docqet-monitor"), "--config", str(config), "exporter", "serve",
                             "--address", "127.0.0.1", "--port", str(port), "--web.config.file", str(tls_and_auth)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        url, ca = f"https://localhost:{port}", str(tls_and_auth.parent / "server.crt")
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                requests.get(f"{url}/healthz", verify=ca, timeout=2).raise_for_status()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the exporter did not start listening"
                time.sleep(0.1)
        assert requests.get(f"{url}/metrics", verify=ca, timeout=5).status_code == 401
        assert requests.get(f"{url}/metrics", verify=ca, auth=("prometheus", PASSWORD), timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert f"listening on {url.replace('localhost', '127.0.0.1')}/metrics" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _health(url: str | None) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command with ``$DOCQET_MONITOR_HEALTH_URL`` = ``url`` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != health.URL_ENV} | ({health.URL_ENV: url} if url else {})
    return subprocess.run([sys.executable, "-m", "docqet_monitor.exporters.health"], capture_output=True, text=True,
                          env=env, timeout=30, check=False)


def test_the_health_check_asks_healthz_over_http_or_https(tls_and_auth: Path) -> None:
    """Exit 0 when /healthz answers 200, also over HTTPS with basic auth on (a self-signed certificate, asked by
    address); else 1 (Docker reads it as unhealthy and reserves 2) and why on stderr."""
    with _served() as (_, port):
        assert _health(f"http://127.0.0.1:{port}/healthz").returncode == 0
        missing = _health(f"http://127.0.0.1:{port}/nope")
        assert missing.returncode == 1 and f"127.0.0.1:{port}/nope answered 404" in missing.stderr
    with _served(webconfig.load(tls_and_auth)) as (scheme, port):
        assert scheme == "https" and _health(f"https://127.0.0.1:{port}/healthz").returncode == 0
        assert _health(f"http://127.0.0.1:{port}/healthz").returncode == 1  # plain HTTP to the TLS port
    closed = _health(f"http://127.0.0.1:{free_port()}/healthz")
    assert closed.returncode == 1 and "unhealthy: cannot reach" in closed.stderr and "refused" in closed.stderr
    for url in ("ftp://127.0.0.1/healthz", "127.0.0.1:19842/healthz", "http://[::1/healthz"):
        bad = _health(url)
        assert bad.returncode == 1 and "DOCQET_MONITOR_HEALTH_URL: expected an http:// or https:// URL" in bad.stderr
    secret = _health("http://probe:s3cret-pw@127.0.0.1:19842/healthz")
    assert secret.returncode == 1 and "needs no credentials" in secret.stderr and "s3cret-pw" not in secret.stderr
    assert f"http://127.0.0.1:{config.DEFAULT_PORT}/healthz" == health.DEFAULT_URL


def test_the_health_check_imports_the_standard_library_only() -> None:
    """Docker and ECS run it every 30 s: no botocore, click, YAML or prometheus_client to load."""
    script = ("import sys\nimport docqet_monitor.exporters.health\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'botocore', 'boto3', 'click', 'yaml', "
              "'prometheus_client', 'requests'}))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
