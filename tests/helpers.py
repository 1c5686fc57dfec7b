"""Helpers the test modules share: paths, a free port, exposition parsing, seeding, sample look-ups."""

from __future__ import annotations

import datetime
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from docqet_monitor.core.config import CollectorsConfig, Config, CostCollectorConfig
from docqet_monitor.core.repository import Repository
from docqet_monitor.demo.aws import patch_moto_percentiles, seed_staging
from docqet_monitor.exporters.metrics import Rendered

CONTRACTS = Path(__file__).resolve().parent / "contracts"  # vendored API specs: see contracts/README.md
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# this checkout as a monitoring repository: its monitoring/ holds the committed examples the package ships
CHECKOUT = Repository(Path(__file__).resolve().parents[1])


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found


def poll(what: str, check: Callable[[], Any], seconds: float, every: float = 0.1,
         said: list[str] | None = None) -> Any:
    """``check()``'s first result that is not None (a request error counts as none yet); the test fails, quoting
    the last lines of ``said`` (what the process under test printed), after ``seconds`` (a bound, not a
    measurement)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (found := check()) is not None:
                return found
        except requests.RequestException:
            pass
        time.sleep(every)
    pytest.fail(f"{what}: not within {seconds} s" + ("; the process said:\n" + "".join(said[-60:]) if said else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REGIONS = ("eu-west-1", "us-east-1")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def exposition_samples(text: str) -> Samples:
    """An exposition's samples: (name, sorted label pairs) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample_names(body: bytes) -> set[str]:
    return {s.name for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def promtool_findings(body: bytes) -> str:
    """What ``promtool check metrics`` says about an exposition (empty: nothing)."""
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60,
                            check=False)
    return (result.stdout + result.stderr).decode() + ("" if result.returncode == 0 else f"exit {result.returncode}")


def seed(endpoint: str, regions: tuple[str, ...] = REGIONS) -> Config:
    """Seed the staging environment into moto in ``regions``; the config that watches them."""
    patch_moto_percentiles()  # moto's GetMetricData lacks p95; the demo teaches it
    for region in regions:  # the first region replicates to (and holds an Aurora Global primary for) the second
        seed_staging(endpoint, region, dr_region=regions[1] if len(regions) > 1 and region == regions[0] else None)
    # cost (moto lacks GetCostForecast) and qdrant run against their own fixtures: tests/test_cost.py, test_qdrant.py
    return Config(environment="staging", regions=regions,
                  collectors=CollectorsConfig(cost=CostCollectorConfig(enabled=False)))


def parsed(families: Iterable[Metric | Rendered]) -> list[Metric]:
    """Families as prometheus_client's objects: rendered ones (the AWS collectors') parsed back from their text."""
    return [m for f in families
            for m in ([f] if isinstance(f, Metric) else text_string_to_metric_families((f.header + f.text).decode()))]


def samples(families: Iterable[Metric | Rendered], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Sample name -> {sorted labels: value}."""
    return {tuple(sorted(s.labels.items())): s.value for f in parsed(families) for s in f.samples if s.name == name}


def value(families: Iterable[Metric | Rendered], name: str, **labels: str) -> float | None:
    for key, v in samples(families, name).items():
        if all(dict(key).get(k) == want for k, want in labels.items()):
            return v
    return None


def interpolate(expr: str) -> str:
    """What Grafana sends for the expression with every variable at "All" (``.*``) and a 1m rate interval."""
    expr = re.sub(r"\$(__rate_interval|\{__rate_interval\})", "1m", expr)
    return re.sub(r"\$\{?\w+(?::\w+)?\}?", ".*", expr)


def certificate(folder: Path, name: str = "server", issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
                 | None = None, ca: bool = False) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate and its key, written to ``folder/<name>.crt`` and ``.key``: a CA's, or a server's for
    ``localhost`` (self-signed, or by ``issuer``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer[0].subject if issuer else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    return cert, key
