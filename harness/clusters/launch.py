"""`python -m harness.clusters.launch CMD...`: become CMD, dying with the process that started
this one (harness.lifeline), for clusters that must not outlive their test session.

The kernel keeps the request across the exec, for the process itself; what it starts (nannies'
workers, executor JVMs) is stopped by its own SIGTERM handling.
"""

from __future__ import annotations

import os
import signal
import sys

from harness.lifeline import die_with_starter


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m harness.clusters.launch CMD [ARG...]")
    die_with_starter(signal.SIGTERM)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
