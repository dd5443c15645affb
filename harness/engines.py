"""Engines: small adapters that start, run a workload body, and stop with nothing left running.

Every setting an engine uses is in its `config()`, which is written into each record.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from harness import config
from harness.errors import UsageError
from harness.workloads.base import Context, Workload


@dataclass(frozen=True)
class EngineOptions:
    """What a user may choose for an engine; None means the engine's default."""

    workers: int | None = None
    threads: int | None = None
    dask_address: str | None = None
    spark_master: str | None = None


class Engine(ABC):
    """A running engine; use as a context manager."""

    name: ClassVar[str]
    kind: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.startup_s: float | None = None
        self.n_tasks: int | None = None
        self.last_context: Context | None = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this engine cannot run on this machine, or None if it can."""
        return None

    @property
    @abstractmethod
    def n_workers(self) -> int: ...

    @property
    @abstractmethod
    def threads_per_worker(self) -> int: ...

    @property
    def slots(self) -> int:
        return self.n_workers * self.threads_per_worker

    def context(self) -> Context:
        return Context(self.slots, self.n_workers, self.threads_per_worker, self.name)

    def config(self) -> dict[str, Any]:
        return {"engine": self.name, "n_workers": self.n_workers,
                "threads_per_worker": self.threads_per_worker}

    def _start(self) -> None:  # noqa: B027 - engines without servers need no start
        """Bring the engine to the point where it can run work."""

    def _stop(self) -> None:  # noqa: B027 - nor a stop
        """Release everything `_start` acquired."""

    def __enter__(self) -> Engine:
        t0 = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def run(self, workload: Workload, inputs: Any) -> Any:
        """Run the workload's body for this engine's kind and return its answer."""
        self.n_tasks = None
        body = workload.body(self.kind)
        if body is None:
            raise UsageError(f"{workload.name} cannot run on {self.name}")
        self.last_context = self.context()
        return self._call(body, inputs, self.last_context)

    def quiesce(self) -> None:
        """Collect garbage before a measured run, so it neither pays for nor is charged with
        what earlier runs left behind."""
        gc.collect()

    def settle(self) -> None:
        """Take the measures of the last run that must stay out of its timing."""
        if self.last_context is not None:
            self.last_context.settle()

    @abstractmethod
    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any: ...


def _count(value: int | None, default: int) -> int:
    return default if value is None else value


class PandasEngine(Engine):
    name = "pandas"
    kind = "reference"
    description = "the sequential reference: plain pandas / NumPy / Python on one core"

    n_workers = 1  # type: ignore[assignment]
    threads_per_worker = 1  # type: ignore[assignment]

    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        return body(inputs, ctx)


class DaskEngine(Engine):
    """Shared by every Dask scheduler: the same body, the scheduler passed per compute."""

    kind = "dask"
    scheduler_name: ClassVar[str]
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
        self.scheduler = engine.scheduler_name
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
        from dask._expr import FinalizeCompute
        from dask.base import collections_to_expr

        try:
            counted = sum(
                len(FinalizeCompute(collections_to_expr(c, True)).optimize().__dask_graph__())
                for c in self._collections
            )
        except Exception:  # a graph we cannot count is not a failed run
            return None
        total = counted + self._raw_tasks
        return total or None


class DaskSyncEngine(DaskEngine):
    name = "dask-sync"
    description = "Dask, synchronous scheduler (one thread, no parallelism)"
    scheduler_name = "synchronous"
    n_workers = 1  # type: ignore[assignment]
    threads_per_worker = 1  # type: ignore[assignment]

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"scheduler": "synchronous"}


class DaskThreadsEngine(DaskEngine):
    name = "dask-threads"
    description = "Dask, threaded scheduler, one pool of workers x threads threads"
    scheduler_name = "threads"

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


def one_level_pool(options: EngineOptions) -> int:
    """Slots of a scheduler with a single pool (threads, or processes): workers x threads.

    Either count alone is the pool size; neither means one slot per logical core. So
    `--workers 2 --threads 2` asks every engine for 4 parallel slots, and a sweep's
    workers x threads grid shows that for one-level schedulers only the product matters.
    """
    if options.workers is None and options.threads is None:
        return config.logical_cores()
    return (options.workers or 1) * (options.threads or 1)


def dask_config_get(key: str) -> Any:
    import dask

    return dask.config.get(key, None)


def _warm_worker() -> int:
    # Imports that every real task needs, paid once at start-up rather than in the cold run.
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    time.sleep(0.2)
    return os.getpid()


class DaskProcessesEngine(DaskEngine):
    name = "dask-processes"
    description = ("Dask, multiprocessing scheduler, one pool of workers x threads processes "
                   "(one pool per session)")
    scheduler_name = "processes"

    def __init__(self, options: EngineOptions) -> None:
        super().__init__(options)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def n_workers(self) -> int:
        return one_level_pool(self.options)

    @property
    def threads_per_worker(self) -> int:
        return 1

    def _start(self) -> None:
        super()._start()
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.n_workers, mp_context=ctx)
        pids = {f.result() for f in [self._pool.submit(_warm_worker)
                                     for _ in range(self.n_workers)]}
        self.worker_pids = sorted(pids)

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"scheduler": "processes", "num_workers": self.n_workers, "pool": self._pool}

    def config(self) -> dict[str, Any]:
        import dask

        # Dask batches this many ready tasks per dispatch (default 6): it shapes load balance.
        return {**super().config(), "scheduler": "processes", "num_workers": self.n_workers,
                "chunksize": dask.config.get("chunksize", 6),
                "pool": "ProcessPoolExecutor(spawn), started once per session"}


class DaskDistributedEngine(DaskEngine):
    name = "dask-distributed"
    description = "distributed.LocalCluster(n_workers=workers, threads_per_worker=threads)"
    scheduler_name = "distributed"

    def __init__(self, options: EngineOptions) -> None:
        super().__init__(options)
        self._cluster: Any = None
        self.client: Any = None

    @property
    def n_workers(self) -> int:
        if self.client is not None and self.options.dask_address:
            return len(self.client.scheduler_info()["workers"])
        return _count(self.options.workers, config.logical_cores())

    @property
    def threads_per_worker(self) -> int:
        return _count(self.options.threads, 1)

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

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"scheduler": self.client}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "address": self.options.dask_address or "LocalCluster",
                "processes": True, "host": "127.0.0.1", "dashboard": None,
                "memory_limit_per_worker": "auto (total / workers)"}


def java_path() -> str | None:
    """The java binary Spark will use: JAVA_HOME first, then PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def java_version() -> str | None:
    java = java_path()
    if java is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (out.stderr or out.stdout).splitlines()
    return first[0].strip() if first else None


