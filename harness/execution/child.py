"""Entry point of the process that runs one engine session: `python -m harness.execution.child`.

Reads a SessionSpec as JSON on stdin and writes one JSON event per line to the original stdout;
anything libraries print goes to stderr, which the parent sends to a log file.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from harness.errors import interrupt_on_sigterm
from harness.execution.session import SessionSpec, run_session


def main() -> int:
    spec = SessionSpec.from_json(sys.stdin.read())
    events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    interrupt_on_sigterm()

    def emit(event: dict[str, Any]) -> None:
        events.write(json.dumps(event) + "\n")

    run_session(spec, emit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
