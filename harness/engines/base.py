"""What an engine is: a small adapter that starts, runs a workload body, and stops with nothing
left running. Every setting an engine uses is in its `config()`, written into each record.
"""

from __future__ import annotations

import contextlib
import gc
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from harness import config
from harness.errors import UsageError
from harness.workloads.contract import Context, Workload


class EngineFailure(Exception):
    """An engine that died or could not start, said in plain words rather than as the socket
    error a library raised on finding its process gone."""


@dataclass(frozen=True)
class EngineOptions:
    """What a user may choose for an engine; None means the engine's default."""

    workers: int | None = None
    threads: int | None = None
    dask_address: str | None = None
    spark_master: str | None = None


class Engine(ABC):
    """A running engine; use as a context manager. In-process engines have one worker of one
    thread; the others say how many they run."""

    name: ClassVar[str]
    kind: ClassVar[str]  # which body of a workload it runs: reference, dask or spark
    description: ClassVar[str]
    # Runs after the cold one that are still getting faster: recorded as `warmup`, left out of
    # the warm statistics. Measured here (10 runs per cell, 6 workloads): pandas and every
    # Dask scheduler are within noise of their steady state from the second run on.
    warmup_runs: ClassVar[int] = 0

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
    def n_workers(self) -> int:
        return 1

    @property
    def threads_per_worker(self) -> int:
        return 1

    @property
    def slots(self) -> int:
        return self.n_workers * self.threads_per_worker

    def context(self) -> Context:
        return Context(self.slots, self.n_workers, self.threads_per_worker)

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
            with contextlib.suppress(Exception):  # the start's own error is the one to tell
                self._stop()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def run(self, workload: Workload[Any, Any], inputs: Any) -> Any:
        """Run the workload's body for this engine's kind and return its answer."""
        self.n_tasks = None
        body = workload.body(self.kind)
        if body is None:
            raise UsageError(f"{workload.name} cannot run on {self.name}")
        self.last_context = self.context()
        return self._call(body, inputs, self.last_context)

    def failure(self) -> str | None:
        """Why this started engine can run no more work (a process of it died), or None while
        it can; asked after a failed run, to tell a broken engine from a failing workload."""
        return None

    def incidents(self) -> dict[str, Any]:
        """What went wrong during the last run that the engine recovered from (a worker lost
        and its tasks run again elsewhere), as metrics for its record; empty when nothing did."""
        return {}

    def quiesce(self, new_workload: bool = False) -> None:
        """Collect garbage before a measured run, so it neither pays for nor is charged with
        what earlier runs left behind; `new_workload` before a workload's cold run."""
        gc.collect()

    def settle(self) -> None:
        """Take the measures of the last run that must stay out of its timing."""
        if self.last_context is not None:
            self.last_context.settle()

    @abstractmethod
    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        """Call the body with this engine's handle: body(inputs, handle, ctx)."""


def exit_words(code: int) -> str:
    """A process's exit status as words: 'signal 9' for -9 (as Popen reports a kill)."""
    return f"signal {-code}" if code < 0 else f"exit code {code}"


def count_or(value: int | None, default: int) -> int:
    """A user's count, or the engine's default when none was given."""
    return default if value is None else value


def one_level_pool(options: EngineOptions) -> int:
    """Slots of a scheduler with a single pool (threads, or processes): workers x threads.

    Either count alone is the pool size; neither means one slot per logical core. So
    `--workers 2 --threads 2` asks every engine for 4 parallel slots, and a sweep's
    workers x threads grid shows that for one-level schedulers only the product matters.
    """
    if options.workers is None and options.threads is None:
        return config.logical_cores()
    return (options.workers or 1) * (options.threads or 1)
