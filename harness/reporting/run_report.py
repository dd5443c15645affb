"""The run report: records -> summary rows -> sections of findings, plots and tables.

`build_report` is a pure function of the records (and the task-graph pictures); render.py
writes what it builds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from harness.engines.registry import REFERENCE_ENGINE
from harness.fmt import fmt_bytes, fmt_count, fmt_percent, fmt_seconds, missing, ratio_words
from harness.reporting import run_plots, warmup_plot
from harness.reporting.diagnostics_section import diagnostics_section
from harness.reporting.document import Bullets, Heading, Para, Report, Table, slug
from harness.reporting.environment import ENV_ROWS, env_fact, machine_footer, repeats_text
from harness.reporting.graphs import GraphPicture
from harness.reporting.run_rows import (
    Cell,
    cell_name,
    cell_of,
    cells,
    in_cell,
    label,
    normalize,
    ok_runs,
    size_rank,
    startup_rows,
    warm_runs,
    workload_heading,
)
from harness.reporting.summary import (
    display_table,
    params_labels,
    summarize,
    tidy,
    workload_text,
)
from harness.results.schema import Record
from harness.workloads.contract import section_label
from harness.workloads.registry import WORKLOADS

HOW_TO_READ = (
    "Wall time is the compute of one run only: each engine is started once per session and its "
    "start-up is measured apart (see the start-up plot), so it is not inside any bar. Repeat 0 "
    "of each cell is the cold run (first touch of caches, imports, JIT and worker warm-up). "
    "Engines that keep getting faster after it (Spark's JIT: 5 runs, measured) then run warm-up "
    "runs, recorded and drawn in the warm-up plot but not counted. The warm figure is the median "
    "of the steady runs after those, the engine's steady state; when there is only one repeat "
    "the cold run stands in for it. Ratios compare an engine's warm median with the pandas "
    "reference of the same workload, size and parameters (or, for a setting that changes how "
    "an engine runs but not the data, such as persist, the reference of the same data), in "
    "pyperf's wording (\"2.10x faster\", \"1.40x slower\"). A workload run with parameters "
    "other than its defaults, or with several values of one, has a section per value, named "
    "after it (\"persist-reuse (persist=false)\"). "
    "Memory is the whole process tree: the driver plus any Dask worker processes and the Spark "
    "JVM. The bar is the sampled sum of RSS over the tree, a lower bound on the true peak because "
    "short spikes fall between samples; the whisker reaches the sum of every process's own "
    "high-water mark (VmHWM), an upper bound. The diamond is the driver process alone, so the gap "
    "between it and the bar is memory held by workers or the JVM. Where the engine measured its "
    "workers where they run, the square is the cluster's peak: Dask workers sampled from inside "
    "each worker and summed at the same moments, Spark executors as their own metrics poller "
    "saw their process tree (JVM and Python workers); against an external cluster it is the "
    "only view of the workers, whose processes the tree does not hold."
)


def build_report(records: list[Record], graphs: Sequence[GraphPicture] = ()) -> Report:
    """The whole report as blocks and PNG bytes: a pure function of records and graph pictures."""
    report = Report()
    report.add(Heading(1, "Benchmark report: pandas, Dask schedulers and PySpark"))
    if not records:
        report.add(Para("There are no records to report; run `harness run` first."))
        return report
    frame = tidy(records)
    rows = normalize(summarize(records))
    footer = machine_footer(records)
    report.add(Para(_intro(records, rows)), Heading(2, "How to read this"), Para(HOW_TO_READ))
    _overview(report, frame, rows, footer)
    many_sizes = rows["size"].nunique() > 1
    for section, group in _by_section(cells(rows)):
        _section(report, section, group, frame, rows, footer, many_sizes)
    _graphs(report, graphs)
    _summary_table(report, rows, many_sizes)
    _problems(report, records)
    diagnostics_section(report, records)
    _environment(report, records, frame)
    return report


def _graphs(report: Report, graphs: Sequence[GraphPicture]) -> None:
    """Task-graph pictures (or DOT text beside the report, with a note saying why)."""
    if not graphs:
        return
    report.add(Heading(2, "Task graphs"))
    for pic in graphs:
        report.add(Heading(3, workload_heading(pic.workload)), Para(pic.note))
        if pic.dot is not None:
            report.files[f"{slug(pic.workload)}-graph.dot"] = pic.dot
            report.add(Para(f"DOT text: {slug(pic.workload)}-graph.dot"))
        if pic.png is not None:
            report.image(f"{slug(pic.workload)}-graph.png", pic.png, f"{pic.workload} task graph")


def _intro(records: list[Record], rows: pd.DataFrame) -> str:
    """The opening line: how many records, from when, on what."""
    stamps = sorted(r.timestamp for r in records if r.timestamp)
    span = f" recorded {stamps[0]} to {stamps[-1]}" if stamps else ""
    sizes = ", ".join(sorted(set(rows["size"]), key=size_rank))
    return (f"{len(records)} records{span}: {rows['workload'].nunique()} workload(s) on "
            f"{rows['engine'].nunique()} engine(s), size(s) {sizes}. "
            f"Machine: {machine_footer(records).replace(chr(10), '; ')}.")


def _overview(report: Report, frame: pd.DataFrame, rows: pd.DataFrame, footer: str) -> None:
    """Speed heat map (when there is a pandas reference), start-up plot and headlines."""
    report.add(Heading(2, "Overview"))
    if not (rows["engine"] == REFERENCE_ENGINE).any():
        report.add(Para("No pandas reference in these results, so there are no speed ratios; "
                        "the plots show absolute times."))
    elif (rows["engine"] == REFERENCE_ENGINE).all():
        report.add(Para("Only the pandas reference is in these results, so there is nothing to "
                        "compare it with."))
    elif rows["reference_s"].isna().all():
        report.add(Para("The pandas reference did not finish ok, so there are no speed ratios."))
    else:
        grid, texts = speedup_grid(rows)
        fig = run_plots.overview_figure(grid, texts, "Speed vs pandas per workload (warm median)",
                                    footer)
        report.figure("overview-speedup.png", fig,
                      "speed of each engine relative to pandas, per workload")
    start = startup_rows(frame)
    fig = run_plots.startup_figure(start, "Engine start-up, once per session", footer)
    report.figure("startup.png", fig, "engine start-up time per engine")
    report.add(Bullets(tuple(_overview_bullets(rows, start))))


def speedup_grid(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Engines x cells (workload, size, params) speedups and the words written into each."""
    many = rows["size"].nunique() > 1
    columns = [cell_name(c, many) for c in cells(rows)]
    index = list(dict.fromkeys(rows["label"]))
    grid = pd.DataFrame(float("nan"), index=index, columns=columns)
    texts = pd.DataFrame("not run", index=index, columns=columns)
    for row in rows.itertuples():
        col = cell_name(cell_of(row), many)
        grid.loc[row.label, col] = row.speedup
        texts.loc[row.label, col] = _cell_text(row)
    return grid, texts


