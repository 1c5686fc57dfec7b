"""Which collectors run, built from the config. Each collector lives in its own module."""

from __future__ import annotations

import logging

from exporters.aws import Aws
from exporters.config import Config
from exporters.metrics import Collector

log = logging.getLogger(__name__)


def build(config: Config, aws: Aws) -> list[Collector]:
    """The enabled collectors for ``config``, sharing ``aws`` (clients, stats, in-flight limit)."""
    collectors: list[Collector] = []
    return collectors
