"""The sweep report: derived measures and plots, computed from sweep records only.

One row per cell (best = warm median, as in summary.py), then, per study (workload):
- speedup over the pandas reference at the same data point, and over the same engine at
  1 worker x 1 thread; parallel efficiency = speedup / min(slots, logical cores);
- engine axes -> workers x threads heatmaps and the best point per engine;
- layout axes (chunks, npartitions) -> U-curves, their bottom, per-task overhead, and the
  distance from the chapter's band;
- data axes -> log-log scaling lines and their slopes for time and memory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from harness import plots
from harness.records import Record
from harness.report import Bullets, Heading, Para, Report, Table, machine_footer
from harness.summary import fmt_bytes, fmt_seconds, summarize_group, tidy
from harness.sweep import DEFAULT_RULES, axis_kind, load_sweep

ENGINE_COLORS = {"pandas": "#7f7f7f", "dask-sync": "#8c564b", "dask-threads": "#1f77b4",
                 "dask-processes": "#ff7f0e", "dask-distributed": "#2ca02c", "spark": "#d62728"}


EFFICIENCY_NOTE = (
    "Parallel efficiency is the speedup (over the engine's own 1 worker x 1 thread point, or "
    "over pandas where the sweep has no such point) divided by min(workers x threads, "
    "logical cores). Above 100% the work was not CPU-bound "
    "(tasks that sleep or wait on I/O), so slots past the cores still paid; well below 100% "
    "means scheduling overhead, a serial part, or oversubscribed CPU-bound work."
)


# ---------------------------------------------------------------------------------------------
# Records -> one row per cell, with derived measures


def cell_rows(records: list[Record]) -> pd.DataFrame:
    """One row per sweep cell: its axes, worst status, best and cold time, memory, metrics."""
    frame = tidy(records)
    frame["cell"] = [r.sweep["cell"] for r in records]
    first = {}
    for r in records:
        first.setdefault(r.sweep["cell"], r)
    rows = []
    for key, group in frame.groupby("cell", sort=False):
        r = first[key]
        axes = r.sweep.get("axes", {})
        rows.append({
            "sweep": r.sweep.get("name"), "workload": r.workload, "engine": r.engine,
            "role": r.sweep.get("role"), "size": r.size, "axes": axes,
            "n_workers": r.n_workers, "threads_per_worker": r.threads_per_worker,
            "cores": r.env.get("logical_cores") or np.nan,
            "total_memory": r.env.get("total_memory_bytes") or np.nan,
            **{f"axis.{k}": _plain(v) for k, v in axes.items()},
            **summarize_group(group),
        })
    out = pd.DataFrame(rows)
    out["peak_bytes"] = out[["peak_tree_bytes", "peak_tree_hwm_bytes"]].max(axis=1)
    # What the run itself added over the idle tree: an interpreter's or a JVM's fixed baseline
    # would otherwise flatten the memory exponent of small sizes towards zero.
    out["growth_bytes"] = (out["peak_bytes"] - out["baseline_tree_bytes"].fillna(0)).clip(lower=1)
    return derive(out)


def _plain(value: Any) -> Any:
    return "x".join(map(str, value)) if isinstance(value, list | tuple) else value


def _key(axes: dict[str, Any], kinds: Sequence[str]) -> str:
    return json.dumps({k: v for k, v in axes.items() if axis_kind(k) in kinds}, sort_keys=True)


def workers_threads(axes: dict[str, Any]) -> tuple[int, int]:
    """The requested workers and threads of a cell; an axis the sweep does not vary is 1."""
    return axes.get("n_workers", 1), axes.get("threads_per_worker", 1)


def derive(rows: pd.DataFrame) -> pd.DataFrame:
    """Speedups over pandas and over the engine's own 1x1 point, and parallel efficiency."""
    rows = rows.copy()
    refs = {(r.workload, _key(r.axes, ["data"])): r.best_s
            for r in rows.itertuples() if r.role == "reference"}
    rows["reference_s"] = [refs.get((r.workload, _key(r.axes, ["data"])), np.nan)
                           for r in rows.itertuples()]
    # The engine's own 1x1 is a cell that really ran one worker of one thread: a chunk sweep
    # on the engine's default pool has none, and then efficiency is measured against pandas.
    ones = {(r.workload, r.engine, _key(r.axes, ["data", "layout"])): r.best_s
            for r in rows.itertuples()
            if r.role != "reference" and (r.n_workers, r.threads_per_worker) == (1, 1)}
    rows["one_slot_s"] = [ones.get((r.workload, r.engine, _key(r.axes, ["data", "layout"])),
                                   np.nan) for r in rows.itertuples()]
    rows["speedup_ref"] = rows["reference_s"] / rows["best_s"]
    rows["speedup_1x1"] = rows["one_slot_s"] / rows["best_s"]
    rows["slots"] = np.minimum(rows["n_workers"] * rows["threads_per_worker"],
                               rows["cores"].fillna(np.inf))
    own = rows["speedup_1x1"].notna()
    rows["efficiency"] = np.where(own, rows["speedup_1x1"], rows["speedup_ref"]) / rows["slots"]
    rows["efficiency_basis"] = np.where(own, "own 1x1", "pandas")
    return rows


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of log y against log x over the positive, finite
    points; NaNs under 3 points."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    if keep.sum() < 3:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log(xs[keep]), np.log(ys[keep]), 1)
    return float(slope), float(intercept)


