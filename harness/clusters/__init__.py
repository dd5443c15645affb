"""Loopback clusters started the way operators start them: a `dask scheduler` with `dask worker`
processes, and a Spark standalone Master with Workers through PySpark's `spark-class`.

Every server binds 127.0.0.1. Each process runs in a session (and process group) of its own, so
a terminal's Ctrl-C does not reach it and a cluster outlives the `harness cluster up` that
started it; `Cluster.stop` ends every process of those groups. `harness.clusters.state` keeps a
running cluster's pids, addresses and logs in a state file for `down` and `status`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.clusters.base import Cluster, Shape
from harness.errors import UsageError

KINDS = ("dask", "spark")


def start(kind: str, shape: Shape, folder: Path, *, port: int = 0, with_parent: bool = False,
          journal: Callable[[Cluster], None] | None = None) -> Cluster:
    """Start a cluster of `kind` in `folder` and return it once every worker has registered.

    `with_parent`: its processes die with this one (tests) rather than outlive it; `journal`
    is called with the cluster as each of its processes launches.
    """
    if kind == "dask":
        from harness.clusters import dask

        return dask.start(shape, folder, port=port, with_parent=with_parent, journal=journal)
    if kind == "spark":
        from harness.clusters import spark

        return spark.start(shape, folder, port=port, with_parent=with_parent, journal=journal)
    raise UsageError(f"unknown cluster kind {kind!r}; choose one of: {', '.join(KINDS)}")


DEFAULT_SHAPES = {"dask": (2, 1), "spark": (1, 2)}


def shape_for(kind: str, workers: int | None, threads: int | None,
              memory_limit: str | None) -> Shape:
    """The shape a user asked for, the kind's default where they did not (Dask 2 workers x 1
    thread; Spark one Worker of 2 cores, the shape of local[2]); bad counts are UsageErrors."""
    from harness import config

    default_workers, default_threads = DEFAULT_SHAPES[kind]
    counts = {"--workers": (workers, config.MAX_WORKERS),
              "--threads": (threads, config.MAX_THREADS)}
    for flag, (value, limit) in counts.items():
        if value is not None and not 1 <= value <= limit:
            raise UsageError(f"{flag} must be between 1 and {limit}, got {value}")
    return Shape(workers=default_workers if workers is None else workers,
                 threads=default_threads if threads is None else threads,
                 memory_limit=memory_bytes(memory_limit))


def memory_bytes(text: str | None) -> int | None:
    """--memory-limit as bytes per worker (dask's sizes: 2GiB, 4GB, 512MiB); None or 'auto'
    for the kind's default."""
    if text is None or text.strip().lower() == "auto":
        return None
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(text))
    except (ValueError, TypeError):
        value = 0
    if value < 2**20:
        raise UsageError(f"--memory-limit {text!r} is not a size of at least 1 MiB; give e.g. "
                         "2GiB, 4GB or 512MiB (per worker), or auto")
    return value


__all__ = ["KINDS", "Cluster", "Shape", "memory_bytes", "shape_for", "start"]
