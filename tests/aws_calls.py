"""A session-wide recorder of the AWS operations the code calls (for the IAM policy test).

Every botocore client created while it is installed gets a ``before-call`` hook, so calls through moto,
Stubber or fault-injecting endpoints are all seen. A call is attributed to the first frame outside
botocore/boto3: calls made by test code itself (seeding moto) are kept apart from calls made by the product;
calls with sync code (``alerts/``) anywhere on the stack are also noted as sync's, others with exporter code
(``exporters/``) on the stack as the exporter's.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from botocore.client import ClientCreator

from docqet_monitor.alerts.iam import iam_action

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


class Recorder:
    def __init__(self) -> None:
        self.code: defaultdict[str, set[str]] = defaultdict(set)  # IAM action -> product files that called it
        self.tests: defaultdict[str, set[str]] = defaultdict(set)  # IAM action -> test files (seeding)
        self.sync: set[str] = set()  # IAM actions called with sync code (alerts/, sync.py) on the stack
        self.exporter: set[str] = set()  # IAM actions called with exporter code (exporters/) and no sync code

    def on_call(self, model: Any, **_: Any) -> None:
        action = iam_action(model.service_model.service_name, model.name)
        ours = [p for p in _callers(sys._getframe(1)) if p.is_relative_to(ROOT) and ".venv" not in p.parts]
        if not ours:
            return
        where = self.tests if ours[0].is_relative_to(TESTS) else self.code
        where[action].add(str(ours[0].relative_to(ROOT)))
        tops = {p.relative_to(ROOT).parts[0] for p in ours}
        if where is self.code and tops & {"alerts", "sync.py"}:
            self.sync.add(action)
        elif where is self.code and "exporters" in tops:
            self.exporter.add(action)


def _callers(frame: FrameType | None) -> Iterator[Path]:
    """The files of ``frame`` and the frames that called it, innermost first."""
    while frame is not None:
        yield Path(frame.f_code.co_filename)
        frame = frame.f_back


RECORDER = Recorder()


@contextmanager
def installed(recorder: Recorder = RECORDER) -> Iterator[Recorder]:
    """Hook every client created from now on (whatever session made it) until the block ends."""
    original = ClientCreator.create_client

    def create_client(self: ClientCreator, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call.*.*", recorder.on_call, unique_id="docqet-aws-calls")
        return client

    ClientCreator.create_client = create_client  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        ClientCreator.create_client = original  # type: ignore[method-assign]
