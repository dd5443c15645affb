"""custom-graph (chapter 3.4): hand-written task-graph dicts run by each Dask scheduler's `get`.

Two graphs in one dict: the chapter's four-key example, and a layered graph (width W, depth D)
whose tasks sleep a little, so a parallel scheduler has something to overlap.
"""

from __future__ import annotations

import graphlib
import math
import time
from collections.abc import Hashable, Mapping
from typing import Any

from harness.workloads.checks import CheckResult
from harness.workloads.contract import Compute, Context, Workload, one_core

OUTPUT_KEYS = ("w", "total")
MODULUS = 1_000_003  # keeps the layered values small while every input still matters


def inc(x: int) -> int:
    return x + 1


def add(x: int, y: int) -> int:
    return x + y


def mix(left: int, right: int, layer: int, seconds: float) -> int:
    """One layered-graph task: wait (stand-in for work), then combine its two parents."""
    time.sleep(seconds)
    return (left * 31 + right * 17 + layer) % MODULUS


def chapter_graph() -> dict[str, Any]:
    """The chapter's example graph: w = x + y + z = 1 + 2 + 12 = 15."""
    return {"x": 1, "y": (inc, "x"), "z": (add, "y", 10), "w": (sum, ["x", "y", "z"])}


def layered_graph(width: int, depth: int, sleep_s: float) -> dict[str, Any]:
    """Seeds, then `depth` layers where task j mixes parents j and j+1 (mod width), then a sum."""
    dsk: dict[str, Any] = {f"seed-{j}": j + 1 for j in range(width)}
    parents = list(dsk)
    for layer in range(depth):
        keys = [f"mix-{layer}-{j}" for j in range(width)]
        for j, key in enumerate(keys):
            dsk[key] = (mix, parents[j], parents[(j + 1) % width], layer, sleep_s)
        parents = keys
    dsk["total"] = (sum, parents)
    return dsk


def prepare(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"width": int(params["width"]), "depth": int(params["depth"]),
            "sleep_s": float(params["sleep_s"])}


def build_graph(p: Mapping[str, Any]) -> dict[str, Any]:
    """The raw dict every engine runs: both graphs side by side (their keys are disjoint)."""
    return {**chapter_graph(), **layered_graph(p["width"], p["depth"], p["sleep_s"])}


def _is_task(obj: Any) -> bool:
    return isinstance(obj, tuple) and bool(obj) and callable(obj[0])


def _is_key(obj: Any, dsk: Mapping[str, Any]) -> bool:
    return isinstance(obj, Hashable) and obj in dsk


def _dependencies(obj: Any, dsk: Mapping[str, Any]) -> set[Any]:
    """Keys an argument refers to, following Dask's rules: tasks and lists nest, keys refer."""
    if _is_task(obj):
        return set().union(*(_dependencies(a, dsk) for a in obj[1:]))
    if isinstance(obj, list):
        return set().union(*(_dependencies(a, dsk) for a in obj))
    return {obj} if _is_key(obj, dsk) else set()


def _run(obj: Any, dsk: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    if _is_task(obj):
        return obj[0](*(_run(a, dsk, values) for a in obj[1:]))
    if isinstance(obj, list):
        return [_run(a, dsk, values) for a in obj]
    return values[obj] if _is_key(obj, dsk) else obj


def evaluate(dsk: Mapping[str, Any], keys: tuple[str, ...]) -> list[Any]:
    """A tiny sequential scheduler: run every task once, in a topological order (no Dask)."""
    order = graphlib.TopologicalSorter({k: _dependencies(v, dsk) for k, v in dsk.items()})
    values: dict[str, Any] = {}
    for key in order.static_order():
        values[key] = _run(dsk[key], dsk, values)
    return [values[k] for k in keys]


def answer(values: list[Any]) -> dict[str, int]:
    return {k: int(v) for k, v in zip(OUTPUT_KEYS, values, strict=True)}


def reference(p: Mapping[str, Any], ctx: Context) -> dict[str, int]:
    return answer(evaluate(build_graph(p), OUTPUT_KEYS))


def dask_body(p: Mapping[str, Any], compute: Compute, ctx: Context) -> dict[str, int]:
    return answer(list(compute.get(build_graph(p), list(OUTPUT_KEYS))))


def expected(p: Mapping[str, Any]) -> dict[str, int]:
    # The sleeps do not change any value: evaluate the same graph without them.
    return reference({**p, "sleep_s": 0.0}, one_core())


def check(exp: dict[str, int], actual: dict[str, int]) -> CheckResult:
    # Integer arithmetic: exact equality.
    return CheckResult(exp == actual, {"tolerance": "exact", "expected": exp, "actual": actual})


def metrics(p: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """Ideal times of the sleeping layers: one after another, and perfectly spread on the slots."""
    width, depth, s = p["width"], p["depth"], p["sleep_s"]
    return {
        "sleeping_tasks": width * depth,
        "sequential_s": width * depth * s,
        "critical_path_s": depth * s,
        "ideal_s": depth * math.ceil(width / ctx.slots) * s,
        "parallel_slots": ctx.slots,
    }


WORKLOAD = Workload(
    name="custom-graph",
    section="3.4",
    title="Raw task-graph dicts run by each scheduler's get (the chapter's and a layered one)",
    sizes={
        "tiny": {"width": 4, "depth": 3, "sleep_s": 0.005},
        "small": {"width": 8, "depth": 4, "sleep_s": 0.03},
        # The chapter's example has no sleeps; this layered graph is ours (~2.4 s sequential).
        "seed": {"width": 8, "depth": 6, "sleep_s": 0.05},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    expected=expected,
    check=check,
    metrics=metrics,
    unsupported={"spark": "raw Dask task graphs have no Spark equivalent"},
    graph=build_graph,
)
