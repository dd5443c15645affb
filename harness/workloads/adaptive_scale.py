"""adaptive-scale (chapter 3.5): `cluster.adapt(minimum, maximum)` against a fixed cluster.

Bursty work: `waves` waves of `tasks_per_wave` short sleeping tasks (stand-ins for I/O waits,
as in delayed-sleep), `idle_s` apart; the answer is the sum of the tasks' squares. `mode`
chooses the cluster:
- adaptive: a LocalCluster of `minimum` workers that `adapt(minimum, maximum)` grows while the
  tasks queue and shrinks when they are done;
- fixed: a LocalCluster of `maximum` workers from the start.
Workers have one thread each, so the chapter's maximum of 8 on a 2-core machine oversubscribes
it: sleeping tasks still gain from the extra workers, work that needs a core would not, and
the worker start-ups compete for the two cores. That is part of the lesson's price.

Each run starts its own LocalCluster (the engine's is left alone, so nothing needs restoring
and each run starts from the same state): its start-up is part of the timed run and is noted
apart as `cluster_start_s`, the waves as `burst_s`. Adaptive settings are explicit arguments
of `adapt` (`interval_s`, `wait_count`, `target_duration_s`, in the params), not the
`distributed.adaptive.*` defaults (1 s, 3, 5 s), so that a burst asks for the maximum and the
cluster starts shrinking `interval_s * wait_count` (1 s) after the work is done; the workers
retire in batches, each after the last has closed (back at 2 of 8 about 5 s after the work,
measured here at small). `idle_s` at small is longer than that, so the second wave scales up
again. A thread samples the scheduler's worker count every `sample_s` seconds:
`workers_series` holds [seconds since the first task was submitted, workers] at each change.
After the last wave the thread goes on sampling until the cluster is back at its minimum (at
most `scale_down_wait_s`), then closes it, outside the timed section; the run's settle waits
for that and notes `scale_up_s` (first task submitted -> maximum workers; `wave_scale_up_s`
for each wave), `scale_down_s` (work done -> minimum workers), `peak_workers` and
`burst_worker_s` (workers held x seconds during the burst: what adapting saves). The tree's
memory peak covers this cluster's workers, children of the session like the engine's own.
The record has no cluster peak (`peak_cluster_rss_bytes` is None, no `cluster_workers`
detail; `own_cluster` below): the engine's sampler would measure the engine's workers, idle
meanwhile, and this cluster's workers come and go during the run, so a sampler started in
each at the start would miss those that join; their memory is in the tree peak.

Only `dask-distributed` on its LocalCluster runs it: against `--dask-address` the run stops
with an error saying why (the harness does not start clusters on a machine it was pointed
away from), and every other engine is `unsupported`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from harness.workloads.checks import CheckResult, check_scalar
from harness.workloads.contract import Compute, Context, Params, Workload
from harness.workloads.delayed_sleep import sleep_square

MODES = ("adaptive", "fixed")
CLOSE_WAIT_S = 30.0  # past the scale-down wait: how long settle waits for the cluster to close
NEEDS_LOCAL_CLUSTER = ("adaptive scaling starts and resizes a distributed LocalCluster: "
                       "only dask-distributed runs it")
NOT_AGAINST_ADDRESS = ("adaptive-scale starts its own LocalCluster and is not run against "
                       "--dask-address (an external scheduler); run it without --dask-address")


@dataclasses.dataclass(frozen=True)
class Burst:
    """The cluster to start, the waves to run on it, and how adapting is tuned."""

    mode: str
    minimum: int
    maximum: int
    waves: int
    tasks_per_wave: int
    task_s: float
    idle_s: float
    interval_s: float
    wait_count: int
    target_duration_s: float
    sample_s: float
    scale_down_wait_s: float

    @property
    def first_workers(self) -> int:
        return self.minimum if self.mode == "adaptive" else self.maximum


CASTS: dict[str, type] = {"int": int, "float": float, "str": str}


def prepare(params: Params) -> Burst:
    # Each field as its declared type: a suite or sweep may give 8.0 for 8.
    burst = Burst(**{f.name: CASTS[str(f.type)](params[f.name])
                     for f in dataclasses.fields(Burst)})
    if burst.mode not in MODES:
        raise ValueError(f"adaptive-scale mode {burst.mode!r} is not one of {', '.join(MODES)}")
    if not 1 <= burst.minimum <= burst.maximum:
        raise ValueError(f"adaptive-scale needs 1 <= minimum <= maximum, got minimum "
                         f"{burst.minimum} and maximum {burst.maximum}")
    return burst


def task_ids(burst: Burst, wave: int) -> range:
    first = wave * burst.tasks_per_wave
    return range(first, first + burst.tasks_per_wave)


def reference(burst: Burst, ctx: Context) -> int:
    return sum(sleep_square(i, burst.task_s) for w in range(burst.waves)
               for i in task_ids(burst, w))


def expected(burst: Burst) -> int:
    # The reference's arithmetic without its sleeps.
    return sum(i * i for w in range(burst.waves) for i in task_ids(burst, w))


def dask_body(burst: Burst, compute: Compute, ctx: Context) -> int:
    if getattr(compute.client, "cluster", None) is None:
        raise RuntimeError(NOT_AGAINST_ADDRESS)
    t0 = time.perf_counter()
    tracker = Tracker(burst, start_cluster(burst))
    try:
        ctx.note("cluster_start_s", time.perf_counter() - t0)
        total = run_waves(burst, tracker, ctx)
    except BaseException:
        tracker.close_now()
        raise
    tracker.start_winding_down()
    ctx.note_later(tracker.notes)
    return total


def start_cluster(burst: Burst) -> Any:
    """A LocalCluster of the first workers, adapting when asked, with a client of its own."""
    from distributed import Client, LocalCluster

    # No dashboard; the scheduler's HTTP server (health, metrics) on a free loopback port,
    # not on 8787 that the engine's own cluster may hold.
    cluster = LocalCluster(n_workers=burst.first_workers, threads_per_worker=1,
                           processes=True, host="127.0.0.1", dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                           silence_logs=logging.ERROR)
    try:
        if burst.mode == "adaptive":
            cluster.adapt(minimum=burst.minimum, maximum=burst.maximum,
                          interval=burst.interval_s, wait_count=burst.wait_count,
                          target_duration=burst.target_duration_s)
        # Not the default client: the engine's stays the one its other computes use.
        client = Client(cluster, set_as_default=False)
        client.wait_for_workers(burst.first_workers)
    except BaseException:
        cluster.close()
        raise
    return client


def run_waves(burst: Burst, tracker: Tracker, ctx: Context) -> int:
    """Submit each wave, gather it, rest `idle_s` between waves; note each wave's seconds."""
    total = 0
    tracker.start()
    for wave in range(burst.waves):
        if wave:
            time.sleep(burst.idle_s)
        t0 = time.perf_counter()
        futures = tracker.client.map(sleep_square, task_ids(burst, wave), seconds=burst.task_s,
                                     pure=False)
        total += sum(tracker.client.gather(futures))
        del futures  # released: workers holding no results may retire
        tracker.waves.append((t0, time.perf_counter()))
    ctx.note("wave_s", [done - submitted for submitted, done in tracker.waves])
    return total


