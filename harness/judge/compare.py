"""`harness compare`: two result sets side by side, a verdict per cell and metric, and overall.

A change is called only when three things agree:
- it is larger than the threshold (`factor`, default 1.10);
- within the runs, it is significant: the exact two-sided Mann-Whitney U test on the steady
  repeats, p < alpha, which needs `min_samples(alpha)` samples a side (7 at 0.002);
- it passes the run-to-run bound: how far one run's median strays from the baseline's runs by
  chance, from at least three baseline runs (a folder of nights). Measured here, two runs of
  the same code differ by more than their repeats admit: an A/A pair of nightly runs had 12
  cells "significantly" slower by 10-29 % on the first two tests alone.
Past the threshold but short of what a test needs, the call is `unconfirmed`, with what is
missing; never guessed. The ratio is median(new) / median(baseline) with a percentile-bootstrap
interval.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UsageError
from harness.judge.envdiff import EnvChange, env_changes, machine_warning
from harness.judge.sides import METRICS, CellKey, Metric, by_cell, load_side, samples
from harness.results.schema import FAILURES, Record, worst_status
from harness.stats import MIN_RUNS, Shift, min_samples, run_to_run_bound, shift

DEFAULT_FACTOR = 1.10
DEFAULT_ALPHA = 0.002
CONFIDENCE = 0.99
# One-sided confidence of the run-to-run bound: a new run's median strays past it by chance
# in one cell of a hundred, and must also pass the factor and the within-run test.
RUN_CONFIDENCE = 0.99
# Metrics with one sample per run (cold, start-up) rest on the bound alone: a stricter one.
SINGLE_CONFIDENCE = 0.999
VERDICTS = ("slower", "faster", "same", "failing", "fixed", "new", "gone", "unconfirmed")
# What makes the comparison fail (exit 1), in the verdict of a gating metric or of status.
WORSE = frozenset({"slower", "failing"})
# A cell stopped at a sweep's memory budget used to fit and no longer does: that is a
# regression for a comparison, though a sweep run does not exit 1 for it.
JUDGED_FAILURES = FAILURES | {"over-memory"}


@dataclass(frozen=True)
class Row:
    """One cell's verdict on one metric (or on its status, or its presence)."""

    key: CellKey
    metric: str
    verdict: str
    unit: str = ""
    baseline: float | str | None = None
    new: float | str | None = None
    shift: Shift | None = None
    gating: bool = False
    note: str = ""
    # The run-to-run bound (a ratio above 1) from the baseline's runs; NaN below MIN_RUNS.
    noise: float = float("nan")

    @property
    def ratio(self) -> float | None:
        return _num(self.shift.ratio) if self.shift else None

    @property
    def significant(self) -> bool:
        """Whether the row's change was called: every test it needs agreed."""
        return self.verdict in ("slower", "faster")

    @property
    def worse(self) -> bool:
        return self.verdict in WORSE and (self.gating or self.metric == "status")

    def to_json(self) -> dict[str, Any]:
        workload, engine, size, workers, threads, params = self.key
        s = self.shift
        return {"workload": workload, "engine": engine, "size": size, "n_workers": workers,
                "threads_per_worker": threads, "params": _params(params),
                "metric": self.metric, "unit": self.unit, "baseline": self.baseline,
                "new": self.new, "ratio": self.ratio,
                "low": _num(s.low) if s else None, "high": _num(s.high) if s else None,
                "p_value": _num(s.p) if s else None,
                "n_baseline": s.n_base if s else None, "n_new": s.n_new if s else None,
                "resolution": _num(s.resolution) if s else None,
                "noise_floor": None if math.isnan(self.noise) else self.noise - 1,
                "significant": self.significant, "gating": self.gating,
                "verdict": self.verdict, "note": self.note}


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _params(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


@dataclass
class Comparison:
    """Everything `harness compare` prints, writes and exits with."""

    rows: list[Row]
    env: list[EnvChange]
    warnings: list[str]
    factor: float
    alpha: float
    need: int
    baseline_runs: list[str]
    new_runs: list[str]
    # One record of each run on either side: what the report's footer names the machine by.
    examples: list[Record] = field(default_factory=list)

    @property
    def worse(self) -> list[Row]:
        return [r for r in self.rows if r.worse]

    @property
    def verdict(self) -> str:
        if self.worse:
            return "worse"
        if any(r.verdict in ("faster", "fixed") for r in self.rows):
            return "better"
        return "same"

    @property
    def exit_code(self) -> int:
        return 1 if self.worse else 0

    def geomeans(self, metric: str = "warm_wall") -> dict[str, tuple[float, int]]:
        """Per engine, the geometric mean of the metric's ratios over the cells both sides
        measured, and how many cells that is."""
        by_engine: dict[str, list[float]] = {}
        for row in self.rows:
            if row.metric == metric and row.ratio and row.ratio > 0:
                by_engine.setdefault(row.key[1], []).append(row.ratio)
        return {e: (float(np.exp(np.mean(np.log(v)))), len(v)) for e, v in by_engine.items()}


def compare_paths(baseline: list[Path], new: list[Path], factor: float = DEFAULT_FACTOR,
                  alpha: float = DEFAULT_ALPHA) -> Comparison:
    if not (math.isfinite(factor) and factor > 1):
        raise UsageError(f"--factor must be above 1 (1.10 calls changes over 10 %), got {factor}")
    return compare(load_side(baseline, "baseline"), load_side(new, "new"), factor, alpha)


def compare(baseline: list[Record], new: list[Record], factor: float = DEFAULT_FACTOR,
            alpha: float = DEFAULT_ALPHA) -> Comparison:
    """The verdict on `new` against `baseline`; no cell in common is a UsageError."""
    baseline, shared = _without_shared_runs(baseline, new)
    a, b = by_cell(baseline), by_cell(new)
    common = [k for k in a if k in b]
    if not common:
        raise UsageError("the two sides have no cell in common (workload, engine, size, "
                         f"workers, threads, params): baseline has {_cells_text(a)}; new has "
                         f"{_cells_text(b)}")
    need = min_samples(alpha)
    rows: list[Row] = []
    for key in common:
        rows += cell_rows(key, a[key], b[key], factor, alpha, need)
    rows += [Row(k, "presence", "gone") for k in a if k not in b]
    rows += [Row(k, "presence", "new") for k in b if k not in a]
    env = env_changes(baseline, new)
    warnings = [w for w in (machine_warning(env),) if w]
    if shared:
        warnings.append(f"{len(shared)} run(s) on both sides ({', '.join(shared)}) were left "
                        "out of the baseline: a run compared with itself proves nothing")
    warnings += _sample_warnings(rows, need)
    return Comparison(rows=rows, env=env, warnings=warnings, factor=factor, alpha=alpha,
                      need=need, baseline_runs=_runs(baseline), new_runs=_runs(new),
                      examples=list({r.run_id: r for r in baseline + new}.values()))


def _without_shared_runs(baseline: list[Record],
                         new: list[Record]) -> tuple[list[Record], list[str]]:
    """The baseline without the new side's runs (`compare nights/ nights/tonight.jsonl`)."""
    shared = sorted(set(_runs(baseline)) & set(_runs(new)))
    if not shared:
        return baseline, []
    rest = [r for r in baseline if r.run_id not in shared]
    if not rest:
        raise UsageError("both sides hold the same runs; give the baseline runs of another "
                         "night (or folder) than the new one")
    return rest, shared


def _runs(records: list[Record]) -> list[str]:
    return list(dict.fromkeys(r.run_id for r in records))


def _cells_text(cells: dict[CellKey, list[Record]]) -> str:
    workloads = sorted({k[0] for k in cells})
    engines = sorted({k[1] for k in cells})
    sizes = sorted({k[2] for k in cells})
    more = " ..." if len(workloads) > 6 else ""
    return (f"{len(cells)} cell(s): {', '.join(workloads[:6])}{more} on {', '.join(engines)} "
            f"at {', '.join(sizes)}")


def cell_rows(key: CellKey, base: list[Record], new: list[Record], factor: float,
              alpha: float, need: int) -> list[Row]:
    """The status row of a cell, then one row per metric both sides measured."""
    status = _status_row(key, base, new)
    rows = [status] if status else []
    for metric in METRICS:
        row = metric_row(key, metric, samples(base, metric), samples(new, metric), factor,
                         alpha, need)
        if row:
            rows.append(row)
    return rows


def _status_row(key: CellKey, base: list[Record], new: list[Record]) -> Row | None:
    """failing: the baseline ran ok and the new side did not; fixed: the reverse. A side
    where the engine refused the cell (unsupported) has no runs to judge: the cell is new or
    gone there, never fixed or failing by omission."""
    sa, sb = _side_status(base), _side_status(new)
    if sa == sb == "unsupported":
        return None
    if "unsupported" in (sa, sb):
        refused = sb == "unsupported"
        return Row(key, "status", "gone" if refused else "new", baseline=sa, new=sb,
                   note=("now unsupported: " if refused else "was unsupported: ")
                   + _first_error(new if refused else base))
    failed_a, failed_b = sa in JUDGED_FAILURES, sb in JUDGED_FAILURES
    if failed_b and not failed_a:
        verdict = "failing"
    elif failed_a and not failed_b:
        verdict = "fixed"
    else:
        verdict = "same"
    note = _status_note(new if failed_b else base) if (failed_a or failed_b) else ""
    if failed_a and failed_b:
        note = "failing on both sides: " + note
    return Row(key, "status", verdict, baseline=sa, new=sb, note=note)


def _side_status(records: list[Record]) -> str:
    """The worst status of the runs; 'unsupported' only when the engine refused them all."""
    ran = [r.status for r in records if r.status != "unsupported"]
    return worst_status(ran) if ran else "unsupported"


def _first_error(records: list[Record]) -> str:
    return next(((r.error or "").splitlines()[0][:160] for r in records if r.error), "")


def _status_note(records: list[Record]) -> str:
    bad = [r for r in records if r.status in JUDGED_FAILURES]
    detail = _first_error(bad)
    return f"{len(bad)} of {len(records)} runs {bad[0].status}" + (f": {detail}" if detail else "")


def metric_row(key: CellKey, metric: Metric, base: dict[str, list[float]],
               new: dict[str, list[float]], factor: float, alpha: float,
               need: int) -> Row | None:
    """One metric of one cell. A change is called only when it passes the factor, the
    within-run test (repeated metrics) and the run-to-run bound the baseline's runs give."""
    a, b = _pooled(base), _pooled(new)
    if not a or not b or float(np.median(a)) <= 0:
        return None
    if max(float(np.median(a)), float(np.median(b))) < metric.floor:
        return None
    s = shift(a, b, CONFIDENCE)
    bound = run_to_run_bound([float(np.median(v)) for v in base.values()], len(new),
                             RUN_CONFIDENCE if metric.repeated else SINGLE_CONFIDENCE)
    verdict, note = _call(metric, s, bound, len(base), max(factor, metric.min_factor), alpha,
                          need)
    return Row(key, metric.name, verdict, unit=metric.unit, baseline=float(np.median(a)),
               new=float(np.median(b)), shift=s, gating=metric.gating, note=note,
               noise=bound)


def _pooled(runs: dict[str, list[float]]) -> list[float]:
    return [v for values in runs.values() for v in values]


def _call(metric: Metric, s: Shift, bound: float, base_runs: int, factor: float,
          alpha: float, need: int) -> tuple[str, str]:
    """(verdict, note): same, slower/faster, or unconfirmed with what is missing."""
    if not (s.ratio > factor or s.ratio < 1 / factor):
        return "same", ""
    if metric.repeated:
        if min(s.n_base, s.n_new) < need:
            return "unconfirmed", f"n={s.n_base}/{s.n_new} a side: need {need}"
        if math.isnan(s.p) or s.p >= alpha:
            return "same", f"not significant (p={s.p:.2g})"
    if math.isnan(bound):
        return "unconfirmed", (f"{base_runs} baseline run(s): run-to-run noise unknown, "
                               f"need {MIN_RUNS}")
    if s.ratio > bound or s.ratio < 1 / bound:
        return ("slower" if s.ratio > 1 else "faster"), ""
    return "same", f"inside run-to-run noise ±{bound - 1:.0%}"


def _sample_warnings(rows: list[Row], need: int) -> list[str]:
    warm = [r for r in rows if r.metric == "warm_wall" and r.shift]
    short = [r for r in warm if r.shift and min(r.shift.n_base, r.shift.n_new) < need]
    out = []
    if short:
        fewest = min(min(r.shift.n_base, r.shift.n_new) for r in short if r.shift)
        out.append(f"{len(short)} cell(s) have fewer than {need} warm runs a side (fewest: "
                   f"{fewest}): their changes are unconfirmed; run with --repeat {need + 1} "
                   "or more (`harness run --suite nightly` does)")
    unknown = [r for r in warm if math.isnan(r.noise)]
    if unknown:
        out.append(f"{len(unknown)} cell(s) have fewer than {MIN_RUNS} baseline runs: "
                   "repeats inside one run understate how much two runs differ, so their "
                   "changes are unconfirmed; give a folder of the last nights as BASELINE")
    return out
