"""The history report: the verdict, the regressions in one sentence each, the changed series,
the noise floor, an overview of every engine over the nights and one time series per changed
cell with its levels, steps, outliers or creep marked."""

from __future__ import annotations

import itertools
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.judge.history import History, Series, Step, changed
from harness.judge.history_render import (
    COLUMNS,
    change_text,
    headline,
    noise_lines,
    regression_lines,
    step_env_text,
    table_rows,
)
from harness.judge.words import METRIC_TITLES, key_text, params_needed, ratio_words
from harness.reporting.document import Bullets, Heading, Para, Report, Table
from harness.reporting.environment import machine_footer
from harness.reporting.figures import ENGINE_COLORS, WIDTH_IN, titled_figure
from harness.reporting.output import write_markdown_file

# More plots than this is a wall nobody reads: the table lists every changed series anyway.
MAX_SERIES_PLOTS = 24


def build_history_report(hist: History, figures: bool = True) -> Report:
    report = Report()
    report.add(Heading(1, "harness history: since when, and what moved?"),
               Para(headline(hist)),
               Para("Each series is one value per run: the median of the run's repeats. "
                    f"Runs: {hist.nights[0].run_id} to {hist.nights[-1].run_id}."))
    if hist.warnings:
        report.add(Heading(2, "Warnings"), Bullets(tuple(hist.warnings)))
    lines = regression_lines(hist)
    report.add(Heading(2, "Regressions at the newest run"),
               Bullets(tuple(lines)) if lines else Para("None."))
    rows = table_rows(hist)
    report.add(Heading(2, "Changed series"))
    report.add(Table(pd.DataFrame(rows, columns=list(COLUMNS))) if rows else
               Para("No series has a step, creep or outlier."))
    if noise_lines(hist):
        report.add(Heading(2, "Noise floor"),
                   Para("The smallest change one new run could be called by, run to run, per "
                        "cell of warm wall time:"), Bullets(tuple(noise_lines(hist))))
    if figures:
        report.figure("history-overview.png", overview_figure(hist),
                      "warm wall time of every engine over the runs")
        for i, series in enumerate(changed(hist)[:MAX_SERIES_PLOTS]):
            report.figure(f"history-{i:02d}.png", series_figure(hist, series),
                          f"{_cell(hist, series)} {METRIC_TITLES[series.metric.name]}")
    return report


def _cell(hist: History, s: Series) -> str:
    """The series' cell, its params named where another cell differs from it only in them."""
    return key_text(s.key, s.key in params_needed(x.key for x in hist.series))


def _x(hist: History) -> list[str]:
    return [n.timestamp[5:16].replace("T", " ") for n in hist.nights]


