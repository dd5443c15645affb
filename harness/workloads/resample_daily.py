"""resample-daily (chapter 3.2): index by timestamp, resample to days, mean of value per day.

Timestamps are 1 s apart, so a day is 86,400 rows; the sizes span 2.3 (tiny) to 58 (seed) days.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.workloads.checks import CheckResult, check_frame
from harness.workloads.common.frames import dask_frame, prepare_csv, spark_frame
from harness.workloads.contract import Compute, Context, Workload
from harness.workloads.datasets import Dataset, read_csv_pandas

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def daily_mean(indexed: Any) -> Any:
    """The chapter's resample; the same code on a pandas and a Dask frame indexed by time."""
    return indexed["value"].resample("D").mean()


def normalize(means: pd.Series) -> pd.DataFrame:
    """One shape for every engine: index 'YYYY-MM-DD' (UTC days) sorted, one float column."""
    out = means.astype("float64").to_frame("mean")
    if not isinstance(out.index[0], str):
        out.index = pd.DatetimeIndex(out.index).strftime("%Y-%m-%d")
    out.index.name = "day"
    return out.sort_index()


def reference(ds: Dataset, ctx: Context) -> pd.DataFrame:
    return normalize(daily_mean(read_csv_pandas(ds).set_index("timestamp")))


def partition_bounds(part: pd.DataFrame) -> pd.DataFrame:
    """First and last timestamp of one partition, as one row."""
    ts = part["timestamp"]
    return pd.DataFrame({"min": [ts.min()], "max": [ts.max()]})


def sorted_divisions(ddf: Any, compute: Callable[..., tuple[Any, ...]]) -> tuple[Any, ...]:
    """Divisions of a frame already sorted by timestamp, measured on the given scheduler.

    This is the pass `set_index(sorted=True)` makes itself, but through `dask.compute` on the
    default scheduler; doing it here keeps it on the engine's scheduler and inside the timing.
    """
    dtype = ddf["timestamp"].dtype
    (bounds,) = compute(ddf.map_partitions(partition_bounds, meta={"min": dtype, "max": dtype}))
    mins, maxes = list(bounds["min"]), list(bounds["max"])
    if any(lo <= hi for lo, hi in zip(mins[1:], maxes[:-1], strict=True)):
        raise ValueError("CSV partitions are not in timestamp order; cannot use sorted=True")
    return (*mins, maxes[-1])


def lazy_daily(ds: Dataset, compute: Callable[..., tuple[Any, ...]]) -> Any:
    """Read, index by the (already sorted) timestamp with measured divisions, resample daily."""
    ddf = dask_frame(ds)
    divisions = sorted_divisions(ddf, compute)
    return daily_mean(ddf.set_index("timestamp", sorted=True, divisions=divisions))


def graph(ds: Dataset) -> Any:
    """The resample graph (its divisions measured on the synchronous scheduler)."""
    import dask

    return lazy_daily(ds, functools.partial(dask.compute, scheduler="synchronous"))


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> pd.DataFrame:
    t0 = time.perf_counter()
    lazy = lazy_daily(ds, compute)
    ctx.note("divisions_s", time.perf_counter() - t0)
    (means,) = compute(lazy)
    return normalize(means)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> pd.DataFrame:
    from pyspark.sql import functions as F

    # Session time zone is UTC and the CSV times are naive UTC, so Spark's days are pandas' days;
    # formatting the day inside Spark keeps time zones out of the conversion to pandas.
    day = F.date_format(F.date_trunc("day", "timestamp"), "yyyy-MM-dd").alias("day")
    agg = spark_frame(spark, ds).groupBy(day).agg(F.avg("value").alias("mean"))
    return normalize(agg.toPandas().set_index("day")["mean"])


def check(exp: pd.DataFrame, actual: pd.DataFrame) -> CheckResult:
    # Per-day sums combined in engine-specific order: rounding only.
    return check_frame(exp, actual, rtol=1e-9)


WORKLOAD = Workload(
    name="resample-daily",
    section="3.2",
    title="Index by timestamp, resample daily: mean of value per day",
    sizes={
        "tiny": {"files": 2, "rows_per_file": 100_000},
        "small": {"files": 5, "rows_per_file": 200_000},
        "seed": {"files": 5, "rows_per_file": 1_000_000},
    },
    prepare=prepare_csv,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=graph,
)
