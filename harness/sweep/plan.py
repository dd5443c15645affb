"""Planning a sweep: which cells still need running, what they will cost, and how to fit them
into a time budget (fewer repeats first, then the costliest ends of the axes)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness import config
from harness.errors import UsageError
from harness.execution.runner import warmup_runs
from harness.results.schema import Record, read_records
from harness.sweep.spec import Cell, SweepSpec, axis_kind, data_scale, expand
from harness.workloads.registry import get_workload

# Guesses for cells nothing has measured yet; measured history replaces them.
PROCESS_OVERHEAD_S = 4.0  # a fresh Python process, imports, inputs
STARTUP_GUESS_S = {"spark": 10.0, "dask-distributed": 2.0, "dask-processes": 1.5}
RUN_GUESS_S = 1.0  # a small-size run on this machine is 0.1-2 s


@dataclass(frozen=True)
class SweepPlan:
    """What `harness sweep` will run, and what it estimated and trimmed to get there."""

    spec: SweepSpec
    size: str
    cells: tuple[Cell, ...]
    already: int  # cells recorded by an earlier, resumed run
    repeats: int
    warmups: int | None  # --warmup, or None for each engine's own
    timeout_s: float
    memory_budget_bytes: int | None
    out: Path
    estimate_s: float
    measured_cells: int  # how many of the estimates came from measured history
    trimmed: tuple[str, ...]


def default_out(spec: SweepSpec, size: str) -> Path:
    return config.results_dir() / "sweeps" / f"{spec.name}-{size}.jsonl"


def recorded_keys(out: Path, spec: SweepSpec) -> set[str]:
    """Cells of this sweep already complete in `out`."""
    if not out.exists():
        return set()
    return {r.tag["cell"] for r in read_records([out])
            if r.sweep and r.sweep.get("name") == spec.name}


def plan_sweep(spec: SweepSpec, size: str, out: Path, *, resume: bool, repeats: int | None,
               timeout_s: float | None, memory_budget_bytes: int | None,
               budget_min: float | None, warmups: int | None = None) -> SweepPlan:
    cells = expand(spec, size)
    done = recorded_keys(out, spec) if resume else set()
    if not resume and out.exists() and out.stat().st_size > 0:
        raise UsageError(f"{out} already holds results; pass --resume to run only the missing "
                         "cells, or --out another file")
    todo = [c for c in cells if c.key not in done]
    history = _history(history_files(out))
    estimator = Estimator(history, warmups)
    chosen = repeats or spec.repeats
    trimmed: list[str] = []
    if budget_min is not None:
        todo, chosen, trimmed = fit_budget(todo, chosen, budget_min * 60, estimator)
    return SweepPlan(
        spec=spec, size=size, cells=tuple(todo), already=sum(c.key in done for c in cells),
        repeats=chosen, warmups=warmups, timeout_s=timeout_s or spec.timeout_s,
        memory_budget_bytes=memory_budget_bytes or spec.memory_budget_bytes, out=out,
        estimate_s=sum(estimator.cell_s(c, chosen) for c in todo),
        measured_cells=sum(estimator.measured(c) for c in todo), trimmed=tuple(trimmed))


def history_files(out: Path, recent_runs: int = 20) -> list[Path]:
    """Where estimates come from: this sweep's file, every sweep's, the newest run files.

    Only the newest runs, so that a results directory grown by a year of nightly runs does not
    make every plan slower.
    """
    root = config.results_dir()
    sweeps = sorted(root.glob("sweeps/*.jsonl"))
    runs = sorted((p for p in root.glob("**/*.jsonl") if p not in sweeps and p.is_file()),
                  key=lambda p: p.stat().st_mtime)[-recent_runs:]
    return [out, *sweeps, *runs]


def _history(paths: Iterable[Path]) -> list[Record]:
    """Earlier ok records, for estimates; an unreadable file only means fewer estimates."""
    records: list[Record] = []
    for path in dict.fromkeys(paths):
        if not path.is_file() or "logs" in path.parts:
            continue
        try:
            records += [r for r in read_records([path]) if r.status == "ok" and r.wall_s]
        except UsageError:
            continue
    return records


class Estimator:
    """Seconds a cell will take: from the nearest measured cells, else from rough guesses.

    A cell costs more than its timed runs: a fresh process, inputs, the reference answer, the
    engine's start-up, and task counts taken after each run. Sweep records carry the whole
    cell's seconds (`cell_s`), so that overhead is measured too where the cell ran before.
    """

    def __init__(self, history: list[Record], warmups: int | None = None) -> None:
        self.warmups = warmups
        self.by_pair: dict[tuple[str, str], list[Record]] = {}
        for r in history:
            self.by_pair.setdefault((r.workload, r.engine), []).append(r)
        self.overhead: dict[str, float] = {}
        by_cell: dict[tuple[str, str], list[Record]] = {}
        for r in history:
            if r.sweep and r.sweep.get("cell_s") is not None:
                by_cell.setdefault((r.sweep["cell"], r.run_id), []).append(r)
        for (key, _run), rs in by_cell.items():
            timed = sum(r.wall_s or 0.0 for r in rs)
            self.overhead[key] = max(rs[0].tag["cell_s"] - timed, 0.0)

    def _matches(self, cell: Cell) -> list[Record]:
        same = [r for r in self.by_pair.get((cell.workload, cell.engine), [])
                if r.size == cell.size]
        exact = [r for r in same if r.sweep and r.sweep.get("cell") == cell.key]
        return exact or same

    def measured(self, cell: Cell) -> bool:
        return bool(self._matches(cell))

    def run_s(self, cell: Cell) -> float:
        matches = self._matches(cell)
        data_keys = [k for k in cell.overrides if axis_kind(k) == "data"]
        if not matches:
            # Unmeasured: a guess for the size's own data, scaled to the cell's data axes.
            default = get_workload(cell.workload).params(cell.size)
            return RUN_GUESS_S * data_scale(cell.overrides) / data_scale(
                {k: default.get(k) for k in data_keys})
        scaled = [r.wall_s * data_scale(cell.overrides)
                  / data_scale({k: r.params.get(k) for k in data_keys})
                  for r in matches if r.wall_s]
        return statistics.median(scaled)

    def startup_s(self, cell: Cell) -> float:
        seen = [r.startup_s for r in self.by_pair.get(("noop", cell.engine), [])
                + self._matches(cell) if r.startup_s]
        return statistics.median(seen) if seen else STARTUP_GUESS_S.get(cell.engine, 0.2)

    def cell_s(self, cell: Cell, repeats: int) -> float:
        fixed = self.overhead.get(cell.key)
        if fixed is None:
            fixed = PROCESS_OVERHEAD_S + self.startup_s(cell)
        runs = repeats + warmup_runs(cell.engine, repeats, self.warmups)[0]
        return fixed + runs * self.run_s(cell)


def fit_budget(cells: list[Cell], repeats: int, budget_s: float,
               est: Estimator) -> tuple[list[Cell], int, list[str]]:
    """Fewer repeats first (never below one), then drop the costliest end of an axis."""
    notes: list[str] = []

    def total(cs: list[Cell], r: int) -> float:
        return sum(est.cell_s(c, r) for c in cs)

    while repeats > 1 and total(cells, repeats) > budget_s:
        notes.append(f"repeats {repeats} -> {repeats - 1}")
        repeats -= 1
    while total(cells, repeats) > budget_s:
        cut = _costliest_end(cells, lambda c: est.cell_s(c, repeats))
        if cut is None:
            notes.append(f"still about {total(cells, repeats) / 60:.0f} min: nothing left to "
                         "trim without losing an axis")
            break
        workload, axis, value = cut
        cells = [c for c in cells if not (c.workload == workload and c.axes.get(axis) == value)]
        notes.append(f"{workload}: dropped {axis}={value}")
    return cells, repeats, notes


def _costliest_end(cells: list[Cell], cost: Callable[[Cell], float]) -> tuple | None:
    """(workload, axis, value) at either end of an axis whose cells cost most together."""
    best: tuple[float, tuple] | None = None
    for workload in dict.fromkeys(c.workload for c in cells):
        mine = [c for c in cells if c.workload == workload]
        for axis in dict.fromkeys(a for c in mine for a in c.axes):
            values = list({json.dumps(c.axes[axis]): c.axes[axis] for c in mine
                           if axis in c.axes}.values())
            if len(values) < 2:
                continue
            for value in (values[0], values[-1]):
                spent = sum(cost(c) for c in mine if c.axes.get(axis) == value)
                if best is None or spent > best[0]:
                    best = (spent, (workload, axis, value))
    return best[1] if best else None
