"""The sweep report's figures: workers x threads heatmaps, U-curves against chunk size or
partitions, log-log scaling of time and memory against data size, and bars side by side for a
categorical axis (true/false, strings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from harness.fmt import (
    BINARY_UNITS,
    decimal_bytes,
    fmt_bytes,
    fmt_param,
    fmt_seconds,
    ratio_words,
)
from harness.reporting.figures import ENGINE_COLORS, titled_figure
from harness.reporting.sweep_analysis import (
    axes_key,
    axes_text,
    fit_slope,
    point_label,
    workers_threads,
)


def _fig(n_cols: int, title: str, footer: str, height: float = 4.2) -> tuple[Figure, Any]:
    return titled_figure(title, footer, (max(4.2 * n_cols, 8.0), height), n_cols)


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
            xs = sizes.get(axes_key(r.axes, ["data"]))
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
        out.setdefault(axes_key(r["axes"], ["data"]), float(r["metric.data_bytes"]))
    return out


@dataclass(frozen=True)
class Panel:
    """One panel of the choice figure: a column of the cell rows, how to write it, how to
    write a later point's change from the first, and the unit its axis counts in."""

    column: str
    label: str
    fmt: Callable[[float], str]
    change: Callable[[float, float], str]
    unit: tuple[str, float] = ("s", 1.0)


def choice_figure(study: pd.DataFrame, title: str, footer: str) -> Figure | None:
    """Time and peak memory per engine, one bar per point of a categorical axis: the points
    evenly spaced in the sweep file's order and labelled as written, nothing fitted."""
    cells = study[study["role"] != "reference"]
    engines = list(dict.fromkeys(cells["engine"]))
    if not engines:
        return None
    points = _point_labels(cells)
    width = max(8.0, 2 * (0.6 * len(engines) * (len(points) + 1) + 1.5))
    fig, axes = titled_figure(title, footer, (width, 4.8), 2)
    axis = " x ".join(dict.fromkeys(k for a in cells["axes"] for k in a))
    panels = (Panel("best_s", "compute time, best of warm runs", fmt_seconds,
                    lambda first, v: ratio_words(first / v)),
              Panel("peak_bytes", "peak tree memory", fmt_bytes,
                    lambda first, v: ("+" if v >= first else "-") + fmt_bytes(abs(v - first)),
                    _binary_unit(cells["peak_bytes"].max())))
    for ax, panel in zip(axes, panels, strict=True):
        _choice_bars(ax, cells, engines, points, panel)
        ax.set_ylabel(f"{panel.label} ({panel.unit[0]})")
        sec = _engine_labels(ax, engines, len(points))
        sec.set_xlabel(f"{axis} (categorical), per engine")
    return fig


def _binary_unit(top: float) -> tuple[str, float]:
    """The unit a memory axis counts in, so that its ticks fall on round MiB or GiB."""
    return next(((unit, scale) for unit, scale in BINARY_UNITS if top >= scale), ("B", 1.0))


def _point_labels(cells: pd.DataFrame) -> dict[str, str]:
    """Each point's key and its label under a bar: the value alone when there is one axis."""
    names = list(dict.fromkeys(k for a in cells["axes"] for k in a))
    return {axes_text(a): (fmt_param(a[names[0]]) if len(names) == 1 else point_label(a))
            for a in cells["axes"]}


def _choice_bars(ax: Any, cells: pd.DataFrame, engines: list[str], points: dict[str, str],
                 panel: Panel) -> None:
    """A group of bars per engine, a bar per point (darker for later points), each with its
    value on top and, after the first, its change from the first; a failed cell shows its
    status instead of a bar."""
    keys, step = list(points), len(points) + 1  # one empty slot between engines
    for i, engine in enumerate(engines):
        mine = cells[cells["engine"] == engine]
        first = None
        for j, key in enumerate(keys):
            rows = mine[mine["axes"].map(axes_text) == key]
            if not len(rows):
                continue
            row, x = rows.iloc[0], i * step + j
            v = row[panel.column]
            if pd.isna(v):
                ax.text(x, 0, row["status"], rotation=90, ha="center", va="bottom", fontsize=7)
                continue
            color = ENGINE_COLORS.get(engine, "#333333")
            ax.bar(x, v / panel.unit[1], color=color, edgecolor=color,
                   alpha=0.45 + 0.55 * j / max(len(keys) - 1, 1))
            text = panel.fmt(v) if first is None else f"{panel.fmt(v)}\n{panel.change(first, v)}"
            ax.annotate(text, (x, v / panel.unit[1]), xytext=(0, 2), fontsize=7,
                        textcoords="offset points", ha="center", va="bottom")
            first = v if first is None else first
    labels = list(points.values())
    ax.set_xticks([i * step + j for i in range(len(engines)) for j in range(len(keys))],
                  labels * len(engines), fontsize=8,
                  rotation=30 if max(map(len, labels)) > 8 else 0)
    ax.margins(y=0.15)


def _engine_labels(ax: Any, engines: list[str], n_points: int) -> Any:
    """The engines' names centred under their groups, below the points' labels."""
    step = n_points + 1
    sec = ax.secondary_xaxis("bottom")
    sec.set_xticks([i * step + (n_points - 1) / 2 for i in range(len(engines))], engines)
    sec.tick_params(length=0, pad=16)
    return sec
