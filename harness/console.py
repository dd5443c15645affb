"""What the CLI shows while it works: a progress bar, the plan, and summary tables."""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.ab.verdict import THRESHOLDS, AbResult
from harness.errors import interrupt_on_sigterm
from harness.execution.runner import ProgressFn
from harness.fmt import fmt_bytes, fmt_count, fmt_gib, fmt_param, fmt_seconds
from harness.judge.compare import Comparison
from harness.judge.history import History
from harness.reporting.summary import display_table, summarize, summarize_group, tidy
from harness.results.schema import Record
from harness.sweep.plan import SweepPlan


def stderr() -> Console:
    return Console(stderr=True)


def with_bar(err: Console, total: int, work: Callable[[ProgressFn], list[Record]]) -> list[Record]:
    """Run `work(progress)` under a progress bar; SIGTERM interrupts it like Ctrl-C."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    interrupt_on_sigterm()
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("starting", total=total)

        def progress(text: str, advance: int) -> None:
            bar.update(task, description=text, advance=advance)

        return work(progress)



def print_summary(records: list[Record]) -> None:
    """The run's summary table on stdout: one row per workload, engine and configuration."""
    table_data = display_table(summarize(records))
    table = Table(title="harness run: wall time is compute only; start-up is separate")
    for col in table_data.columns:
        left = col in ("workload", "engine", "status")
        table.add_column(col, justify="left" if left else "right")
    for row in table_data.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    Console(file=sys.stdout, width=200).print(table)


def print_sweep_summary(records: list[Record]) -> None:
    """One line per cell: its axes, status, best time and task count."""
    frame = tidy(records)
    if frame.empty:
        return
    # true/false as the sweep file writes them; numbers and lists as they always were.
    frame["axes"] = [", ".join(f"{k}={fmt_param(v) if isinstance(v, bool) else v}"
                               for k, v in r.tag["axes"].items()) for r in records]
    table = Table(title="harness sweep: best = median of warm runs (cold if only one)")
    for col in ("workload", "engine", "axes", "status", "best", "tasks", "peak tree mem"):
        table.add_column(col, justify="left" if col in ("workload", "engine", "axes",
                                                        "status") else "right")
    for (workload, engine, axes), g in frame.groupby(["workload", "engine", "axes"], sort=False):
        row = summarize_group(g)
        table.add_row(workload, engine, axes, str(row["status"]), fmt_seconds(row["best_s"]),
                      fmt_count(row["n_tasks"]), fmt_bytes(row["peak_tree_bytes"]))
    Console(file=sys.stdout, width=200).print(table)


def _plain(out: Console, lines: list[str], prefix: str = "  ") -> None:
    for line in lines:
        out.print(f"{prefix}{line}", markup=False, highlight=False, soft_wrap=True)


def _verdict_table(out: Console, title: str, columns: tuple[str, ...], left: set[str],
                   rows: list[dict[str, str]]) -> None:
    if not rows:
        return
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    for row in rows:
        table.add_row(*(escape(row[c]) for c in columns))
    out.print(table)


def print_comparison(comparison: Comparison, every: bool) -> None:
    """The compare verdict on stdout: environment diff and warnings first, then the rows."""
    from harness.judge import render

    out = Console(file=sys.stdout, width=200)
    out.print("[bold]Environment differences:[/bold]")
    _plain(out, render.env_lines(comparison))
    for warning in comparison.warnings:
        out.print(f"[bold red]warning:[/bold red] {escape(warning)}")
    _verdict_table(out, "harness compare: new ÷ baseline, medians" +
                   ("" if every else " (changed rows; --all for every row)"), render.COLUMNS,
                   {"cell", "metric", "change", "verdict", "note"},
                   render.table_rows(render.ordered(comparison, every)))
    _plain(out, render.geomean_lines(comparison) + render.noise_lines(comparison))
    _plain(out, [render.headline(comparison)], prefix="")


def print_history(hist: History, every: bool) -> None:
    """The history verdict on stdout: warnings, the changed series, noise, the headline."""
    from harness.judge import history_render as render

    out = Console(file=sys.stdout, width=200)
    for warning in hist.warnings:
        out.print(f"[bold red]warning:[/bold red] {escape(warning)}")
    _verdict_table(out, "harness history: per cell and metric, the newest level" +
                   ("" if every else " (changed series; --all for every series)"),
                   render.COLUMNS, set(render.COLUMNS) - {"noise floor"},
                   render.table_rows(hist, every))
    for line in render.regression_lines(hist):
        out.print(f"[bold red]regression:[/bold red] {escape(line)}", soft_wrap=True)
    _plain(out, render.noise_lines(hist))
    _plain(out, [render.headline(hist)], prefix="")


def plan_lines(plan: SweepPlan) -> list[str]:
    """What the sweep will do and cost, printed before it starts."""
    spec = plan.spec
    lines = [f"sweep {spec.name} at size {plan.size}: {len(plan.cells)} cell(s) to run"
             + (f", {plan.already} already recorded" if plan.already else "")
             + f", {plan.repeats} counted run(s) each (+ warm-ups: "
             + ("engine's own" if plan.warmups is None else str(plan.warmups))
             + f"), one fresh process per cell -> {plan.out}"]
    guessed = len(plan.cells) - plan.measured_cells
    lines.append(f"estimate: about {plan.estimate_s / 60:.1f} min ("
                 f"{plan.measured_cells} cell(s) from earlier measurements"
                 + (f", {guessed} guessed" if guessed else "") + ")")
    if plan.memory_budget_bytes:
        lines.append(f"memory budget: {fmt_gib(plan.memory_budget_bytes, 1)} per cell's "
                     "process tree")
    lines += [f"trimmed to fit the budget: {t}" for t in plan.trimmed]
    return lines



def print_ab(result: AbResult, every: bool) -> None:
    """The A/B verdict: the environments, the A/A control and its trust, then each variant."""
    from harness.judge.words import key_text

    out = Console(file=sys.stdout, width=200)
    out.print("[bold]Environments:[/bold]")
    _plain(out, [f"{result.spec.baseline.name}: {result.baseline_env.how}"] +
           [f"{o.name}: {o.env.how}" for o in result.variants])
    if result.control:
        out.print(f"\n[bold]A/A control ({result.control.name}):[/bold]")
        print_comparison(result.control.comparison, every)
    style = "bold green" if result.trusted else "bold red"
    out.print(f"[{style}]{escape(result.trust)}[/{style}]", soft_wrap=True)
    for outcome in result.variants:
        out.print(f"\n[bold]{escape(outcome.name)} against "
                  f"{escape(result.spec.baseline.name)}:[/bold]")
        print_comparison(outcome.comparison, every)
        columns = ("cell", "ratio", *(f"P(> {x:.0%})" for x in THRESHOLDS))
        _verdict_table(out, "P(variant / baseline - 1 > x), warm wall, bootstrap of medians",
                       columns, {"cell"},
                       [{"cell": key_text(p.key), "ratio": f"{p.ratio:.3f}",
                         **{c: f"{v:.2f}" for c, v in zip(columns[2:], p.p_slower,
                                                          strict=True)}}
                        for p in outcome.probabilities])
    _plain(out, [f"verdict: {result.verdict}"], prefix="")
