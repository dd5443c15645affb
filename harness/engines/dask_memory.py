"""Dask worker memory, sampled inside the workers: a thread per worker, started and stopped
around each measured run with `Client.run`.

Each worker's thread reads the RSS of its own process (and of its children, rescanned every
RESCAN_EVERY samples) every 50 ms and keeps the series; on Linux it also resets the process's
high-water mark at the start (/proc/self/clear_refs) and reads VmHWM at the end, the exact peak
of that process. The driver sums the series on a common time grid (cluster_memory.peak_of_sum).

Why not distributed's `MemorySampler`: it samples the scheduler's view of each worker's memory,
which a worker sends with its heartbeat (every 0.5 s or more) and which is the latest reading
of its system monitor, not a peak. Measured here on a LocalCluster of 2 workers (125 MiB idle),
a 512 MiB block held for 0.3 s: MemorySampler's largest reading was 265 MiB (3 readings), and
in a later run it read 637 MiB from its one reading, the view of a moment it could not place;
these threads read 637 MiB each time (56 and 18 samples).

The functions run in the workers, so they live in the installed package and import only the
standard library and psutil (which distributed needs anyway).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from array import array
from typing import Any

import psutil

from harness.config import MEMORY_SAMPLE_INTERVAL_S
from harness.engines.cluster_memory import ClusterMemory, ClusterSampler, peak_of_sum

RESCAN_EVERY = 25  # children are looked for every 25th sample (1.25 s): a scan reads all /proc
# A sampler never stopped (its driver died mid-run) ends itself: a worker of someone else's
# cluster must not sample for ever. Longer than any run the harness lets go on.
MAX_SAMPLING_S = 4 * 3600.0
STOP_WAIT_S = 5.0

_samplers: dict[str, WorkerSampler] = {}  # in a worker process: the running ones, by token


class WorkerSampler(threading.Thread):
    """Samples this process's tree RSS until stopped; `series` holds (times, sizes)."""

    def __init__(self, interval_s: float, max_s: float) -> None:
        super().__init__(name="harness-memory-sampler", daemon=True)
        self.interval_s, self.max_s = interval_s, max_s
        self.me = psutil.Process()
        self.children: list[psutil.Process] = []
        self.times: array[float] = array("d")
        self.sizes: array[int] = array("q")
        self.cpu_s = 0.0
        self.hwm_reset = _reset_hwm()
        self._halt = threading.Event()
        self.sample()  # the baseline, before the run starts

    def run(self) -> None:
        cpu0 = time.thread_time()
        deadline = time.monotonic() + self.max_s
        n = 0
        while not self._halt.wait(self.interval_s) and time.monotonic() < deadline:
            n += 1
            if n % RESCAN_EVERY == 0:
                self.children = _children(self.me)
            self.sample()
        self.cpu_s = time.thread_time() - cpu0

    def sample(self) -> None:
        total = 0
        for proc in [self.me, *self.children]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # a child that exited
                continue
        self.times.append(time.time())
        self.sizes.append(total)

    def finish(self) -> dict[str, Any]:
        """Stop, take a last sample, and say what was seen."""
        self._halt.set()
        self.join(STOP_WAIT_S)
        self.sample()
        hwm = _hwm() if self.hwm_reset else None
        return {"pid": self.me.pid, "host": socket.gethostname(), "times": list(self.times),
                "sizes": list(self.sizes), "hwm_bytes": hwm, "cpu_s": self.cpu_s}


def _children(me: psutil.Process) -> list[psutil.Process]:
    try:
        return me.children(recursive=True)
    except psutil.Error:
        return []


def _reset_hwm() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); False elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _hwm() -> int | None:
    """This process's VmHWM in bytes: its exact peak RSS since the reset."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def start_sampling(token: str, interval_s: float, max_s: float = MAX_SAMPLING_S) -> int:
    """In a worker: start a sampler under `token` (ending any left by a run that died)."""
    for old in [t for t in _samplers if t != token]:
        _samplers.pop(old).finish()
    sampler = _samplers[token] = WorkerSampler(interval_s, max_s)
    sampler.start()
    return os.getpid()


def stop_sampling(token: str) -> dict[str, Any] | None:
    """In a worker: stop the sampler under `token` and return its series (None: no sampler,
    as for a worker that joined during the run)."""
    sampler = _samplers.pop(token, None)
    return None if sampler is None else sampler.finish()


class DaskClusterSampler(ClusterSampler):
    """Every worker of a distributed client, sampled from inside."""

    source = "dask-workers"

    def __init__(self, client: Any, interval_s: float = MEMORY_SAMPLE_INTERVAL_S) -> None:
        super().__init__()
        self.client, self.interval_s = client, interval_s
        self.token = secrets.token_hex(6)
        self.started: dict[str, Any] = {}

    def _start(self) -> None:
        self.started = self.client.run(start_sampling, self.token, self.interval_s,
                                       on_error="return")

    def _stop(self) -> ClusterMemory:
        found = self.client.run(stop_sampling, self.token, on_error="return")
        return summarize(found, self.started, self._hosts(), self.interval_s)

    def _hosts(self) -> dict[str, str]:
        info = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return {addr: str(w.get("host", "")) for addr, w in info.items()}


def summarize(found: dict[str, Any], started: dict[str, Any], hosts: dict[str, str],
              interval_s: float) -> ClusterMemory:
    """The workers' series as one ClusterMemory: the peak of their sum, each worker's peak."""
    series = {a: r for a, r in found.items() if isinstance(r, dict)}
    workers = [_worker_row(a, r, hosts.get(a, "")) for a, r in sorted(series.items())]
    out = ClusterMemory(DaskClusterSampler.source, workers=workers,
                        samples=sum(len(r["sizes"]) for r in series.values()),
                        note=_gaps(found, started, series) or None)
    if not series:
        return out
    out.peak_rss_bytes = peak_of_sum([(r["times"], r["sizes"]) for r in series.values()],
                                     interval_s)
    out.baseline_rss_bytes = sum(r["sizes"][0] for r in series.values())
    out.sum_of_peaks_bytes = sum(w["peak_rss_bytes"] for w in workers)
    out.sampler_cpu_s = sum(float(r["cpu_s"]) for r in series.values())
    return out


def _worker_row(address: str, r: dict[str, Any], host: str) -> dict[str, Any]:
    """One worker's detail: its peak (the exact high-water mark where there is one)."""
    peak, hwm = max(r["sizes"]), r["hwm_bytes"]
    return {"address": address, "host": r["host"] or host, "pid": r["pid"],
            "peak_rss_bytes": max(peak, hwm or 0), "sampled_peak_bytes": peak,
            "hwm_bytes": hwm, "baseline_rss_bytes": r["sizes"][0]}


def _gaps(found: dict[str, Any], started: dict[str, Any], series: dict[str, Any]) -> str:
    """Workers the view misses, in words: lost during the run, joined during it, failing."""
    said = []
    lost = sorted(set(started) - set(found))
    if lost:
        said.append(f"{len(lost)} worker(s) left during the run, unmeasured: {', '.join(lost)}")
    joined = sorted(a for a, r in found.items() if r is None)
    if joined:
        said.append(f"{len(joined)} worker(s) joined during the run, unmeasured")
    failed = [r for a, r in found.items() if a not in series and isinstance(r, BaseException)]
    if failed:
        said.append(f"{len(failed)} worker(s) could not sample: {type(failed[0]).__name__}: "
                    f"{failed[0]}"[:300])
    return "; ".join(said)
