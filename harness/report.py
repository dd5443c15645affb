"""The report: records -> tidy frame -> normalized rows -> figures and tables -> report.md/.html.

Everything up to `build_report` is a pure function of the records; only `render_report` touches
the disk, and it writes into a temporary sibling directory that is renamed into place at the end,
so a crash never leaves a half-written report behind.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness import plots
from harness.config import SIZES
from harness.engines import ENGINES
from harness.errors import UsageError
from harness.graphs import GraphPicture
from harness.records import Record
from harness.summary import (
    REFERENCE_ENGINE,
    display_table,
    fmt_bytes,
    fmt_seconds,
    ratio_words,
    summarize,
    tidy,
)
from harness.workloads import WORKLOADS
from harness.workloads.base import section_label

REPORT_FILES = ("report.md", "report.html")
NUMERIC = ["cold_s", "warm_s", "best_s", "startup_s", "baseline_tree_bytes", "peak_tree_bytes",
           "peak_tree_hwm_bytes", "peak_driver_bytes", "n_tasks", "reference_s", "speedup",
           "peak_growth_bytes", "metric.ideal_s", "metric.sequential_s", "metric.parallel_slots"]
ENV_ROWS = [("python", "Python"), ("dask", "dask"), ("distributed", "distributed"),
            ("pandas", "pandas"), ("numpy", "numpy"), ("pyarrow", "pyarrow"),
            ("pyspark", "pyspark"), ("java", "Java"), ("cpu_model", "CPU model"),
            ("logical_cores", "logical cores"), ("total_memory_bytes", "total memory"),
            ("os", "OS"), ("machine", "architecture"), ("harness_version", "harness version"),
            ("harness_commit", "harness commit")]
HOW_TO_READ = (
    "Wall time is the compute of one run only: each engine is started once per session and its "
    "start-up is measured apart (see the start-up plot), so it is not inside any bar. Repeat 0 "
    "of each cell is the cold run (first touch of caches, imports, JIT and worker warm-up); the "
    "warm figure is the median of repeats 1 and later, and when there is only one repeat the cold "
    "run stands in for it. Ratios compare an engine's warm median with the pandas reference of "
    "the same workload and size, in pyperf's wording (\"2.10x faster\", \"1.40x slower\"). "
    "Memory is the whole process tree: the driver plus any Dask worker processes and the Spark "
    "JVM. The bar is the sampled sum of RSS over the tree, a lower bound on the true peak because "
    "short spikes fall between samples; the whisker reaches the sum of every process's own "
    "high-water mark (VmHWM), an upper bound. The diamond is the driver process alone, so the gap "
    "between it and the bar is memory held by workers or the JVM."
)


# Document model: a report is a list of blocks rendered twice, to Markdown and to HTML.
@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame = field(compare=False)


@dataclass(frozen=True)
class Image:
    name: str
    alt: str


Block = Heading | Para | Bullets | Table | Image


@dataclass
class Report:
    """Blocks in reading order and the PNGs they refer to, by file name."""

    blocks: list[Block] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def add(self, *blocks: Block) -> None:
        """Append blocks in reading order."""
        self.blocks.extend(blocks)

    def figure(self, name: str, png: bytes | None, alt: str) -> None:
        """Add a plot if there was anything to draw."""
        if png is not None:
            self.images[name] = png
            self.blocks.append(Image(name, alt))


# ---------------------------------------------------------------------------------------------
# Records -> normalized frames


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


def warm_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Each successful warm run's wall time, labelled like the summary rows."""
    ok = frame[(frame["status"] == "ok") & (frame["repeat"] > 0)].copy()
    ok["wall_s"] = pd.to_numeric(ok["wall_s"], errors="coerce")
    ok["label"] = [label(e, w, t) for e, w, t in
                   zip(ok["engine"], ok["n_workers"], ok["threads_per_worker"], strict=True)]
    return ok


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


def _section_key(workload: str) -> tuple:
    """Chapter order: section numbers compare as numbers (3.10 after 3.9), unknown ones last."""
    meta = WORKLOADS.get(workload)
    if meta is None:
        return ((1 << 30,), workload)
    parts = tuple(int(p) if p.isdigit() else 1 << 30 for p in meta.section.split("."))
    return (parts, workload)


def _size_rank(size: str) -> int:
    """Sizes in config order (tiny, small, seed), unknown ones last."""
    return SIZES.index(size) if size in SIZES else len(SIZES)


