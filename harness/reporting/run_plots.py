"""The run report's figures: pure functions from normalized summary rows to figures.

Every function takes rows already sorted and labelled by the report (columns `label`, `engine`,
`status` plus the summary columns it draws) and returns a Figure, or None when there is nothing
to draw. Engines sit on the y axis (long names stay readable) and the numbers a reader needs are
written in a column to the right of the axes, where they cannot collide with bars or markers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from harness.engines.registry import REFERENCE_ENGINE
from harness.fmt import fmt_bytes, fmt_seconds, ratio_words
from harness.reporting.figures import WIDTH_IN, titled_figure

# A span wider than this between the smallest and largest time switches the axis to log scale,
# otherwise a 10 s cold Spark run flattens every 50 ms warm bar into the axis.
LOG_SPAN = 30.0
BAR = "#4c72b0"
REFERENCE = "#8c8c8c"
COLD = "#9ecae1"
WARM = "#e6550d"
BASELINE = "#c7c7c7"
GROWTH = "#3182bd"
DRIVER = "#d62728"
CLUSTER = "#2ca02c"
SEQUENTIAL = "#d9d9d9"
IDEAL = "#969696"


def _figure(n_rows: int, title: str, footer: str, width: float = WIDTH_IN) -> tuple[Figure, Axes]:
    """A one-axes figure sized to its rows."""
    fig, axes = titled_figure(title, footer, (width, 2.3 + 0.42 * max(n_rows, 2)))
    return fig, axes[0]


def _engine_axis(ax: Axes, labels: Sequence[str]) -> np.ndarray:
    """Engines top to bottom in report order; returns their y positions."""
    ys = np.arange(len(labels), dtype=float)
    ax.set_yticks(ys, list(labels))
    pad = 0.5 if len(labels) > 1 else 1.0  # one engine alone would fill the axes with its bar
    ax.set_ylim(len(labels) - 1 + pad, -pad)
    ax.set_ylabel("engine (workers x threads)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return ys


def _side_column(ax: Axes, ys: np.ndarray, texts: Sequence[str], header: str) -> None:
    """Numbers in a column right of the axes, one per engine row."""
    where = blended_transform_factory(ax.transAxes, ax.transData)
    for y, text in zip(ys, texts, strict=True):
        ax.text(1.02, y, text, transform=where, va="center", ha="left", fontsize=8.5,
                clip_on=False)
    ax.text(1.02, 1.0, header, transform=ax.transAxes, va="bottom", ha="left", fontsize=8.5,
            fontweight="bold", clip_on=False)


def _legend(ax: Axes, handles: list[Artist], ncols: int = 3) -> None:
    """Above the plot area, left-aligned: clear of bars, the side column and the footer."""
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.01),
              ncols=min(ncols, len(handles)), frameon=False, fontsize=8.5, borderaxespad=0.2)


def _scale(ax: Axes, values: Sequence[float], what: str) -> None:
    """Linear from zero, or log when the values span more than LOG_SPAN."""
    vals = [v for v in values if pd.notna(v) and v > 0]
    if not vals:
        ax.set_xlim(0, 1)
        ax.set_xlabel(what)
        return
    lo, hi = min(vals), max(vals)
    if hi / lo > LOG_SPAN:
        ax.set_xscale("log")
        ax.set_xlim(lo / 2, hi * 1.6)
        # Plain 0.05 / 0.1 / 0.2 tick labels: readers of a timing plot should not decode 10^-1.
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"{what}, log scale")
    else:
        ax.set_xlim(0, hi * 1.08)
        ax.set_xlabel(what)


def _status_or(text: str, status: str) -> str:
    """The number, or the status word when a failed engine has none."""
    return text if text else status


def wall_figure(rows: pd.DataFrame, warm_runs: pd.DataFrame, title: str,
                footer: str) -> Figure | None:
    """Warm median as a bar (cold when there is no warm run), cold and each warm run as markers."""
    if rows["best_s"].notna().sum() == 0:
        return None
    fig, ax = _figure(len(rows), title, footer)
    ys = _engine_axis(ax, rows["label"])
    is_ref = (rows["engine"] == REFERENCE_ENGINE).to_numpy()
    cold_only = (rows["warm_s"].isna() & rows["cold_s"].notna()).to_numpy()
    ax.barh(ys, rows["best_s"].fillna(0), height=0.6,
            color=[REFERENCE if r else BAR for r in is_ref],
            hatch=["//" if c else "" for c in cold_only], edgecolor="white")
    ax.plot(rows["cold_s"], ys, "D", mfc="none", mec="black", mew=1.3, markersize=6, zorder=4)
    pos = dict(zip(rows["label"], ys, strict=True))
    ax.plot(warm_runs["wall_s"], warm_runs["label"].map(pos), "|", color="#222222",
            markersize=11, markeredgewidth=1.2, zorder=3)
    _reference_line(ax, rows)
    _scale(ax, [*rows["best_s"], *rows["cold_s"]], "wall time per run (s), compute only")
    header = "warm median · vs pandas" if rows["warm_s"].notna().any() else "cold run · vs pandas"
    _side_column(ax, ys, [_wall_text(r) for r in rows.itertuples()], header)
    _legend(ax, _wall_handles(rows, warm_runs, cold_only))
    return fig


def _wall_handles(rows: pd.DataFrame, warm_runs: pd.DataFrame,
                  cold_only: np.ndarray) -> list[Artist]:
    """Legend entries for what is actually drawn: a one-repeat run has no warm marks."""
    handles: list[Artist] = []
    if rows["warm_s"].notna().any():
        only_ref = (rows["engine"] == REFERENCE_ENGINE).all()
        handles.append(Patch(color=REFERENCE if only_ref else BAR, label="warm median"))
    if cold_only.any():
        handles.append(Patch(facecolor=BAR, hatch="//", edgecolor="white",
                             label="cold only (no warm run)"))
    if len(warm_runs):
        handles.append(Line2D([], [], marker="|", ls="", color="#222222", markersize=9,
                              label="each warm run"))
    handles.append(Line2D([], [], marker="D", ls="", mfc="none", mec="black", mew=1.3,
                          markersize=6, label="cold (repeat 0)"))
    if rows["reference_s"].notna().any():
        handles.append(Line2D([], [], color=REFERENCE, ls="--", label="pandas reference"))
    return handles


def _reference_line(ax: Axes, rows: pd.DataFrame) -> None:
    """A dashed line at the pandas time, so every bar reads against it."""
    ref = rows["reference_s"].dropna()
    if len(ref):
        ax.axvline(ref.iloc[0], color=REFERENCE, ls="--", lw=1, zorder=1)


def _wall_text(row: Any) -> str:
    """Side column of the wall plot: time and ratio to pandas, or the status."""
    if pd.isna(row.best_s):
        return row.status
    if row.engine == REFERENCE_ENGINE:
        versus = "reference"
    else:
        versus = ratio_words(row.speedup) or "no pandas reference"
    # Some repeats failed: the number stands on the runs that were ok.
    flag = f" ({row.status})" if row.status != "ok" else ""
    return f"{fmt_seconds(row.best_s)}   {versus}{flag}"


def cold_warm_figure(rows: pd.DataFrame, title: str, footer: str) -> Figure | None:
    """Cold (repeat 0) and warm median side by side per engine."""
    if rows["warm_s"].notna().sum() == 0:
        return None  # one repeat only: nothing to compare, and the wall plot already shows cold
    fig, ax = _figure(len(rows), title, footer)
    ys = _engine_axis(ax, rows["label"])
    ax.barh(ys - 0.19, rows["cold_s"].fillna(0), height=0.38, color=COLD)
    ax.barh(ys + 0.19, rows["warm_s"].fillna(0), height=0.38, color=WARM)
    _scale(ax, [*rows["cold_s"], *rows["warm_s"]], "wall time per run (s), compute only")
    _side_column(ax, ys, [_cold_warm_text(r) for r in rows.itertuples()], "cold minus warm")
    _legend(ax, [Patch(color=COLD, label="cold (repeat 0)"),
                  Patch(color=WARM, label="warm median (repeats ≥ 1)")])
    return fig


def _cold_warm_text(row: Any) -> str:
    """Side column of the cold/warm plot: the extra cost of the first run."""
    if pd.isna(row.cold_s) and pd.isna(row.warm_s):
        return row.status
    if pd.isna(row.warm_s):
        return "no warm run"
    if pd.isna(row.cold_s):
        return "no cold run"
    extra = row.cold_s - row.warm_s
    sign = "+" if extra >= 0 else "-"
    ratio = row.cold_s / row.warm_s
    return f"{sign}{fmt_seconds(abs(extra))}   ({ratio:.{2 if ratio < 10 else 1}f}x warm)"


def startup_figure(rows: pd.DataFrame, title: str, footer: str) -> Figure | None:
    """Engine start-up, one bar per engine configuration; in-process engines start in µs."""
    if rows["startup_s"].notna().sum() == 0:
        return None
    fig, ax = _figure(len(rows), title, footer)
    ys = _engine_axis(ax, rows["label"])
    ax.barh(ys, rows["startup_s"].fillna(0), height=0.6, color=BAR)
    top = rows["startup_s"].max()
    ax.set_xlim(0, top * 1.08 if top > 0 else 1)
    ax.set_xlabel("engine start-up (s), measured once per session, outside wall time")
    texts = [_status_or(fmt_seconds(v), "not recorded") for v in rows["startup_s"]]
    _side_column(ax, ys, texts, "start-up")
    return fig


def _memory_unit(values: Sequence[float]) -> tuple[str, float]:
    """MiB up to 4 GiB, GiB beyond, so axis numbers stay short."""
    top = max([v for v in values if pd.notna(v)], default=0)
    return ("GiB", float(1 << 30)) if top >= 4 * (1 << 30) else ("MiB", float(1 << 20))


def memory_figure(rows: pd.DataFrame, title: str, footer: str) -> Figure | None:
    """Baseline + growth stacked to the sampled tree peak, HWM upper bound, driver's own peak,
    and the cluster's peak (its workers' summed RSS, measured where they run) where recorded."""
    if rows["peak_tree_bytes"].notna().sum() == 0:
        return None
    fig, ax = _figure(len(rows), title, footer)
    ys = _engine_axis(ax, rows["label"])
    cluster = _cluster_peaks(rows)
    unit, scale = _memory_unit([*rows["peak_tree_bytes"], *rows["peak_tree_hwm_bytes"],
                                *cluster])
    base = rows["baseline_tree_bytes"].fillna(0) / scale
    growth = (rows["peak_tree_bytes"] / scale - base).clip(lower=0).fillna(0)
    ax.barh(ys, base, height=0.6, color=BASELINE)
    ax.barh(ys, growth, left=base, height=0.6, color=GROWTH)
    _hwm_brackets(ax, ys, rows, scale)
    ax.plot(rows["peak_driver_bytes"] / scale, ys, "D", mfc="white", mec=DRIVER, mew=1.5,
            markersize=6, zorder=4)
    if cluster.notna().any():
        ax.plot(cluster / scale, ys, "s", color=CLUSTER, markersize=7, zorder=5)
    top = np.nanmax([*(rows["peak_tree_hwm_bytes"] / scale), *(rows["peak_tree_bytes"] / scale),
                     *(cluster / scale)])
    ax.set_xlim(0, top * 1.08)
    ax.set_xlabel(f"memory ({unit}), whole process tree: driver + Dask workers + Spark JVM")
    head = "tree peak (upper bound) · driver" + (" · cluster" if cluster.notna().any() else "")
    _side_column(ax, ys, [_memory_text(r, c) for r, c in zip(rows.itertuples(), cluster,
                                                             strict=True)], head)
    _legend(ax, _memory_handles(rows["peak_tree_hwm_bytes"].notna().any(),
                                bool(cluster.notna().any())), ncols=2)
    return fig


def _cluster_peaks(rows: pd.DataFrame) -> pd.Series:
    """Each row's cluster peak, NaN where it has none (older summaries lack the column)."""
    if "peak_cluster_bytes" not in rows:
        return pd.Series(np.nan, index=rows.index)
    return pd.to_numeric(rows["peak_cluster_bytes"], errors="coerce")


