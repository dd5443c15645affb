"""delayed-sleep (chapter 3.4, dask.delayed): N tasks sleep S seconds, square, then one sum."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dask

from harness.workloads.checks import CheckResult, check_scalar
from harness.workloads.contract import Compute, Context, Workload

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def sleep_square(x: int, seconds: float) -> int:
    """The chapter's stand-in for slow I/O: wait, then do a little work."""
    time.sleep(seconds)
    return x * x


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"n_tasks": int(params["n_tasks"]), "sleep_s": float(params["sleep_s"])}


def reference(p: Mapping[str, Any], ctx: Context) -> int:
    return sum(sleep_square(i, p["sleep_s"]) for i in range(p["n_tasks"]))


def lazy_total(p: Mapping[str, Any]) -> Any:
    """The chapter's graph: N delayed sleeps feeding one delayed sum."""
    squares = [dask.delayed(sleep_square)(i, p["sleep_s"]) for i in range(p["n_tasks"])]
    return dask.delayed(sum)(squares)


def dask_body(p: Mapping[str, Any], compute: Compute, ctx: Context) -> int:
    (total,) = compute(lazy_total(p))
    return int(total)


def spark_body(p: Mapping[str, Any], spark: SparkSession, ctx: Context) -> int:
    n = p["n_tasks"]
    task = functools.partial(sleep_square, seconds=p["sleep_s"])
    return int(spark.sparkContext.parallelize(range(n), n).map(task).sum())


def expected(p: Mapping[str, Any]) -> int:
    # Same arithmetic as the reference loop without the sleeps.
    return sum(i * i for i in range(p["n_tasks"]))


def check(exp: int, actual: int) -> CheckResult:
    return check_scalar(exp, actual, rtol=0.0)


def metrics(p: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """Ideal times: what perfect scheduling on the engine's parallel slots would take."""
    n, s = p["n_tasks"], p["sleep_s"]
    return {
        "sequential_s": n * s,
        "ideal_s": math.ceil(n / ctx.slots) * s,
        "parallel_slots": ctx.slots,
    }


WORKLOAD = Workload(
    name="delayed-sleep",
    section="3.4",
    title="dask.delayed: N sleeping tasks, then a sum",
    sizes={
        "tiny": {"n_tasks": 8, "sleep_s": 0.02},
        "small": {"n_tasks": 8, "sleep_s": 0.25},
        "seed": {"n_tasks": 8, "sleep_s": 1.0},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    expected=expected,
    check=check,
    metrics=metrics,
    graph=lazy_total,
)
