"""What `harness run` shows while it works: a progress bar, then a summary table."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness import config
from harness.engines import EngineOptions
from harness.records import Record, collect_env, new_run_id, read_records
from harness.runner import Plan, ProgressFn, run_plan
from harness.summary import (
    display_table,
    fmt_bytes,
    fmt_seconds,
    summarize,
    summarize_group,
    tidy,
)
from harness.sweeprun import SweepPlan, run_sweep


def make_plan(args: argparse.Namespace, workloads: list[str], engines: list[str],
              options: EngineOptions, out: Path | None) -> Plan:
    run_id = new_run_id()
    results = config.results_dir()
    return Plan(run_id=run_id, workloads=tuple(workloads), engines=tuple(engines),
                size=args.size, repeats=args.repeat, options=options, env=collect_env(),
                out=out or results / f"run-{run_id}.jsonl", log_dir=results / "logs",
                cell_timeout_s=args.timeout)


def with_bar(err: Console, total: int, work: Callable[[ProgressFn], list[Record]]) -> list[Record]:
    """Run `work(progress)` under a progress bar; SIGTERM interrupts it like Ctrl-C."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    # A job runner's SIGTERM must stop the engines too, exactly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("starting", total=total)

        def progress(text: str, advance: int) -> None:
            bar.update(task, description=text, advance=advance)

        return work(progress)


def run_with_progress(args: argparse.Namespace, workloads: list[str], engines: list[str],
                      options: EngineOptions, out: Path | None) -> int:
    err = Console(stderr=True)
    plan = make_plan(args, workloads, engines, options, out)
    err.print(f"run {plan.run_id}: {len(workloads)} workload(s) x {len(engines)} engine(s) "
              f"x {plan.repeats} repeat(s) at size {plan.size} -> {plan.out}")
    try:
        records = with_bar(err, plan.total_cells, lambda progress: run_plan(plan, progress))
    except KeyboardInterrupt:
        err.print(f"interrupted: records so far are in {plan.out}; every engine was stopped")
        return 130
    print_summary(records)
    if not args.no_report:
        from harness.report import render_report

        report_dir = args.report_dir or config.reports_dir() / f"run-{plan.run_id}"
        path = render_report(records, report_dir)
        err.print(f"report: {path / 'report.html'} (also report.md)")
    err.print(f"records: {plan.out}")
    failed = [r for r in records if r.status in ("error", "timeout", "mismatch")]
    return 1 if failed else 0


def sweep_with_progress(plan: SweepPlan, args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    for line in plan_lines(plan):
        err.print(line)
    if args.dry_run:
        return 0
    try:
        records = with_bar(err, len(plan.cells), lambda progress: run_sweep(plan, progress))
    except KeyboardInterrupt:
        err.print(f"interrupted: finished cells are in {plan.out}; every engine was stopped. "
                  f"`harness sweep {args.name} --size {plan.size} --out {plan.out} --resume` "
                  "runs the rest")
        return 130
    everything = read_records([plan.out]) if plan.out.exists() else records
    mine = [r for r in everything if r.sweep and r.sweep.get("name") == plan.spec.name]
    print_sweep_summary(mine)
    if not args.no_report and mine:
        from harness.report import render_report

        default = config.reports_dir() / f"sweep-{plan.spec.name}-{plan.size}"
        report_dir = args.report_dir or default
        path = render_report(mine, report_dir)
        err.print(f"report: {path / 'report.html'} (also report.md)")
    err.print(f"records: {plan.out}")
    failed = [r for r in records if r.status in ("error", "timeout", "mismatch")]
    return 1 if failed else 0


def print_sweep_summary(records: list[Record]) -> None:
    """One line per cell: its axes, status, best time and task count."""
    frame = tidy(records)
    if frame.empty:
        return
    frame["axes"] = [", ".join(f"{k}={v}" for k, v in r.sweep["axes"].items()) for r in records]
    table = Table(title="harness sweep: best = median of warm runs (cold if only one)")
    for col in ("workload", "engine", "axes", "status", "best", "tasks", "peak tree mem"):
        table.add_column(col, justify="left" if col in ("workload", "engine", "axes",
                                                        "status") else "right")
    for (workload, engine, axes), g in frame.groupby(["workload", "engine", "axes"], sort=False):
        row = summarize_group(g)
        table.add_row(workload, engine, axes, row["status"], fmt_seconds(row["best_s"]),
                      "" if pd.isna(row["n_tasks"]) else f"{row['n_tasks']:.0f}",
                      fmt_bytes(row["peak_tree_bytes"]))
    Console(file=sys.stdout, width=200).print(table)


def plan_lines(plan: SweepPlan) -> list[str]:
    """What the sweep will do and cost, printed before it starts."""
    spec = plan.spec
    lines = [f"sweep {spec.name} at size {plan.size}: {len(plan.cells)} cell(s) to run"
             + (f", {plan.already} already recorded" if plan.already else "")
             + f", {plan.repeats} repeat(s) each, one fresh process per cell -> {plan.out}"]
    guessed = len(plan.cells) - plan.measured_cells
    lines.append(f"estimate: about {plan.estimate_s / 60:.1f} min ("
                 f"{plan.measured_cells} cell(s) from earlier measurements"
                 + (f", {guessed} guessed" if guessed else "") + ")")
    if plan.memory_budget_bytes:
        lines.append(f"memory budget: {plan.memory_budget_bytes / 2**30:.1f} GiB per cell's "
                     "process tree")
    lines += [f"trimmed to fit the budget: {t}" for t in plan.trimmed]
    return lines


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def print_summary(records: list[Record]) -> None:
    table_data = display_table(summarize(records))
    table = Table(title="harness run: wall time is compute only; start-up is separate")
    for col in table_data.columns:
        left = col in ("workload", "engine", "status")
        table.add_column(col, justify="left" if left else "right")
    for row in table_data.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    Console(file=sys.stdout, width=200).print(table)
