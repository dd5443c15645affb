"""multi-aggregate (chapter 3.2): mean, std and count of value > 0 in one shared pass vs three.

Each engine's body times both phases (notes `shared_s` and `separate_s`): first one computation
of the three aggregates over one read, then three separate computations, each reading the CSV
again. The answer is the shared pass's; the separate results must agree with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.workloads.checks import CheckResult, check_dict
from harness.workloads.common.frames import dask_frame, prepare_csv, spark_frame
from harness.workloads.contract import Compute, Context, Workload
from harness.workloads.datasets import Dataset, read_csv_pandas

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RTOL = 1e-9


def mean(frame: Any) -> Any:
    return frame["value"].mean()


def std(frame: Any) -> Any:
    return frame["value"].std()


def count_positive(frame: Any) -> Any:
    return (frame["value"] > 0).sum()


# The same expressions on a pandas frame (numbers) and a Dask frame (lazy scalars).
AGGREGATES: dict[str, Callable[[Any], Any]] = {
    "mean": mean, "std": std, "count_positive": count_positive,
}


def as_answer(values: Any) -> dict[str, float]:
    return {key: float(v) for key, v in zip(AGGREGATES, values, strict=True)}


def timed(ctx: Context, key: str, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """Run one phase, note its seconds under `key`."""
    t0 = time.perf_counter()
    answer = run()
    ctx.note(key, time.perf_counter() - t0)
    return answer


def both_phases(ctx: Context, shared: Callable[[], dict[str, float]],
                separate: Callable[[], dict[str, float]]) -> dict[str, float]:
    """Time the shared then the separate phase; fail loudly if their answers disagree."""
    answer = timed(ctx, "shared_s", shared)
    apart = timed(ctx, "separate_s", separate)
    agreement = check_dict(answer, apart, rtol=RTOL)
    if not agreement.ok:
        raise ValueError(f"separate computations disagree with the shared one: {apart}")
    return answer


def reference(ds: Dataset, ctx: Context) -> dict[str, float]:
    def shared() -> dict[str, float]:
        frame = read_csv_pandas(ds)
        return as_answer(agg(frame) for agg in AGGREGATES.values())

    def separate() -> dict[str, float]:
        return as_answer(agg(read_csv_pandas(ds)) for agg in AGGREGATES.values())

    return both_phases(ctx, shared, separate)


def lazy_aggregates(ds: Dataset) -> tuple[Any, ...]:
    """The three Dask scalars over one read of the CSV."""
    frame = dask_frame(ds)
    return tuple(agg(frame) for agg in AGGREGATES.values())


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, float]:
    lazy = lazy_aggregates(ds)
    return both_phases(ctx, lambda: as_answer(compute(*lazy)),
                       lambda: as_answer(compute(one)[0] for one in lazy))


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.sql import functions as F

    df = spark_frame(spark, ds)
    exprs = [F.avg("value"), F.stddev_samp("value"), F.count(F.when(F.col("value") > 0, True))]
    return both_phases(ctx, lambda: as_answer(df.agg(*exprs).first()),
                       lambda: as_answer(df.agg(e).first()[0] for e in exprs))


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # Sums combined in engine-specific order: rounding only. The mean of N(0,1) values is ~1e-3
    # at 1M rows while rounding is ~1e-16 of the spread, so 1e-9 relative still leaves a margin.
    return check_dict(exp, actual, rtol=RTOL)


WORKLOAD = Workload(
    name="multi-aggregate",
    section="3.2",
    title="mean, std, count(value > 0): one shared compute vs three separate (both timed)",
    sizes={
        "tiny": {"files": 2, "rows_per_file": 20_000},
        "small": {"files": 5, "rows_per_file": 100_000},
        "seed": {"files": 5, "rows_per_file": 1_000_000},
    },
    prepare=prepare_csv,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=lazy_aggregates,
)
