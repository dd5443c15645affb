"""The warm-up curve: each run's time against its number, per engine, phases marked.

It shows what the warm statistics leave out: the cold run, and the warm-up runs of engines
that keep getting faster after it (a JVM's JIT), against the steady runs that are counted.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from harness.reporting.figures import ENGINE_COLORS, WIDTH_IN, titled_figure

LOG_SPAN = 30.0  # as the wall plot: wider spans go to a log axis
MARKERS = {"cold": ("D", "none"), "warmup": ("o", "none"), "steady": ("o", None)}
WORDS = {"cold": "cold (repeat 0)", "warmup": "warm-up (not counted)",
         "steady": "steady (the warm statistics)"}


def warmup_figure(rows: pd.DataFrame, runs: pd.DataFrame, title: str,
                  footer: str) -> Figure | None:
    """One line per engine configuration (in the rows' order) through its runs' wall times."""
    labels = [lab for lab in rows["label"] if (runs["label"] == lab).sum() > 1]
    if not labels:
        return None  # one run per engine: there is no curve
    fig, (ax,) = titled_figure(title, footer, (WIDTH_IN, 4.6))
    for lab in labels:
        mine = runs[runs["label"] == lab].sort_values("repeat")
        color = ENGINE_COLORS.get(str(mine["engine"].iloc[0]), "#333333")
        ax.plot(mine["repeat"], mine["wall_s"], "-", color=color, lw=1.2, label=lab)
        for phase, (marker, face) in MARKERS.items():
            part = mine[mine["phase"] == phase]
            ax.plot(part["repeat"], part["wall_s"], marker, ls="", color=color, mec=color,
                    mfc=face or color, markersize=6)
    times = runs.loc[runs["label"].isin(labels), "wall_s"].dropna()
    if len(times) and times.min() > 0 and times.max() / times.min() > LOG_SPAN:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    else:
        ax.set_ylim(0, times.max() * 1.08 if len(times) else 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("run (repeat number; 0 is the cold run)")
    ax.set_ylabel("wall time (s), compute only")
    ax.grid(alpha=0.3)
    phases = [p for p in MARKERS if (runs["phase"] == p).any()]
    handles = [Line2D([], [], marker=MARKERS[p][0], ls="", color="#333333",
                      mfc=MARKERS[p][1] or "#333333", label=WORDS[p]) for p in phases]
    engines = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                        title="engine", title_fontsize=8, frameon=False)
    ax.add_artist(engines)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=8,
              frameon=False)
    return fig