def _cell_text(row: Any) -> str:
    """The words in one overview cell: ratio and time, or why there is none."""
    if row.engine == REFERENCE_ENGINE and pd.notna(row.best_s):
        return f"reference\n{fmt_seconds(row.best_s)}"
    if pd.isna(row.best_s):
        return row.status
    if pd.isna(row.speedup):
        return f"no reference\n{fmt_seconds(row.best_s)}"
    return f"{ratio_words(row.speedup)}\n{fmt_seconds(row.best_s)}"


def _overview_bullets(rows: pd.DataFrame, start: pd.DataFrame) -> list[str]:
    """The fastest engine per workload and the slowest start-up."""
    items = []
    for cell in cells(rows):
        fastest = in_cell(rows, cell).dropna(subset=["best_s"]).sort_values("best_s")
        if len(fastest):
            top = fastest.iloc[0]
            versus = ratio_words(top["speedup"]) if top["engine"] != REFERENCE_ENGINE else ""
            name = workload_text(cell.workload, cell.label)
            items.append(f"{name} ({cell.size}): fastest is {top['label']} at "
                         f"{fmt_seconds(top['best_s'])}" + (f", {versus} than pandas"
                                                            if versus and versus != "same"
                                                            else ""))
    known = start.dropna(subset=["startup_s"])
    if len(known) > 1:
        slow = known.sort_values("startup_s").iloc[-1]
        items.append(f"Slowest start-up: {slow['label']} at {fmt_seconds(slow['startup_s'])}"
                     " (paid once per session, not inside any wall time).")
    return items