class Tracker(threading.Thread):
    """Samples the cluster's worker count through the run and its wind-down, then closes the
    cluster: the wind-down after the last wave happens here, outside the timed section."""

    def __init__(self, burst: Burst, client: Any) -> None:
        super().__init__(name="adaptive-scale-tracker")  # not a daemon: it closes the cluster
        self.burst, self.client, self.cluster = burst, client, client.cluster
        self.samples: list[tuple[float, int]] = []
        self.waves: list[tuple[float, float]] = []  # each wave's submit and done times
        self.winding_down = threading.Event()
        self.closed = False
        self._closing = threading.Lock()

    def workers(self) -> int:
        # The in-process scheduler's own table: workers connected and able to take tasks.
        return len(self.cluster.scheduler.workers)

    def run(self) -> None:
        try:
            while not self._wound_down():
                self.samples.append((time.perf_counter(), self.workers()))
                time.sleep(self.burst.sample_s)
            self.samples.append((time.perf_counter(), self.workers()))
        finally:
            self.close_now()

    def _wound_down(self) -> bool:
        """After the last wave: back at the minimum (adaptive), past the wait, or fixed;
        at once when the run failed and closed the cluster."""
        if not self.winding_down.is_set():
            return False
        if self.closed or self.burst.mode == "fixed":
            return True
        waited = time.perf_counter() - self.waves[-1][1]
        return self.workers() <= self.burst.minimum or waited > self.burst.scale_down_wait_s

    def start_winding_down(self) -> None:
        self.winding_down.set()

    def close_now(self) -> None:
        """Close the client and the cluster (its workers with it), once; ends the sampling."""
        with self._closing:
            if self.closed:
                return
            self.closed = True
            self.winding_down.set()
            with contextlib.suppress(Exception):  # a client of a dying cluster may fail to close
                self.client.close()
            self.cluster.close()

    def notes(self) -> dict[str, Any]:
        """What the samples say, once the wind-down is over (called by settle)."""
        self.join(self.burst.scale_down_wait_s + CLOSE_WAIT_S)
        return timeline_notes(self.burst, self.samples, self.waves)


