"""The memory probe: a small low-priority process that samples a process tree from /proc.

`python -m harness.execution.probe ROOT_PID INTERVAL_S PARENT_PID` reads commands on stdin, one
per line: `start` (reset the high-water marks, take the baseline, begin sampling) and `stop`
(end sampling, answer with the measurement as one JSON line). It runs beside the driver instead
of as a thread in it, so it never holds the driver's GIL, and at nice 19, so it yields the
cores to the engine. It leaves itself out of the tree it measures. It exits when stdin closes,
and is killed by the kernel when its parent dies (harness.lifeline), even while it samples; it
ignores SIGINT and SIGTERM.

It imports psutil, the standard library and proctree only: it starts in tens of milliseconds.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from dataclasses import asdict, dataclass, field

import psutil

from harness.execution.proctree import alive
from harness.lifeline import die_with_parent

# Listing the tree scans all of /proc (0.6-3 ms); reading a known process's statm costs ~10 us.
# New descendants are found every RESCAN_EVERY-th sample (0.5 s at 20 ms): engines start their
# workers with the engine, and the high-water marks read at the end cover every process.
RESCAN_EVERY = 25
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class TreeMeasurement:
    """What one measured interval saw."""

    cpu_s: float = 0.0
    baseline_tree_rss_bytes: int = 0
    peak_tree_rss_bytes: int = 0
    peak_tree_hwm_bytes: int | None = None
    peak_driver_rss_bytes: int = 0
    max_processes: int = 1
    samples: int = 0
    sampler_cpu_s: float = 0.0
    hwm_exact: bool = False


@dataclass
class Interval:
    """The state of one start..stop interval."""

    root: int
    pids: list[int]
    first_cpu: dict[int, float] = field(default_factory=dict)
    last_cpu: dict[int, float] = field(default_factory=dict)
    result: TreeMeasurement = field(default_factory=TreeMeasurement)
    probe_cpu_at_start: float = field(default_factory=time.process_time)


def tree_pids(root: int, live_only: bool = False) -> list[int]:
    """The root and its descendants, without this probe. Zombies read as 0 bytes; `live_only`
    leaves them out, for the high-water marks, which zombies do not have."""
    try:
        procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    me = os.getpid()
    return [p.pid for p in procs if p.pid != me and (not live_only or alive(p))]


def _read(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode()
    except OSError:
        return None
    finally:
        os.close(fd)


def rss(pid: int) -> int | None:
    """Resident bytes of one process (/proc/PID/statm), or None when it is gone."""
    text = _read(f"/proc/{pid}/statm")
    return int(text.split()[1]) * PAGE if text else None


def cpu(pid: int) -> float | None:
    """User + system CPU seconds of one process (/proc/PID/stat), or None when it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
    return (int(fields[11]) + int(fields[12])) / TICKS


def hwm(pid: int) -> int | None:
    """VmHWM of one process in bytes, or None where /proc does not say."""
    text = _read(f"/proc/{pid}/status")
    for line in (text or "").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def reset_hwm(pid: int) -> bool:
    """Reset a process's peak RSS to its current RSS (Linux >= 4.0, same user)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def begin(root: int) -> Interval:
    """Reset the marks, note each process's CPU, take the baseline sample."""
    interval = Interval(root=root, pids=tree_pids(root, live_only=True))
    interval.result.hwm_exact = all([reset_hwm(p) for p in interval.pids])
    note_cpu(interval, first=True)
    interval.result.baseline_tree_rss_bytes = sample(interval)
    # The probe's cost that overlaps the measured run is what it spends from here to `finish`:
    # begin and finish run while the driver waits for their answers, outside its clock.
    interval.probe_cpu_at_start = time.process_time()
    return interval


def note_cpu(interval: Interval, first: bool = False) -> None:
    for pid in interval.pids:
        used = cpu(pid)
        if used is None:
            continue
        if first or pid not in interval.first_cpu:
            # A process born during the interval spent all of its CPU inside it.
            interval.first_cpu[pid] = used if first else 0.0
        interval.last_cpu[pid] = used


def sample(interval: Interval) -> int:
    """One sum of RSS over the known processes; updates the peaks."""
    total, driver, live = 0, 0, 0
    for pid in interval.pids:
        size = rss(pid)
        if size is None:
            continue
        total += size
        live += 1
        if pid == interval.root:
            driver = size
    r = interval.result
    r.samples += 1
    r.peak_tree_rss_bytes = max(r.peak_tree_rss_bytes, total)
    r.peak_driver_rss_bytes = max(r.peak_driver_rss_bytes, driver)
    r.max_processes = max(r.max_processes, live)
    return total


def rescan(interval: Interval, live_only: bool = False) -> None:
    interval.pids = tree_pids(interval.root, live_only) or interval.pids
    note_cpu(interval)


def finish(interval: Interval) -> TreeMeasurement:
    """The last sample, the high-water marks and the CPU used; the probe's own CPU apart."""
    interval.result.sampler_cpu_s = time.process_time() - interval.probe_cpu_at_start
    rescan(interval, live_only=True)
    sample(interval)
    r = interval.result
    marks = [hwm(p) for p in interval.pids]
    if marks and all(m is not None for m in marks):
        r.peak_tree_hwm_bytes = max(sum(m for m in marks if m is not None),
                                    r.peak_tree_rss_bytes)
        driver = hwm(interval.root)
        if driver is not None and r.hwm_exact:
            r.peak_driver_rss_bytes = max(r.peak_driver_rss_bytes, driver)
            # The driver's exact peak is part of the tree: the lower bound can use it too.
            r.peak_tree_rss_bytes = max(r.peak_tree_rss_bytes, r.peak_driver_rss_bytes)
            # Reads are not simultaneous: keep the bounds ordered when RSS grew between them.
            r.peak_tree_hwm_bytes = max(r.peak_tree_hwm_bytes, r.peak_tree_rss_bytes)
    else:
        r.hwm_exact = False
    r.cpu_s = max(0.0, sum(interval.last_cpu[p] - interval.first_cpu.get(p, 0.0)
                           for p in interval.last_cpu))
    return r


def serve(root: int, interval_s: float) -> None:
    """Answer start/stop commands on stdin until it closes; sample in between."""
    current: Interval | None = None
    n = 0
    pending = b""
    reply("ready")
    while True:
        if b"\n" not in pending:
            timeout = interval_s if current is not None else None
            if not select.select([0], [], [], timeout)[0]:
                assert current is not None  # no timeout without an interval to sample
                n += 1
                if n % RESCAN_EVERY == 0:
                    rescan(current)
                sample(current)
                continue
            chunk = os.read(0, 4096)
            if not chunk:  # stdin closed: the driver is gone or done
                return
            pending += chunk
            continue
        line, pending = pending.split(b"\n", 1)
        command = line.decode().strip()
        if command == "start":
            current, n = begin(root), 0
            reply("started")
        elif command == "stop" and current is not None:
            reply(json.dumps(asdict(finish(current))))
            current = None


def reply(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> int:
    # The parent that started it (in argv: os.getppid() here would be compared with itself).
    # A parent that died before this line leaves stdin closed, which ends the probe too.
    die_with_parent(int(sys.argv[3]))
    # Ended by its parent only (stdin closed, or the parent's death): a Ctrl-C or the SIGTERM
    # that stops a session's group must not take the probe from a session that is stopping,
    # whose measurement would then fail and hide the interrupt behind a probe error.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    root, interval_s = int(sys.argv[1]), float(sys.argv[2])
    os.nice(19)
    serve(root, interval_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