def _by_section(found: list[Cell]) -> list[tuple[str, list[Cell]]]:
    """Group cells under their chapter section number, keeping chapter order."""
    groups: dict[str, list[Cell]] = {}
    for cell in found:
        meta = WORKLOADS.get(cell.workload)
        groups.setdefault(meta.section if meta else "other", []).append(cell)
    return list(groups.items())


def _section(report: Report, section: str, found: list[Cell], frame: pd.DataFrame,
             rows: pd.DataFrame, footer: str, many_sizes: bool) -> None:
    """One chapter section: each of its workloads at each size and set of params."""
    report.add(Heading(2, section_label(section) if section != "other" else "Other workloads"))
    for cell in found:
        meta = WORKLOADS.get(cell.workload)
        name = workload_text(cell.workload, cell.label)
        title = f"{name}: {meta.title}" if meta else name
        report.add(Heading(3, f"{title} · size {cell.size}" if many_sizes else title))
        _cell_blocks(report, cell, in_cell(rows, cell), in_cell(frame, cell), footer)


def _cell_blocks(report: Report, at: Cell, cell: pd.DataFrame, runs: pd.DataFrame,
                 footer: str) -> None:
    """Plots, findings and tables for one workload at one size with one set of params."""
    workload = workload_text(at.workload, at.label)
    # The params in the file names too: two cells' figures must not overwrite each other.
    stem = "-".join(slug(part) for part in (at.workload, at.size, at.label) if part)
    name = f"{workload_heading(at.workload, at.label)} ({at.size})"
    report.add(Bullets(tuple(_findings(cell))))
    fig = run_plots.wall_figure(cell, warm_runs(runs), f"{name}: wall time per engine", footer)
    report.figure(f"{stem}-wall.png", fig, f"{workload} wall time")
    fig = run_plots.cold_warm_figure(cell, f"{name}: cold vs warm", footer)
    report.figure(f"{stem}-cold-warm.png", fig, f"{workload} cold/warm")
    fig = warmup_plot.warmup_figure(cell, ok_runs(runs),
                                    f"{name}: time of each run (warm-up curve)", footer)
    report.figure(f"{stem}-warmup.png", fig, f"{workload} time against run")
    fig = run_plots.memory_figure(cell, f"{name}: peak memory of the process tree", footer)
    report.figure(f"{stem}-memory.png", fig, f"{workload} memory")
    if cell["metric.ideal_s"].notna().any():
        fig = run_plots.efficiency_figure(cell, f"{name}: measured vs ideal parallel time", footer)
        report.figure(f"{stem}-efficiency.png", fig,
                      f"{workload} efficiency against the ideal")
        report.add(Table(efficiency_table(cell)))
    noted = noted_table(cell)
    if noted is not None:
        report.add(Para("Measures the workload noted during its runs (first ok run of each "
                        "engine):"), Table(noted))
    if cell["best_s"].isna().all():
        report.add(Para("No engine finished this workload ok, so there is nothing to plot; "
                        "see Problems below."))


