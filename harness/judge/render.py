"""Order and shape of a comparison's rows for people: changes first, worst first."""

from __future__ import annotations

import math

import numpy as np

from harness.judge.compare import CONFIDENCE, Comparison, Row
from harness.judge.sides import METRICS
from harness.judge.words import (
    METRIC_TITLES,
    cell_text,
    change_text,
    interval_text,
    p_text,
    params_needed,
    resolution_text,
    value_text,
)

# Changed rows first: regressions, then unconfirmed, then improvements and presence.
ORDER = {"failing": 0, "slower": 1, "unconfirmed": 2, "gone": 3, "new": 4, "fixed": 5,
         "faster": 6, "same": 7}
COLUMNS = ("cell", "metric", "baseline", "new", "change", "99% interval", "p", "n", "verdict",
           "note")


def ordered(comparison: Comparison, every: bool) -> list[Row]:
    """Rows that changed (or every row), changed first, then by ratio, largest first."""
    rows = [r for r in comparison.rows if every or r.verdict != "same"]
    return sorted(rows, key=lambda r: (ORDER[r.verdict], -(r.ratio or 0)))


def table_rows(rows: list[Row]) -> list[dict[str, str]]:
    named = params_needed(r.key for r in rows)
    return [{"cell": cell_text(r, r.key in named), "metric": METRIC_TITLES[r.metric],
             "baseline": value_text(r, r.baseline), "new": value_text(r, r.new),
             "change": change_text(r), "99% interval": interval_text(r), "p": p_text(r),
             "n": f"{r.shift.n_base}/{r.shift.n_new}" if r.shift else "",
             "verdict": r.verdict, "note": r.note or resolution_text(r)}
            for r in rows]


def headline(comparison: Comparison) -> str:
    counts: dict[str, int] = {}
    for row in comparison.rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    parts = ", ".join(f"{counts[v]} {v}" for v in ORDER if counts.get(v) and v != "same")
    verdict = {"worse": "WORSE", "better": "better", "same": "no change"}[comparison.verdict]
    return (f"verdict: {verdict} ({parts or 'nothing changed'}; {counts.get('same', 0)} same) "
            f"- a change is called when the ratio passes {comparison.factor:.2f}x "
            f"({_floors(comparison.factor)}), p < {comparison.alpha:g} within the runs "
            f"(Mann-Whitney, >= {comparison.need} a side) and it passes the cell's run-to-run "
            "noise (>= 3 baseline runs)")


def _floors(factor: float) -> str:
    """Metrics judged at a higher threshold than --factor, in words."""
    floors = [f"{METRIC_TITLES[m.name]} {m.min_factor:g}x" for m in METRICS
              if m.min_factor > factor]
    return ", ".join(floors) if floors else "every metric"


def geomean_lines(comparison: Comparison) -> list[str]:
    lines = []
    for engine, (g, n) in comparison.geomeans().items():
        words = "same" if abs(g - 1) < 0.005 else (f"{g:.2f}x slower" if g > 1 else
                                                   f"{1 / g:.2f}x faster")
        lines.append(f"{engine}: geometric mean of warm wall time {words} ({n} cells)")
    return lines


def noise_lines(comparison: Comparison) -> list[str]:
    """The noise floor per engine of warm wall time: the run-to-run bound where the baseline
    has the runs for it, else the within-run resolution (which understates it)."""
    by_engine: dict[str, dict[str, list[tuple[float, str]]]] = {}
    for row in comparison.rows:
        if row.metric != "warm_wall" or row.shift is None:
            continue
        kind, value = (("run to run", row.noise - 1) if not math.isnan(row.noise) else
                       ("within one run", row.shift.resolution))
        if not math.isnan(value):
            by_engine.setdefault(row.key[1], {}).setdefault(kind, []).append((value, row.key[0]))
    lines = []
    for engine, kinds in by_engine.items():
        for kind, values in kinds.items():
            worst, worst_cell = max(values)
            median = float(np.median([v for v, _ in values]))
            lines.append(f"{engine}: noise floor of warm wall time ({kind}) ±{median:.1%} "
                         f"median, ±{worst:.1%} worst ({worst_cell})")
    return lines


def env_lines(comparison: Comparison) -> list[str]:
    return [c.text for c in comparison.env] or ["nothing: same versions, commit and machine"]


def comparison_json(comparison: Comparison) -> dict[str, object]:
    """`harness compare --json`: the verdict, its settings, the environment diff and rows."""
    return {"verdict": comparison.verdict, "exit_code": comparison.exit_code,
            "factor": comparison.factor, "alpha": comparison.alpha,
            "min_samples": comparison.need, "confidence": CONFIDENCE,
            "baseline_runs": comparison.baseline_runs, "new_runs": comparison.new_runs,
            "env_diff": [{"field": c.field, "baseline": c.baseline, "new": c.new}
                         for c in comparison.env],
            "warnings": comparison.warnings,
            "geomean_warm_wall": {e: {"ratio": g, "cells": n}
                                  for e, (g, n) in comparison.geomeans().items()},
            "rows": [r.to_json() for r in ordered(comparison, every=True)]}
