"""The decision record's two plots: each option on each job (what is minimised, with the
limit), and each option's time and memory against data size with the fitted lines carried
to the size the team grows to (dashed where they are extrapolated)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from harness.decide.choose import GIB, Outcome
from harness.decide.growth import GB, Line
from harness.decide.spec import Decision
from harness.fmt import decimal_bytes, fmt_bytes, fmt_seconds
from harness.reporting.figures import ENGINE_COLORS, WIDTH_IN, titled_figure

UNITS = {"warm": ("s", 1.0), "cold": ("s", 1.0), "memory": ("GiB", float(GIB))}
SHORT = {"warm": "warm wall time", "cold": "cold wall time with start-up",
         "memory": "peak tree memory"}


def options_figure(decision: Decision, outcome: Outcome, footer: str) -> Figure | None:
    """One panel per job: a bar per option (its median), the chosen one outlined."""
    jobs = decision.jobs
    if not any(c.value(decision.minimise) for s in outcome.standings for c in s.cells):
        return None
    unit, scale = UNITS[decision.minimise]
    # One panel per job, side by side; the options' names only on the first (same order).
    fig, axes = titled_figure(f"{SHORT[decision.minimise]} ({unit}) per option and job: "
                              "lower is better; the chosen option outlined", footer,
                              (max(WIDTH_IN, 2.6 + 2.4 * len(jobs)),
                               1.6 + 0.4 * len(decision.options)), n_cols=len(jobs))
    for i, (ax, job) in enumerate(zip(axes, jobs, strict=True)):
        names, values, colors, edges = [], [], [], []
        for s in outcome.standings:
            v = s.cell(job).value(decision.minimise)
            names.append(s.option.name)
            values.append(np.nan if v is None else v / scale)
            colors.append(ENGINE_COLORS.get(s.option.engine, "#999999"))
            edges.append("black" if s is outcome.chosen else "none")
        ys = np.arange(len(names))
        ax.barh(ys, values, color=colors, edgecolor=edges, linewidth=1.6)
        ax.set_yticks(ys, names if i == 0 else [""] * len(names), fontsize=8)
        ax.invert_yaxis()
        ax.set_title(job.label + (f" (weight {job.weight:g})" if job.weight != 1 else ""),
                     fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        for y, v, s in zip(ys, values, outcome.standings, strict=True):
            # The record's own formatting: the label reads as the evidence table does.
            text = "no record" if np.isnan(v) else (
                fmt_bytes(v * scale) if decision.minimise == "memory" else fmt_seconds(v))
            if s.out:
                text += " (out)"
            ax.text(0 if np.isnan(v) else v, y, " " + text, va="center", fontsize=7)
        limit = decision.limits.peak_memory_gib
        if decision.minimise == "memory" and limit:
            ax.axvline(limit, color="#d62728", linestyle="--", linewidth=1)
        ax.margins(x=0.3)
    return fig


def growth_figure(decision: Decision, found: list[Line], footer: str) -> Figure | None:
    """Time and memory against data, measured points and fitted lines, to the growth size."""
    if not found or decision.growth is None:
        return None
    fig, (t_ax, m_ax) = titled_figure(
        f"{decision.growth.workload}: time and memory as the data grows (dashed: extrapolated)",
        footer, (WIDTH_IN, 4.4), n_cols=2)
    target = decision.growth.grow_to_gb * GB
    for line in found:
        color = ENGINE_COLORS.get(line.option.engine, "#999999")
        x = np.array(line.data)
        t_ax.plot(x, line.time_s, "o", color=color, label=line.option.name)
        m_ax.plot(x, np.array(line.peak) / GIB, "o", color=color, label=line.option.name)
        if not line.fitted():
            continue
        for ax, f, scale in ((t_ax, line.time_at, 1.0), (m_ax, line.memory_at, float(GIB))):
            inside = np.geomspace(x.min(), x.max(), 20)
            beyond = np.geomspace(x.max(), max(target, x.max()), 20)
            ax.plot(inside, [f(v) / scale for v in inside], "-", color=color, linewidth=1)
            ax.plot(beyond, [f(v) / scale for v in beyond], "--", color=color, linewidth=1)
    limit = decision.limits.peak_memory_gib
    if limit:
        m_ax.axhline(limit, color="#d62728", linestyle=":", linewidth=1)
        # x in axes fractions, y in GiB: the label sits at the left edge whatever the scale.
        m_ax.text(0.01, limit, f"limit {limit:g} GiB", fontsize=7, color="#d62728",
                  va="bottom", transform=m_ax.get_yaxis_transform())
    for ax, label in ((t_ax, "warm time (s)"), (m_ax, "highest peak tree memory (GiB)")):
        ax.axvline(target, color="#555555", linestyle=":", linewidth=1)
        # y in axes fractions: the label sits at the top whatever the scale.
        ax.text(target, 0.98, f" {decimal_bytes(target)}\n expected", fontsize=7,
                color="#555555", va="top", ha="right", transform=ax.get_xaxis_transform())
        ax.set_xscale("log")
        ax.set_yscale("log")
        # Decimal units: log axes tick at powers of ten, which binary units would misname.
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: decimal_bytes(v)))
        ax.set_xlabel(f"{decision.growth.workload} data", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
    t_ax.legend(fontsize=7)
    return fig