def _findings(cell: pd.DataFrame) -> list[str]:
    """A few sentences a reader would otherwise work out from the plots."""
    ok = cell.dropna(subset=["best_s"]).sort_values("best_s")
    items = _speed_findings(cell, ok)
    if len(ok) and ok["warm_s"].isna().all():
        items.append("Only one repeat per engine: the bars show the cold run.")
    penalty = (ok["cold_s"] - ok["warm_s"]).dropna()
    if len(penalty):
        worst = ok.loc[penalty.idxmax()]
        items.append(f"Largest first-run penalty: {worst['label']}, cold "
                     f"{fmt_seconds(worst['cold_s'])} vs warm {fmt_seconds(worst['warm_s'])}.")
    mem = cell.dropna(subset=["peak_tree_bytes"])
    if len(mem):
        big = mem.sort_values("peak_tree_bytes").iloc[-1]
        items.append(f"Largest tree peak: {big['label']}, {fmt_bytes(big['peak_tree_bytes'])} "
                     f"(its driver alone: {fmt_bytes(big['peak_driver_bytes']) or 'unknown'}).")
    items += _cluster_findings(cell)
    items += _out_of_core(mem)
    bad = cell[cell["status"] != "ok"]
    if len(bad):
        items.append("Not ok: " + ", ".join(f"{r.label} ({r.status})" for r in bad.itertuples())
                     + "; see Problems.")
    return items


def _cluster_findings(cell: pd.DataFrame) -> list[str]:
    """The largest cluster peak, where some engine measured its workers where they run."""
    if "peak_cluster_bytes" not in cell or cell["peak_cluster_bytes"].isna().all():
        return []
    big = cell.loc[cell["peak_cluster_bytes"].idxmax()]
    return [f"Largest cluster peak (workers' RSS summed, measured on them): {big['label']}, "
            f"{fmt_bytes(big['peak_cluster_bytes'])}."]


def _out_of_core(mem: pd.DataFrame) -> list[str]:
    """Where a workload states its data size: did each engine hold it, or stream it?"""
    if "metric.data_bytes" not in mem or mem["metric.data_bytes"].isna().all():
        return []
    items = []
    for _, row in mem.dropna(subset=["metric.data_bytes"]).iterrows():
        data = float(row["metric.data_bytes"])
        # Judge by the upper bound (summed high-water marks) where the record has one: a
        # sampled peak can miss a short spike, and "out of core" must not be claimed on a miss.
        hwm = row.get("peak_tree_hwm_bytes")
        peak = max(float(row["peak_tree_bytes"]), float(hwm) if pd.notna(hwm) else 0.0)
        how = "out of core: the data never fit in memory at once" if peak < data else "in memory"
        items.append(f"{row['label']}: {fmt_bytes(data)} of data, peak tree memory at most "
                     f"{fmt_bytes(peak)} ({peak / data:.1%} of the data): {how}.")
    return items


def _speed_findings(cell: pd.DataFrame, ok: pd.DataFrame) -> list[str]:
    """The fastest engine, and the fastest other than pandas with its ratio."""
    if not len(ok):
        return []
    top = ok.iloc[0]
    items = [f"Fastest warm median: {top['label']}, {fmt_seconds(top['best_s'])}."]
    others = ok[ok["engine"] != REFERENCE_ENGINE]
    # A cell without a reference row of its own may still have a ratio: to the reference of
    # the same data, run with other tunables (summary.reference_times).
    if not (cell["engine"] == REFERENCE_ENGINE).any() and cell["reference_s"].isna().all():
        items.append("No pandas reference in these results, so no ratios.")
    elif len(others) and pd.notna(others.iloc[0]["speedup"]):
        best = others.iloc[0]
        items.append(f"Best engine other than pandas: {best['label']}, "
                     f"{ratio_words(best['speedup'])} than pandas.".replace("same than", "same as"))
    return items


# Metrics every record carries, or that the efficiency table already shows.
_HOUSEKEEPING = {"max_processes", "memory_samples", "sampler_cpu_s", "hwm_exact",
                 "harness_overhead_s", "ideal_s", "sequential_s", "parallel_slots",
                 "cluster_memory_samples", "cluster_sampler_cpu_s", "cluster_baseline_rss_bytes",
                 "cluster_sum_of_peaks_bytes"}


def noted_table(cell: pd.DataFrame) -> pd.DataFrame | None:
    """Workload-specific metrics (sub-phase seconds, sizes, counts) per engine, or None."""
    cols = [c for c in cell.columns if c.startswith("metric.")
            and c.removeprefix("metric.") not in _HOUSEKEEPING and cell[c].notna().any()]
    if not cols:
        return None
    table = pd.DataFrame({"engine": cell["label"]})
    for col in cols:
        key = col.removeprefix("metric.")
        table[key] = cell[col].map(lambda v, k=key: _metric_text(k, v))
    return table.reset_index(drop=True)


