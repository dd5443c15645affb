"""What every report figure shares: headless matplotlib, a titled and footed layout, PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: reports render on servers, in CI and in child processes
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

DPI = 110
WIDTH_IN = 9.5
ENGINE_COLORS = {"pandas": "#7f7f7f", "dask-sync": "#8c564b", "dask-threads": "#1f77b4",
                 "dask-processes": "#ff7f0e", "dask-distributed": "#2ca02c", "spark": "#d62728"}


def png_bytes(fig: Figure) -> bytes:
    """Render and close the figure; closing keeps pyplot from hoarding figures across a report."""
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()
    finally:
        plt.close(fig)


def titled_figure(title: str, footer: str, size: tuple[float, float],
                  n_cols: int = 1) -> tuple[Figure, np.ndarray]:
    """A row of `n_cols` axes, titled on top and footed with the machine and versions line."""
    fig, axes = plt.subplots(1, n_cols, figsize=size, layout="constrained", squeeze=False)
    fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    # supxlabel is laid out by the constrained engine, so the footer never overlaps the x label.
    fig.supxlabel(footer, x=0.01, ha="left", fontsize=7, color="#555555")
    return fig, axes[0]
