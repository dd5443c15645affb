"""Entry point of the process that runs one engine session: `python -m harness.execution.child`.

Reads a SessionSpec as JSON on stdin and writes one JSON event per line to the original stdout;
anything libraries print goes to stderr, which the parent sends to a log file. It runs in a
session of its own, so no terminal's or job runner's signal reaches it: it dies with the driver
by the kernel's parent-death signal instead (harness.lifeline), and its engine's processes die
with it, each by its own lifeline.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from harness.execution.session import SessionSpec, run_session
from harness.lifeline import catch_interrupts, die_with_starter


def main() -> int:
    # SIGKILL: a driver killed outright can take no records, and a graceful stop is bounded
    # only by the driver; each process of the engine has its own lifeline to this one.
    die_with_starter(signal.SIGKILL)
    spec = SessionSpec.from_json(sys.stdin.read())
    events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    catch_interrupts()  # the driver's SIGTERM stops the engine as Ctrl-C would

    def emit(event: dict[str, Any]) -> None:
        events.write(json.dumps(event) + "\n")

    run_session(spec, emit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