def fit_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The scaling exponent: slope of log y against log x; NaN under 3 points."""
    return fit_line(x, y)[0]


def crossing(x: Sequence[float], y: Sequence[float], level: float | None) -> float | None:
    """The x at which the fitted log-log line of y reaches `level`, beyond the measured x.

    Only for lines that clearly grow (slope > 0.3, and already 5% of the level) and have
    not reached the level yet.
    """
    slope, intercept = fit_line(x, y)
    # A line through a few MB of noise says nothing about where gigabytes would be.
    if level is None or not slope > 0.3 or max(y) < 0.05 * level:
        return None
    at = math.exp((math.log(level) - intercept) / slope)
    return at if at > max(x) else None


def decimal_bytes(value: float) -> str:
    """Decimal units: the chapter states its bands so (100 MB, 1 GB), and log axes tick at
    powers of ten, which binary units would label 95.4 MiB."""
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} B"


def band_words(value: float, band: Sequence[float], fmt: Any = decimal_bytes) -> str:
    """'inside the band', or how many times below or above it."""
    lo, hi = band
    if value < lo:
        return (f"just below the band's lower edge {fmt(lo)}" if lo / value < 1.1
                else f"{lo / value:.1f}x below the band's lower edge {fmt(lo)}")
    if value > hi:
        return (f"just above the band's upper edge {fmt(hi)}" if value / hi < 1.1
                else f"{value / hi:.1f}x above the band's upper edge {fmt(hi)}")
    return f"inside the band {fmt(lo)} - {fmt(hi)}"


# ---------------------------------------------------------------------------------------------
# Findings per study


def engine_findings(study: pd.DataFrame) -> list[str]:
    """Best workers x threads per engine, and what the cores-sized point gives."""
    items = []
    for engine, g in _by_engine(study):
        ok = g.dropna(subset=["best_s"])
        if not len(ok):
            continue
        best = ok.loc[ok["best_s"].idxmin()]
        w, t = workers_threads(best["axes"])
        text = (f"{engine}: best {w} workers x {t} threads, {fmt_seconds(best['best_s'])}; "
                f"{best['speedup_1x1']:.2f}x its own 1x1, {best['speedup_ref']:.2f}x pandas, "
                f"efficiency {best['efficiency']:.0%}")
        cores = best["cores"]
        fits = ok[ok["axes"].map(lambda a: math.prod(workers_threads(a))) == cores]
        if len(fits) and pd.notna(cores):
            at = fits.loc[fits["best_s"].idxmin()]
            text += (f". Best point with workers x threads = {cores:.0f} cores: "
                     f"{'x'.join(map(str, workers_threads(at['axes'])))}, "
                     f"{at['best_s'] / best['best_s']:.2f}x the best time")
        items.append(text + ".")
    return items


def layout_findings(study: pd.DataFrame, axis: str, rules: dict[str, list[float]]) -> list[str]:
    """Bottom of each U-curve, distance from the band, per-task overhead at the finest cut."""
    items = []
    size_col = "metric.chunk_bytes" if axis == "chunks" else "metric.partition_bytes"
    band = rules["chunk_bytes" if axis == "chunks" else "partition_bytes"]
    for engine, g in _by_engine(study):
        ok = g.dropna(subset=["best_s"])
        if not len(ok):
            continue
        best = ok.loc[ok["best_s"].idxmin()]
        piece = best.get(size_col, np.nan)
        text = (f"{engine}: bottom of the U at {axis}={_plain(best['axes'][axis])}"
                + (f" ({fmt_bytes(piece)} per piece)" if pd.notna(piece) else "")
                + f", {fmt_seconds(best['best_s'])}")
        if pd.notna(best.get("n_tasks")):
            text += f", {best['n_tasks']:.0f} tasks"
        if pd.notna(piece):
            text += f"; that is {band_words(piece, band)}"
            inside = ok[(ok[size_col] >= band[0]) & (ok[size_col] <= band[1])]
            if len(inside):
                text += (f"; the best point inside the band takes "
                         f"{inside['best_s'].min() / best['best_s']:.2f}x the bottom's time")
            else:
                text += "; no measured point falls inside the band at this data size"
        if axis == "npartitions":
            slots = best["n_workers"] * best["threads_per_worker"]
            lo, hi = (f * slots for f in rules["partitions_per_worker"])
            text += (f"; the 2-4 partitions per worker rule says {lo:.0f}-{hi:.0f} for its "
                     f"{slots} parallel slot(s)")
        items.append(text + ".")
        items += _overhead(engine, ok, best)
    return items


def _overhead(engine: str, ok: pd.DataFrame, best: pd.Series) -> list[str]:
    tasks = ok.dropna(subset=["n_tasks"])
    if not len(tasks):
        return []
    fine = tasks.loc[tasks["n_tasks"].idxmax()]
    text = (f"{engine}: at the finest cut ({fine['n_tasks']:.0f} tasks) time per task is "
            f"{fmt_seconds(fine['best_s'] / fine['n_tasks'])}")
    extra = fine["n_tasks"] - best["n_tasks"] if pd.notna(best.get("n_tasks")) else 0
    if extra > 0:
        marginal = (fine["best_s"] - best["best_s"]) / extra
        text += f"; each task beyond the bottom's count added {fmt_seconds(max(marginal, 0))}"
    return [text + "."]


def scaling_findings(study: pd.DataFrame, budget: float | None = None) -> list[str]:
    """Log-log slopes of time and memory against data size, per engine, and where the memory
    line would cross the sweep's budget (an extrapolation, and said to be one)."""
    items = []
    # A data axis of a workload that states no data size (delayed-sleep's n_tasks) has no x.
    sized = "metric.data_bytes" in study
    for engine, g in _by_engine(study, with_reference=True) if sized else []:
        ok = g.dropna(subset=["best_s", "metric.data_bytes"])
        t = fit_slope(ok["metric.data_bytes"], ok["best_s"])
        m = fit_slope(ok["metric.data_bytes"], ok["growth_bytes"])
        if math.isnan(t):
            continue
        text = (f"{engine}: time grows as data^{t:.2f}, tree memory growth during the run as "
                f"data^{m:.2f} (peak {fmt_bytes(ok['peak_bytes'].max())}) "
                f"over {len(ok)} sizes ({fmt_bytes(ok['metric.data_bytes'].min())} - "
                f"{fmt_bytes(ok['metric.data_bytes'].max())})")
        base = ok["baseline_tree_bytes"].median()
        cross = crossing(ok["metric.data_bytes"], ok["growth_bytes"],
                         budget - base if budget and pd.notna(base) else None)
        if cross is not None:
            text += (f"; extrapolating that line, its tree would pass the "
                     f"{fmt_bytes(budget)} budget at about {fmt_bytes(cross)} of data")
        items.append(text + ".")
    for row in study[study["status"] != "ok"].itertuples():
        items.append(f"{row.engine} at {_axes_text(row.axes)}: {row.status} ({row.error}).")
    return items


