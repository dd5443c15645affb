"""csv-to-parquet (exercise 5): CSV parts with NaNs -> dropna -> stats per category -> parquet.

Own dataset: 10 CSV parts of id, value1, value2, category (A-D), timestamp, with ~5% NaNs in each
value column. Every engine drops incomplete rows, computes mean/std/count of both values per
category and writes the clean rows as parquet partitioned by category into a fresh directory.
The check reads that parquet back, compares it with the reference, then removes it.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.config import data_dir
from harness.workloads.checks import CheckResult, check_frame
from harness.workloads.common.spark import cached
from harness.workloads.contract import Compute, Context, Workload, one_core
from harness.workloads.datasets import (
    CATEGORIES,
    START,
    TIMESTAMP_FORMAT,
    CsvSpec,
    Dataset,
    materialize,
    read_csv_pandas,
)
from harness.workloads.schema import CSV_NAN

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

GENERATOR_VERSION = 1
NAN_FRACTION = 0.05
VALUES = ["value1", "value2"]
AGGS = ["mean", "std", "count"]


# --- data --------------------------------------------------------------------------------------

def nan_part(spec: CsvSpec, index: int) -> pd.DataFrame:
    """Part `index`: its own seeded stream; each value is NaN with probability NAN_FRACTION."""
    rng = np.random.default_rng([spec.seed, index, 5])  # 5: exercise 5, apart from csv_part's
    n, first = spec.rows_per_file, index * spec.rows_per_file
    values = {c: np.where(rng.random(n) < NAN_FRACTION, np.nan, rng.standard_normal(n))
              for c in VALUES}
    return pd.DataFrame({
        "id": np.arange(first, first + n, dtype="int64"), **values,
        "category": np.asarray(CATEGORIES)[rng.integers(0, len(CATEGORIES), n)],
        "timestamp": START + pd.to_timedelta(np.arange(first, first + n), unit="s"),
    })


def write_parts(spec: CsvSpec, target: Path) -> list[dict]:
    entries = []
    for i in range(spec.files):
        part, path = nan_part(spec, i), target / f"part-{i:03d}.csv"
        part.to_csv(path, index=False, date_format=TIMESTAMP_FORMAT)  # NaN -> empty field
        entries.append({"name": path.name, "rows": len(part),
                        "rows_with_nan": int(part[VALUES].isna().any(axis=1).sum())})
    return entries


def prepare(params: Mapping[str, Any]) -> Dataset:
    spec = CsvSpec(files=params["files"], rows_per_file=params["rows_per_file"])
    remove_stale_outputs()
    name = f"csv-nan-f{spec.files}-r{spec.rows_per_file}-s{spec.seed}-v{GENERATOR_VERSION}"
    meta = {"files_count": spec.files, "rows_per_file": spec.rows_per_file, "seed": spec.seed,
            "rows": spec.rows, "nan_fraction": NAN_FRACTION,
            "columns": CSV_NAN.manifest()}
    return materialize("csv-nan", name, functools.partial(write_parts, spec), meta)


# --- output directories ------------------------------------------------------------------------

def output_root() -> Path:
    return data_dir() / "outputs" / "csv-to-parquet"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_outputs() -> None:
    """Remove outputs of this process's earlier runs and of processes that are gone."""
    root = output_root()
    if not root.exists():
        return
    for entry in root.iterdir():
        pid = entry.name.split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def fresh_output() -> Path:
    """A new, not yet existing directory for one run's parquet (named by pid, so runs of other
    live processes are left alone); leftovers of failed runs are removed first."""
    remove_stale_outputs()
    output_root().mkdir(parents=True, exist_ok=True)
    return output_root() / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


# --- the pipeline, once per engine -------------------------------------------------------------

def aggregate(clean: Any) -> Any:
    """mean, std, count of both values per category (pandas or Dask)."""
    return clean.groupby("category")[VALUES].agg(AGGS)


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """One shape for every engine: value1_mean ... value2_count as floats, categories sorted."""
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.set_axis([f"{v}_{a}" for v, a in frame.columns], axis=1)
    out = frame[[f"{v}_{a}" for v in VALUES for a in AGGS]].astype("float64")
    out.index = out.index.astype(str)
    out.index.name = "category"
    return out.sort_index()


def answer(ctx: Context, rows_before: int, aggregates: pd.DataFrame,
           output: Path | None = None) -> dict[str, Any]:
    """Rows before and after dropna (also noted), the aggregates, and where the parquet went."""
    aggs = normalize(aggregates)
    # After dropna every row has value1, so its counts add up to the rows kept.
    rows_after = int(aggs["value1_count"].sum())
    ctx.note("rows_before_dropna", int(rows_before))
    ctx.note("rows_after_dropna", rows_after)
    out = {"rows_before": int(rows_before), "rows_after": rows_after, "aggregates": aggs}
    return out if output is None else {**out, "output": str(output)}


