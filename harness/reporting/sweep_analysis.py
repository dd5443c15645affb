"""The sweep report's analysis: one row per cell with derived measures, and the findings.

One row per cell (best = warm median, as in summary.py), then, per study (workload):
- speedup over the pandas reference at the same data point, and over the same engine at
  1 worker x 1 thread; parallel efficiency = speedup / min(slots, logical cores);
- engine axes -> the best workers x threads per engine;
- layout axes (chunks, npartitions) -> the bottom of each U-curve, per-task overhead, and the
  distance from the chapter's band;
- data axes -> log-log scaling slopes for time and memory;
- categorical axes (true/false, strings: persist-reuse's `persist`) -> each engine's time and
  memory at each choice side by side; no fits, since choices have no scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.fmt import decimal_bytes, fmt_bytes, fmt_param, fmt_seconds, ratio_words
from harness.reporting.summary import summarize_group, tidy
from harness.results.schema import Record
from harness.sweep.spec import axis_kind, categorical


def cell_rows(records: list[Record]) -> pd.DataFrame:
    """One row per sweep cell: its axes, worst status, best and cold time, memory, metrics."""
    frame = tidy(records)
    frame["cell"] = [r.tag["cell"] for r in records]
    first: dict[str, Record] = {}
    for r in records:
        first.setdefault(r.tag["cell"], r)
    rows = []
    for key, group in frame.groupby("cell", sort=False):
        r = first[key]
        axes = r.tag.get("axes", {})
        rows.append({
            "sweep": r.tag.get("name"), "workload": r.workload, "engine": r.engine,
            "role": r.tag.get("role"), "size": r.size, "axes": axes,
            "n_workers": r.n_workers, "threads_per_worker": r.threads_per_worker,
            "cores": r.env.get("logical_cores") or np.nan,
            "total_memory": r.env.get("total_memory_bytes") or np.nan,
            **{f"axis.{k}": plain(v) for k, v in axes.items()},
            **summarize_group(group),
        })
    out = pd.DataFrame(rows)
    out["peak_bytes"] = out[["peak_tree_bytes", "peak_tree_hwm_bytes"]].max(axis=1)
    # What the run itself added over the idle tree: an interpreter's or a JVM's fixed baseline
    # would otherwise flatten the memory exponent of small sizes towards zero.
    out["growth_bytes"] = (out["peak_bytes"] - out["baseline_tree_bytes"].fillna(0)).clip(lower=1)
    return derive(out)


def plain(value: Any) -> Any:
    return "x".join(map(str, value)) if isinstance(value, list | tuple) else value


def axes_key(axes: dict[str, Any], kinds: Sequence[str]) -> str:
    return json.dumps({k: v for k, v in axes.items() if axis_kind(k) in kinds}, sort_keys=True)


def workers_threads(axes: dict[str, Any]) -> tuple[int, int]:
    """The requested workers and threads of a cell; an axis the sweep does not vary is 1."""
    return axes.get("n_workers", 1), axes.get("threads_per_worker", 1)


def derive(rows: pd.DataFrame) -> pd.DataFrame:
    """Speedups over pandas and over the engine's own 1x1 point, and parallel efficiency."""
    rows = rows.copy()
    refs = {(r.workload, axes_key(r.axes, ["data"])): r.best_s
            for r in rows.itertuples() if r.role == "reference"}
    rows["reference_s"] = [refs.get((r.workload, axes_key(r.axes, ["data"])), np.nan)
                           for r in rows.itertuples()]
    # The engine's own 1x1 is a cell that really ran one worker of one thread: a chunk sweep
    # on the engine's default pool has none, and then efficiency is measured against pandas.
    ones = {(r.workload, r.engine, axes_key(r.axes, ["data", "layout"])): r.best_s
            for r in rows.itertuples()
            if r.role != "reference" and (r.n_workers, r.threads_per_worker) == (1, 1)}
    rows["one_slot_s"] = [ones.get((r.workload, r.engine, axes_key(r.axes, ["data", "layout"])),
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


def engine_findings(study: pd.DataFrame) -> list[str]:
    """Best workers x threads per engine, and what the cores-sized point gives."""
    items = []
    for engine, g in by_engine(study):
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
    for engine, g in by_engine(study):
        ok = g.dropna(subset=["best_s"])
        if not len(ok):
            continue
        best = ok.loc[ok["best_s"].idxmin()]
        piece = best.get(size_col, np.nan)
        text = (f"{engine}: bottom of the U at {axis}={plain(best['axes'][axis])}"
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
    for engine, g in by_engine(study, with_reference=True) if sized else []:
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
    return items + failed_items(study)


def failed_items(study: pd.DataFrame) -> list[str]:
    return [f"{row.engine} at {axes_text(row.axes)}: {row.status} ({row.error})."
            for row in study[study["status"] != "ok"].itertuples()]


def choice_axes(study: pd.DataFrame) -> list[str]:
    """The study's categorical axes: those whose every value is a choice (true/false, a
    string), in the order the sweep file names them."""
    names = dict.fromkeys(k for a in study["axes"] for k in a)
    return [n for n in names if categorical(a[n] for a in study["axes"] if n in a)]


def point_label(axes: dict[str, Any]) -> str:
    """A cell's point as written: 'persist=false', or every axis when the study has several."""
    return axes_text(axes) or "defaults"


def choice_findings(study: pd.DataFrame) -> list[str]:
    """Per engine, its time and peak memory at each point, each against the first point."""
    items = []
    for engine, g in by_engine(study):
        ok = g.dropna(subset=["best_s"])
        if not len(ok):
            continue
        first = ok.iloc[0]
        parts = [_point_text(first)]
        parts += [_point_text(row, first) for _, row in ok.iloc[1:].iterrows()]
        items.append(f"{engine}: " + "; ".join(parts) + ".")
    return items + failed_items(study)


def _point_text(row: pd.Series, first: pd.Series | None = None) -> str:
    """'persist=true 0.080 s (1.50x faster than persist=false), peak 330 MiB (+20.0 MiB)'."""
    text = f"{point_label(row['axes'])} {fmt_seconds(row['best_s'])}"
    if first is not None:
        text += f" ({_than(ratio_words(first['best_s'] / row['best_s']), first)})"
    text += f", peak {fmt_bytes(row['peak_bytes'])}"
    if first is not None and pd.notna(row["peak_bytes"]) and pd.notna(first["peak_bytes"]):
        more = row["peak_bytes"] - first["peak_bytes"]
        text += f" ({'+' if more >= 0 else '-'}{fmt_bytes(abs(more))})"
    kept = row.get("metric.persisted_bytes")
    if kept is not None and pd.notna(kept):
        text += f", {fmt_bytes(kept)} kept in memory"
    return text


def _than(words: str, first: pd.Series) -> str:
    label = point_label(first["axes"])
    return f"same time as {label}" if words == "same" else f"{words} than {label}"


def axes_text(axes: dict[str, Any]) -> str:
    """'chunks=40x40x6, persist=false': each axis value as its sweep file writes it."""
    return ", ".join(f"{k}={fmt_param(v)}" for k, v in axes.items())


def by_engine(study: pd.DataFrame, with_reference: bool = False) -> list[tuple[str, Any]]:
    if not with_reference:
        study = study[study["role"] != "reference"]
    return list(study.groupby("engine", sort=False))
