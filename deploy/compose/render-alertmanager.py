"""Render the compose stack's Alertmanager config, deploy/compose/alertmanager.yml: staging's
(monitoring/environments/staging.yaml and the alert catalog), paging the stack's PagerDuty stand-in
(http://pagerduty:8080) instead of PagerDuty. Run it after changing either; a test runs it with --check.

    .venv/bin/python deploy/compose/render-alertmanager.py           # write the file
    .venv/bin/python deploy/compose/render-alertmanager.py --check   # exit 1 when it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from docqet_monitor.alerts import pipeline, render
from docqet_monitor.core import config

HERE = Path(__file__).resolve().parent
STAGING = HERE.parent.parent / "monitoring" / "environments" / "staging.yaml"
OUT = HERE / "alertmanager.yml"
STAND_IN = "http://pagerduty:8080"  # the compose service running pagerduty-stand-in.py
KEY_FILE = Path("/etc/alertmanager/secrets/pagerduty-routing-key")  # a dummy, from compose.yaml's configs


def rendered() -> str:
    stack = pipeline.local_config(config.load(STAGING), STAND_IN, KEY_FILE)
    return render.environment_files(stack)[f"alertmanager/{stack.environment}/alertmanager.yml"]


def main(argv: list[str]) -> int:
    text = rendered()
    if argv == ["--check"]:
        if OUT.is_file() and OUT.read_text(encoding="utf-8") == text:
            return 0
        print(f"{OUT} is stale: run {Path(__file__).as_posix()} to render it again", file=sys.stderr)
        return 1
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
