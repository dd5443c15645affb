"""Whole-process-tree measurement: wall time, CPU time and memory of the driver and descendants.

The sampled sum of RSS over the tree is a lower bound on the true peak (short spikes slip between
samples). On Linux each process's own high-water mark (VmHWM) is exact for that process, and can be
reset through /proc/PID/clear_refs; the sum of the high-water marks is an upper bound. Reporting
both brackets the truth.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness.config import MEMORY_SAMPLE_INTERVAL_S
from harness.execution.proctree import alive, live_tree

# New descendants are found every RESCAN_EVERY-th sample (200 ms); high-water marks cover the gap.
RESCAN_EVERY = 10
ProcKey = tuple[int, float]  # (pid, create_time): pids are reused, this pair is not.


@dataclass
class TreeMeasurement:
    """What one measured interval saw."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    baseline_tree_rss_bytes: int = 0
    peak_tree_rss_bytes: int = 0
    peak_tree_hwm_bytes: int | None = None
    peak_driver_rss_bytes: int = 0
    max_processes: int = 1
    samples: int = 0
    sampler_cpu_s: float = 0.0
    hwm_exact: bool = False


def _key(proc: psutil.Process) -> ProcKey:
    return (proc.pid, proc.create_time())


def _read_hwm(pid: int) -> int | None:
    """VmHWM of one process in bytes, or None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm(pid: int) -> bool:
    """Reset a process's peak RSS to its current RSS (Linux >= 4.0, same user)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class _Usage:
    first_cpu: float
    last_cpu: float = 0.0


@dataclass
class TreeSampler:
    """Samples RSS and CPU of a process and all its descendants on a background thread."""

    pid: int = field(default_factory=os.getpid)
    interval_s: float = MEMORY_SAMPLE_INTERVAL_S
    result: TreeMeasurement = field(default_factory=TreeMeasurement)

    def __post_init__(self) -> None:
        self._root = psutil.Process(self.pid)
        self._usage: dict[ProcKey, _Usage] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> TreeSampler:
        procs = live_tree(self._root)
        self.result.hwm_exact = all([_reset_hwm(p.pid) for p in procs])
        for proc in procs:
            cpu = _cpu(proc)
            if cpu is not None:
                self._usage[_key(proc)] = _Usage(first_cpu=cpu, last_cpu=cpu)
        self.result.baseline_tree_rss_bytes = self._sample()
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.result.wall_s = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        procs = live_tree(self._root)
        self._sample(procs)
        self._finish_hwm(procs)
        tree_cpu = sum(u.last_cpu - u.first_cpu for u in self._usage.values())
        self.result.cpu_s = max(0.0, tree_cpu - self.result.sampler_cpu_s)

    def _loop(self) -> None:
        start = time.thread_time()
        procs = live_tree(self._root)
        for n in itertools.count(1):
            if self._stop.wait(self.interval_s):
                break
            # Listing descendants scans all of /proc (~1 ms); reading known ones costs ~40 us.
            if n % RESCAN_EVERY == 0:
                procs = live_tree(self._root)
            self._sample(procs)
        self.result.sampler_cpu_s = time.thread_time() - start

    def _sample(self, procs: list[psutil.Process] | None = None) -> int:
        total, driver, live = 0, 0, 0
        for proc in procs if procs is not None else live_tree(self._root):
            try:
                with proc.oneshot():
                    rss = proc.memory_info().rss
                    cpu = _cpu(proc)
                    key = _key(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += rss
            live += 1
            if proc.pid == self.pid:
                driver = rss
            if cpu is not None:
                self._usage.setdefault(key, _Usage(first_cpu=0.0)).last_cpu = cpu
        with self._lock:
            r = self.result
            r.samples += 1
            r.peak_tree_rss_bytes = max(r.peak_tree_rss_bytes, total)
            r.peak_driver_rss_bytes = max(r.peak_driver_rss_bytes, driver)
            r.max_processes = max(r.max_processes, live)
        return total

    def _finish_hwm(self, procs: list[psutil.Process]) -> None:
        marks = [_read_hwm(p.pid) for p in procs if alive(p)]
        if not marks or any(m is None for m in marks):
            self.result.hwm_exact = False
            return
        hwm_sum = sum(m for m in marks if m is not None)
        self.result.peak_tree_hwm_bytes = max(hwm_sum, self.result.peak_tree_rss_bytes)
        driver_hwm = _read_hwm(self.pid)
        if driver_hwm is not None and self.result.hwm_exact:
            r = self.result
            r.peak_driver_rss_bytes = max(r.peak_driver_rss_bytes, driver_hwm)
            # The driver's exact peak is part of the tree: the lower bound can use it too.
            r.peak_tree_rss_bytes = max(r.peak_tree_rss_bytes, r.peak_driver_rss_bytes)
            # Reads are not simultaneous: keep the bounds ordered when RSS grew between them.
            r.peak_tree_hwm_bytes = max(r.peak_tree_hwm_bytes or 0, r.peak_tree_rss_bytes)


def _cpu(proc: psutil.Process) -> float | None:
    try:
        t = proc.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return t.user + t.system
