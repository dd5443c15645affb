"""The two sides of a comparison: records from files or folders, grouped into cells.

A cell is what `harness compare` matches across the sides: (workload, engine, size, n_workers,
threads_per_worker, params). Calibration runs with an instrument switched off are not
measurements of the code, so they are left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.results.schema import Record, read_records

CellKey = tuple[str, str, str, int, int, str]


def cell_key(record: Record) -> CellKey:
    return (record.workload, record.engine, record.size, record.n_workers,
            record.threads_per_worker, params_key(record.params))


def params_key(params: dict[str, Any]) -> str:
    """The params part of a cell's identity: the same text for the same values in any order."""
    return json.dumps(params, sort_keys=True)


def result_files(path: Path, side: str) -> list[Path]:
    """The .jsonl files a side names: the file itself, or every .jsonl in the folder."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.jsonl") if p.is_file())
        if not files:
            raise UsageError(f"{side} folder {path} holds no .jsonl results files; pass a "
                             "file or a folder written by `harness run --out`")
        return files
    if not path.is_file():
        raise UsageError(f"{side} {path} does not exist; pass a .jsonl results file or a "
                         "folder of them")
    return [path]


def load_side(paths: list[Path], side: str) -> list[Record]:
    """Every comparable record of one side; none at all is a UsageError naming the side."""
    files = [f for p in paths for f in result_files(p, side)]
    records = [r for r in read_records(files)
               if not (r.calibration and r.calibration.get("off"))]
    if not records:
        names = ", ".join(map(str, paths))
        raise UsageError(f"{side} {names} holds no records; run `harness run --out FILE` "
                         "first")
    return records


@dataclass(frozen=True)
class Metric:
    """One measure compared per cell: which runs count and how to read the value."""

    name: str
    title: str
    unit: str  # "s" or "bytes"
    # A confirmed increase makes the comparison fail (exit 1). Not for cold runs and
    # start-ups: one sample per run, and an A/A pair of nightly runs called a cold run
    # 1.18x slower past a bound from three runs; they are reported, not gated.
    gating: bool
    value: Callable[[Record], float | None]
    phases: tuple[str, ...]
    # Start-up is one number per engine session, repeated on each of its records.
    per_run: bool = False
    # Several samples per run (steady repeats), so a within-run test applies; cold runs and
    # start-ups are one per run, judged by the run-to-run bound alone.
    repeated: bool = True
    # The smallest threshold this metric is judged at, whatever --factor says: between A/A
    # nightly runs here, peak tree memory moved by up to 22 % (a JVM heap, a driver's arenas)
    # and cold runs by up to 42 %, so calls below these would be the noise of one night.
    min_factor: float = 1.0
    # Below this on both sides the metric is not compared: the reference engine's start-up
    # is a few microseconds of bookkeeping, and a ratio of those is noise.
    floor: float = 0.0


def _attr(name: str) -> Callable[[Record], float | None]:
    def read(record: Record) -> float | None:
        value: Any = getattr(record, name)
        return None if value is None else float(value)
    return read


METRICS: tuple[Metric, ...] = (
    Metric("warm_wall", "warm wall time", "s", True, _attr("wall_s"), ("steady",)),
    Metric("cold_wall", "cold wall time", "s", False, _attr("wall_s"), ("cold",),
           repeated=False, min_factor=1.5),
    Metric("startup", "start-up", "s", False, _attr("startup_s"), ("cold",), per_run=True,
           repeated=False, min_factor=1.5, floor=0.01),
    Metric("peak_tree_rss", "peak tree memory (sampled)", "bytes", True,
           _attr("peak_tree_rss_bytes"), ("steady",), min_factor=1.25),
    Metric("peak_tree_hwm", "peak tree memory (high-water marks)", "bytes", True,
           _attr("peak_tree_hwm_bytes"), ("steady",), min_factor=1.25),
    Metric("cpu", "CPU time", "s", False, _attr("cpu_s"), ("steady",)),
)
METRIC_NAMES = tuple(m.name for m in METRICS)


def samples(records: list[Record], metric: Metric) -> dict[str, list[float]]:
    """The metric's values over the cell's ok runs of the metric's phases, per run_id."""
    chosen = [r for r in records if r.status == "ok" and r.phase in metric.phases]
    if metric.per_run:
        chosen = list({r.run_id: r for r in chosen}.values())
    out: dict[str, list[float]] = {}
    for record in chosen:
        value = metric.value(record)
        if value is not None and math.isfinite(value):
            out.setdefault(record.run_id, []).append(value)
    return out


def by_cell(records: list[Record]) -> dict[CellKey, list[Record]]:
    cells: dict[CellKey, list[Record]] = {}
    for record in records:
        cells.setdefault(cell_key(record), []).append(record)
    return cells
