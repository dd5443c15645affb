"""The Dask engines: one adapter per scheduler, all running the same Dask body.

The body gets a `DaskCompute` bound to its engine's scheduler (never a global set at import),
which also remembers what ran so the task count can be taken after the timed section.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from harness import config
from harness.engines.base import Engine, EngineOptions, count_or, exit_words, one_level_pool
from harness.engines.dask_memory import DaskClusterSampler
from harness.lifeline import die_with_parent
from harness.workloads.contract import Context

POOL_PROBE_S = 10.0  # how long a trivial task may take on a pool that is still alive
WORKER_RETURN_S = 30.0  # how long a nanny may take to replace a lost worker before a next run


class DaskEngine(Engine):
    """Shared by every Dask scheduler: the same body, the scheduler passed per compute."""

    kind = "dask"
    client: Any = None
    last_compute: DaskCompute | None = None

    def scheduler_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def dask_config(self) -> dict[str, Any]:
        """Dask config for the body: this scheduler, and the shuffle Dask picks for it.

        Without it a distributed Client anywhere in the process makes local schedulers pick
        p2p shuffles, which only run on distributed workers.
        """
        method = dask_config_get("dataframe.shuffle.method") or (
            "p2p" if self.client is not None else "disk")
        return {**self.scheduler_kwargs(), "dataframe.shuffle.method": method}

    def _start(self) -> None:
        # Importing the collections costs ~1 s once; that is start-up, not a workload's cold run.
        import dask.array
        import dask.bag
        import dask.dataframe  # noqa: F401

    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        import dask

        compute = self.last_compute = DaskCompute(self)
        # Computes that Dask triggers by itself (set_index without divisions, ...) must run on
        # this engine's scheduler too, not on the global default.
        with dask.config.set(self.dask_config()):
            return body(inputs, compute, ctx)

    def settle(self) -> None:
        # Counting optimizes and materializes the graph again: 0.4-0.7 s for 15,000 tasks.
        super().settle()
        if self.last_compute is not None:
            self.n_tasks = self.last_compute.task_count()
            self.last_compute = None


class DaskCompute:
    """The `compute` a Dask body receives: dask.compute and raw `get` on one engine's scheduler.

    It remembers what it ran so the task count is taken after the timed section (`settle`).
    """

    def __init__(self, engine: DaskEngine) -> None:
        self.engine = engine
        self.client = engine.client
        self._collections: list[tuple[Any, ...]] = []
        self._raw_tasks = 0

    def __call__(self, *collections: Any) -> tuple[Any, ...]:
        import dask

        self._collections.append(collections)
        return dask.compute(*collections, **self.engine.scheduler_kwargs())

    def submit(self, *collections: Any) -> list[Any]:
        """Futures for `collections` on the distributed client, counted like a compute."""
        if self.client is None:
            raise RuntimeError(f"submit needs dask-distributed, not {self.engine.name}")
        self._collections.append(collections)
        return self.client.compute(list(collections))

    def get(self, dsk: Mapping[Any, Any], keys: Any) -> Any:
        from dask.base import get_scheduler

        if hasattr(dsk, "__dask_graph__"):  # dask.compute/persist hand a scheduler an expression
            dsk = dsk.__dask_graph__()
        kwargs = dict(self.engine.scheduler_kwargs())
        scheduler = get_scheduler(scheduler=kwargs.pop("scheduler"))
        self._raw_tasks += len(dsk)
        return scheduler(dict(dsk), keys, **kwargs)

    def task_count(self) -> int | None:
        """Tasks in the optimized graphs run; None when nothing countable ran."""
        try:
            counted = sum(len(optimized_graph(c)) for c in self._collections)
        except Exception:  # a graph we cannot count is not a failed run
            return None
        total = counted + self._raw_tasks
        return total or None


class DaskSyncEngine(DaskEngine):
    name = "dask-sync"
    description = "Dask, synchronous scheduler (one thread, no parallelism)"
    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"scheduler": "synchronous"}


class DaskThreadsEngine(DaskEngine):
    name = "dask-threads"
    description = "Dask, threaded scheduler, one pool of workers x threads threads"

    @property
    def n_workers(self) -> int:
        return 1

    @property
    def threads_per_worker(self) -> int:
        return one_level_pool(self.options)

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"scheduler": "threads", "num_workers": self.threads_per_worker}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "scheduler": "threads", "num_workers": self.threads_per_worker}


def dask_config_get(key: str) -> Any:
    import dask

    return dask.config.get(key, None)


def _warm_worker() -> None:
    # Imports that every real task needs, paid once at start-up rather than in the cold run.
    # The sleep keeps one worker busy so the next submit reaches another: each one warms.
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    time.sleep(0.2)


class DaskProcessesEngine(DaskEngine):
    name = "dask-processes"
    description = ("Dask, multiprocessing scheduler, one pool of workers x threads processes "
                   "(one pool per session)")

    def __init__(self, options: EngineOptions) -> None:
        super().__init__(options)
        self._pool: ProcessPoolExecutor | None = None
        # What `failure` found since the last run began, in a tuple (None is an answer): each
        # ask may wait POOL_PROBE_S on a busy pool, and a failed run is asked about 3 times.
        self._failure: tuple[str | None] | None = None

    @property
    def n_workers(self) -> int:
        return one_level_pool(self.options)

    @property
    def threads_per_worker(self) -> int:
        return 1

    def _start(self) -> None:
        super()._start()
        ctx = multiprocessing.get_context("spawn")
        # Each worker dies with this process (a killed session would leave them waiting on
        # their task queue forever); its initializer asks the kernel for that.
        self._pool = ProcessPoolExecutor(max_workers=self.n_workers, mp_context=ctx,
                                         initializer=die_with_parent, initargs=(os.getpid(),))
        for warmed in [self._pool.submit(_warm_worker) for _ in range(self.n_workers)]:
            warmed.result()

    def _stop(self) -> None:
        self._failure = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        self._failure = None  # a new run: whether it broke the pool is asked afresh
        return super()._call(body, inputs, ctx)

    def failure(self) -> str | None:
        """A pool that lost a process (killed, out of memory) is broken for good: every later
        compute would fail alike. Asked once per run."""
        if self._pool is None:
            return None
        if self._failure is None:
            self._failure = (self._pool_failure(self._pool),)
        return self._failure[0]

    def _pool_failure(self, pool: ProcessPoolExecutor) -> str | None:
        try:
            pool.submit(int).result(timeout=POOL_PROBE_S)
        except BrokenProcessPool:
            return f"a process of the dask-processes pool exited ({_how_pool_died(pool)})"
        except Exception:  # busy with what the failed run left, or slow: not known to be dead
            return None
        return None

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"scheduler": "processes", "num_workers": self.n_workers, "pool": self._pool}

    def config(self) -> dict[str, Any]:
        import dask

        # Dask batches this many ready tasks per dispatch (default 6): it shapes load balance.
        return {**super().config(), "scheduler": "processes", "num_workers": self.n_workers,
                "chunksize": dask.config.get("chunksize", 6),
                "pool": "ProcessPoolExecutor(spawn), started once per session"}


def _how_pool_died(pool: ProcessPoolExecutor) -> str:
    """The exit of the process that broke a pool, as far as the pool kept it (a broken pool
    ends its other processes with SIGTERM)."""
    processes = getattr(pool, "_processes", None) or {}
    codes = [p.exitcode for p in processes.values() if p.exitcode not in (None, -signal.SIGTERM)]
    return exit_words(codes[0]) if codes else "killed, or out of memory"


class DaskDistributedEngine(DaskEngine):
    name = "dask-distributed"
    description = "distributed.LocalCluster(n_workers=workers, threads_per_worker=threads)"

    def __init__(self, options: EngineOptions) -> None:
        super().__init__(options)
        self._cluster: Any = None
        self.client: Any = None

    @property
    def n_workers(self) -> int:
        if self.client is not None and self.options.dask_address:
            return len(self.client.scheduler_info()["workers"])
        return count_or(self.options.workers, config.logical_cores())

    @property
    def threads_per_worker(self) -> int:
        if self.client is not None and self.options.dask_address:
            # As the external cluster has them (most workers' count), not as --threads said.
            counts = [w["nthreads"] for w in self.client.scheduler_info()["workers"].values()]
            if counts:
                return max(set(counts), key=counts.count)
        return count_or(self.options.threads, 1)

    def _start(self) -> None:
        super()._start()
        from distributed import Client, LocalCluster

        if self.options.dask_address:
            self.client = Client(self.options.dask_address)
            return
        self._cluster = LocalCluster(
            n_workers=self.n_workers, threads_per_worker=self.threads_per_worker,
            processes=True, host="127.0.0.1", dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        self.client = Client(self._cluster)

    def _stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    # When the run in flight began, by the wall clock the scheduler stamps its events with.
    _run_began: float | None = None

    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        self._run_began = time.time()
        with self.client.as_current():
            return super()._call(body, inputs, ctx)

    def dask_config(self) -> dict[str, Any]:
        # The scheduler by name, resolved to this client by `as_current`: the Client object
        # itself in the global config breaks a nanny's restart of a lost worker, which pickles
        # that config for the new process (and the worker stays lost; dask/distributed#3345).
        return {**super().dask_config(), "scheduler": "dask.distributed"}

    def incidents(self) -> dict[str, Any]:
        """Workers lost during the last run (killed, out of memory): the scheduler ran their
        tasks again elsewhere, so the answer still counts, but the time is not a clean one."""
        lost = self._lost_workers()
        if not lost:
            return {}
        if self._cluster is not None:  # let the nannies bring them back for the next run
            with contextlib.suppress(Exception):
                self.client.wait_for_workers(self.n_workers, timeout=WORKER_RETURN_S)
        return {"workers_lost": len(lost), "workers_lost_addresses": lost}

    def _lost_workers(self) -> list[str]:
        """Workers the scheduler removed unexpectedly since the last run began: the ones
        that died rather than retired (its `remove-worker` events)."""
        if self.client is None or self._run_began is None:
            return []
        try:
            events = self.client.get_events("all")
        except Exception:  # a scheduler that does not answer tells nothing here
            return []
        return [str(e["worker"]) for t, e in events if t >= self._run_began
                and e.get("action") == "remove-worker" and not e.get("expected")]

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"scheduler": self.client}

    def cluster_sampler(self) -> DaskClusterSampler | None:
        """The workers' memory per run, sampled inside them (harness.engines.dask_memory)."""
        return DaskClusterSampler(self.client) if self.client is not None else None

    def config(self) -> dict[str, Any]:
        if self.options.dask_address and self.client is not None:
            # An external cluster's settings are its operator's: record what its scheduler says.
            workers = self.client.scheduler_info()["workers"].values()
            return {**super().config(), "address": self.options.dask_address,
                    "memory_limit_per_worker": sorted({w["memory_limit"] for w in workers})}
        return {**super().config(), "address": self.options.dask_address or "LocalCluster",
                "processes": True, "host": "127.0.0.1", "dashboard": None,
                "memory_limit_per_worker": "auto (total / workers)"}


def optimized_graph(collections: tuple[Any, ...]) -> Mapping[Any, Any]:
    """The graph Dask runs for `dask.compute(*collections)`, after optimization."""
    from dask._expr import FinalizeCompute
    from dask.base import collections_to_expr

    return FinalizeCompute(collections_to_expr(collections, True)).optimize().__dask_graph__()
