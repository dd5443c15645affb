"""map-partitions (chapter 3.4): the chapter's custom pandas function run on every partition.

The chapter's frame has columns A and B; here they come from the chapter CSV: A = value
(standard normal floats), B = id (the integer row id, 0..N-1), so log1p(|B|) works on a second,
integer column. The answer is a reduction of the new columns: their sums and the row count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
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

# CSV column -> the chapter's column name.
AB_COLUMNS = {"value": "A", "id": "B"}
NEW_COLUMNS = ("A_squared", "B_log1p")
SPARK_OUT_SCHEMA = "A double, B long, A_squared double, B_log1p double"


def custom_processing(df: pd.DataFrame) -> pd.DataFrame:
    """The chapter's per-partition function: A squared and log1p(|B|) as new columns."""
    return df.assign(A_squared=df["A"] ** 2, B_log1p=np.log1p(np.abs(df["B"])))


def custom_processing_batches(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Spark's mapInPandas calling convention around the same function."""
    for batch in batches:
        yield custom_processing(batch)


def summary(sums: Mapping[str, Any], rows: int) -> dict[str, float]:
    """One shape for every engine: the row count and the sum of each new column."""
    return {"rows": float(rows), **{f"sum_{c}": float(sums[c]) for c in NEW_COLUMNS}}


def reference(ds: Dataset, ctx: Context) -> dict[str, float]:
    note_partitions(ctx, ds, None)
    out = custom_processing(read_csv_pandas(ds)[list(AB_COLUMNS)].rename(columns=AB_COLUMNS))
    return summary(out[list(NEW_COLUMNS)].sum(), len(out))


def dask_collections(ds: Dataset) -> tuple[Any, Any]:
    """The lazy sums of the new columns and the lazy row count."""
    ddf = dask_frame(ds)[list(AB_COLUMNS)].rename(columns=AB_COLUMNS)
    out = ddf.map_partitions(custom_processing)
    return out[list(NEW_COLUMNS)].sum(), out.shape[0]


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, float]:
    note_partitions(ctx, ds, ds.npartitions)
    sums, rows = compute(*dask_collections(ds))
    return summary(sums, rows)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.sql import functions as F

    with spark_layout(spark, ds):
        df = spark_frame(spark, ds)
        note_spark_partitions(ctx, spark, ds, df)
        df = df.select([F.col(s).alias(d) for s, d in AB_COLUMNS.items()])
        out = df.mapInPandas(custom_processing_batches, schema=SPARK_OUT_SCHEMA)
        row = out.agg(*[F.sum(c).alias(c) for c in NEW_COLUMNS],
                      F.count("*").alias("rows")).first()
        return summary(row.asDict(), row["rows"])


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # Sums over a million rows are added in engine-specific order: allow rounding, nothing more.
    return check_frame(pd.Series(exp).to_frame("value"), pd.Series(actual).to_frame("value"),
                       rtol=1e-9)


WORKLOAD = Workload(
    name="map-partitions",
    section="3.4",
    title="map_partitions(custom_processing): A squared, log1p(|B|), then sums",
    sizes=CHAPTER_CSV_SIZES,
    tunables=LAYOUT_TUNABLES,
    prepare=prepare_csv,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=dask_collections,
)
