"""array-multi-sum (chapter 3.5): five sums (x + y*i).sum(), submitted together vs one by one.

Together, the five graphs share the blocks of x and y and each block is made once; one by one,
every compute makes them again. Both phases run in the timed body; each is noted separately.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from harness.workloads.checks import CheckResult, check_values
from harness.workloads.common.arrays import assemble, dask_array, grid, note_chunks
from harness.workloads.contract import Compute, Context, Workload

N_SUMS = 5


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    n, c = params["n"], params["chunk"]
    seed = int(params["seed"])
    return {"seeds": (seed, seed + 1), "chunks": grid((n, n), (c, c))}


def answer(sums: Sequence[float]) -> dict[str, float]:
    return {f"sum_{i}": float(s) for i, s in enumerate(sums)}


def reference(p: Mapping[str, Any], ctx: Context) -> dict[str, float]:
    x, y = (assemble(seed, p["chunks"]) for seed in p["seeds"])
    return answer([(x + y * i).sum() for i in range(N_SUMS)])


def lazy_sums(p: Mapping[str, Any]) -> list[Any]:
    """The chapter's five sums over the same x and y."""
    x, y = (dask_array(seed, p["chunks"]) for seed in p["seeds"])
    return [(x + y * i).sum() for i in range(N_SUMS)]


def run(lazy: Sequence[Any], compute: Compute) -> list[float]:
    """Compute the sums in one submission: client futures on dask-distributed, else compute."""
    if compute.client is None:
        return [float(s) for s in compute(*lazy)]
    futures = compute.submit(*lazy)
    return [float(s) for s in compute.client.gather(futures)]


def dask_body(p: Mapping[str, Any], compute: Compute, ctx: Context) -> dict[str, float]:
    note_chunks(ctx, p["chunks"])
    t0 = time.perf_counter()
    together = run(lazy_sums(p), compute)
    t1 = time.perf_counter()
    one_by_one = [run([s], compute)[0] for s in lazy_sums(p)]
    t2 = time.perf_counter()
    ctx.note("together_s", t1 - t0)
    ctx.note("one_by_one_s", t2 - t1)
    ctx.note("one_by_one_max_rel_diff",
             max(abs(a - b) / abs(a) for a, b in zip(together, one_by_one, strict=True)))
    return answer(together)


def check(exp: dict[str, float], actual: dict[str, float]) -> CheckResult:
    # Sums of positive numbers in a different order: rounding only.
    return check_values(exp, actual, dict.fromkeys(exp, 1e-9))


WORKLOAD = Workload(
    name="array-multi-sum",
    section="3.5",
    title="Five sums over shared arrays: submitted together vs one by one",
    sizes={
        "tiny": {"n": 200, "chunk": 100, "seed": 35},
        "small": {"n": 3000, "chunk": 1000, "seed": 35},
        "seed": {"n": 10_000, "chunk": 1000, "seed": 35},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    check=check,
    unsupported={"spark": "Spark has no n-dimensional arrays; the chapter's point is Dask's "
                          "shared task graph"},
)
