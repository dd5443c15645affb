"""row-apply (chapter 3.4): a row-wise Python function vs the same rule as a vectorized expression.

The rule: derived = 2 * value for category A, value squared otherwise. Every engine computes the
sum of the derived column each way it offers, times each way from reading the CSV to its sum
(ctx.note, so the notes compare across engines) and returns every sum.
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

COLUMNS = ["value", "category"]
# The ways each engine kind offers; an answer must hold the sum of every one.
WAYS = {
    "pandas/dask": ("apply", "vectorized"),
    "spark": ("python_udf", "pandas_udf", "native"),
}


def derive(value: float, category: str) -> float:
    """The rule for one row (also Spark's Python UDF)."""
    return value * 2.0 if category == "A" else value * value


def derive_row(row: pd.Series) -> float:
    """The rule as `apply(axis=1)` calls it: one row at a time."""
    return derive(row["value"], row["category"])


def derive_vectorized(value: Any, category: Any) -> Any:
    """The same rule on whole columns (pandas or Dask Series)."""
    return (value * 2.0).where(category == "A", value * value)


def derive_frame(df: Any) -> Any:
    """The vectorized rule on a frame's columns (pandas or Dask)."""
    return derive_vectorized(df["value"], df["category"])


def derive_series(value: pd.Series, category: pd.Series) -> pd.Series:
    """Spark's pandas UDF: typed so Spark infers a Series-to-Series UDF."""
    return derive_vectorized(value, category)


def timed(ctx: Context, key: str, run: Callable[[], Any]) -> float:
    """Run one way, note its seconds under `key`, return its sum as a float."""
    t0 = time.perf_counter()
    total = float(run())
    ctx.note(key, time.perf_counter() - t0)
    return total


def reference(ds: Dataset, ctx: Context) -> dict[str, float]:
    # Each way reads the CSV itself, as it does on Dask and Spark, so the notes compare.
    def frame() -> pd.DataFrame:
        return read_csv_pandas(ds)[COLUMNS]

    return {
        "apply": timed(ctx, "apply_s", lambda: frame().apply(derive_row, axis=1).sum()),
        "vectorized": timed(ctx, "vectorized_s", lambda: derive_frame(frame()).sum()),
    }


def dask_sums(ds: Dataset) -> tuple[Any, Any]:
    """The lazy sums: row-wise apply and the vectorized expression (each reads the CSV)."""
    ddf = dask_frame(ds)[COLUMNS]
    applied = ddf.apply(derive_row, axis=1, meta=("derived", "f8"))
    return applied.sum(), derive_frame(ddf).sum()


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, float]:
    applied, vectorized = dask_sums(ds)
    return {
        "apply": timed(ctx, "apply_s", lambda: compute(applied)[0]),
        "vectorized": timed(ctx, "vectorized_s", lambda: compute(vectorized)[0]),
    }


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.sql import functions as F

    df = spark_frame(spark, ds).select(*COLUMNS)
    value, category = F.col("value"), F.col("category")
    columns = {
        # useArrow=False: the classic row-at-a-time pickled UDF, stated rather than inferred.
        "python_udf": F.udf(derive, "double", useArrow=False)(value, category),
        # pandas is untyped for mypy here, so pyspark's Series overloads cannot match.
        "pandas_udf": F.pandas_udf(derive_series, "double")(  # type: ignore[call-overload]
            value, category),
        # Spark's own expression language: the rule once more, run in the JVM.
        "native": F.when(category == "A", value * 2.0).otherwise(value * value),
    }
    return {way: timed(ctx, f"{way}_s", functools.partial(_total, df, col))
            for way, col in columns.items()}


def _total(df: Any, column: Any) -> Any:
    from pyspark.sql import functions as F

    row = df.agg(F.sum(column)).first()
    assert row is not None, "a global aggregate has one row"
    return row[0]


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    """Every way's sum must equal the reference's vectorized sum."""
    if tuple(actual) not in WAYS.values():
        return CheckResult(False, {"problem": "unexpected ways", "actual": list(actual)})
    target = pd.Series(exp["vectorized"], index=list(actual)).to_frame("sum")
    # Row-wise and vectorized sums add in different orders: allow rounding, nothing more.
    return check_frame(target, pd.Series(actual).to_frame("sum"), rtol=1e-9)


WORKLOAD = Workload(
    name="row-apply",
    section="3.4",
    title="apply(axis=1) vs vectorized (Spark: Python UDF, pandas UDF, native)",
    # Row-wise Python costs ~5 us a row in pandas here: small keeps apply near 1 s.
    sizes={
        "tiny": {"files": 2, "rows_per_file": 5_000},
        "small": {"files": 2, "rows_per_file": 100_000},
        "seed": {"files": 5, "rows_per_file": 1_000_000},
    },
    prepare=prepare_csv,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=dask_sums,
)
