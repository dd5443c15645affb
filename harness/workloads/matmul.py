"""matmul (chapter 3.2): C = A @ B of two seeded square random matrices in square blocks.

The answer is three numbers of C that every engine can reduce without collecting C: its sum,
its Frobenius norm, and a row-weighted checksum (sum_r w_r * rowsum_r) that a transposed or
permuted block would change.
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
    assemble,
    block,
    block_indices,
    block_shape,
    dask_array,
    grid,
    n_blocks,
    note_chunks,
)
from harness.workloads.common.spark import cached
from harness.workloads.contract import Compute, Context, Workload

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    n, c = params["n"], params["chunk"]
    seed = int(params["seed"])
    return {"seeds": (seed, seed + 1), "chunk": c, "chunks": grid((n, n), (c, c))}


def row_weights(first: int, count: int) -> np.ndarray:
    """Weights of rows first..first+count-1: unequal, so moving a row changes the checksum."""
    return 1.0 + (np.arange(first, first + count) % 7) / 7.0


def summary(total: float, sum_sq: float, row_checksum: float) -> dict[str, float]:
    return {"sum": float(total), "frobenius": math.sqrt(sum_sq),
            "row_checksum": float(row_checksum)}


def reference(p: Mapping[str, Any], ctx: Context) -> dict[str, float]:
    a, b = (assemble(seed, p["chunks"]) for seed in p["seeds"])
    c = a @ b
    w = row_weights(0, c.shape[0])
    return summary(c.sum(), np.vdot(c, c), w @ c.sum(axis=1))


def lazy_summary(p: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """da.matmul, then the three reductions over its blocks."""
    import dask.array as da

    a, b = (dask_array(seed, p["chunks"]) for seed in p["seeds"])
    c = da.matmul(a, b)
    w = da.from_array(row_weights(0, c.shape[0]), chunks=c.chunks[0])
    return c.sum(), (c * c).sum(), (c.sum(axis=1) * w).sum()


def dask_body(p: Mapping[str, Any], compute: Compute, ctx: Context) -> dict[str, float]:
    note_chunks(ctx, p["chunks"])
    return summary(*compute(*lazy_summary(p)))


def dense_block(seed: int, chunks: Chunks,
                index: tuple[int, int]) -> tuple[tuple[int, int], Any]:
    """((i, j), DenseMatrix) of one block; DenseMatrix takes its values column-major."""
    from pyspark.mllib.linalg import Matrices

    values = block(seed, index, block_shape(chunks, index))
    rows, cols = values.shape
    return index, Matrices.dense(rows, cols, values.ravel(order="F"))


def block_summary(rows_per_block: int, item: tuple[Index, Any]) -> np.ndarray:
    """(sum, sum of squares, row-weighted checksum) of one block of C, at its global rows."""
    (i, _), matrix = item
    c = matrix.toArray()
    w = row_weights(i * rows_per_block, c.shape[0])
    return np.array([c.sum(), np.vdot(c, c), w @ c.sum(axis=1)])


def spark_body(p: Mapping[str, Any], spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.mllib.linalg.distributed import BlockMatrix

    note_chunks(ctx, p["chunks"])
    n, c = sum(p["chunks"][0]), p["chunk"]
    indices = [(i, j) for i, j in block_indices(p["chunks"])]
    sc = spark.sparkContext
    # Cached as Spark's own examples do: multiply() first collects the block layout of both
    # matrices, and without a cache the Python generator would run again for the product.
    a, b = (BlockMatrix(sc.parallelize(indices, len(indices))
                        .map(functools.partial(dense_block, seed, p["chunks"])), c, c, n, n)
            for seed in p["seeds"])
    with cached(a, b):
        totals = a.multiply(b).blocks.map(functools.partial(block_summary, c)).reduce(np.add)
    return summary(*totals)


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # Blocked and unblocked products add the same terms in different orders; all terms are
    # positive, so rounding stays near 1e-15 and 1e-8 leaves a wide margin.
    return check_values(exp, actual, dict.fromkeys(exp, 1e-8))


def metrics(params: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    n = params["n"]
    return {"flops": 2 * n**3,
            "n_blocks_per_matrix": n_blocks(grid((n, n), (params["chunk"],) * 2))}


WORKLOAD = Workload(
    name="matmul",
    section="3.2",
    title="Square random matrices in blocks: A @ B",
    sizes={
        "tiny": {"n": 200, "chunk": 100, "seed": 33},
        "small": {"n": 1200, "chunk": 400, "seed": 33},
        "seed": {"n": 10_000, "chunk": 1000, "seed": 33},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    metrics=metrics,
)
