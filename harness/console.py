"""What `harness run` shows while it works: a progress bar, then a summary table."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness import config
from harness.engines import EngineOptions
from harness.records import Record, collect_env, new_run_id
from harness.runner import Plan, run_plan
from harness.summary import display_table, summarize


def make_plan(args: argparse.Namespace, workloads: list[str], engines: list[str],
              options: EngineOptions, out: Path | None) -> Plan:
    run_id = new_run_id()
    results = config.results_dir()
    return Plan(run_id=run_id, workloads=tuple(workloads), engines=tuple(engines),
                size=args.size, repeats=args.repeat, options=options, env=collect_env(),
                out=out or results / f"run-{run_id}.jsonl", log_dir=results / "logs",
                cell_timeout_s=args.timeout)


def run_with_progress(args: argparse.Namespace, workloads: list[str], engines: list[str],
                      options: EngineOptions, out: Path | None) -> int:
    err = Console(stderr=True)
    plan = make_plan(args, workloads, engines, options, out)
    err.print(f"run {plan.run_id}: {len(workloads)} workload(s) x {len(engines)} engine(s) "
              f"x {plan.repeats} repeat(s) at size {plan.size} -> {plan.out}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    # A job runner's SIGTERM must stop the engines too, exactly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task("starting", total=plan.total_cells)

            def progress(text: str, advance: int) -> None:
                bar.update(task, description=text, advance=advance)

            records = run_plan(plan, progress)
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