def timeline_notes(burst: Burst, samples: list[tuple[float, int]],
                   waves: list[tuple[float, float]]) -> dict[str, Any]:
    """Worker counts over time as metrics, with times from the first task submitted."""
    origin = waves[0][0]
    series = changes([(t - origin, n) for t, n in samples])
    spans = [(submitted - origin, done - origin) for submitted, done in waves]
    done = spans[-1][1]
    up = [reached(series, a, b, lambda n: n >= burst.maximum) for a, b in spans]
    down = reached(series, done, math.inf, lambda n: n <= burst.minimum)
    return {
        "workers_series": [[round(t, 2) or 0.0, n] for t, n in series],
        "sample_s": burst.sample_s,
        "burst_s": done,
        "peak_workers": max(n for _, n in samples),
        "scale_up_s": up[0],
        "wave_scale_up_s": up,
        "scale_down_s": down if burst.mode == "adaptive" else None,
        "burst_worker_s": worker_seconds(series, 0.0, done),
    }


def changes(samples: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """The samples at which the count changed (and the first)."""
    return [s for i, s in enumerate(samples) if i == 0 or s[1] != samples[i - 1][1]]


def reached(series: list[tuple[float, int]], since: float, until: float,
            hit: Callable[[int], bool]) -> float | None:
    """Seconds from `since` until the worker count first satisfied `hit` (0 when the count in
    force at `since` already did); None when it did not by `until`."""
    in_force = [(since, n) for t, n in series if t <= since][-1:]
    points = in_force + [(t, n) for t, n in series if since < t <= until]
    return next((t - since for t, n in points if hit(n)), None)


def worker_seconds(series: list[tuple[float, int]], begin: float, end: float) -> float:
    """The integral of the worker count over [begin, end] (a step function)."""
    total = 0.0
    for i, (t, n) in enumerate(series):
        nxt = series[i + 1][0] if i + 1 < len(series) else end
        lo, hi = max(t, begin), min(nxt, end)
        total += n * max(0.0, hi - lo)
    return total


def check(exp: int, actual: int) -> CheckResult:
    return check_scalar(exp, actual, rtol=0.0)


# Adaptive settings the chapter leaves at Dask's defaults, tuned so a burst asks for the
# maximum and the cluster shrinks within seconds; every size shares them.
ADAPT_TUNING: dict[str, Any] = {
    "interval_s": 0.1, "wait_count": 10, "target_duration_s": 1.0, "sample_s": 0.1,
    "scale_down_wait_s": 20.0,
}

WORKLOAD = Workload(
    name="adaptive-scale",
    section="3.5",
    title="cluster.adapt(minimum, maximum) vs a fixed cluster: waves of short tasks",
    sizes={
        "tiny": {"minimum": 1, "maximum": 2, "waves": 1, "tasks_per_wave": 16, "task_s": 0.2,
                 "idle_s": 0.0},
        "small": {"waves": 2, "tasks_per_wave": 64, "task_s": 0.25, "idle_s": 6.0},
        "seed": {"waves": 3, "tasks_per_wave": 128, "task_s": 0.5, "idle_s": 10.0},
    },
    # How the cluster is run never changes the answer: tunables share one reference.
    tunables={"mode": "adaptive", "minimum": 2, "maximum": 8, **ADAPT_TUNING},
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    expected=expected,
    check=check,
    own_cluster=True,
    unsupported={"reference": NEEDS_LOCAL_CLUSTER, "dask-sync": NEEDS_LOCAL_CLUSTER,
                 "dask-threads": NEEDS_LOCAL_CLUSTER, "dask-processes": NEEDS_LOCAL_CLUSTER,
                 "spark": "Spark's dynamic allocation needs a cluster manager (standalone, "
                          "YARN, Kubernetes), not local[N]; the chapter's lesson is Dask's"},
)