class SparkEngine(Engine):
    name = "spark"
    kind = "spark"
    description = "PySpark, local[workers*threads] (or an existing master URL)"

    def __init__(self, options: EngineOptions) -> None:
        super().__init__(options)
        self.session: Any = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            return "pyspark is not installed; pip install pyspark"
        if java_path() is None:
            return ("no Java found for Spark; install OpenJDK 17 and put java on PATH "
                    "or set JAVA_HOME")
        return None

    @property
    def n_workers(self) -> int:
        return _count(self.options.workers, config.logical_cores())

    @property
    def threads_per_worker(self) -> int:
        return _count(self.options.threads, 1)

    def spark_conf(self) -> dict[str, str]:
        """Every Spark setting the harness makes, in one place."""
        slots = str(self.slots)
        return {
            "spark.master": self.options.spark_master or f"local[{slots}]",
            "spark.app.name": "pydata-harness",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": config.SPARK_DRIVER_MEMORY,
            "spark.sql.shuffle.partitions": slots,
            "spark.default.parallelism": slots,
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.execution.arrow.maxRecordsPerBatch": str(config.SPARK_ARROW_BATCH_ROWS),
            # Default 48 MB: smaller pandas frames are embedded in the plan, 10x slower at 1M rows.
            "spark.sql.execution.arrow.localRelationThreshold": "0",
            "spark.sql.session.timeZone": "UTC",
            "spark.python.worker.reuse": "true",
        }

    def _start(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise UsageError(reason)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("TZ", "UTC")
        from pyspark.sql import SparkSession

        builder = SparkSession.builder
        for key, value in self.spark_conf().items():
            builder = builder.config(key, value)
        self.session = builder.getOrCreate()
        self.session.sparkContext.setLogLevel("ERROR")
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay the one-time costs (Python workers and their imports, first SQL job) at start-up."""
        from pyspark.sql import functions as F

        sc = self.session.sparkContext
        sc.parallelize(range(self.slots), self.slots).map(_warm_python_worker).count()
        self.session.range(self.slots).groupBy((F.col("id") % 2).alias("k")).count().collect()

    def _stop(self) -> None:
        from pyspark import SparkContext

        if self.session is not None:
            self.session.stop()
            self.session = None
        shutdown_jvm(SparkContext)

    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        return body(self.session, inputs, ctx)

    def quiesce(self) -> None:
        # The JVM keeps the heap an earlier workload grew (matmul: 2.0 GiB RSS, 0.7 GiB after a
        # full GC), which would be charged to every later workload's memory; JMH forces a GC
        # between iterations for the same reason.
        super().quiesce()
        if self.session is not None:
            self.session._jvm.System.gc()

    def config(self) -> dict[str, Any]:
        return {**super().config(), "spark_conf": self.spark_conf(), "java": java_version()}


def _warm_python_worker(x: int) -> int:
    import harness.workloads  # noqa: F401 - what every Spark task of the harness imports

    return x


def shutdown_jvm(spark_context_cls: Any) -> None:
    """Stop the py4j gateway and its JVM, so a stopped engine leaves no process behind."""
    gateway = getattr(spark_context_cls, "_gateway", None)
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):  # the JVM may be gone already; the process matters
        gateway.shutdown()
    if proc is not None:
        _terminate(proc)
    spark_context_cls._gateway = None
    spark_context_cls._jvm = None


def _terminate(proc: subprocess.Popen) -> None:
    try:
        proc.stdin and proc.stdin.close()  # the launcher exits when its stdin closes
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait(timeout=10)


ENGINES: dict[str, type[Engine]] = {
    cls.name: cls
    for cls in (PandasEngine, DaskSyncEngine, DaskThreadsEngine, DaskProcessesEngine,
                DaskDistributedEngine, SparkEngine)
}


def get_engine(name: str) -> type[Engine]:
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(ENGINES)
        raise UsageError(f"unknown engine {name!r}; choose one of: {known}") from None


def validate_options(options: EngineOptions) -> None:
    """Reject worker and thread counts no engine can honour."""
    for flag, value, limit in (("--workers", options.workers, config.MAX_WORKERS),
                               ("--threads", options.threads, config.MAX_THREADS)):
        if value is not None and not 1 <= value <= limit:
            raise UsageError(f"{flag} must be between 1 and {limit}, got {value}")
