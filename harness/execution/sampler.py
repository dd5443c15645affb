"""Whole-process-tree measurement: CPU time and memory of the driver and its descendants.

The sampled sum of RSS over the tree is a lower bound on the true peak (short spikes slip between
samples). On Linux each process's own high-water mark (VmHWM) is exact for that process, and can be
reset through /proc/PID/clear_refs; the sum of the high-water marks is an upper bound. Reporting
both brackets the truth.

The sampling runs in a probe process (probe.py), not in a thread of the driver: a thread took
2-3 % of a core here and held the driver's GIL every 20 ms, which a threaded scheduler or a
pure-Python reference pays for in wall time. One probe serves a whole engine session.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from types import TracebackType

from harness.config import MEMORY_SAMPLE_INTERVAL_S
from harness.execution.probe import TreeMeasurement

PROBE_TIMEOUT_S = 30.0


class ProbeError(RuntimeError):
    """The probe process did not answer as it should."""


class Probe:
    """A running probe process for one root process; use as a context manager."""

    def __init__(self, pid: int | None = None,
                 interval_s: float = MEMORY_SAMPLE_INTERVAL_S) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.execution.probe", str(self.pid), str(interval_s),
             str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._expect("ready")

    def start(self) -> None:
        self._send("start")
        self._expect("started")

    def stop(self) -> TreeMeasurement:
        self._send("stop")
        return TreeMeasurement(**json.loads(self._line()))

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the probe exits when its stdin closes
            try:
                self.proc.wait(timeout=PROBE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise ProbeError(f"the memory probe is gone ({exc})") from None

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise ProbeError(f"the memory probe exited (code {self.proc.poll()})")
        return line.strip()

    def _expect(self, word: str) -> None:
        line = self._line()
        if line != word:
            raise ProbeError(f"the memory probe said {line!r}, expected {word!r}")


class TreeSampler:
    """Measures one interval of a process tree; `result` holds what it saw.

    With a `probe`, that session's probe process is used; without one, a probe is started
    for this interval alone (a few tens of milliseconds, outside the interval).
    """

    def __init__(self, probe: Probe | None = None) -> None:
        self._probe = probe
        self._own: Probe | None = None
        self.result = TreeMeasurement()

    def __enter__(self) -> TreeSampler:
        if self._probe is None:
            self._own = self._probe = Probe()
        self._probe.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._probe is not None
        try:
            if exc is None:
                self.result = self._probe.stop()
            elif isinstance(exc, Exception):
                # The run's own error is on its way out: a probe error must not replace it;
                # the probe is still told to stop, so the next run can start it again.
                with contextlib.suppress(ProbeError):
                    self._probe.stop()
            # An interrupt: the session is stopping; the probe dies with it.
        finally:
            if self._own is not None:
                self._own.close()
