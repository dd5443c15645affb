"""filter-derive (chapter 3.2): keep rows with value > 0, add value_squared, then count and sum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.workloads.checks import CheckResult, check_dict
from harness.workloads.common.frames import CHAPTER_CSV_SIZES, dask_frame, prepare_csv, spark_frame
from harness.workloads.contract import Compute, Context, Workload
from harness.workloads.datasets import Dataset, read_csv_pandas

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

KEYS = ("count", "sum_value", "sum_value_squared")


def derive(frame: Any) -> Any:
    """The chapter's filter and new column; the same code on a pandas and a Dask frame."""
    positive = frame[frame["value"] > 0]
    return positive.assign(value_squared=positive["value"] ** 2)


def totals(derived: Any) -> tuple[Any, ...]:
    """What the answer is made of, in KEYS order (numbers on pandas, lazy scalars on Dask)."""
    return (derived["value_squared"].count(), derived["value"].sum(),
            derived["value_squared"].sum())


def as_answer(values: tuple[Any, ...]) -> dict[str, float]:
    return {key: float(v) for key, v in zip(KEYS, values, strict=True)}


def reference(ds: Dataset, ctx: Context) -> dict[str, float]:
    return as_answer(totals(derive(read_csv_pandas(ds))))


def lazy_totals(ds: Dataset) -> tuple[Any, ...]:
    """The three Dask scalars, sharing one read and one filter."""
    return totals(derive(dask_frame(ds)))


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, float]:
    return as_answer(compute(*lazy_totals(ds)))


def spark_derive(frame: SparkFrame) -> SparkFrame:
    """derive() in Spark's terms."""
    from pyspark.sql import functions as F

    return frame.filter(F.col("value") > 0).withColumn("value_squared", F.col("value") ** 2)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.sql import functions as F

    derived = spark_derive(spark_frame(spark, ds))
    row = derived.agg(F.count("value_squared"), F.sum("value"), F.sum("value_squared")).first()
    assert row is not None  # an aggregate without grouping has exactly one row
    return as_answer(tuple(row))


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # Sums of positive terms combined in engine-specific order: rounding only.
    return check_dict(exp, actual, rtol=1e-9)


WORKLOAD = Workload(
    name="filter-derive",
    section="3.2",
    title="Filter value > 0, derive value_squared; count and sums",
    sizes=CHAPTER_CSV_SIZES,
    prepare=prepare_csv,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=lazy_totals,
)
