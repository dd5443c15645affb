"""noop (calibration): the smallest unit of work each engine can run.

Its wall time is the engine's own dispatch cost; `metrics.harness_overhead_s` on its records is
what the harness adds around a run (sampler start and stop, garbage collection, the check).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dask

from harness.workloads.checks import CheckResult, check_scalar
from harness.workloads.contract import Compute, Context, Workload

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def prepare(params: Mapping[str, Any]) -> int:
    return int(params["value"])


def reference(value: int, ctx: Context) -> int:
    return value


def dask_body(value: int, compute: Compute, ctx: Context) -> int:
    (result,) = compute(dask.delayed(int)(value))
    return int(result)


def spark_body(value: int, spark: SparkSession, ctx: Context) -> int:
    return int(spark.sparkContext.parallelize([value], 1).sum())


def check(exp: int, actual: int) -> CheckResult:
    return check_scalar(exp, actual, rtol=0.0)


WORKLOAD = Workload(
    name="noop",
    section="0",
    title="Calibration: one trivial task, to measure dispatch and harness overhead",
    sizes={size: {"value": 7} for size in ("tiny", "small", "seed")},
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
)
