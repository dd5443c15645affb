"""fault (calibration): a workload that fails on purpose, to see how the harness records faults.

`mode` chooses the fault, injected into one of its `tasks` tasks on every engine (the pandas
engine runs it in the session process; the reference answer never fails):
- none: no fault; the tasks' sum, checked like any workload's answer.
- raise: the task raises an exception.
- hang: the task sleeps `hang_s` seconds, past any sensible --timeout.
- allocate: the task holds `gib` GiB of memory for `hold_s` seconds.
- kill-worker: the task's first attempt SIGKILLs the process it runs in (a Dask worker, a
  Spark Python worker; the session itself on one-process engines), as the kernel's OOM killer
  would; a marker file under the data dir makes every later attempt go normally (the task's
  retries, so a scheduler that retries it gets the right answer, and the workload's later runs).
- kill-jvm: the Spark body SIGKILLs its JVM while a job runs (other engines: raise).
Not in the default or nightly suite: `-w fault` runs mode none; a suite file of your own sets
the mode in a `[params.fault]` table.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import dask

from harness.config import data_dir
from harness.workloads.checks import CheckResult, check_scalar
from harness.workloads.contract import Compute, Context, Workload

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MODES = ("none", "raise", "hang", "allocate", "kill-worker", "kill-jvm")
JVM_KILL_DELAY_S = 0.5  # long enough for the job to be running in the JVM when it dies


@dataclass(frozen=True)
class Fault:
    """What to inject, and where a kill-worker fault marks that it has happened."""

    mode: str
    tasks: int
    task_s: float
    gib: float
    hold_s: float
    hang_s: float
    marker: str


def prepare(params: Mapping[str, Any]) -> Fault:
    mode = str(params["mode"])
    if mode not in MODES:
        raise ValueError(f"fault mode {mode!r} is not one of {', '.join(MODES)}")
    # One marker per preparation: only the workload's first run kills its worker. The marker
    # goes with the prepared inputs (when the workload's runs are over, or its session ends).
    folder = data_dir() / "faults"
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"{mode}-{os.getpid()}-{time.time_ns()}"
    fault = Fault(mode=mode, tasks=int(params["tasks"]), task_s=float(params["task_s"]),
                  gib=float(params["gib"]), hold_s=float(params["hold_s"]),
                  hang_s=float(params["hang_s"]), marker=str(marker))
    weakref.finalize(fault, _remove, str(marker))
    return fault


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def task(fault: Fault, i: int) -> int:
    """One task: the fault in the first, a short sleep in each (so the others run beside it)."""
    if i == 0:
        inject(fault)
    time.sleep(fault.task_s)
    return i + 1


def inject(fault: Fault) -> None:
    """Do what the mode says, in the calling process."""
    if fault.mode == "raise":
        raise RuntimeError("injected fault: this task raises on purpose (fault mode raise)")
    if fault.mode == "hang":
        time.sleep(fault.hang_s)
    elif fault.mode == "allocate":
        _hold(fault.gib, fault.hold_s)
    elif fault.mode == "kill-worker" and first_attempt(fault.marker):
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault.mode == "kill-jvm":
        raise RuntimeError("fault mode kill-jvm needs the spark engine")


def _hold(gib: float, seconds: float) -> None:
    import numpy as np

    block = np.ones(int(gib * 2**30) // 8)  # ones, not zeros: every page is touched
    time.sleep(seconds)
    del block


def first_attempt(marker: str) -> bool:
    """True once per marker: the attempt that creates the marker file (written: the time)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(f"{time.time()}\n")
    return True


def expected(fault: Fault) -> int:
    return fault.tasks * (fault.tasks + 1) // 2


def reference(fault: Fault, ctx: Context) -> int:
    return sum(task(fault, i) for i in range(fault.tasks))


def dask_body(fault: Fault, compute: Compute, ctx: Context) -> int:
    parts = [dask.delayed(task)(fault, i) for i in range(fault.tasks)]
    (total,) = compute(dask.delayed(sum)(parts))
    return int(total)


def spark_body(fault: Fault, spark: SparkSession, ctx: Context) -> int:
    sc = spark.sparkContext
    if fault.mode == "kill-jvm":
        jvm = sc._gateway.proc  # type: ignore[union-attr]
        threading.Timer(JVM_KILL_DELAY_S, os.kill, (jvm.pid, signal.SIGKILL)).start()
        slow = replace(fault, mode="none", task_s=60.0)  # still running when the JVM dies
        return int(sc.parallelize(range(fault.tasks), fault.tasks)
                   .map(lambda i: task(slow, i)).sum())
    return int(sc.parallelize(range(fault.tasks), fault.tasks)
               .map(lambda i: task(fault, i)).sum())


def check(exp: int, actual: int) -> CheckResult:
    return check_scalar(exp, actual, rtol=0.0)


WORKLOAD = Workload(
    name="fault",
    section="0",
    title="Calibration: fails on purpose, as its mode parameter says (raise, hang, allocate, "
          "kill-worker, kill-jvm)",
    sizes={size: {"mode": "none", "tasks": 4, "task_s": 0.05, "gib": 1.0, "hold_s": 3.0,
                  "hang_s": 3600.0} for size in ("tiny", "small", "seed")},
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    expected=expected,
    check=check,
)