def overview_figure(hist: History) -> Figure | None:
    """Per engine, the geometric mean over its cells of warm wall time relative to each cell's
    own median: a line that moves with every cell is the machine or a shared library."""
    warm = [s for s in hist.series if s.metric.name == "warm_wall"]
    if not warm or len(hist.nights) < 2:
        return None
    footer = ("each point: the geometric mean over the engine's cells of (run median ÷ the "
              "cell's median over the history)\n" + machine_footer(hist.examples))
    fig, (ax,) = titled_figure("warm wall time per engine over the runs", footer,
                               (WIDTH_IN, 3.6))
    engines = dict.fromkeys(s.key[1] for s in warm)
    for engine in engines:
        logs: dict[int, list[float]] = {}
        for s in (s for s in warm if s.key[1] == engine):
            centre = float(np.median(np.log(s.values)))
            for run, value in zip(s.runs, s.values, strict=True):
                logs.setdefault(run, []).append(float(np.log(value)) - centre)
        runs = sorted(logs)
        ax.plot(runs, [float(np.exp(np.mean(logs[r]))) for r in runs], "o-", ms=3,
                label=engine, color=ENGINE_COLORS.get(engine))
    ax.axhline(1.0, color="black", lw=0.8, ls="--")
    _night_ticks(ax, hist)
    ax.set_ylabel("relative to the cell's median")
    ax.legend(fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    return fig


def _night_ticks(ax, hist: History) -> None:  # type: ignore[no-untyped-def]
    labels = _x(hist)
    every = max(1, len(labels) // 12)
    ticks = list(range(0, len(labels), every))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("run (UTC start)")


def series_figure(hist: History, s: Series) -> Figure:
    """One series: each run's median with the range of its repeats, the levels, the steps
    (with what changed), outliers crossed out, creep as its fitted line."""
    title = f"{_cell(hist, s)}: {METRIC_TITLES[s.metric.name]} - {s.verdict}"
    footer = ("dots: run medians; bars: min-max of the run's repeats; lines: the levels; "
              "dashed: a step; x: an outlier set aside\n" + machine_footer(hist.examples))
    fig, (ax,) = titled_figure(title, footer, (WIDTH_IN, 3.4))
    scale, unit = _scale(s)
    color = ENGINE_COLORS.get(s.key[1], "#333333")
    values = np.array(s.values) / scale
    low = values - np.array([lo for lo, _ in s.spread]) / scale
    high = np.array([hi for _, hi in s.spread]) / scale - values
    ax.errorbar(s.runs, values, yerr=[low, high], fmt="o", ms=4, color=color, capsize=2)
    ax.margins(y=0.12)  # an outlier's marker would sit on the frame
    outliers = [s.runs.index(i) for i in s.outliers]
    if outliers:
        ax.plot([s.runs[i] for i in outliers], values[outliers], "x", color="red", ms=10)
    _levels(ax, s, scale)
    for step in s.steps:
        ax.axvline(step.at - 0.5, color="black", ls="--", lw=1)
        ax.annotate(_step_label(step, s),
                    (step.at - 0.5, ax.get_ylim()[1]), fontsize=7, va="top", ha="right",
                    rotation=0, xytext=(-3, -3), textcoords="offset points")
    if s.creep:
        kept = [(r, v) for r, v in zip(s.runs, values, strict=True) if r not in s.outliers]
        xs = np.array([r for r, _ in kept], dtype=float)
        fit = np.polyfit(xs, np.log([v for _, v in kept]), 1)
        ax.plot(xs, np.exp(np.polyval(fit, xs)), "-", color="red", lw=1.5,
                label=change_text(s))
        ax.legend(fontsize=7)
    _night_ticks(ax, hist)
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    return fig


# A commit's 40 hex digits fill a plot's width; its first ten name it as well.
_COMMIT = re.compile(r"\b([0-9a-f]{10})[0-9a-f]{30}\b")
MAX_LABEL_LINES = 4


def _step_label(step: Step, s: Series) -> str:
    """The change and what moved, one environment field a line, commits shortened."""
    moved = [c.text for c in step.env] or [step_env_text(step)]
    lines = [change_text_of(step.ratio, s)] + [_COMMIT.sub(r"\1", m) for m in moved]
    lines += ["nothing else"] if step.env else []
    if len(lines) > MAX_LABEL_LINES:
        lines = [*lines[:MAX_LABEL_LINES - 1], f"... {len(lines) - MAX_LABEL_LINES + 1} more"]
    return "\n".join(textwrap.shorten(line, 70, placeholder="...") for line in lines)


def change_text_of(ratio: float, s: Series) -> str:
    return ratio_words(ratio, s.metric.unit, s.metric.name)


def _levels(ax, s: Series, scale: float) -> None:  # type: ignore[no-untyped-def]
    """Horizontal lines at each level's geometric mean, between its steps."""
    edges = [s.runs[0], *[st.at for st in s.steps], s.runs[-1] + 1]
    for a, b in itertools.pairwise(edges):
        vals = [v for r, v in zip(s.runs, s.values, strict=True)
                if a <= r < b and r not in s.outliers]
        if vals and not s.creep:
            level = float(np.exp(np.mean(np.log(vals)))) / scale
            ax.hlines(level, a - 0.4, b - 0.6, color="#444444", lw=1.5)


def _scale(s: Series) -> tuple[float, str]:
    if s.metric.unit == "bytes":
        return 2**20, "MiB"
    top = max(s.values)
    return (1e-3, "ms") if top < 1 else (1.0, "s")


def write_history_markdown(hist: History, path: Path) -> None:
    """The report without its plots, as one Markdown file written whole."""
    write_markdown_file(build_history_report(hist, figures=False), path)