def _memory_handles(any_hwm: bool, any_cluster: bool = False) -> list[Artist]:
    """Legend entries for what the memory plot draws."""
    handles: list[Artist] = [
        Patch(color=BASELINE, label="tree before the run"),
        Patch(color=GROWTH, label="growth to sampled peak (lower bound)")]
    if any_hwm:
        handles.append(Line2D([], [], color="black", marker="|", markersize=8,
                              label="up to HWM sum (upper bound)"))
    handles.append(Line2D([], [], marker="D", ls="", mfc="white", mec=DRIVER, mew=1.5,
                          label="driver process peak"))
    if any_cluster:
        handles.append(Line2D([], [], marker="s", ls="", color=CLUSTER,
                              label="cluster peak: workers' RSS summed, measured on them"))
    return handles


def _hwm_brackets(ax: Axes, ys: np.ndarray, rows: pd.DataFrame, scale: float) -> None:
    """A capped line from the sampled peak (lower bound) to the HWM sum (upper bound)."""
    lower = rows["peak_tree_bytes"].to_numpy(dtype=float) / scale
    upper = rows["peak_tree_hwm_bytes"].to_numpy(dtype=float) / scale
    known = ~np.isnan(upper) & ~np.isnan(lower)
    if known.any():
        span = np.clip(upper[known] - lower[known], 0, None)
        ax.errorbar(lower[known], ys[known], xerr=[np.zeros_like(span), span], fmt="none",
                    ecolor="black", elinewidth=1.2, capsize=5, zorder=3)


