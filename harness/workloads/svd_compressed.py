"""svd-compressed (chapter 3.2): the top-k singular values of a tall-skinny blocked matrix.

A = G1 diag(s) G2^T with s_j = decay**j (rank r) and G1, G2 uniform in [-1, 1), generated block
by block, so the spectrum decays with clear gaps and the top k are a meaningful check of a
randomized SVD. Because A has rank r, its exact singular values are those of the r x r matrix
R1 diag(s) R2^T (Gi = Qi Ri): that is the expected answer, cheaper than the reference's full SVD.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.workloads.checks import CheckResult, check_values
from harness.workloads.common.arrays import assemble, block, dask_array, grid, note_chunks
from harness.workloads.contract import Compute, Context, Workload

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    shape = (params["rows"], params["cols"])
    return {**params, "chunks": grid(shape, params["chunk"])}


def factor(seed: int, index: int, length: int, rank: int) -> np.ndarray:
    """Rows of G1 (seed) or G2 (seed + 1) for one block of A's rows or columns."""
    return 2.0 * block(seed, (index,), (length, rank)) - 1.0


def low_rank_block(seed: int, index: Sequence[int], shape: Sequence[int], rank: int,
                   decay: float) -> np.ndarray:
    """Block (I, J) of A: G1[I] diag(s) G2[J]^T."""
    s = decay ** np.arange(rank)
    g1 = factor(seed, index[0], shape[0], rank)
    g2 = factor(seed + 1, index[1], shape[1], rank)
    return (g1 * s) @ g2.T


def maker(p: Mapping[str, Any]) -> functools.partial:
    return functools.partial(low_rank_block, rank=p["rank"], decay=p["decay"])


def answer(values: Sequence[float] | np.ndarray, k: int) -> dict[str, float]:
    return {f"s{j + 1}": float(values[j]) for j in range(k)}


def reference(p: Mapping[str, Any], ctx: Context) -> dict[str, float]:
    a = assemble(p["seed"], p["chunks"], maker(p))
    return answer(np.linalg.svd(a, compute_uv=False), p["k"])


def expected(p: Mapping[str, Any]) -> dict[str, float]:
    """Exact top-k from the factors: svd(R1 diag(s) R2^T), r x r."""
    r = p["rank"]
    g1, g2 = (np.vstack([factor(p["seed"] + side, i, n, r) for i, n in enumerate(chunks)])
              for side, chunks in enumerate(p["chunks"]))
    # mode="r" returns R alone; numpy's stubs type every mode as the (Q, R) result.
    r1, r2 = (np.asarray(np.linalg.qr(g, mode="r")) for g in (g1, g2))
    core = (r1 * p["decay"] ** np.arange(r)) @ r2.T
    return answer(np.linalg.svd(core, compute_uv=False), p["k"])


def lazy_values(p: Mapping[str, Any]) -> Any:
    """Randomized SVD; power iterations sharpen the top k against the tail of the spectrum."""
    import dask.array as da

    a = dask_array(p["seed"], p["chunks"], maker(p))
    _, s, _ = da.linalg.svd_compressed(a, p["k"], n_power_iter=p["n_power_iter"],
                                       seed=p["seed"])
    return s


def dask_body(p: Mapping[str, Any], compute: Compute, ctx: Context) -> dict[str, float]:
    note_chunks(ctx, p["chunks"])
    (values,) = compute(lazy_values(p))
    return answer(values, p["k"])


def block_rows(p: Mapping[str, Any], i: int) -> Iterator[np.ndarray]:
    """The rows of A in row block i, all column blocks side by side."""
    make, height = maker(p), p["chunks"][0][i]
    yield from np.hstack([make(p["seed"], (i, j), (height, width))
                          for j, width in enumerate(p["chunks"][1])])


def spark_body(p: Mapping[str, Any], spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.mllib.linalg.distributed import RowMatrix

    note_chunks(ctx, p["chunks"])
    n_row_blocks = len(p["chunks"][0])
    rows = spark.sparkContext.parallelize(range(n_row_blocks), n_row_blocks)
    # RowMatrix takes NumPy rows as dense vectors; pyspark's annotation asks for Vector.
    matrix = RowMatrix(rows.flatMap(functools.partial(block_rows, dict(p))),  # type: ignore[arg-type]
                       p["rows"], p["cols"])
    return answer(matrix.computeSVD(p["k"]).s.toArray(), p["k"])


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # A randomized SVD (and Spark's eigen-solve of A^T A) converges to the top values, not to
    # the last bit: 1e-6 relative catches a wrong or unconverged value.
    return check_values(exp, actual, dict.fromkeys(exp, 1e-6))


WORKLOAD = Workload(
    name="svd-compressed",
    section="3.2",
    title="Tall-skinny blocked matrix: top-k singular values (randomized SVD)",
    sizes={
        "tiny": {"rows": 400, "cols": 60, "chunk": [100, 60], "rank": 30, "decay": 0.7,
                 "k": 5, "n_power_iter": 2, "seed": 34},
        # Under 100 columns Spark solves the Gramian locally in one pass; from 100 on it runs
        # ARPACK with one distributed job per iteration (seed): a different algorithm, by design.
        "small": {"rows": 50_000, "cols": 90, "chunk": [6250, 90], "rank": 50, "decay": 0.7,
                  "k": 5, "n_power_iter": 2, "seed": 34},
        "seed": {"rows": 200_000, "cols": 1000, "chunk": [10_000, 1000], "rank": 50,
                 "decay": 0.7, "k": 5, "n_power_iter": 2, "seed": 34},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    expected=expected,
    check=check,
)
