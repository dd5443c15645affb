"""The sweep report: per sweep and study, the findings, the figures and a table of cells."""

from __future__ import annotations

import pandas as pd

from harness.fmt import fmt_bytes, fmt_count, fmt_percent, fmt_ratio, fmt_seconds
from harness.reporting import sweep_plots
from harness.reporting.document import Bullets, Heading, Para, Report, Table
from harness.reporting.environment import machine_footer, repeats_text
from harness.reporting.summary import tidy
from harness.reporting.sweep_analysis import (
    axes_text,
    cell_rows,
    engine_findings,
    layout_findings,
    scaling_findings,
)
from harness.results.schema import Record
from harness.sweep.spec import DEFAULT_RULES, axis_kind, load_sweep

EFFICIENCY_NOTE = (
    "Parallel efficiency is the speedup (over the engine's own 1 worker x 1 thread point, or "
    "over pandas where the sweep has no such point) divided by min(workers x threads, "
    "logical cores). Above 100% the work was not CPU-bound "
    "(tasks that sleep or wait on I/O), so slots past the cores still paid; well below 100% "
    "means scheduling overhead, a serial part, or oversubscribed CPU-bound work."
)


def build_sweep_report(records: list[Record]) -> Report:
    report = Report()
    sweep_records = [r for r in records if r.sweep]
    names = list(dict.fromkeys(r.tag["name"] for r in sweep_records))
    rows = cell_rows(sweep_records)
    footer = machine_footer(sweep_records)
    for name in names:
        _sweep_section(report, name, rows[rows["sweep"] == name], sweep_records, footer)
    _problems(report, sweep_records)
    return report


def _sweep_section(report: Report, name: str, rows: pd.DataFrame, records: list[Record],
                   footer: str) -> None:
    try:
        spec = load_sweep(name)
        title, description, budget = spec.title, spec.description, spec.memory_budget_bytes
        rules = dict(spec.rules)
    except Exception:  # a custom sweep file that is gone: the chapter's defaults still apply
        title, description, budget, rules = name, "", None, dict(DEFAULT_RULES)
    mine = [r for r in records if r.tag.get("name") == name]
    tagged = [r.tag["memory_budget_bytes"] for r in mine if r.tag.get("memory_budget_bytes")]
    budget = max(tagged) if tagged else budget
    report.add(Heading(1, f"Sweep {name}: {title}"))
    report.add(Para(f"{len(rows)} cells, {len(mine)} records, size "
                    f"{', '.join(sorted(set(rows['size'])))}; runs per cell: "
                    f"{repeats_text(tidy(mine))} (best = median of the steady runs; warm-ups "
                    f"are recorded, not counted). Each cell ran in a fresh process. Machine: "
                    f"{footer.replace(chr(10), '; ')}."))
    if description:
        report.add(Para(description))
    for workload, study in rows.groupby("workload", sort=False):
        _study_section(report, name, workload, study, rules, footer, budget)


def _study_section(report: Report, name: str, workload: str, study: pd.DataFrame,
                   rules: dict[str, list[float]], footer: str, budget: float | None) -> None:
    kinds = {axis_kind(k) for a in study["axes"] for k in a}
    stem = f"{name}-{workload}"
    report.add(Heading(2, workload))
    items: list[str] = []
    if "engine" in kinds:
        report.add(Para(EFFICIENCY_NOTE))
        items += engine_findings(study)
        for value, what in (("best_s", "time"), ("efficiency", "parallel efficiency")):
            fig = sweep_plots.heatmap_figure(study, value,
                                             f"{workload}: {what}, workers x threads", footer)
            report.figure(f"{stem}-heatmap-{value}.png", fig,
                          f"{workload} {what} per workers x threads")
    for axis in ("chunks", "npartitions"):
        if any(axis in a for a in study["axes"]):
            items += layout_findings(study, axis, rules)
            fig = sweep_plots.ucurve_figure(study, axis, rules,
                                            f"{workload}: time against {axis}", footer)
            report.figure(f"{stem}-ucurve.png", fig, f"{workload} time against {axis}")
    if "data" in kinds:
        items += scaling_findings(study, budget)
        fig = sweep_plots.scaling_figure(
            study, f"{workload}: time and memory against data size", footer, budget)
        report.figure(f"{stem}-scaling.png", fig, f"{workload} scaling")
    ref = study[study["role"] == "reference"]["best_s"].dropna()
    if len(ref):
        items.append(f"pandas reference: {', '.join(fmt_seconds(v) for v in ref)}.")
    report.add(Bullets(tuple(items)), Table(_cell_table(study)))


def _cell_table(study: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame({
        "engine": study["engine"], "axes": [axes_text(a) for a in study["axes"]],
        "status": study["status"], "best": study["best_s"].map(fmt_seconds),
        "cold": study["cold_s"].map(fmt_seconds),
        "vs pandas": study["speedup_ref"].map(fmt_ratio),
        "vs own 1x1": study["speedup_1x1"].map(fmt_ratio),
        "efficiency": [_efficiency_text(v, b) for v, b in
                       zip(study["efficiency"], study["efficiency_basis"], strict=True)],
        "tasks": study["n_tasks"].map(fmt_count),
        "peak tree mem": study["peak_bytes"].map(fmt_bytes),
    })
    # A chunk sweep has no 1x1 cells, a sweep of sleeps no tasks: no empty columns.
    return table.loc[:, [c for c in table.columns if (table[c] != "").any()]]


def _efficiency_text(value: float, basis: str) -> str:
    if pd.isna(value):
        return ""
    return fmt_percent(value) + ("" if basis == "own 1x1" else " (vs pandas)")


def _problems(report: Report, records: list[Record]) -> None:
    bad = [r for r in records if r.status not in ("ok", "unsupported")]
    report.add(Heading(1, "Problems"))
    if not bad:
        report.add(Para("Every cell finished ok."))
        return
    by_cell: dict[str, list[Record]] = {}
    for r in bad:
        by_cell.setdefault(r.tag["cell"], []).append(r)
    report.add(Bullets(tuple(
        f"{rs[0].workload} on {rs[0].engine} at {axes_text(rs[0].tag['axes'])}: "
        f"{rs[0].status} in {len(rs)} run(s): {rs[0].error}" for rs in by_cell.values())))
