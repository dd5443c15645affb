"""csv-groupby (chapter 3.2): read every CSV part; mean, std and count of value per category."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from harness.datasets import CsvSpec, Dataset, csv_dataset, read_csv_pandas
from harness.workloads.base import CheckResult, Compute, Context, Workload, check_frame

AGGS = ["mean", "std", "count"]


def prepare(params: Mapping[str, Any]) -> Dataset:
    return csv_dataset(CsvSpec(files=params["files"], rows_per_file=params["rows_per_file"]))


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """One shape for every engine: categories sorted as strings, float columns mean/std/count."""
    out = frame[AGGS].astype("float64")
    out.index = out.index.astype(str)
    out.index.name = "category"
    return out.sort_index()


def reference(ds: Dataset, ctx: Context) -> pd.DataFrame:
    df = read_csv_pandas(ds)
    return normalize(df.groupby("category")["value"].agg(AGGS))


def lazy_agg(ds: Dataset) -> Any:
    """The Dask DataFrame aggregation, not yet computed."""
    import dask.dataframe as dd

    ddf = dd.read_csv(ds.glob, dtype={"id": "int64", "value": "float64", "category": "object"},
                      parse_dates=["timestamp"])
    return ddf.groupby("category")["value"].agg(AGGS)


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> pd.DataFrame:
    (result,) = compute(lazy_agg(ds))
    return normalize(result)


def spark_body(spark: Any, ds: Dataset, ctx: Context) -> pd.DataFrame:
    from pyspark.sql import functions as F

    from harness.spark_schema import CSV_SCHEMA

    df = spark.read.csv(ds.glob, header=True, schema=CSV_SCHEMA)
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
    sizes={
        "tiny": {"files": 2, "rows_per_file": 20_000},
        "small": {"files": 5, "rows_per_file": 200_000},
        "seed": {"files": 5, "rows_per_file": 1_000_000},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=lazy_agg,
)