def _axes_text(axes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_plain(v)}" for k, v in axes.items())


def _by_engine(study: pd.DataFrame, with_reference: bool = False) -> list[tuple[str, Any]]:
    if not with_reference:
        study = study[study["role"] != "reference"]
    return list(study.groupby("engine", sort=False))


# ---------------------------------------------------------------------------------------------
# Figures


def _fig(n_cols: int, title: str, footer: str, height: float = 4.2) -> tuple[Figure, Any]:
    return plots.titled_figure(title, footer, (max(4.2 * n_cols, 8.0), height), n_cols)


def heatmap_figure(study: pd.DataFrame, value: str, title: str, footer: str) -> Figure | None:
    """Workers (rows) x threads (columns), one panel per engine; failed cells say their status."""
    cells = study[study["role"] != "reference"]
    engines = list(dict.fromkeys(cells["engine"]))
    if not engines:
        return None
    fig, axes = _fig(len(engines), title, footer)
    workers = sorted({workers_threads(a)[0] for a in cells["axes"]})
    threads = sorted({workers_threads(a)[1] for a in cells["axes"]})
    finite = cells[value].replace([np.inf, -np.inf], np.nan).dropna()
    vmax = finite.max() if len(finite) else 1.0
    for ax, engine in zip(axes, engines, strict=True):
        grid = np.full((len(workers), len(threads)), np.nan)
        labels = [["not run"] * len(threads) for _ in workers]
        for r in cells[cells["engine"] == engine].itertuples():
            i = workers.index(workers_threads(r.axes)[0])
            j = threads.index(workers_threads(r.axes)[1])
            v = getattr(r, value)
            grid[i, j] = v
            labels[i][j] = r.status if pd.isna(v) else _heat_text(value, v)
        ax.imshow(grid, cmap="viridis_r" if value == "best_s" else "viridis", vmin=0,
                  vmax=vmax, aspect="auto")
        for i in range(len(workers)):
            for j in range(len(threads)):
                ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=8,
                        color=_text_color(grid[i, j], vmax, value == "best_s"))
        ax.set_xticks(range(len(threads)), [str(t) for t in threads])
        ax.set_yticks(range(len(workers)), [str(w) for w in workers])
        ax.set_xlabel("threads per worker")
        ax.set_ylabel("workers")
        ax.set_title(engine, fontsize=10)
    return fig


