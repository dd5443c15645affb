"""A history in words: the headline, one line per changed series, the JSON."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.judge.history import CONFIDENCE, History, Series, Step, changed, noise_by_engine
from harness.judge.words import METRIC_TITLES, key_text, ratio_words

COLUMNS = ("cell", "metric", "verdict", "change", f"{CONFIDENCE:.0%} interval", "since",
           "what changed", "noise floor")


def _swept(hist: History) -> bool:
    """Whether two cells differ only in params (sweep points): then the params are named."""
    keys = {s.key for s in hist.series}
    return len(keys) > len({k[:5] for k in keys})


def night_text(hist: History, index: int) -> str:
    night = hist.nights[index]
    return f"{night.run_id} ({night.timestamp[:16].replace('T', ' ')})"


def step_env_text(step: Step) -> str:
    if not step.env:
        return "nothing in the recorded environment"
    return "; ".join(c.text for c in step.env) + "; nothing else"


def change_text(series: Series) -> str:
    step = series.newest_step
    if step:
        return ratio_words(step.ratio, series.metric.unit, series.metric.name)
    if series.creep:
        c = series.creep
        return (f"creep {ratio_words(c.ratio, series.metric.unit, series.metric.name)} over "
                f"{c.last - c.first + 1} runs ({c.per_run:+.1%} a run)")
    if series.outliers:
        return f"{len(series.outliers)} outlier run(s), no step"
    return "same"


def interval_text(series: Series) -> str:
    step = series.newest_step
    low, high = ((step.low, step.high) if step else
                 (series.creep.low, series.creep.high) if series.creep else (math.nan, math.nan))
    return "" if math.isnan(low) else f"{low:.2f}-{high:.2f}"


def since_text(hist: History, series: Series) -> str:
    step = series.newest_step
    if step:
        note = "" if step.confirmed else (" (unconfirmed: " + _unconfirmed(step, hist) + ")")
        return night_text(hist, step.at) + note
    if series.creep:
        return f"{night_text(hist, series.creep.first)} to {night_text(hist, series.creep.last)}"
    if series.outliers:
        return ", ".join(hist.nights[i].run_id for i in series.outliers)
    return ""


def _unconfirmed(step: Step, hist: History) -> str:
    if step.n_before < 3:
        return f"{step.n_before} run(s) before it, need 3"
    return f"fewer than {hist.rules.need} repeats a side"


def table_rows(hist: History, every: bool = False) -> list[dict[str, str]]:
    rows = changed(hist) if not every else sorted(
        hist.series, key=lambda s: (s not in changed(hist), s.key, s.metric.name))
    swept = _swept(hist)
    return [{"cell": key_text(s.key, swept), "metric": METRIC_TITLES[s.metric.name],
             "verdict": s.verdict, "change": change_text(s),
             f"{CONFIDENCE:.0%} interval": interval_text(s), "since": since_text(hist, s),
             "what changed": step_env_text(s.newest_step) if s.newest_step else "",
             "noise floor": "" if math.isnan(s.noise) else f"±{s.noise - 1:.1%}"}
            for s in rows]


def headline(hist: History) -> str:
    first, last = hist.nights[0], hist.nights[-1]
    counts: dict[str, int] = {}
    for s in changed(hist):
        counts[s.verdict] = counts.get(s.verdict, 0) + 1
    parts = ", ".join(f"{n} {v}" for v, n in counts.items()) or "nothing moved"
    verdict = "REGRESSION" if hist.exit_code else "no regression"
    return (f"verdict: {verdict} at the newest run ({parts}) - {len(hist.nights)} runs from "
            f"{first.timestamp[:10]} to {last.timestamp[:10]}, {len(hist.series)} series; a "
            f"step is called past {hist.factor:.2f}x (memory 1.25x, cold and start-up 1.5x), "
            f"p < {hist.alpha:g} within runs and p < {hist.rules.level:.1e} run to run (a "
            f"{hist.rules.level * sum(1 for s in hist.series if s.metric.gating):.0%} chance "
            "of any false step in a history)")


def regression_lines(hist: History) -> list[str]:
    """One sentence per regression: the cell, the run, the size, what changed."""
    out = []
    for s in hist.regressions:
        step = s.newest_step
        if step:
            out.append(f"{key_text(s.key, _swept(hist))}: {METRIC_TITLES[s.metric.name]} "
                       f"{change_text(s)} since {night_text(hist, step.at)} "
                       f"({CONFIDENCE:.0%} interval {interval_text(s)}, {step.n_after} run(s) "
                       f"on the new level); what changed: {step_env_text(step)}")
        elif s.creep:
            out.append(f"{key_text(s.key, _swept(hist))}: {METRIC_TITLES[s.metric.name]} "
                       f"{change_text(s)}, {since_text(hist, s)}")
    return out


def noise_lines(hist: History) -> list[str]:
    lines = []
    for engine, values in noise_by_engine(hist).items():
        lines.append(f"{engine}: noise floor of warm wall time (one new run, run to run) "
                     f"±{float(np.median(values)):.1%} median, ±{max(values):.1%} worst")
    return lines


def _step_json(hist: History, step: Step) -> dict[str, Any]:
    return {"run_id": hist.nights[step.at].run_id, "timestamp": hist.nights[step.at].timestamp,
            "before_run_id": hist.nights[step.before].run_id, "ratio": step.ratio,
            "low": step.low, "high": step.high, "p_runs": _num(step.p_runs),
            "p_within": _num(step.p_within), "n_before": step.n_before,
            "n_after": step.n_after, "confirmed": step.confirmed,
            "env_diff": [{"field": c.field, "baseline": c.baseline, "new": c.new}
                         for c in step.env]}


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def series_json(hist: History, s: Series) -> dict[str, Any]:
    workload, engine, size, workers, threads, params = s.key
    creep = s.creep
    return {"workload": workload, "engine": engine, "size": size, "n_workers": workers,
            "threads_per_worker": threads, "params": params, "metric": s.metric.name,
            "unit": s.metric.unit, "gating": s.metric.gating, "verdict": s.verdict,
            "regression": s.regression, "factor": s.factor,
            "noise_floor": None if math.isnan(s.noise) else s.noise - 1,
            "runs": [hist.nights[i].run_id for i in s.runs], "values": s.values,
            "outliers": [hist.nights[i].run_id for i in s.outliers],
            "steps": [_step_json(hist, st) for st in s.steps],
            "creep": None if creep is None else {
                "ratio": creep.ratio, "low": creep.low, "high": creep.high,
                "per_run": creep.per_run, "from_run_id": hist.nights[creep.first].run_id,
                "to_run_id": hist.nights[creep.last].run_id}}


def history_json(hist: History) -> dict[str, Any]:
    return {"verdict": "regression" if hist.exit_code else "no regression",
            "exit_code": hist.exit_code, "factor": hist.factor, "alpha": hist.alpha,
            "run_level": hist.rules.level, "window": hist.window,
            "runs": [{"run_id": n.run_id, "timestamp": n.timestamp} for n in hist.nights],
            "warnings": hist.warnings,
            "regressions": regression_lines(hist),
            "series": [series_json(hist, s) for s in hist.series]}
