"""persist-reuse (chapter 3.5): one derived frame reused by three computations, kept or not.

The chapter CSV is read, filtered (value > 0) and derived (value_squared, hour), then three
separate computations use it: sum and count of value per category, mean of value_squared per
hour, the largest value and value_squared. `persist = true` keeps the derived frame in memory
first (Dask `persist()`: in the workers on dask-distributed, in the driver on the local
schedulers; Spark `cache()` and a `count()` to fill the cache), so the three read it from
there; `persist = false` lets each one read and derive the CSV again. The two are separate
cells (the parameter is in every record's params), with the same answer either way.

What persisting costs is in the metrics: `persist_s` (the persist step alone: computing the
frame into memory), `persisted_bytes` (Dask's size estimate of the kept partitions, Spark's
in-memory size of its cached blocks) and `reuse_s` (each computation's seconds). The memory
held needs no probe of its own: the kept partitions live in the driver, the LocalCluster's
workers or the Spark JVM, all in the process tree whose peak every record has. The frame is
released at the end of every run (the futures cancelled, the cache unpersisted), inside the
timed section and timed as `release_s`, so the next run starts with nothing kept. The pandas
reference reads once and computes the three from the one frame.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.workloads import filter_derive
from harness.workloads.checks import CheckResult, check_frame
from harness.workloads.common.frames import (
    CHAPTER_CSV_SIZES,
    LAYOUT_TUNABLES,
    dask_frame,
    note_partitions,
    prepare_csv,
    spark_frame,
    spark_layout,
)
from harness.workloads.contract import Compute, Context, Params, Workload
from harness.workloads.datasets import Dataset, read_csv_pandas

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

RTOL = 1e-9
Answer = dict[str, pd.DataFrame]


@dataclasses.dataclass(frozen=True)
class Reuse:
    """The CSV parts, and whether to keep the derived frame in memory before reusing it."""

    ds: Dataset
    persist: bool


def prepare(params: Params) -> Reuse:
    # A sweep gives true/false (persist = [false, true]); 0 and 1 from an older file still work.
    return Reuse(ds=prepare_csv(params), persist=bool(params["persist"]))


def derive(frame: Any) -> Any:
    """The frame every computation reuses; the same code on a pandas and a Dask frame."""
    derived = filter_derive.derive(frame)
    return derived.assign(hour=derived["timestamp"].dt.hour)


def by_category(frame: Any) -> Any:
    return frame.groupby("category")["value"].agg(["sum", "count"])


def by_hour(frame: Any) -> Any:
    return frame.groupby("hour")["value_squared"].mean().to_frame("mean")


def largest(frame: Any) -> Any:
    return frame[["value", "value_squared"]].max().to_frame("max")


# The three computations, by name; each is computed on its own, as a reused dataset would be.
COMPUTATIONS: dict[str, Callable[[Any], Any]] = {
    "by_category": by_category, "by_hour": by_hour, "largest": largest,
}


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """One shape for every engine: index as sorted strings, float columns."""
    out = frame.astype("float64")
    out.index = out.index.astype(str)
    out.index.name = None
    return out.sort_index()


def timed_parts(ctx: Context, run: Callable[[str], pd.DataFrame]) -> Answer:
    """Run each computation by name, in turn; note each one's seconds as `reuse_s`."""
    answer, seconds = {}, []
    for name in COMPUTATIONS:
        t0 = time.perf_counter()
        answer[name] = normalize(run(name))
        seconds.append(time.perf_counter() - t0)
    ctx.note("reuse_s", seconds)
    return answer


def reference(inputs: Reuse, ctx: Context) -> Answer:
    note_partitions(ctx, inputs.ds, None)
    frame = derive(read_csv_pandas(inputs.ds))
    return timed_parts(ctx, lambda name: COMPUTATIONS[name](frame))


def lazy_parts(inputs: Reuse) -> tuple[Any, ...]:
    """The three Dask computations over one derived frame, not persisted (the graph picture)."""
    frame = derive(dask_frame(inputs.ds))
    return tuple(agg(frame) for agg in COMPUTATIONS.values())


def dask_body(inputs: Reuse, compute: Compute, ctx: Context) -> Answer:
    note_partitions(ctx, inputs.ds, inputs.ds.npartitions)
    with dask_kept(derive(dask_frame(inputs.ds)), inputs.persist, compute, ctx) as frame:
        return timed_parts(ctx, lambda name: compute(COMPUTATIONS[name](frame))[0])


@contextmanager
def dask_kept(frame: Any, persist: bool, compute: Compute, ctx: Context) -> Iterator[Any]:
    """The frame, persisted first when asked, and released (timed) whatever happens."""
    if not persist:
        yield frame
        return
    t0 = time.perf_counter()
    kept = dask_persist(frame, compute)
    ctx.note("persist_s", time.perf_counter() - t0)
    try:
        ctx.note("persisted_bytes", dask_held_bytes(kept, compute))
        yield kept
    finally:
        # On dask-distributed the kept partitions are futures: cancelling forgets them on the
        # workers. On the local schedulers they are the driver's, freed with the run's frames.
        t0 = time.perf_counter()
        if compute.client is not None:
            compute.client.cancel(kept)
        ctx.note("release_s", time.perf_counter() - t0)


