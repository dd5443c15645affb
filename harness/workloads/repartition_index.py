"""repartition-index (chapter 3.2, partitions): repartition to P, index by category, size each part.

The index shuffle must put each category whole into one partition, sorted within it. The answer
counts rows per category and the categories split over partitions or left unsorted (both 0), so
every engine is checked on the property, not only on the totals; partition sizes are noted.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.workloads.checks import CheckResult, check_dict
from harness.workloads.common.frames import dask_frame, spark_frame
from harness.workloads.contract import Compute, Context, Workload
from harness.workloads.datasets import CsvSpec, csv_dataset, read_csv_pandas

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK_SUMMARY_SCHEMA = "partition long, category string, rows long, ordered boolean"


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    ds = csv_dataset(CsvSpec(files=params["files"], rows_per_file=params["rows_per_file"]))
    return {"dataset": ds, "partitions": int(params["partitions"])}


def summarize(categories: pd.Index, number: int) -> pd.DataFrame:
    """One partition: rows per category, and whether the categories are in sorted order."""
    counts = categories.value_counts(sort=False)
    return pd.DataFrame({
        "partition": np.full(len(counts), number, dtype="int64"),
        "category": counts.index.astype(str).to_numpy(dtype=object),
        "rows": counts.to_numpy(dtype="int64"),
        "ordered": np.full(len(counts), categories.is_monotonic_increasing, dtype=bool),
    })


def as_answer(summary: pd.DataFrame) -> dict[str, float]:
    """Total rows, rows per category, categories found in >1 partition, unsorted partitions."""
    per_category = summary.groupby("category")["rows"].sum()
    answer = {"rows": float(summary["rows"].sum())}
    answer |= {f"rows_{cat}": float(n) for cat, n in per_category.items()}
    answer["split_categories"] = float((summary.groupby("category")["partition"].nunique() > 1)
                                       .sum())
    answer["unordered_partitions"] = float(summary.loc[~summary["ordered"], "partition"].nunique())
    return answer


def reference(inputs: Mapping[str, Any], ctx: Context) -> dict[str, float]:
    ordered = read_csv_pandas(inputs["dataset"]).sort_values("category")
    ctx.note("partition_sizes", [len(ordered)])
    return as_answer(summarize(pd.Index(ordered["category"]), 0))


def dask_summary(part: pd.DataFrame, partition_info: dict | None = None) -> pd.DataFrame:
    """map_partitions body: summarize the partition's category index."""
    return summarize(part.index, partition_info["number"] if partition_info else 0)


def category_divisions(ddf: Any, compute: Callable[..., tuple[Any, ...]]) -> tuple[str, ...]:
    """One division per category, from a pass on the given scheduler.

    set_index would take quantiles itself through `dask.compute` on the default scheduler (and
    gets the same divisions here); doing it here keeps the pass on the engine and in the timing.
    """
    (unique,) = compute(ddf["category"].unique())
    cats = sorted(unique)
    return (*cats, cats[-1])


def lazy_partitions(inputs: Mapping[str, Any], compute: Callable[..., tuple[Any, ...]]) -> Any:
    """Repartition, index by category; the per-partition lengths and summaries, not computed."""
    ddf = dask_frame(inputs["dataset"]).repartition(npartitions=inputs["partitions"])
    indexed = ddf.set_index("category", divisions=category_divisions(ddf, compute))
    meta = summarize(pd.Index([], dtype=object), 0)
    return indexed.map_partitions(len), indexed.map_partitions(dask_summary, meta=meta)


def graph(inputs: Mapping[str, Any]) -> Any:
    """The shuffle graph (its divisions measured on the synchronous scheduler)."""
    import dask

    return lazy_partitions(inputs, functools.partial(dask.compute, scheduler="synchronous"))


def dask_body(inputs: Mapping[str, Any], compute: Compute, ctx: Context) -> dict[str, float]:
    t0 = time.perf_counter()
    sizes, summary = lazy_partitions(inputs, compute)
    ctx.note("divisions_s", time.perf_counter() - t0)
    # One compute: both results share the one shuffle.
    sizes, summary = compute(sizes, summary)
    ctx.note("partition_sizes", [int(n) for n in sizes])
    return as_answer(summary)


def spark_summary(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """mapInPandas body: one partition's batches (all columns, as Dask's parts) summarized."""
    from pyspark import TaskContext

    parts = [batch["category"].to_numpy(dtype=object) for batch in batches]
    categories = pd.Index(np.concatenate(parts) if parts else [], dtype=object)
    task = TaskContext.get()
    assert task is not None, "runs inside a Spark task"
    yield summarize(categories, task.partitionId())


def spark_body(inputs: Mapping[str, Any], spark: SparkSession, ctx: Context) -> dict[str, float]:
    p = inputs["partitions"]
    parts = (spark_frame(spark, inputs["dataset"]).repartition(p, "category")
             .sortWithinPartitions("category").mapInPandas(spark_summary, SPARK_SUMMARY_SCHEMA))
    summary = parts.toPandas()
    sizes = summary.groupby("partition")["rows"].sum().reindex(range(p), fill_value=0)
    ctx.note("partition_sizes", [int(n) for n in sizes])
    return as_answer(summary)


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # Counts are exact on every engine.
    return check_dict(exp, actual, rtol=0.0)


WORKLOAD = Workload(
    name="repartition-index",
    section="3.2",
    title="repartition(P), set_index('category'), map_partitions(len): rows per partition",
    sizes={
        "tiny": {"files": 2, "rows_per_file": 20_000, "partitions": 4},
        "small": {"files": 5, "rows_per_file": 100_000, "partitions": 8},
        "seed": {"files": 5, "rows_per_file": 1_000_000, "partitions": 8},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=graph,
)