def _metric_text(key: str, value: Any) -> str:
    if missing(value):
        return ""
    if key.endswith("_s"):
        return fmt_seconds(float(value))
    if key.endswith("_bytes"):
        return fmt_bytes(float(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def efficiency_table(cell: pd.DataFrame) -> pd.DataFrame:
    """Measured warm median against the ideal (perfect scheduling) and the sequential time."""
    return pd.DataFrame({
        "engine": cell["label"],
        "slots": cell["slots"].map(fmt_count),
        "sequential (one slot)": cell["metric.sequential_s"].map(fmt_seconds),
        "ideal (perfect scheduling)": cell["metric.ideal_s"].map(fmt_seconds),
        "measured (warm)": cell["best_s"].map(fmt_seconds),
        "efficiency (ideal ÷ measured)": cell["efficiency"].map(fmt_percent),
    })


def _summary_table(report: Report, rows: pd.DataFrame, many_sizes: bool) -> None:
    """The CLI's summary table for every configuration, in chapter order."""
    ordered = pd.concat([in_cell(rows, c) for c in cells(rows)])
    table = display_table(ordered).reset_index(drop=True)
    if many_sizes:
        table.insert(1, "size", list(ordered["size"]))
    report.add(Heading(2, "Summary table"), Table(table))


def _problems(report: Report, records: list[Record]) -> None:
    """Every record that is not ok, or a line saying all are."""
    report.add(Heading(2, "Problems"))
    bad = [r for r in records if r.status != "ok"]
    if not bad:
        report.add(Para(f"All {len(records)} records are ok: every answer matched the reference."))
        return
    # Each failure is named by its cell: persist=false's failure is not persist=true's.
    named = [(r, shown) for r, shown in zip(records, params_labels(records), strict=True)
             if r.status != "ok"]
    report.add(Para(f"{len(bad)} of {len(records)} records are not ok; identical failures of "
                    "several repeats are listed once."), Bullets(tuple(problem_lines(named))))


def problem_lines(bad: Iterable[tuple[Record, str]]) -> list[str]:
    """One line per distinct failure, naming the repeats it hit; each record comes with the
    params label of its cell."""
    groups: dict[tuple, list[int]] = {}
    for r, shown in bad:
        key = (workload_text(r.workload, shown), r.size,
               label(r.engine, r.n_workers, r.threads_per_worker), r.status, _failure_text(r))
        groups.setdefault(key, []).append(r.repeat)
    return [f"{w} ({size}) on {eng}: {status}, repeat(s) {_numbers(reps)}: {text}"
            for (w, size, eng, status, text), reps in groups.items()]


def _numbers(values: list[int]) -> str:
    """Repeat numbers as '0, 1, 2'."""
    return ", ".join(str(v) for v in sorted(values))


def _failure_text(r: Record) -> str:
    """The error, and for a mismatch the check's detail, on one bounded line."""
    text = r.error or ""
    if r.status == "mismatch" and r.check:
        text = f"{text} — check: {json.dumps(r.check, default=str, sort_keys=True)}".lstrip(" —")
    text = " ".join(text.split()) or "no detail recorded"
    return text if len(text) <= 600 else text[:597] + "..."


def _environment(report: Report, records: list[Record], frame: pd.DataFrame) -> None:
    """Versions, machine, commit, runs, sizes and repeats behind the numbers."""
    items = [(name, env_fact(records, key)) for key, name in ENV_ROWS]
    items += [("run ids", ", ".join(dict.fromkeys(r.run_id for r in records))),
              ("sizes", ", ".join(sorted(set(frame["size"]), key=size_rank))),
              ("repeats", repeats_text(frame)),
              ("records", str(len(records)))]
    report.add(Heading(2, "Environment"))
    if len({json.dumps(r.env, sort_keys=True, default=str) for r in records}) > 1:
        report.add(Para("These records come from more than one environment; values that differ "
                        "are joined with ' / '."))
    report.add(Table(pd.DataFrame(items, columns=["item", "value"])))
