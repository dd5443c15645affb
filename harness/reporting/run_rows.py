"""Records to the run report's rows: summary rows in report order, labelled, with the
measures the report derives (efficiency against the ideal), and the chapter order of cells."""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from harness.config import SIZES
from harness.engines.registry import ENGINES
from harness.reporting.summary import workload_text
from harness.workloads.contract import section_key, section_label
from harness.workloads.registry import WORKLOADS


class Cell(NamedTuple):
    """One workload at one size with one set of params: a subsection of the report."""

    workload: str
    size: str
    params: str  # the params' key text (harness.judge.sides.params_key), as rows hold it
    label: str  # the params that set this cell apart ('persist=false'), '' for none

NUMERIC = ["cold_s", "warm_s", "best_s", "startup_s", "baseline_tree_bytes", "peak_tree_bytes",
           "peak_tree_hwm_bytes", "peak_driver_bytes", "peak_cluster_bytes", "n_tasks",
           "reference_s", "speedup", "peak_growth_bytes", "metric.ideal_s", "metric.sequential_s",
           "metric.parallel_slots"]


def label(engine: str, n_workers: object, threads: object) -> str:
    """How an engine configuration is named on every axis and in every table."""
    return f"{engine} ({n_workers}x{threads})"


def _engine_rank(engine: str) -> int:
    """Registry order: pandas first, then Dask from simplest scheduler up, then Spark."""
    order = list(ENGINES)
    return order.index(engine) if engine in order else len(order)


def normalize(rows: pd.DataFrame) -> pd.DataFrame:
    """Summary rows in report order, with display labels and the efficiency against the ideal."""
    out = rows.copy()
    for col in NUMERIC:
        out[col] = pd.to_numeric(out[col], errors="coerce") if col in out else float("nan")
    out["label"] = [label(e, w, t) for e, w, t in
                    zip(out["engine"], out["n_workers"], out["threads_per_worker"], strict=True)]
    out["rank"] = out["engine"].map(_engine_rank)
    out["efficiency"] = out["metric.ideal_s"] / out["best_s"]
    out["slots"] = out["metric.parallel_slots"]
    out = out.sort_values(["rank", "engine", "n_workers", "threads_per_worker"], kind="stable")
    return out.reset_index(drop=True)


def ok_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Each successful run's wall time and phase, labelled like the summary rows."""
    ok = frame[frame["status"] == "ok"].copy()
    ok["wall_s"] = pd.to_numeric(ok["wall_s"], errors="coerce")
    ok["label"] = [label(e, w, t) for e, w, t in
                   zip(ok["engine"], ok["n_workers"], ok["threads_per_worker"], strict=True)]
    return ok


def warm_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Each successful steady run, labelled like the summary rows."""
    ok = ok_runs(frame)
    return ok[ok["phase"] == "steady"]


def startup_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One start-up per engine configuration: the median over runs of each session's start-up."""
    keys = ["engine", "n_workers", "threads_per_worker"]
    frame = frame.assign(startup_s=pd.to_numeric(frame["startup_s"], errors="coerce"))
    per_run = frame.groupby([*keys, "run_id"], dropna=False)["startup_s"].max().reset_index()
    rows = per_run.groupby(keys, dropna=False)["startup_s"].median().reset_index()
    rows["status"] = "ok"
    rows["label"] = [label(e, w, t) for e, w, t in
                     zip(rows["engine"], rows["n_workers"], rows["threads_per_worker"],
                         strict=True)]
    rows["rank"] = rows["engine"].map(_engine_rank)
    return rows.sort_values(["rank", "engine", "n_workers", "threads_per_worker"],
                            kind="stable").reset_index(drop=True)


def _chapter_key(workload: str) -> tuple[tuple[int, ...], str]:
    """Chapter order, workloads no longer registered last."""
    meta = WORKLOADS.get(workload)
    return (section_key(meta.section) if meta else (1 << 30,), workload)


def size_rank(size: str) -> int:
    """Sizes in config order (tiny, small, seed), unknown ones last."""
    return SIZES.index(size) if size in SIZES else len(SIZES)


def cell_of(row: Any) -> Cell:
    """The cell of a summary row (from itertuples)."""
    return Cell(row.workload, row.size, row.params, row.params_label)


def cells(rows: pd.DataFrame) -> list[Cell]:
    """Every cell of the summary rows in chapter order; a workload's default params first."""
    found = set(map(cell_of, rows.itertuples()))
    return sorted(found, key=lambda c: (_chapter_key(c.workload), size_rank(c.size), c.size,
                                        c.label, c.params))


def in_cell(frame: pd.DataFrame, cell: Cell) -> pd.DataFrame:
    """The rows of a summary or tidy frame that belong to the cell."""
    return frame[(frame["workload"] == cell.workload) & (frame["size"] == cell.size)
                 & (frame["params"] == cell.params)]


def workload_heading(workload: str, params_label: str = "") -> str:
    """'§3.5 persist-reuse (persist=false)', or the bare name of a workload no longer
    registered."""
    meta = WORKLOADS.get(workload)
    name = workload_text(workload, params_label)
    return f"{section_label(meta.section)} {name}" if meta else name


def cell_name(cell: Cell, many_sizes: bool) -> str:
    """A column name in the overview; the size is named only when there are several."""
    heading = workload_heading(cell.workload, cell.label)
    return f"{heading} · {cell.size}" if many_sizes else heading
