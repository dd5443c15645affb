"""csv-groupby (chapter 3.2): read every CSV part; mean, std and count of value per category."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.workloads.checks import CheckResult, check_frame
from harness.workloads.common.frames import (
    CHAPTER_CSV_SIZES,
    LAYOUT_TUNABLES,
    dask_frame,
    note_partitions,
    note_spark_partitions,
    prepare_csv,
    spark_frame,
    spark_layout,
)
from harness.workloads.contract import Compute, Context, Workload
from harness.workloads.datasets import Dataset, read_csv_pandas

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

AGGS = ["mean", "std", "count"]


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """One shape for every engine: categories sorted as strings, float columns mean/std/count."""
    out = frame[AGGS].astype("float64")
    out.index = out.index.astype(str)
    out.index.name = "category"
    return out.sort_index()


def reference(ds: Dataset, ctx: Context) -> pd.DataFrame:
    note_partitions(ctx, ds, None)
    df = read_csv_pandas(ds)
    return normalize(df.groupby("category")["value"].agg(AGGS))


def lazy_agg(ds: Dataset) -> Any:
    """The Dask DataFrame aggregation, not yet computed."""
    return dask_frame(ds).groupby("category")["value"].agg(AGGS)


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> pd.DataFrame:
    agg = lazy_agg(ds)
    note_partitions(ctx, ds, ds.npartitions)
    (result,) = compute(agg)
    return normalize(result)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> pd.DataFrame:
    from pyspark.sql import functions as F

    with spark_layout(spark, ds):
        df = spark_frame(spark, ds)
        note_spark_partitions(ctx, spark, ds, df)
        agg = df.groupBy("category").agg(
            F.mean("value").alias("mean"), F.stddev_samp("value").alias("std"),
            F.count("value").alias("count"),
        )
        return normalize(agg.toPandas().set_index("category"))


def check(exp: pd.DataFrame, actual: pd.DataFrame) -> CheckResult:
    # Partial sums are combined in engine-specific order: allow rounding, nothing more.
    return check_frame(exp, actual, rtol=1e-9)


WORKLOAD = Workload(
    name="csv-groupby",
    section="3.2",
    title="Read CSV parts, groupby category: mean, std, count of value",
    sizes=CHAPTER_CSV_SIZES,
    tunables=LAYOUT_TUNABLES,
    prepare=prepare_csv,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=lazy_agg,
)
