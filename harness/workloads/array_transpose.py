"""array-transpose (chapter 3.1/3.5): (x + x.T).mean(axis=0) on a seeded square random array."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.workloads.checks import CheckResult, check_frame
from harness.workloads.common.arrays import assemble, dask_array, grid, note_chunks
from harness.workloads.contract import Compute, Context, Workload


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    n, c = params["n"], params["chunks"]
    return {"seed": int(params["seed"]), "chunks": grid((n, n), (c, c))}


def normalize(column_means: np.ndarray) -> pd.DataFrame:
    """One shape for every engine: the vector as a float column indexed by column number."""
    frame = pd.DataFrame({"mean": np.asarray(column_means, dtype="float64")})
    frame.index.name = "column"
    return frame


def reference(p: Mapping[str, Any], ctx: Context) -> pd.DataFrame:
    x = assemble(p["seed"], p["chunks"])
    return normalize((x + x.T).mean(axis=0))


def lazy_means(p: Mapping[str, Any]) -> Any:
    """The chapter's expression: every block meets its mirror block across the diagonal."""
    x = dask_array(p["seed"], p["chunks"])
    return (x + x.T).mean(axis=0)


def dask_body(p: Mapping[str, Any], compute: Compute, ctx: Context) -> pd.DataFrame:
    note_chunks(ctx, p["chunks"])
    (means,) = compute(lazy_means(p))
    return normalize(means)


def metrics(params: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    n, c = params["n"], min(params["chunks"], params["n"])
    return {"data_bytes": 8 * n * n, "chunk_bytes": 8 * c * c}


def check(exp: pd.DataFrame, actual: pd.DataFrame) -> CheckResult:
    # Column sums are added in a different order per engine: rounding only.
    return check_frame(exp, actual, rtol=1e-9)


WORKLOAD = Workload(
    name="array-transpose",
    section="3.1",
    title="Square random array: (x + x.T).mean(axis=0)",
    sizes={
        "tiny": {"n": 200, "chunks": 100, "seed": 31},
        "small": {"n": 4000, "chunks": 1000, "seed": 31},
        "seed": {"n": 10_000, "chunks": 1000, "seed": 31},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    check=check,
    metrics=metrics,
    unsupported={"spark": "Spark has no n-dimensional arrays or transpose"},
    graph=lazy_means,
)
