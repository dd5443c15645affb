"""frame-mean (chapter 3.1): mean of column x of an in-memory pandas frame, pandas vs Dask vs Spark.

The frame is generated (seeded) in `prepare`, outside the timing. Converting it is the chapter's
operation, so `dd.from_pandas` and Spark's `createDataFrame` run inside the timed body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.workloads.checks import CheckResult, check_scalar
from harness.workloads.contract import Compute, Context, Workload

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    """The chapter's seeded frame with a column x, and how many partitions Dask splits it into."""
    rng = np.random.default_rng(params["seed"])
    frame = pd.DataFrame({"x": rng.standard_normal(params["rows"])})
    return {"frame": frame, "npartitions": int(params["npartitions"])}


def column_mean(frame: Any) -> Any:
    """The chapter's expression; the same code on a pandas and a Dask frame."""
    return frame["x"].mean()


def reference(inputs: Mapping[str, Any], ctx: Context) -> float:
    return float(column_mean(inputs["frame"]))


def lazy_mean(inputs: Mapping[str, Any]) -> Any:
    """from_pandas (split into npartitions) then the mean, not yet computed."""
    import dask.dataframe as dd

    return column_mean(dd.from_pandas(inputs["frame"], npartitions=inputs["npartitions"]))


def dask_body(inputs: Mapping[str, Any], compute: Compute, ctx: Context) -> float:
    (mean,) = compute(lazy_mean(inputs))
    return float(mean)


def spark_body(inputs: Mapping[str, Any], spark: SparkSession, ctx: Context) -> float:
    from pyspark.sql import functions as F

    # The data exists only as a pandas frame: createDataFrame (Arrow) is the chapter's step.
    df = spark.createDataFrame(inputs["frame"])
    row = df.agg(F.avg("x")).first()
    assert row is not None, "a global aggregate has one row"
    return float(row[0])


def check(exp: float, actual: float) -> CheckResult:
    # Partial sums combined in engine-specific order: rounding only. The mean of N(0,1) data is
    # ~1/sqrt(rows) while rounding is ~1e-16 of the spread, so 1e-9 relative leaves a wide margin.
    return check_scalar(exp, actual, rtol=1e-9)


WORKLOAD = Workload(
    name="frame-mean",
    section="3.1",
    title="pandas vs Dask DataFrame: mean of x (from_pandas / createDataFrame are timed)",
    sizes={
        "tiny": {"rows": 10_000, "npartitions": 4, "seed": 42},
        "small": {"rows": 1_000_000, "npartitions": 4, "seed": 42},
        "seed": {"rows": 10_000, "npartitions": 4, "seed": 42},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=lazy_mean,
)