def _text_color(v: float, vmax: float, reversed_map: bool) -> str:
    """Black on the light (yellow) end of viridis, white on the dark end."""
    if pd.isna(v):
        return "black"
    light = v / vmax < 0.5 if reversed_map else v / vmax > 0.5
    return "black" if light else "white"


def _heat_text(value: str, v: float) -> str:
    return fmt_seconds(v) if value == "best_s" else f"{v:.0%}"


def ucurve_figure(study: pd.DataFrame, axis: str, rules: dict[str, list[float]], title: str,
                  footer: str) -> Figure | None:
    """Time against chunk size or partitions per engine, tasks on a second axis, band shaded."""
    cells = study[study["role"] != "reference"]
    xcol = "metric.chunk_bytes" if axis == "chunks" else "axis.npartitions"
    if xcol not in cells or cells[xcol].isna().all():
        return None
    fig, (ax,) = _fig(1, title, footer, height=4.8)
    tasks_ax = ax.twinx()
    for engine, g in cells.groupby("engine", sort=False):
        g = g.sort_values(xcol)
        color = ENGINE_COLORS.get(engine, "#333333")
        ok = g.dropna(subset=["best_s"])
        ax.plot(ok[xcol], ok["best_s"], "o-", color=color, label=f"{engine} time")
        if len(ok):
            best = ok.loc[ok["best_s"].idxmin()]
            ax.plot([best[xcol]], [best["best_s"]], "*", ms=16, color=color, mec="black")
        if g["n_tasks"].notna().any():
            tasks_ax.plot(g[xcol], g["n_tasks"], "--", color=color, alpha=0.5,
                          label=f"{engine} tasks")
    _shade_band(ax, cells, axis, rules)
    ax.set_xscale("log", base=2 if axis == "npartitions" else 10)
    ax.set_yscale("log")
    tasks_ax.set_yscale("log")
    ax.set_xlabel("bytes per chunk" if axis == "chunks" else "npartitions")
    ax.set_ylabel("compute time, best of warm runs (s)")
    tasks_ax.set_ylabel("tasks in the graph (dashed)")
    if axis == "chunks":
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: decimal_bytes(v)))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    handles = ax.get_legend_handles_labels()[0] + tasks_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="best")
    return fig


