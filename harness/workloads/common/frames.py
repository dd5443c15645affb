"""Read the chapter CSV parts the same way on every engine (shared by the DataFrame workloads)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

from harness.workloads.contract import Context
from harness.workloads.datasets import CsvSpec, Dataset, csv_dataset
from harness.workloads.schema import CSV

# The chapter CSV at the sizes every chapter-CSV workload shares, so the cached parts are shared.
CHAPTER_CSV_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"files": 2, "rows_per_file": 20_000},
    "small": {"files": 5, "rows_per_file": 200_000},
    "seed": {"files": 5, "rows_per_file": 1_000_000},
}
# A sweep may set the partition count; None leaves it to each engine's reader.
LAYOUT_TUNABLES: dict[str, Any] = {"npartitions": None}


def prepare_csv(params: Mapping[str, Any]) -> Dataset:
    """The chapter CSV parts the params name, carrying the partition count they ask for."""
    ds = csv_dataset(CsvSpec(files=params["files"], rows_per_file=params["rows_per_file"]))
    return dataclasses.replace(ds, npartitions=params.get("npartitions"))


def note_partitions(ctx: Context, ds: Dataset, npartitions: int | None) -> None:
    """Record the data size and, when known, how finely the engine cut it."""
    ctx.note("data_bytes", ds.nbytes)
    if npartitions:
        ctx.notes.update(partition_notes(ds, npartitions))


def partition_notes(ds: Dataset, npartitions: int) -> dict[str, float]:
    return {"npartitions": int(npartitions), "partition_bytes": ds.nbytes / npartitions}


def note_spark_partitions(ctx: Context, spark: Any, ds: Dataset, df: Any) -> None:
    """Like `note_partitions` for a Spark frame, whose count is asked for after the timing.

    Asking plans the query again, so it happens under the same layout settings as the body.
    """
    note_partitions(ctx, ds, None)
    if ds.npartitions:
        def probe() -> dict[str, float]:
            with spark_layout(spark, ds):
                return partition_notes(ds, df.rdd.getNumPartitions())
        ctx.note_later(probe)


def dask_frame(ds: Dataset) -> Any:
    """A lazy Dask DataFrame over the parts (one partition per block of each file).

    With `ds.npartitions`, each file is read in ceil(n / files) blocks, so splitting happens in
    the reader, and only a count that is not a multiple of the files is then repartitioned.
    """
    import dask.dataframe as dd

    n = ds.npartitions
    if n is None:
        return dd.read_csv(ds.glob, **CSV.read_kwargs())
    per_file = math.ceil(n / len(ds.files))
    biggest = max(f.stat().st_size for f in ds.files)
    blocksize = math.ceil(biggest / per_file) + 1 if per_file > 1 else None
    ddf = dd.read_csv(ds.glob, blocksize=blocksize, **CSV.read_kwargs())
    return ddf if ddf.npartitions == n else ddf.repartition(npartitions=n)


def spark_frame(spark: Any, ds: Dataset) -> Any:
    """A Spark DataFrame over the parts, with the explicit schema (no inference pass).

    With `ds.npartitions` (inside `spark_layout`), splits that overshoot the count (fewer
    partitions than files, or a count that is not a multiple of them) are coalesced, which
    moves no data, like Dask's repartition to fewer partitions.
    """
    df = spark.read.csv(ds.glob, header=True, schema=CSV.spark())
    return df if ds.npartitions is None else df.coalesce(ds.npartitions)


@contextlib.contextmanager
def spark_layout(spark: Any, ds: Dataset) -> Iterator[None]:
    """Spark's input splits and shuffle partitions set to `ds.npartitions` for one body.

    Spark sizes a split as min(maxPartitionBytes, max(openCost, bytes / minPartitionNum)):
    both are set so each file splits into ceil(n / files) pieces, as Dask's reader does. AQE
    would coalesce small shuffle partitions behind the sweep's back, so that is off too.
    """
    n = ds.npartitions
    if n is None:
        yield
        return
    per_file = math.ceil(n / len(ds.files))
    split = str(math.ceil(max(f.stat().st_size for f in ds.files) / per_file))
    settings = {
        "spark.sql.files.maxPartitionBytes": split, "spark.sql.files.minPartitionNum": str(n),
        "spark.sql.files.openCostInBytes": split, "spark.sql.shuffle.partitions": str(n),
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
    }
    before = {k: spark.conf.get(k, None) for k in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