def _memory_text(row: Any, cluster: float = float("nan")) -> str:
    """Side column of the memory plot: sampled peak, HWM bound, driver peak, cluster peak."""
    if pd.isna(row.peak_tree_bytes):
        return str(row.status)
    hwm = f"(≤ {fmt_bytes(row.peak_tree_hwm_bytes)})" if pd.notna(row.peak_tree_hwm_bytes) \
        else "(no HWM)"
    text = f"{fmt_bytes(row.peak_tree_bytes)} {hwm} · {fmt_bytes(row.peak_driver_bytes)}"
    return text + (f" · {fmt_bytes(cluster)}" if pd.notna(cluster) else "")


def efficiency_figure(rows: pd.DataFrame, title: str, footer: str) -> Figure | None:
    """Measured warm time against the ideal on the engine's slots and the sequential time."""
    if rows["best_s"].notna().sum() == 0 or rows["metric.ideal_s"].notna().sum() == 0:
        return None
    fig, ax = _figure(len(rows), title, footer)
    ys = _engine_axis(ax, rows["label"])
    h = 0.27
    ax.barh(ys - h, rows["metric.sequential_s"].fillna(0), height=h, color=SEQUENTIAL)
    ax.barh(ys, rows["metric.ideal_s"].fillna(0), height=h, color=IDEAL)
    ax.barh(ys + h, rows["best_s"].fillna(0), height=h, color=BAR)
    top = np.nanmax([*rows["metric.sequential_s"], *rows["best_s"], *rows["metric.ideal_s"]])
    ax.set_xlim(0, top * 1.08)
    ax.set_xlabel("wall time (s): measured warm median vs ideal and sequential")
    _side_column(ax, ys, [_efficiency_text(r) for r in rows.itertuples()],
                 "slots · ideal ÷ measured")
    measured = "measured (warm median)" if rows["warm_s"].notna().any() else "measured (cold run)"
    _legend(ax, [Patch(color=SEQUENTIAL, label="sequential (one slot)"),
                  Patch(color=IDEAL, label="ideal (perfect scheduling)"),
                  Patch(color=BAR, label=measured)])
    return fig