def _shade_band(ax: Any, cells: pd.DataFrame, axis: str, rules: dict[str, list[float]]) -> None:
    if axis == "chunks":
        lo, hi = rules["chunk_bytes"]
        ax.axvspan(lo, hi, color="#2ca02c", alpha=0.12, label="chapter: 100 MB - 1 GB chunks")
        return
    # A one-level scheduler's workers are its pool's threads or processes: count slots.
    slots = (cells["n_workers"] * cells["threads_per_worker"]).max()
    lo, hi = (f * slots for f in rules["partitions_per_worker"])
    ax.axvspan(lo, hi, color="#2ca02c", alpha=0.12,
               label=f"chapter: 2-4 partitions per worker ({slots:.0f} slots)")
    data = cells["metric.data_bytes"].dropna()
    if len(data):
        plo, phi = rules["partition_bytes"]
        top, bottom = data.iloc[0] / plo, data.iloc[0] / phi
        if top >= 1:
            ax.axvspan(max(bottom, 1), top, color="#9467bd", alpha=0.10,
                       label="chapter: 100 MB - 1 GB partitions")


def scaling_figure(study: pd.DataFrame, title: str, footer: str,
                   budget: float | None) -> Figure | None:
    """Log-log time and peak memory against data size per engine, slopes in the legend."""
    if "metric.data_bytes" not in study or study["metric.data_bytes"].isna().all():
        return None
    fig, (t_ax, m_ax) = _fig(2, title, footer, height=4.8)
    sizes = _data_sizes(study)
    for engine, g in study.groupby("engine", sort=False):
        color = ENGINE_COLORS.get(engine, "#333333")
        ok = g.dropna(subset=["best_s", "metric.data_bytes"]).sort_values("metric.data_bytes")
        x = ok["metric.data_bytes"]
        t = fit_slope(x, ok["best_s"])
        m = fit_slope(x, ok["growth_bytes"])
        t_ax.plot(x, ok["best_s"], "o-", color=color, label=f"{engine} (slope {t:.2f})")
        m_ax.plot(x, ok["peak_bytes"], "o-", color=color,
                  label=f"{engine} (growth slope {m:.2f})")
        failed = g[g["status"] != "ok"]
        for r in failed.itertuples():
            xs = sizes.get(_key(r.axes, ["data"]))
            if xs is not None:
                m_ax.plot([xs], [budget or study["peak_bytes"].max()], "x", ms=12, color=color)
                m_ax.annotate(r.status, (xs, budget or study["peak_bytes"].max()), fontsize=7,
                              color=color, xytext=(-4, 6), textcoords="offset points",
                              ha="right")
    total = study["total_memory"].max()
    if pd.notna(total):
        m_ax.axhline(total, color="black", lw=1, ls=":", label=f"machine RAM {fmt_bytes(total)}")
    if budget:
        m_ax.axhline(budget, color="#d62728", lw=1, ls="--",
                     label=f"memory budget {fmt_bytes(budget)}")
    for ax, what in ((t_ax, "compute time (s)"), (m_ax, "peak tree memory (bytes)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("data size")
        ax.set_ylabel(what)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: decimal_bytes(v)))
    t_ax.legend(fontsize=7, loc="upper left")
    # Outside: inside, it would cover the RAM line at the top or the lines at the bottom.
    m_ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    m_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: decimal_bytes(v)))
    return fig


