"""Running a sweep: one fresh session process per cell, resumable.

A cell's records are appended to the output only when the cell is complete, so an interrupted
sweep loses at most the cell in flight, and `--resume` never sees half a cell.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from harness import config
from harness.execution.runner import Plan, ProgressFn, run_plan
from harness.lifeline import uninterrupted
from harness.results.env import collect_env
from harness.results.schema import Record, append_records, new_run_id, worst_status
from harness.sweep.plan import SweepPlan
from harness.sweep.spec import Cell


def run_sweep(plan: SweepPlan, progress: ProgressFn) -> list[Record]:
    """Run every planned cell in its own process; append each cell's records when complete."""
    run_id, env = new_run_id(), collect_env()
    records: list[Record] = []
    for cell in plan.cells:
        buffer: list[Record] = []
        began = time.perf_counter()
        def within(text: str, _n: int, cell: Cell = cell) -> None:
            progress(f"{cell.describe()} · {text}", 0)

        run_plan(cell_plan(plan, cell, run_id, env), within, sink=buffer.extend)
        # What the whole cell took, for the next estimate.
        elapsed = time.perf_counter() - began
        buffer = [replace(r, sweep={**r.sweep, "cell_s": elapsed}) if r.sweep else r
                  for r in buffer]
        # Held while written (a Ctrl-C then would leave half a cell for --resume to trust),
        # not while waiting for another writer's lock.
        append_records(plan.out, buffer, hold=uninterrupted)
        records += buffer
        progress(f"{cell.describe()} · {worst_status(r.status for r in buffer)}", 1)
    return records


def cell_plan(plan: SweepPlan, cell: Cell, run_id: str, env: dict[str, Any]) -> Plan:
    base = Plan(run_id=run_id, workloads=(cell.workload,), engines=(cell.engine,),
                size=cell.size, repeats=plan.repeats, options=cell.options, env=env,
                out=plan.out, log_dir=config.results_dir() / "logs",
                cell_timeout_s=plan.timeout_s, warmups=plan.warmups)
    # The budget travels with the records: a --memory-budget override must reach the report.
    tag = cell.tag() | {"memory_budget_bytes": plan.memory_budget_bytes}
    return replace(base, overrides=dict(cell.overrides), sweep=tag,
                   memory_budget_bytes=plan.memory_budget_bytes)
