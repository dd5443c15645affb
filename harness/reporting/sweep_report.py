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
    choice_axes,
    choice_findings,
    engine_findings,
    layout_findings,
    point_label,
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

CATEGORICAL_NOTE = (
    "{axes} {verb} categorical axis: its values are choices, not amounts. The figure puts them "
    "side by side for each engine, evenly spaced and labelled as the sweep file writes them; "
    "the findings compare each engine's time and peak memory at each choice directly. No "
    "lines are fitted and there are no slopes, U-curve bottoms or crossings: a choice has no "
    "scale to fit them on."
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
    report.add(Heading(2, workload))
    choices = choice_axes(study)
    if choices:
        items = _choice_views(report, f"{name}-{workload}", workload, study, choices, footer)
    else:
        items = _numeric_views(report, name, workload, study, rules, footer, budget)
    items += _reference_items(study, labelled=bool(choices))
    report.add(Bullets(tuple(items)), Table(_cell_table(study)))


def _reference_items(study: pd.DataFrame, labelled: bool) -> list[str]:
    """The pandas times; at each choice by name, since a choice study has few of them."""
    ref = study[study["role"] == "reference"].dropna(subset=["best_s"])
    if not len(ref):
        return []
    times = [(f"{point_label(a)} " if labelled else "") + fmt_seconds(v)
             for a, v in zip(ref["axes"], ref["best_s"], strict=True)]
    return [f"pandas reference: {', '.join(times)}."]


def _choice_views(report: Report, stem: str, workload: str, study: pd.DataFrame,
                  choices: list[str], footer: str) -> list[str]:
    """A categorical axis: its points side by side per engine, and the findings."""
    report.add(Para(CATEGORICAL_NOTE.format(axes=" and ".join(choices),
                                            verb="is a" if len(choices) == 1 else "are")))
    fig = sweep_plots.choice_figure(study, f"{workload}: time and memory at each "
                                    f"{' x '.join(choices)}", footer)
    report.figure(f"{stem}-choices.png", fig, f"{workload} at each {', '.join(choices)}")
    return choice_findings(study)


def _numeric_views(report: Report, name: str, workload: str, study: pd.DataFrame,
                   rules: dict[str, list[float]], footer: str, budget: float | None) -> list[str]:
    """Numeric axes: heatmaps, U-curves and scaling fits, each with its findings."""
    kinds = {axis_kind(k) for a in study["axes"] for k in a}
    stem = f"{name}-{workload}"
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
    return items


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
        # What a persisting workload kept (persist-reuse): the memory its choice paid.
        "kept in memory": study.get("metric.persisted_bytes",
                                    pd.Series(index=study.index, dtype=float)).map(fmt_bytes),
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