def reference(ds: Dataset, ctx: Context) -> dict[str, Any]:
    df = read_csv_pandas(ds, CSV_NAN)
    clean = df.dropna()
    output = fresh_output()
    clean.to_parquet(output, partition_cols=["category"], index=False)
    return answer(ctx, len(df), aggregate(clean), output)


def expected(ds: Dataset) -> dict[str, Any]:
    # The reference's numbers without its parquet: nothing is left on disk unchecked.
    df = read_csv_pandas(ds, CSV_NAN)
    return answer(one_core(), len(df), aggregate(df.dropna()))


def dask_plan(ds: Dataset, output: Path) -> tuple[Any, Any, Any]:
    """Lazy row count, aggregates and parquet write, computed together in one pass."""
    import dask.dataframe as dd

    ddf = dd.read_csv(ds.glob, **CSV_NAN.read_kwargs())
    clean = ddf.dropna()
    write = clean.to_parquet(output, partition_on=["category"], write_index=False, compute=False)
    return ddf.shape[0], aggregate(clean), write


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, Any]:
    output = fresh_output()
    rows_before, aggregates, _ = compute(*dask_plan(ds, output))
    return answer(ctx, rows_before, aggregates, output)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, Any]:
    # Three actions share the parsed CSV through the cache, as pandas and Dask share one read;
    # unpersisted at the end so the next run cannot reuse it.
    with cached(spark.read.csv(ds.glob, header=True, schema=CSV_NAN.spark())) as (df,):
        clean = df.na.drop()
        rows_before = df.count()
        aggregates: pd.DataFrame = clean.groupBy("category").agg(*spark_stats()).toPandas()
        output = fresh_output()
        clean.write.partitionBy("category").parquet(str(output))
    return answer(ctx, rows_before, aggregates.set_index("category"), output)


def spark_stats() -> list[Any]:
    """mean, std, count of both values as Spark columns named like `normalize` wants."""
    from pyspark.sql import functions as F

    return [f(v).alias(f"{v}_{a}") for v in VALUES
            for a, f in zip(AGGS, (F.mean, F.stddev_samp, F.count), strict=True)]


def dask_graph(ds: Dataset) -> tuple[Any, Any, Any]:
    # Building the write makes its (empty) directory; the next run's fresh_output removes it.
    return dask_plan(ds, fresh_output())


# --- check -------------------------------------------------------------------------------------

def read_back(output: Path) -> pd.DataFrame:
    """The written rows' values, with category taken from each partition directory's name."""
    parts = [pd.read_parquet(d, columns=VALUES).assign(category=d.name.split("=", 1)[1])
             for d in sorted(output.glob("category=*"))]
    return pd.concat(parts, ignore_index=True)


def check(exp: dict[str, Any], actual: dict[str, Any]) -> CheckResult:
    output = Path(actual["output"])
    try:
        written = read_back(output)
    finally:
        shutil.rmtree(output, ignore_errors=True)  # one run's output at most, never accumulated
    rows = written.groupby("category").size().astype("float64").to_frame("rows")
    want_rows = exp["aggregates"][["value1_count"]].set_axis(["rows"], axis=1)
    # Aggregates: sums combined in engine-specific order, allow rounding; row counts exact.
    parts = {
        "aggregates": check_frame(exp["aggregates"], actual["aggregates"], rtol=1e-9),
        "written_aggregates": check_frame(exp["aggregates"], normalize(aggregate(written)),
                                          rtol=1e-9),
        "rows_per_partition": check_frame(want_rows, rows, rtol=0.0),
    }
    counts = {k: {"expected": exp[k], "actual": actual[k]} for k in ("rows_before", "rows_after")}
    ok = all(p.ok for p in parts.values()) and all(
        c["expected"] == c["actual"] for c in counts.values())
    return CheckResult(ok, {**{k: p.detail for k, p in parts.items()}, **counts,
                            "partition_rows": {str(k): int(v) for k, v in rows["rows"].items()}})


WORKLOAD = Workload(
    name="csv-to-parquet",
    section="exercise.5",
    title="CSV parts with NaNs: dropna, per-category stats, parquet partitioned by category",
    # The exercise names no size: 10 parts, at seed as large as the chapter's 1M-row parts.
    sizes={
        "tiny": {"files": 10, "rows_per_file": 2_000},
        "small": {"files": 10, "rows_per_file": 50_000},
        "seed": {"files": 10, "rows_per_file": 1_000_000},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    expected=expected,
    check=check,
    graph=dask_graph,
)
