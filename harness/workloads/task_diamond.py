"""task-diamond (chapter exercise 4): A and B in parallel, then C(A, B), then D(C); tasks sleep.

The measured wall time sits between the critical path max(A, B) + C + D and the sequential sum
A + B + C + D; how close it gets to the former shows each engine's scheduling overhead.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import dask

from harness.workloads.checks import CheckResult, check_scalar
from harness.workloads.contract import Compute, Context, Workload, one_core

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

A_VALUE, B_VALUE = 3, 5  # what the two source tasks produce; D = 2 * (A*B + A + B) + 1 = 47


def source(value: int, seconds: float) -> int:
    """Task A or B: wait, then produce a value."""
    time.sleep(seconds)
    return value


def combine(a: int, b: int, seconds: float) -> int:
    """Task C: needs both A and B."""
    time.sleep(seconds)
    return a * b + a + b


def finish(c: int, seconds: float) -> int:
    """Task D: needs C."""
    time.sleep(seconds)
    return 2 * c + 1


def prepare(params: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(params[k]) for k in ("a_s", "b_s", "c_s", "d_s")}


def reference(p: Mapping[str, float], ctx: Context) -> int:
    a = source(A_VALUE, p["a_s"])
    b = source(B_VALUE, p["b_s"])
    return finish(combine(a, b, p["c_s"]), p["d_s"])


def lazy_diamond(p: Mapping[str, float]) -> Any:
    """The diamond as dask.delayed, with the task names A, B, C, D as keys."""
    a = dask.delayed(source)(A_VALUE, p["a_s"], dask_key_name="A")
    b = dask.delayed(source)(B_VALUE, p["b_s"], dask_key_name="B")
    c = dask.delayed(combine)(a, b, p["c_s"], dask_key_name="C")
    return dask.delayed(finish)(c, p["d_s"], dask_key_name="D")


def dask_body(p: Mapping[str, float], compute: Compute, ctx: Context) -> int:
    (d,) = compute(lazy_diamond(p))
    return int(d)


def spark_source(item: tuple[str, int, float]) -> tuple[int, tuple[str, int]]:
    """Stage 1 task: run A or B; key 0 sends both results to the one partition C runs in."""
    name, value, seconds = item
    return 0, (name, source(value, seconds))


def spark_combine(named: Iterable[tuple[str, int]], seconds: float) -> int:
    values = dict(named)
    return combine(values["A"], values["B"], seconds)


def spark_body(p: Mapping[str, float], spark: SparkSession, ctx: Context) -> int:
    # A and B: two partitions of one stage (parallel); a one-partition shuffle makes C wait for
    # both; C then D are narrow maps, which Spark pipelines into one task of the next stage.
    sources = [("A", A_VALUE, p["a_s"]), ("B", B_VALUE, p["b_s"])]
    (d,) = (spark.sparkContext.parallelize(sources, 2).map(spark_source).groupByKey(1)
            .values().map(functools.partial(spark_combine, seconds=p["c_s"]))
            .map(functools.partial(finish, seconds=p["d_s"])).collect())
    return int(d)


def expected(p: Mapping[str, float]) -> int:
    # Same arithmetic as the reference without the sleeps.
    return reference({k: 0.0 for k in p}, one_core())


def check(exp: int, actual: int) -> CheckResult:
    # Integer arithmetic: exact.
    return check_scalar(exp, actual, rtol=0.0)


def metrics(p: Mapping[str, float], ctx: Context) -> dict[str, Any]:
    """The two bounds the measured wall is compared with."""
    critical = max(p["a_s"], p["b_s"]) + p["c_s"] + p["d_s"]
    sequential = p["a_s"] + p["b_s"] + p["c_s"] + p["d_s"]
    return {
        "critical_path_s": critical,
        "sequential_s": sequential,
        "ideal_s": critical if ctx.slots >= 2 else sequential,
        "parallel_slots": ctx.slots,
    }


WORKLOAD = Workload(
    name="task-diamond",
    section="exercise.4",
    title="Diamond of sleeping tasks: A and B in parallel, then C(A, B), then D(C)",
    sizes={
        "tiny": {"a_s": 0.04, "b_s": 0.04, "c_s": 0.02, "d_s": 0.02},
        "small": {"a_s": 0.2, "b_s": 0.2, "c_s": 0.1, "d_s": 0.1},
        # The chapter's sleeps are not given: 1, 1, 0.5, 0.5 s (critical path 2 s, sequential 3 s).
        "seed": {"a_s": 1.0, "b_s": 1.0, "c_s": 0.5, "d_s": 0.5},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    expected=expected,
    check=check,
    metrics=metrics,
    graph=lazy_diamond,
)
