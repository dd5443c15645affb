"""custom-agg (chapter 3.4): per-partition statistics of value per category, combined at the end.

Each partition yields count, mean, M2 (sum of squared deviations from its own mean), min and max
per category; the partials are combined with Chan et al.'s parallel formula for the variance.
The reference computes mean, std, min, max and count directly on the whole frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.workloads.checks import CheckResult, check_frame
from harness.workloads.common.frames import CHAPTER_CSV_SIZES, dask_frame, prepare_csv, spark_frame
from harness.workloads.contract import Compute, Context, Workload
from harness.workloads.datasets import Dataset, read_csv_pandas

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STATS = ["mean", "std", "min", "max", "count"]
COLUMNS = ["value", "category"]
SPARK_PARTIAL_SCHEMA = "category string, count long, mean double, m2 double, min double, max double"


def partial_stats(df: pd.DataFrame) -> pd.DataFrame:
    """One partition's count, mean, M2, min and max of value, one row per category."""
    groups = df.groupby("category")["value"]
    out = groups.agg(["count", "mean", "min", "max"])
    deviation = df["value"] - groups.transform("mean")
    out["m2"] = (deviation * deviation).groupby(df["category"]).sum()
    return out[["count", "mean", "m2", "min", "max"]].reset_index()


def partial_stats_batches(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Spark's mapInPandas calling convention around the same function."""
    for batch in batches:
        yield partial_stats(batch)


def combine(partials: pd.DataFrame) -> pd.DataFrame:
    """Merge partials per category: M2 = sum(M2_i) + sum(n_i * (mean_i - mean)^2) (Chan et al.)."""
    by = partials["category"].astype(str)
    n = partials["count"].groupby(by).sum()
    mean = (partials["count"] * partials["mean"]).groupby(by).sum() / n
    delta = partials["mean"] - by.map(mean)
    m2 = (partials["m2"] + partials["count"] * delta * delta).groupby(by).sum()
    stats = pd.DataFrame({
        "mean": mean, "std": np.sqrt(m2 / (n - 1)), "min": partials["min"].groupby(by).min(),
        "max": partials["max"].groupby(by).max(), "count": n,
    })
    return normalize(stats)


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """One shape for every engine: categories sorted as strings, float columns in STATS order."""
    out = frame[STATS].astype("float64")
    out.index = out.index.astype(str)
    out.index.name = "category"
    return out.sort_index()


def reference(ds: Dataset, ctx: Context) -> pd.DataFrame:
    df = read_csv_pandas(ds)
    return normalize(df.groupby("category")["value"].agg(STATS))


def dask_partials(ds: Dataset) -> Any:
    """The lazy partials: one small frame per partition, concatenated."""
    return dask_frame(ds)[COLUMNS].map_partitions(partial_stats)


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> pd.DataFrame:
    (partials,) = compute(dask_partials(ds))
    ctx.note("partial_rows", len(partials))
    return combine(partials)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> pd.DataFrame:
    df = spark_frame(spark, ds).select(*COLUMNS)
    partials = df.mapInPandas(partial_stats_batches, schema=SPARK_PARTIAL_SCHEMA).toPandas()
    ctx.note("partial_rows", len(partials))
    return combine(partials)


def check(exp: pd.DataFrame, actual: pd.DataFrame) -> CheckResult:
    # Partials are merged in a different order than one pass adds: allow rounding, nothing more.
    return check_frame(exp, actual, rtol=1e-9)


WORKLOAD = Workload(
    name="custom-agg",
    section="3.4",
    title="Per-partition mean/std/min/max per category, combined (Chan's parallel variance)",
    # The chapter CSV at csv-groupby's sizes, so the cached parts are shared.
    sizes=CHAPTER_CSV_SIZES,
    prepare=prepare_csv,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=dask_partials,
)
