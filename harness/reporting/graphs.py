"""Task-graph pictures for the report: Graphviz PNG when `dot` is installed, else DOT text.

Graphs are built from each workload's `graph(inputs)` at size `tiny`, so they stay readable.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.engines.dask import optimized_graph
from harness.workloads.registry import WORKLOADS

GRAPH_SIZE = "tiny"
MAX_DRAWN_TASKS = 200


@dataclass(frozen=True)
class GraphPicture:
    """One workload's task graph: DOT text always, a PNG when Graphviz could draw it."""

    workload: str
    n_tasks: int
    dot: str | None
    png: bytes | None
    note: str


def task_graph(obj: Any) -> Mapping[Any, Any]:
    """The optimized graph Dask would run for a collection (or tuple of them), or a raw dict."""
    if isinstance(obj, Mapping):
        return obj
    return dict(optimized_graph(tuple(obj) if isinstance(obj, tuple | list) else (obj,)))


def picture(name: str) -> GraphPicture | None:
    """Draw workload `name`'s graph, or None when the workload defines none."""
    workload = WORKLOADS[name]
    if workload.graph is None:
        return None
    inputs = workload.prepare(workload.params(GRAPH_SIZE))
    dsk = task_graph(workload.graph(inputs))
    if len(dsk) > MAX_DRAWN_TASKS:
        return GraphPicture(name, len(dsk), None, None,
                            f"{len(dsk)} tasks at size {GRAPH_SIZE}: too many to draw.")
    return _draw(name, dsk)


def _draw(name: str, dsk: Mapping[Any, Any]) -> GraphPicture:
    try:
        from dask.dot import to_graphviz
    except ImportError:
        return GraphPicture(name, len(dsk), None, None, "install the graphviz package to draw")
    graph = to_graphviz(dict(dsk), rankdir="LR")
    if shutil.which("dot") is None:
        return GraphPicture(name, len(dsk), graph.source, None,
                            "the Graphviz dot program is not installed (Debian: apt-get install "
                            "graphviz), so the graph is given as DOT text; "
                            "dot -Tpng FILE.dot -o FILE.png draws it.")
    return GraphPicture(name, len(dsk), graph.source, graph.pipe(format="png"),
                        f"{len(dsk)} tasks at size {GRAPH_SIZE}, drawn by Graphviz.")


def pictures(names: list[str]) -> list[GraphPicture]:
    """Pictures for the workloads that define a graph; a failure becomes a note, not a crash."""
    out = []
    for name in names:
        if name not in WORKLOADS:
            continue
        try:
            pic = picture(name)
        except Exception as exc:  # a picture is a nicety; the report must still render
            pic = GraphPicture(name, 0, None, None, f"could not build the graph: {exc}")
        if pic is not None:
            out.append(pic)
    return out
