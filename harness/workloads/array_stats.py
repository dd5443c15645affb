"""array-stats (chapter 3.2): mean, std and max of a random float64 array in one compute.

At `seed` the array is the chapter's 10,000 x 10,000 x 100 (80 GB): it never exists whole. Dask
streams its blocks through the three reductions; the reference and Spark reduce per-block
(n, mean, M2, max) with the same parallel (Chan) combine.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.workloads.checks import CheckResult, check_values
from harness.workloads.common.arrays import (
    Chunks,
    Index,
    block,
    block_indices,
    block_shape,
    dask_array,
    grid,
    n_blocks,
    note_chunks,
)
from harness.workloads.contract import Compute, Context, Workload

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"seed": int(params["seed"]), "chunks": grid(params["shape"], params["chunks"])}


def block_stats(seed: int, chunks: Chunks, index: Index) -> tuple[float, float, float, float]:
    """(n, mean, M2 = sum of squared deviations, max) of one block."""
    a = block(seed, index, block_shape(chunks, index))
    mean, top = float(a.mean()), float(a.max())
    a -= mean  # in place: one block of memory, not two
    return float(a.size), mean, float(np.dot(a.ravel(), a.ravel())), top


def combine(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    """Chan et al.'s parallel update: merge two partial (n, mean, M2, max) without cancellation."""
    na, ma, m2a, xa = a
    nb, mb, m2b, xb = b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n, max(xa, xb)


def answer(stats: tuple[float, ...]) -> dict[str, float]:
    n, mean, m2, top = stats
    return {"mean": mean, "std": math.sqrt(m2 / n), "max": top}


def reference(p: Mapping[str, Any], ctx: Context) -> dict[str, float]:
    stats = (block_stats(p["seed"], p["chunks"], i) for i in block_indices(p["chunks"]))
    return answer(functools.reduce(combine, stats))


def lazy_stats(p: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """The chapter's three reductions over one lazily generated array."""
    x = dask_array(p["seed"], p["chunks"])
    return x.mean(), x.std(), x.max()


def dask_body(p: Mapping[str, Any], compute: Compute, ctx: Context) -> dict[str, float]:
    note_chunks(ctx, p["chunks"])
    mean, std, top = compute(*lazy_stats(p))
    return {"mean": float(mean), "std": float(std), "max": float(top)}


def spark_body(p: Mapping[str, Any], spark: SparkSession, ctx: Context) -> dict[str, float]:
    # Spark has no n-d arrays; an RDD over the same block indices is the honest equivalent.
    note_chunks(ctx, p["chunks"])
    indices = list(block_indices(p["chunks"]))
    per_block = functools.partial(block_stats, p["seed"], p["chunks"])
    rdd = spark.sparkContext.parallelize(indices, len(indices))
    return answer(rdd.map(per_block).reduce(combine))


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # Mean and std differ only by summation order (1e-9, 1e-8 for the second moment); the max
    # is one of the generated numbers, so it must be exact.
    return check_values(exp, actual, {"mean": 1e-9, "std": 1e-8, "max": 0.0})


def metrics(params: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    chunks = grid(params["shape"], params["chunks"])
    # `data_bytes` is what the report's out-of-core finding compares peak tree memory against.
    return {"data_bytes": 8 * math.prod(params["shape"]),
            "chunk_bytes": 8 * math.prod(params["chunks"]), "n_blocks": n_blocks(chunks)}


WORKLOAD = Workload(
    name="array-stats",
    section="3.2",
    title="Random float64 array: mean, std and max in one compute",
    sizes={
        "tiny": {"shape": [200, 200, 10], "chunks": [100, 100, 5], "seed": 32},
        "small": {"shape": [2000, 2000, 6], "chunks": [1000, 1000, 3], "seed": 32},
        # 80 GB in 2,000 blocks of 40 MB. A running task holds its block and one transient, and
        # dask-processes also ships each block through the parent in batches of `chunksize`
        # tasks: on a 2.6 GB probe there, 80 MB blocks peaked at 4.0 GiB, 40 MB blocks at 2.1.
        "seed": {"shape": [10_000, 10_000, 100], "chunks": [1000, 1000, 5], "seed": 32},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    metrics=metrics,
    graph=lazy_stats,
)
