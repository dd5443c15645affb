"""Cluster memory, measured where it lives: the workers' and executors' own RSS during a run.

The tree sampler (harness.execution.probe) sees the driver and its descendants; the workers of
an external cluster are not among them. A `ClusterSampler` asks the cluster itself, around each
measured run and outside its clock:
- Dask (harness.engines.dask_memory): a sampling thread in every worker reads that worker's
  RSS (and its children's) every 50 ms; the series are summed on a common time grid, so the
  peak is the peak of the sum, not a sum of separate peaks.
- Spark (harness.engines.spark_memory): each executor's process tree (JVM, Python workers,
  others) as Spark's own executor metrics poller sees it, read from the driver's REST API.

What a sampler found is a `ClusterMemory`: `peak_cluster_rss_bytes` for the record, the
per-worker detail and the sampler's cost for its metrics.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, runtime_checkable


@dataclass
class ClusterMemory:
    """What one measured interval saw of the cluster's memory; None: not measured."""

    source: str  # how it was measured: "dask-workers" or "spark-executors"
    peak_rss_bytes: int | None = None
    baseline_rss_bytes: int | None = None  # the sum at the start of the run, where known
    sum_of_peaks_bytes: int | None = None  # each worker's own peak, added: an upper bound
    workers: list[dict[str, Any]] = field(default_factory=list)
    samples: int = 0
    sampler_cpu_s: float | None = None
    note: str | None = None  # why something is missing or partial

    def fields(self) -> dict[str, Any]:
        """The record's top-level field."""
        return {"peak_cluster_rss_bytes": self.peak_rss_bytes}

    def metrics(self) -> dict[str, Any]:
        """The record's metrics: per-worker detail and what the measure cost; absent, not
        zero, where nothing was measured."""
        out: dict[str, Any] = {"cluster_memory_source": self.source,
                               "cluster_workers": self.workers,
                               "cluster_memory_samples": self.samples}
        optional = {"cluster_baseline_rss_bytes": self.baseline_rss_bytes,
                    "cluster_sum_of_peaks_bytes": self.sum_of_peaks_bytes,
                    "cluster_sampler_cpu_s": self.sampler_cpu_s,
                    "cluster_memory_note": self.note}
        return out | {k: v for k, v in optional.items() if v is not None}


class ClusterSampler:
    """Measures one run's cluster memory; use as a context manager around the timed section.

    Starting and stopping talk to the cluster (outside the clock). A failure to measure is
    noted in `result`, never raised: the run goes on without the cluster view.
    """

    source = "cluster"

    def __init__(self) -> None:
        self.result = ClusterMemory(self.source)
        self._started = False

    def _start(self) -> None:
        """Begin measuring."""

    def _stop(self) -> ClusterMemory:
        """End measuring and say what was seen."""
        return ClusterMemory(self.source)

    def __enter__(self) -> ClusterSampler:
        try:
            self._start()
            self._started = True
        except Exception as exc:
            self.result.note = f"not measured: {error_text(exc)}"
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._started or (exc is not None and not isinstance(exc, Exception)):
            return  # not started, or an interrupt: the session is stopping, ask nothing more
        try:
            self.result = self._stop()
        except Exception as error:
            self.result = ClusterMemory(self.source, note=f"not measured: {error_text(error)}")


@runtime_checkable
class MeasuresCluster(Protocol):
    """An engine whose workers run in processes of their own, whose memory it can measure."""

    def cluster_sampler(self) -> ClusterSampler | None:
        """A sampler for the next run, or None when this engine cannot measure its cluster."""


def sampler_for(engine: object) -> ClusterSampler | None:
    """The cluster sampler of an engine that has one, else None."""
    if not isinstance(engine, MeasuresCluster):
        return None
    with contextlib.suppress(Exception):  # an engine that cannot say has no cluster view
        return engine.cluster_sampler()
    return None


def peak_of_sum(series: list[tuple[list[float], list[int]]], interval_s: float) -> int | None:
    """The peak of the summed series, each (times, sizes) from one process, on a common grid.

    Samples fall into buckets of `interval_s`; a process with no sample in a bucket counts
    with its latest one (its first before it began), so the sum is taken across processes at
    the same moment, within one interval.
    """
    import numpy as np

    series = [(t, s) for t, s in series if len(t)]
    if not series:
        return None
    start = min(t[0] for t, _ in series)
    cols = [np.floor((np.asarray(t) - start) / interval_s).astype(np.int64) for t, _ in series]
    width = int(max(c.max() for c in cols)) + 1
    grid = np.full((len(series), width), -1, dtype=np.int64)
    for row, (col, (_, sizes)) in enumerate(zip(cols, series, strict=True)):
        np.maximum.at(grid[row], col, np.asarray(sizes, dtype=np.int64))
        grid[row, : col.min()] = sizes[0]
    seen = np.where(grid >= 0, np.arange(width), 0)
    filled = np.take_along_axis(grid, np.maximum.accumulate(seen, axis=1), axis=1)
    return int(filled.sum(axis=0).max())


def error_text(exc: BaseException) -> str:
    """An exception as one short line for a record's note (type, message, whitespace folded)."""
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text}"[:300]