def cells(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """(workload, size) pairs in chapter order."""
    pairs = set(zip(rows["workload"], rows["size"], strict=True))
    return sorted(pairs, key=lambda p: (_section_key(p[0]), _size_rank(p[1]), p[1]))


def workload_heading(workload: str) -> str:
    """'§3.2 csv-groupby', or the bare name of a workload no longer registered."""
    meta = WORKLOADS.get(workload)
    return f"{section_label(meta.section)} {workload}" if meta else workload



def _cell_name(workload: str, size: str, many_sizes: bool) -> str:
    """A column name in the overview; the size is named only when there are several."""
    return f"{workload_heading(workload)} · {size}" if many_sizes else workload_heading(workload)


# ---------------------------------------------------------------------------------------------
# Environment facts


def env_values(records: list[Record], key: str) -> list[str]:
    """Distinct recorded values of one env key, in first-seen order."""
    seen = [_env_text(key, r.env.get(key)) for r in records]
    return list(dict.fromkeys(seen))


def _env_text(key: str, value: object) -> str:
    """One env value as a reader wants it: memory in GiB, Java as its version number."""
    if value is None or value == "":
        return "not recorded"
    if key == "total_memory_bytes":
        return fmt_bytes(float(value))
    if key == "java":
        match = re.search(r'"([^"]+)"', str(value))
        return match.group(1) if match else str(value)
    return str(value)


def env_fact(records: list[Record], key: str) -> str:
    """Every recorded value of one env key, joined with ' / '."""
    return " / ".join(env_values(records, key))


def machine_footer(records: list[Record]) -> str:
    """Two lines naming the machine and the versions, printed under every plot."""
    f = lambda key: env_fact(records, key)  # noqa: E731
    machine = (f"{f('cpu_model')}, {f('logical_cores')} logical cores, "
               f"{f('total_memory_bytes')} RAM, {f('os')}")
    versions = (f"Python {f('python')} · pandas {f('pandas')} · dask {f('dask')} · "
                f"distributed {f('distributed')} · pyspark {f('pyspark')} · Java {f('java')}")
    return f"{machine}\n{versions}"


def repeats_text(frame: pd.DataFrame) -> str:
    """How many runs each cell had, e.g. '3 per cell (1 cold + 2 warm)'."""
    keys = ["run_id", "workload", "size", "engine", "n_workers", "threads_per_worker"]
    counts = sorted(set(frame.groupby(keys, dropna=False).size()))
    if len(counts) == 1:
        n = counts[0]
        warm = f" + {n - 1} warm" if n > 1 else ", no warm repeat"
        return f"{n} per cell (1 cold{warm})"
    return f"{counts[0]} to {counts[-1]} per cell (the first of each is cold)"


# ---------------------------------------------------------------------------------------------
# Sections


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
            report.files[f"{_slug(pic.workload)}-graph.dot"] = pic.dot
            report.add(Para(f"DOT text: {_slug(pic.workload)}-graph.dot"))
        report.figure(f"{_slug(pic.workload)}-graph.png", pic.png,
                      f"{pic.workload} task graph")


def _intro(records: list[Record], rows: pd.DataFrame) -> str:
    """The opening line: how many records, from when, on what."""
    stamps = sorted(r.timestamp for r in records if r.timestamp)
    span = f" recorded {stamps[0]} to {stamps[-1]}" if stamps else ""
    sizes = ", ".join(sorted(set(rows["size"]), key=_size_rank))
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
        fig = plots.overview_figure(grid, texts, "Speed vs pandas per workload (warm median)",
                                    footer)
        report.figure("overview-speedup.png", fig and plots.png_bytes(fig),
                      "speed of each engine relative to pandas, per workload")
    start = startup_rows(frame)
    fig = plots.startup_figure(start, "Engine start-up, once per session", footer)
    report.figure("startup.png", fig and plots.png_bytes(fig), "engine start-up time per engine")
    report.add(Bullets(tuple(_overview_bullets(rows, start))))


def speedup_grid(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Engines x (workload, size) speedups and the words written into each cell."""
    many = rows["size"].nunique() > 1
    columns = [_cell_name(w, s, many) for w, s in cells(rows)]
    index = list(dict.fromkeys(rows["label"]))
    grid = pd.DataFrame(float("nan"), index=index, columns=columns)
    texts = pd.DataFrame("not run", index=index, columns=columns)
    for row in rows.itertuples():
        col = _cell_name(row.workload, row.size, many)
        grid.loc[row.label, col] = row.speedup
        texts.loc[row.label, col] = _cell_text(row)
    return grid, texts


def _cell_text(row: object) -> str:
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
    for workload, size in cells(rows):
        cell = rows[(rows["workload"] == workload) & (rows["size"] == size)]
        fastest = cell.dropna(subset=["best_s"]).sort_values("best_s")
        if len(fastest):
            top = fastest.iloc[0]
            versus = ratio_words(top["speedup"]) if top["engine"] != REFERENCE_ENGINE else ""
            items.append(f"{workload} ({size}): fastest is {top['label']} at "
                         f"{fmt_seconds(top['best_s'])}" + (f", {versus} than pandas"
                                                            if versus and versus != "same"
                                                            else ""))
    known = start.dropna(subset=["startup_s"])
    if len(known) > 1:
        slow = known.sort_values("startup_s").iloc[-1]
        items.append(f"Slowest start-up: {slow['label']} at {plots.fmt_duration(slow['startup_s'])}"
                     " (paid once per session, not inside any wall time).")
    return items


def _by_section(pairs: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Group (workload, size) cells under their chapter section number, keeping chapter order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for workload, size in pairs:
        meta = WORKLOADS.get(workload)
        groups.setdefault(meta.section if meta else "other", []).append((workload, size))
    return list(groups.items())


def _section(report: Report, section: str, pairs: list[tuple[str, str]], frame: pd.DataFrame,
             rows: pd.DataFrame, footer: str, many_sizes: bool) -> None:
    """One chapter section: each of its workloads at each size."""
    report.add(Heading(2, section_label(section) if section != "other" else "Other workloads"))
    for workload, size in pairs:
        meta = WORKLOADS.get(workload)
        title = f"{workload}: {meta.title}" if meta else workload
        report.add(Heading(3, f"{title} · size {size}" if many_sizes else title))
        cell = rows[(rows["workload"] == workload) & (rows["size"] == size)]
        runs = frame[(frame["workload"] == workload) & (frame["size"] == size)]
        _cell_blocks(report, workload, size, cell, warm_runs(runs), footer)


def _cell_blocks(report: Report, workload: str, size: str, cell: pd.DataFrame,
                 warm: pd.DataFrame, footer: str) -> None:
    """Plots, findings and tables for one workload at one size."""
    stem = f"{_slug(workload)}-{_slug(size)}"
    name = f"{workload_heading(workload)} ({size})"
    report.add(Bullets(tuple(_findings(cell))))
    fig = plots.wall_figure(cell, warm, f"{name}: wall time per engine", footer)
    report.figure(f"{stem}-wall.png", fig and plots.png_bytes(fig), f"{workload} wall time")
    fig = plots.cold_warm_figure(cell, f"{name}: cold vs warm", footer)
    report.figure(f"{stem}-cold-warm.png", fig and plots.png_bytes(fig), f"{workload} cold/warm")
    fig = plots.memory_figure(cell, f"{name}: peak memory of the process tree", footer)
    report.figure(f"{stem}-memory.png", fig and plots.png_bytes(fig), f"{workload} memory")
    if cell["metric.ideal_s"].notna().any():
        fig = plots.efficiency_figure(cell, f"{name}: measured vs ideal parallel time", footer)
        report.figure(f"{stem}-efficiency.png", fig and plots.png_bytes(fig),
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
    items += _out_of_core(mem)
    bad = cell[cell["status"] != "ok"]
    if len(bad):
        items.append("Not ok: " + ", ".join(f"{r.label} ({r.status})" for r in bad.itertuples())
                     + "; see Problems.")
    return items


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
    if not (cell["engine"] == REFERENCE_ENGINE).any():
        items.append("No pandas reference in these results, so no ratios.")
    elif len(others) and pd.notna(others.iloc[0]["speedup"]):
        best = others.iloc[0]
        items.append(f"Best engine other than pandas: {best['label']}, "
                     f"{ratio_words(best['speedup'])} than pandas.".replace("same than", "same as"))
    return items


# Metrics every record carries, or that the efficiency table already shows.
_HOUSEKEEPING = {"max_processes", "memory_samples", "sampler_cpu_s", "hwm_exact",
                 "harness_overhead_s", "ideal_s", "sequential_s", "parallel_slots"}


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


def _metric_text(key: str, value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
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
        "slots": cell["slots"].map(lambda v: "" if pd.isna(v) else f"{int(v)}"),
        "sequential (one slot)": cell["metric.sequential_s"].map(fmt_seconds),
        "ideal (perfect scheduling)": cell["metric.ideal_s"].map(fmt_seconds),
        "measured (warm)": cell["best_s"].map(fmt_seconds),
        "efficiency (ideal ÷ measured)": cell["efficiency"].map(
            lambda v: "" if pd.isna(v) else f"{v:.0%}"),
    })


def _summary_table(report: Report, rows: pd.DataFrame, many_sizes: bool) -> None:
    """The CLI's summary table for every configuration, in chapter order."""
    ordered = pd.concat([rows[(rows["workload"] == w) & (rows["size"] == s)]
                         for w, s in cells(rows)])
    table = display_table(ordered).reset_index(drop=True)
    # fmt_seconds rounds the µs start-up of in-process engines to "0.00 ms".
    table["start-up"] = list(ordered["startup_s"].map(plots.fmt_duration))
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
    report.add(Para(f"{len(bad)} of {len(records)} records are not ok; identical failures of "
                    "several repeats are listed once."), Bullets(tuple(problem_lines(bad))))


def problem_lines(bad: Iterable[Record]) -> list[str]:
    """One line per distinct failure, naming the repeats it hit."""
    groups: dict[tuple, list[int]] = {}
    for r in bad:
        key = (r.workload, r.size, label(r.engine, r.n_workers, r.threads_per_worker), r.status,
               _failure_text(r))
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
              ("sizes", ", ".join(sorted(set(frame["size"]), key=_size_rank))),
              ("repeats", repeats_text(frame)),
              ("records", str(len(records)))]
    report.add(Heading(2, "Environment"))
    if len({json.dumps(r.env, sort_keys=True, default=str) for r in records}) > 1:
        report.add(Para("These records come from more than one environment; values that differ "
                        "are joined with ' / '."))
    report.add(Table(pd.DataFrame(items, columns=["item", "value"])))


# ---------------------------------------------------------------------------------------------
# Rendering


def _slug(text: str) -> str:
    """A string safe as a file name or an HTML id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _md_text(text: object) -> str:
    """Recorded text (error messages, versions) as literal Markdown, on one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def _md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    head = "| " + " | ".join(_md_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_md_text(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def to_markdown(report: Report) -> str:
    """report.md: plots referenced as the PNG files beside it."""
    out = []
    for block in report.blocks:
        match block:
            case Heading(level, text):
                out.append(f"{'#' * level} {_md_text(text)}")
            case Para(text):
                out.append(_md_text(text))
            case Bullets(items):
                out.append("\n".join(f"- {_md_text(i)}" for i in items))
            case Table(frame):
                out.append(_md_table(frame))
            case Image(name, alt):
                out.append(f"![{alt}]({name})")
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; }
"""


def _html_table(frame: pd.DataFrame) -> str:
    """An HTML table with every cell escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_block(block: Block, images: dict[str, bytes]) -> str:
    """One block as HTML; images become data URIs so the file stands alone."""
    match block:
        case Heading(level, text):
            return f'<h{level} id="{_slug(text.lower())}">{html.escape(text)}</h{level}>'
        case Para(text):
            return f"<p>{html.escape(text)}</p>"
        case Bullets(items):
            return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
        case Table(frame):
            return _html_table(frame)
        case Image(name, alt):
            data = base64.b64encode(images[name]).decode("ascii")
            return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
    raise TypeError(f"unknown block {block!r}")


def to_html(report: Report) -> str:
    """report.html: one self-contained file, the PNGs embedded as data URIs."""
    body = "\n".join(_html_block(b, report.images) for b in report.blocks)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Benchmark report</title><style>{CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


# ---------------------------------------------------------------------------------------------
# Writing


def render_report(records: list[Record], out_dir: Path, graphs: bool = True) -> Path:
    """Write report.md, report.html and the PNGs into out_dir, replacing it whole; return it."""
    from harness.graphs import pictures

    if any(r.sweep for r in records):
        if not all(r.sweep for r in records):
            raise UsageError("these files mix sweep records and run records; give them to "
                             "separate `harness report` calls")
        from harness.sweepreport import build_sweep_report

        report = build_sweep_report(records)
    else:
        names = sorted({r.workload for r in records})
        report = build_report(records, pictures(names) if graphs else ())
    target = Path(out_dir).absolute()
    check_report_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _write(tmp, report)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def check_report_dir(target: Path) -> None:
    """Only an empty directory or an earlier report may be replaced: never a user's other files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"report directory {target} is a file; choose another directory")
    entries = list(target.iterdir())
    if entries and not any((target / f).exists() for f in REPORT_FILES):
        raise UsageError(f"{target} exists and is not a harness report; it would be replaced "
                         "whole, so choose another directory or remove it yourself")


def _write(tmp: Path, report: Report) -> None:
    """Every file of the report into the (temporary) directory."""
    for name, png in report.images.items():
        (tmp / name).write_bytes(png)
    for name, text in report.files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    (tmp / "report.md").write_text(to_markdown(report), encoding="utf-8")
    (tmp / "report.html").write_text(to_html(report), encoding="utf-8")
    os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only; a report is meant to be shared


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Move the old report aside, the new one in, then delete the old: never a half report."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / target.name)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