def _data_sizes(study: pd.DataFrame) -> dict[str, float]:
    """Data bytes of each data point, from whichever cell measured it."""
    out: dict[str, float] = {}
    for _, r in study.dropna(subset=["metric.data_bytes"]).iterrows():
        out.setdefault(_key(r["axes"], ["data"]), float(r["metric.data_bytes"]))
    return out


# ---------------------------------------------------------------------------------------------
# The report


def build_sweep_report(records: list[Record]) -> Report:
    report = Report()
    sweep_records = [r for r in records if r.sweep]
    names = list(dict.fromkeys(r.sweep.get("name") for r in sweep_records))
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
    mine = [r for r in records if r.sweep.get("name") == name]
    tagged = [r.sweep["memory_budget_bytes"] for r in mine if r.sweep.get("memory_budget_bytes")]
    budget = max(tagged) if tagged else budget
    repeats = max(r.repeat for r in mine) + 1
    report.add(Heading(1, f"Sweep {name}: {title}"))
    report.add(Para(f"{len(rows)} cells, {len(mine)} records, size "
                    f"{', '.join(sorted(set(rows['size'])))}, up to {repeats} runs per cell "
                    f"(the first cold; best = median of the warm runs). Each cell ran in a "
                    f"fresh process. Machine: {footer.replace(chr(10), '; ')}."))
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
            fig = heatmap_figure(study, value, f"{workload}: {what}, workers x threads", footer)
            report.figure(f"{stem}-heatmap-{value}.png", fig and plots.png_bytes(fig),
                          f"{workload} {what} per workers x threads")
    for axis in ("chunks", "npartitions"):
        if any(axis in a for a in study["axes"]):
            items += layout_findings(study, axis, rules)
            fig = ucurve_figure(study, axis, rules, f"{workload}: time against {axis}", footer)
            report.figure(f"{stem}-ucurve.png", fig and plots.png_bytes(fig),
                          f"{workload} time against {axis}")
    if "data" in kinds:
        items += scaling_findings(study, budget)
        fig = scaling_figure(study, f"{workload}: time and memory against data size", footer,
                             budget)
        report.figure(f"{stem}-scaling.png", fig and plots.png_bytes(fig),
                      f"{workload} scaling")
    ref = study[study["role"] == "reference"]["best_s"].dropna()
    if len(ref):
        items.append(f"pandas reference: {', '.join(fmt_seconds(v) for v in ref)}.")
    report.add(Bullets(tuple(items)), Table(_cell_table(study)))


def _cell_table(study: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame({
        "engine": study["engine"], "axes": [_axes_text(a) for a in study["axes"]],
        "status": study["status"], "best": study["best_s"].map(fmt_seconds),
        "cold": study["cold_s"].map(fmt_seconds),
        "vs pandas": study["speedup_ref"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}x"),
        "vs own 1x1": study["speedup_1x1"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}x"),
        "efficiency": [_efficiency_text(v, b) for v, b in
                       zip(study["efficiency"], study["efficiency_basis"], strict=True)],
        "tasks": study["n_tasks"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}"),
        "peak tree mem": study["peak_bytes"].map(fmt_bytes),
    })
    # A chunk sweep has no 1x1 cells, a sweep of sleeps no tasks: no empty columns.
    return table.loc[:, [c for c in table.columns if (table[c] != "").any()]]


def _efficiency_text(value: float, basis: str) -> str:
    if pd.isna(value):
        return ""
    return f"{value:.0%}" if basis == "own 1x1" else f"{value:.0%} (vs pandas)"


def _problems(report: Report, records: list[Record]) -> None:
    bad = [r for r in records if r.status not in ("ok", "unsupported")]
    report.add(Heading(1, "Problems"))
    if not bad:
        report.add(Para("Every cell finished ok."))
        return
    by_cell: dict[str, list[Record]] = {}
    for r in bad:
        by_cell.setdefault(r.sweep["cell"], []).append(r)
    report.add(Bullets(tuple(
        f"{rs[0].workload} on {rs[0].engine} at {_axes_text(rs[0].sweep['axes'])}: "
        f"{rs[0].status} in {len(rs)} run(s): {rs[0].error}" for rs in by_cell.values())))
