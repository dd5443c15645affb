"""The compare report: the verdict, what moved in the environment, every change, and a plot of
every cell's ratio with its interval against the threshold band."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from harness.judge.compare import CONFIDENCE, Comparison, Row
from harness.judge.render import (
    COLUMNS,
    env_lines,
    geomean_lines,
    headline,
    noise_lines,
    ordered,
    table_rows,
)
from harness.judge.sides import METRICS
from harness.judge.words import METRIC_TITLES, cell_text, params_needed
from harness.reporting.document import Bullets, Heading, Para, Report, Table
from harness.reporting.environment import machine_footer
from harness.reporting.figures import ENGINE_COLORS, WIDTH_IN, titled_figure
from harness.reporting.output import write_markdown_file

PLOTTED = ("warm_wall", "peak_tree_rss")
TICKS = (0.25, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 4.0)


def build_compare_report(comparison: Comparison, figures: bool = True) -> Report:
    report = Report()
    report.add(Heading(1, "harness compare: is the new run worse than the baseline?"),
               Para(headline(comparison)),
               Para(f"Baseline runs: {', '.join(comparison.baseline_runs)}. New runs: "
                    f"{', '.join(comparison.new_runs)}. Ratio = median(new) / median(baseline);"
                    f" intervals are {CONFIDENCE:.0%} bootstrap intervals of that ratio."))
    if comparison.warnings:
        report.add(Heading(2, "Warnings"), Bullets(tuple(comparison.warnings)))
    report.add(Heading(2, "What differs in the environment"), Bullets(tuple(env_lines(comparison))))
    changed = ordered(comparison, every=False)
    report.add(Heading(2, "Changes"))
    report.add(Table(_frame(changed)) if changed else Para("No cell changed on any metric."))
    summary = geomean_lines(comparison) + noise_lines(comparison)
    if summary:
        report.add(Heading(2, "Per engine"), Bullets(tuple(summary)))
    if figures:
        for metric in PLOTTED:
            report.figure(f"compare-{metric}.png", ratio_figure(comparison, metric),
                          f"ratio of {METRIC_TITLES[metric]} per cell with its interval")
    report.add(Heading(2, "Every row"), Table(_frame(ordered(comparison, every=True))))
    return report


def _frame(rows: list[Row]) -> pd.DataFrame:
    return pd.DataFrame(table_rows(rows), columns=list(COLUMNS))


def ratio_figure(comparison: Comparison, metric: str) -> Figure | None:
    """Every cell's ratio on the metric with its interval, log scale, the threshold shaded."""
    rows = [r for r in comparison.rows if r.metric == metric and r.ratio]
    if not rows:
        return None
    rows.sort(key=lambda r: (r.key[1], r.key[0]))
    title = f"{METRIC_TITLES[metric]}: new ÷ baseline per cell"
    threshold = max(comparison.factor, next(m.min_factor for m in METRICS if m.name == metric))
    footer = (f"{CONFIDENCE:.0%} bootstrap intervals; shaded: within ±{threshold - 1:.0%}, the "
              "threshold; grey ticks: the run-to-run noise bound from the baseline's runs; "
              "filled: a called change\n" + machine_footer(comparison.examples))
    fig, (ax,) = titled_figure(title, footer, (WIDTH_IN, 1.8 + 0.26 * len(rows)))
    ys = np.arange(len(rows))[::-1]
    for y, row in zip(ys, rows, strict=True):
        _point(ax, y, row)
    ax.axvspan(1 / threshold, threshold, color="#dddddd", alpha=0.6, lw=0)
    ax.axvline(1.0, color="black", lw=1, ls="--")
    ax.set_xscale("log")
    # Ratios, not powers of ten: a log axis spanning 0.8-1.3 would otherwise read "9x10^-1".
    low, high = ax.get_xlim()
    # Past a span of 3x, the ticks at 0.9 and 1.1 run into their neighbours' labels.
    ticks = TICKS if high / low < 3 else tuple(t for t in TICKS if t not in (0.9, 1.1))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    named = params_needed(r.key for r in rows)
    ax.set_yticks(ys, [cell_text(r, with_params=r.key in named) for r in rows], fontsize=7)
    ax.set_xlabel("ratio (log scale): right of 1 is slower / more memory")
    ax.grid(axis="x", alpha=0.3, which="both")
    return fig


def _point(ax: Axes, y: float, row: Row) -> None:
    color = ENGINE_COLORS.get(row.key[1], "#333333")
    s = row.shift
    assert s is not None
    has_ci = not (math.isnan(s.low) or math.isnan(s.high))
    xerr = [[s.ratio - s.low], [s.high - s.ratio]] if has_ci else None
    ax.errorbar(s.ratio, y, xerr=xerr, fmt="o", color=color, capsize=2,
                markerfacecolor=color if row.significant else "white")
    if not math.isnan(row.noise):
        ax.plot([1 / row.noise, row.noise], [y, y], "|", color="#777777", markersize=9)


def write_markdown(comparison: Comparison, path: Path) -> None:
    """The report without its plots, as one Markdown file written whole."""
    write_markdown_file(build_compare_report(comparison, figures=False), path)