def _efficiency_text(row: Any) -> str:
    """Side column of the efficiency plot: slots and ideal ÷ measured."""
    if pd.isna(row.best_s) or pd.isna(row.efficiency):
        return row.status if pd.isna(row.best_s) else "no ideal recorded"
    slots = getattr(row, "slots", float("nan"))
    prefix = f"{int(slots)} slot{'s' if slots != 1 else ''} · " if pd.notna(slots) else ""
    return f"{prefix}{row.efficiency:.0%} efficient"


def overview_figure(grid: pd.DataFrame, cells: pd.DataFrame, title: str,
                    footer: str) -> Figure | None:
    """Heat map of speed vs pandas, the ratio written in each cell.

    `grid` holds speedups (NaN where there is none), `cells` the text for each cell; both have
    engines down and workloads across. With more workloads than engines (the whole catalogue)
    the map is turned so workloads run down the page, where their names stay readable.
    """
    if grid.empty or grid.notna().sum().sum() == 0:
        return None
    turned = grid.shape[1] > grid.shape[0]
    if turned:
        grid, cells = grid.T, cells.T
    width = min(max(WIDTH_IN, 4.5 + 1.9 * grid.shape[1]), 24)
    fig, (ax,) = titled_figure(title, footer, (width, 2.0 + 0.5 * grid.shape[0]))
    logs = np.log2(grid.to_numpy(dtype=float))
    reach = max(1.0, math.ceil(np.nanmax(np.abs(logs))))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-reach, vmax=reach)
    image = ax.imshow(np.ma.masked_invalid(logs), cmap="RdBu", norm=norm, aspect="auto")
    ax.set_facecolor("#cfcfcf")  # cells without a ratio: failed or absent
    ax.set_xticks(range(grid.shape[1]), list(grid.columns))
    ax.set_yticks(range(grid.shape[0]), list(grid.index))
    engines_label = "engine (workers x threads)"
    if turned:
        ax.set_xlabel(engines_label)
        ax.xaxis.set_label_position("top")
        ax.set_ylabel("workload")
    else:
        ax.set_ylabel(engines_label)
    ax.tick_params(axis="x", labeltop=True, labelbottom=False, top=True, bottom=False)
    _cell_texts(ax, logs, cells.to_numpy(), reach)
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    ticks = list(range(-int(reach), int(reach) + 1))
    bar.set_ticks(ticks, labels=[_speed_tick(t) for t in ticks])
    bar.set_label("speed vs pandas (log scale)")
    return fig


def _cell_texts(ax: Axes, logs: np.ndarray, texts: np.ndarray, reach: float) -> None:
    """Write each cell's words, white on the darkest colours."""
    for (i, j), text in np.ndenumerate(texts):
        dark = not np.isnan(logs[i, j]) and abs(logs[i, j]) > 0.6 * reach
        ax.text(j, i, text, ha="center", va="center", fontsize=8.5,
                color="white" if dark else "black")


def _speed_tick(power: int) -> str:
    """A colour-bar tick at 2**power as pyperf-style words."""
    if power == 0:
        return "same"
    return f"{2 ** power:g}x faster" if power > 0 else f"{2 ** -power:g}x slower"