def dask_persist(frame: Any, compute: Compute) -> Any:
    """The frame computed into memory: the workers' on dask-distributed (waited for, so the
    persist step is timed whole), the driver's on the local schedulers."""
    import dask

    if compute.client is not None:
        from distributed import wait

        kept = compute.client.persist(frame)
        wait(kept)
        return kept
    # `get` is this engine's scheduler; Dask hands it the whole graph and keeps the results.
    (kept,) = dask.persist(frame, scheduler=compute.get)
    return kept


def dask_held_bytes(kept: Any, compute: Compute) -> int:
    """What the kept partitions hold, by Dask's own size estimate (`sizeof`), where they are."""
    from dask.sizeof import sizeof

    if compute.client is not None:
        from distributed import futures_of

        keys = [f.key for f in futures_of(kept)]
        return int(sum(compute.client.nbytes(keys=keys, summary=False).values()))
    # A persisted collection's graph holds its partitions themselves (and aliases to them).
    return int(sum(sizeof(v) for v in kept.__dask_graph__().values()
                   if isinstance(v, pd.DataFrame)))


def spark_body(inputs: Reuse, spark: SparkSession, ctx: Context) -> Answer:
    from pyspark.sql import functions as F

    note_partitions(ctx, inputs.ds, None)
    with spark_layout(spark, inputs.ds):
        df = filter_derive.spark_derive(spark_frame(spark, inputs.ds))
        df = df.withColumn("hour", F.hour("timestamp"))
        with spark_kept(spark, df, inputs.persist, ctx) as frame:
            return timed_parts(ctx, lambda name: SPARK_COMPUTATIONS[name](frame))


@contextmanager
def spark_kept(spark: SparkSession, df: SparkFrame, persist: bool,
               ctx: Context) -> Iterator[SparkFrame]:
    """The frame, cached and filled first when asked, and unpersisted (timed) at the end."""
    if not persist:
        yield df
        return
    t0 = time.perf_counter()
    kept = df.cache()
    kept.count()  # cache() is lazy: an action fills it, and that is the persist step
    ctx.note("persist_s", time.perf_counter() - t0)
    try:
        ctx.notes.update(spark_storage(spark))
        yield kept
    finally:
        t0 = time.perf_counter()
        kept.unpersist(blocking=True)
        ctx.note("release_s", time.perf_counter() - t0)


def spark_storage(spark: SparkSession) -> dict[str, Any]:
    """The cached blocks' size in memory (and spilled to disk), from Spark's storage status."""
    infos = spark.sparkContext._jsc.sc().getRDDStorageInfo()
    return {"persisted_bytes": int(sum(i.memSize() for i in infos)),
            "persisted_disk_bytes": int(sum(i.diskSize() for i in infos)),
            "storage_level": str(infos[0].storageLevel().description()) if len(infos) else None}


def to_pandas(df: SparkFrame) -> pd.DataFrame:
    frame: pd.DataFrame = df.toPandas()
    return frame


def spark_by_category(df: SparkFrame) -> pd.DataFrame:
    from pyspark.sql import functions as F

    agg = df.groupBy("category").agg(F.sum("value").alias("sum"), F.count("value").alias("count"))
    return to_pandas(agg).set_index("category")


def spark_by_hour(df: SparkFrame) -> pd.DataFrame:
    from pyspark.sql import functions as F

    agg = df.groupBy("hour").agg(F.mean("value_squared").alias("mean"))
    return to_pandas(agg).set_index("hour")


def spark_largest(df: SparkFrame) -> pd.DataFrame:
    from pyspark.sql import functions as F

    row = df.agg(F.max("value").alias("value"), F.max("value_squared").alias("value_squared"))
    return to_pandas(row).T.set_axis(["max"], axis=1)


SPARK_COMPUTATIONS: dict[str, Callable[[SparkFrame], pd.DataFrame]] = {
    "by_category": spark_by_category, "by_hour": spark_by_hour, "largest": spark_largest,
}


def check(exp: Answer, actual: Answer) -> CheckResult:
    """Every computation's frame within rounding of the reference's (sums combine in
    engine-specific order)."""
    if set(actual) != set(exp):
        return CheckResult(False, {"problem": "computations differ", "expected": sorted(exp),
                                   "actual": sorted(actual)})
    parts = {name: check_frame(exp[name], actual[name], rtol=RTOL) for name in exp}
    return CheckResult(all(p.ok for p in parts.values()),
                       {"rtol": RTOL, **{name: p.detail for name, p in parts.items()}})


WORKLOAD = Workload(
    name="persist-reuse",
    section="3.5",
    title="One derived frame reused by three computations, persisted (cached) or not",
    sizes=CHAPTER_CSV_SIZES,
    # Persisting never changes the answer: a tunable, so both cells share one reference.
    tunables={**LAYOUT_TUNABLES, "persist": True},
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=lazy_parts,
)
