"""The calibration report: what each of the harness's instruments costs the run it measures.

For every cell, each instrument's effect is the median wall time with everything on over the
median with that instrument alone off: above 1, the instrument slows the work it times. The
interval is a bootstrap of that ratio; the all-on runs of odd rounds against even rounds are
the A/A control, the noise floor the effects are read against.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.fmt import fmt_seconds
from harness.reporting.document import Bullets, Heading, Para, Report, Table
from harness.reporting.environment import machine_footer
from harness.reporting.figures import ENGINE_COLORS, WIDTH_IN, titled_figure
from harness.reporting.run_rows import label
from harness.results.schema import Record
from harness.stats import ratio_interval

CONFIDENCE = 0.95
NAMES = {"sampler": "memory probe", "gc": "GC before the run", "probes": "measures after the run",
         "a/a": "A/A control (all on vs all on)"}


def effect(on: Sequence[float], off: Sequence[float], seed: int = 0) -> tuple[float, float, float]:
    """median(on) / median(off) and its bootstrap interval; NaNs with fewer than 3 a side."""
    return ratio_interval(off, on, CONFIDENCE, seed)


def verdict(ratio: float, low: float, high: float) -> str:
    """Plain words: slows by x %, speeds up by x %, or within the noise."""
    if np.isnan(ratio):
        return "too few runs"
    if low > 1:
        return f"slows the run by {ratio - 1:.1%} ({low - 1:.1%} to {high - 1:.1%})"
    if high < 1:
        return f"the run is {1 - ratio:.1%} faster with it ({1 - high:.1%} to {1 - low:.1%})"
    return f"within the noise ({low - 1:+.1%} to {high - 1:+.1%})"


def calibration_rows(records: list[Record]) -> pd.DataFrame:
    """One row per (workload, engine configuration, instrument), and one A/A row per cell."""
    steady = [r for r in records if r.status == "ok" and r.calibration
              and r.calibration.get("round") is not None and r.wall_s is not None]
    cells: dict[tuple[str, str, str], list[Record]] = {}
    for r in steady:
        key = (r.workload, label(r.engine, r.n_workers, r.threads_per_worker), r.engine)
        cells.setdefault(key, []).append(r)
    rows = []
    for (workload, lab, engine), runs in cells.items():
        on = [r for r in runs if not _off(r)]
        # (reference, compared) per row: each instrument off against all on; and all on in
        # even rounds against all on in odd ones.
        pairs = {name: (on, [r for r in runs if _off(r) == [name]]) for name in NAMES
                 if name != "a/a"}
        pairs["a/a"] = ([r for r in on if _round(r) % 2 == 0], [r for r in on if _round(r) % 2])
        base = {"workload": workload, "label": lab, "engine": engine}
        for seed, (name, (reference, off)) in enumerate(pairs.items()):
            ratio, low, high = effect([r.wall_s or 0.0 for r in reference],
                                      [r.wall_s or 0.0 for r in off], seed)
            rows.append({**base, "instrument": name, "n_on": len(reference), "n_off": len(off),
                         "on_median_s": _median([r.wall_s for r in reference]),
                         "ratio": ratio, "low": low, "high": high,
                         "verdict": verdict(ratio, low, high)})
    return pd.DataFrame(rows)


def _off(record: Record) -> list[str]:
    return list((record.calibration or {}).get("off", []))


def _round(record: Record) -> int:
    return int((record.calibration or {}).get("round") or 0)


def _median(values: Sequence[float | None]) -> float:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else float("nan")


def forest_figure(rows: pd.DataFrame, title: str, footer: str) -> Figure | None:
    """Each instrument's ratio with its interval, per engine; the line at 1 is 'no effect'."""
    rows = rows.dropna(subset=["ratio"])
    if rows.empty:
        return None
    fig, (ax,) = titled_figure(title, footer, (WIDTH_IN, 1.6 + 0.32 * len(rows)))
    ys = np.arange(len(rows))[::-1]
    for y, row in zip(ys, rows.itertuples(), strict=True):
        color = ENGINE_COLORS.get(row.engine, "#333333")
        ax.errorbar(row.ratio, y, xerr=[[row.ratio - row.low], [row.high - row.ratio]],
                    fmt="o" if row.instrument != "a/a" else "s", color=color, capsize=3)
    ax.axvline(1.0, color="black", lw=1, ls="--")
    ax.set_yticks(ys, [f"{r.label} · {NAMES[r.instrument]}" for r in rows.itertuples()],
                  fontsize=8)
    ax.set_xlabel(f"median wall time, instrument on ÷ off ({CONFIDENCE:.0%} interval); "
                  "above 1 it slows the run")
    ax.grid(axis="x", alpha=0.3)
    return fig


def build_calibration_report(records: list[Record]) -> Report:
    report = Report()
    report.add(Heading(1, "Calibration: the harness's own effect on what it measures"))
    rows = calibration_rows(records)
    footer = machine_footer(records)
    rounds = max((r.calibration or {}).get("round") or 0 for r in records) + 1
    report.add(Para(
        f"{len(records)} records, {rounds} rounds. In each round every condition ran once, "
        "in a shuffled order, in the same engine session: all instruments on, and each "
        "instrument alone off (the memory probe; the garbage collection, and Spark's JVM GC, "
        "before the run; the measures taken after the clock stops). Effect = median wall "
        "time with everything on ÷ median with that instrument off. The A/A control compares "
        "all-on runs of odd rounds with those of even rounds: its interval is the noise floor. "
        f"Machine: {footer.replace(chr(10), '; ')}."))
    if rows.empty:
        report.add(Para("No steady calibration runs finished ok; see the records' errors."))
        return report
    report.add(Bullets(tuple(_findings(rows))))
    for workload, group in rows.groupby("workload", sort=False):
        report.add(Heading(2, str(workload)))
        report.figure(f"calibration-{workload}.png",
                      forest_figure(group, f"{workload}: each instrument's effect", footer),
                      f"{workload} instrument effects")
        report.add(Table(_table(group)))
    return report


def _findings(rows: pd.DataFrame) -> list[str]:
    """Which instruments have an effect above the noise, and the noise floor itself."""
    above = rows[(rows["instrument"] != "a/a") & (rows["low"] > 1)]
    items = [f"{r.label}, {r.workload}: the {NAMES[r.instrument]} {r.verdict}."
             for r in above.itertuples()]
    if not items:
        items.append("No instrument slows any measured run by more than the noise.")
    aa = rows[rows["instrument"] == "a/a"].dropna(subset=["ratio"])
    if len(aa):
        widest = (aa["high"] - aa["low"]).max()
        items.append(f"Noise floor (A/A intervals): up to {widest:.1%} wide; "
                     f"{(aa['low'] > 1).sum() + (aa['high'] < 1).sum()} of {len(aa)} A/A "
                     "intervals exclude 1 (false alarms at this confidence).")
    return items


def _table(group: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "engine": group["label"], "instrument": group["instrument"].map(NAMES),
        "runs (on / off)": [f"{a} / {b}" for a, b in zip(group["n_on"], group["n_off"],
                                                         strict=True)],
        "median, all on": group["on_median_s"].map(fmt_seconds),
        "on ÷ off": group["ratio"].map(lambda v: "" if np.isnan(v) else f"{v:.3f}"),
        "verdict": group["verdict"],
    }).reset_index(drop=True)


def is_calibration(records: list[Record]) -> bool:
    return any(r.calibration is not None for r in records)
