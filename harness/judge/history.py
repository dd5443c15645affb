"""`harness history`: many runs in time order, and per cell and metric, since when it moved.

Each series is one value per run: the median of the run's samples (log scale, so a step is a
ratio). The model is piecewise constant plus noise, with two departures a nightly history shows:
one wild night (an outlier, not a step) and slow creep (a trend, not a step).

1. Candidate steps come from PELT (`ruptures`, least squares, one penalty per series scaled by
   the metric's run-to-run noise). It is only a generator: every candidate must then pass
2. the same three tests `harness compare` applies: past the factor; significant within runs
   (Mann-Whitney on the steady repeats either side, p < alpha); and significant run to run (a
   one-sided t test of the two levels with the cell's run-to-run variance, shrunk toward that
   of every cell on the metric as limma-trend does, `stats.variance_prior`, the prior's level
   following each cell's within-run variance). The weakest failing
   candidate is dropped and the rest re-tested until all pass.
3. A level held by one run between two others is an outlier: it is set aside and the series
   analysed again without it. A level held by the newest run alone is a step that tomorrow
   confirms or turns into an outlier; it is reported, and it gates.
4. Creep: a straight line (Theil-Sen slope) is preferred to the steps when it explains the
   series better by BIC, and called when its drift across the window passes the factor and its
   interval, at the run-to-run level, excludes no trend.

Every test of a history is made at FAMILY_ALPHA over the number of gating series, so noise alone
fails about one history in a hundred, however many cells the suite has.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ruptures
from scipy import stats as sstats

from harness.errors import UsageError
from harness.judge.compare import CONFIDENCE, DEFAULT_ALPHA, DEFAULT_FACTOR
from harness.judge.envdiff import EnvChange, env_changes
from harness.judge.sides import METRICS, CellKey, Metric, by_cell, load_side, samples
from harness.results.schema import Record
from harness.stats import MIN_RUNS, Prior, mann_whitney_p, min_samples, variance_prior

DEFAULT_WINDOW = 50
# The chance, per history, that noise alone calls a step in any of its gating series: each
# series is tested at this over their number (Bonferroni). Per series at 1 %, a suite of a
# hundred series would cry wolf about every other night; measured on simulated flat histories,
# see tests/test_history.py.
FAMILY_ALPHA = 0.01
# A variance below this (log scale: 0.1 %) is a clock's resolution, not a measurement of noise.
MIN_VARIANCE = 1e-6
# Creep needs enough nights for a line to mean more than two points.
MIN_CREEP_RUNS = 6


@dataclass(frozen=True)
class Rules:
    """What a step must pass: the factor, the within-run test, the run-to-run level."""

    factor: float
    alpha: float  # two-sided, Mann-Whitney on the repeats
    need: int  # repeats a side that test needs to reach alpha
    level: float  # one-sided, the t test of two levels' run medians

    def threshold(self, metric: Metric) -> float:
        return max(self.factor, metric.min_factor)


@dataclass(frozen=True)
class Night:
    """One run of the history: its id, when it started, its records."""

    run_id: str
    timestamp: str
    records: tuple[Record, ...] = field(repr=False)


@dataclass(frozen=True)
class Step:
    """A change of level: the runs either side, its size with its interval and tests."""

    at: int  # index (into History.nights) of the first run on the new level
    before: int  # index of the last run on the old level
    ratio: float
    low: float
    high: float
    p_runs: float  # one-sided t test of the two levels, run to run
    p_within: float  # Mann-Whitney on the repeats either side (NaN for one-sample metrics)
    n_before: int
    n_after: int
    confirmed: bool  # the within-run test had the samples it needs
    env: tuple[EnvChange, ...]


@dataclass(frozen=True)
class Creep:
    """A trend across the window: the drift from its first run to its last, per run too."""

    ratio: float
    low: float
    high: float
    per_run: float
    first: int
    last: int


@dataclass
class Series:
    """One cell's metric over the history and what was found in it."""

    key: CellKey
    metric: Metric
    runs: list[int]  # indexes into History.nights, in time order
    values: list[float]  # the run medians
    spread: list[tuple[float, float]]  # min and max of each run's samples
    repeats: list[list[float]] = field(repr=False)  # each run's samples
    steps: list[Step] = field(default_factory=list)
    outliers: list[int] = field(default_factory=list)  # indexes into History.nights
    creep: Creep | None = None
    noise: float = float("nan")  # one new run's bound, a ratio above 1
    factor: float = DEFAULT_FACTOR

    @property
    def newest_step(self) -> Step | None:
        """The step the newest run sits on (the last one), if any."""
        return self.steps[-1] if self.steps else None

    @property
    def regression(self) -> bool:
        """Whether the newest runs sit on a confirmed step up, or at the end of a creep up, of a
        gating metric: what makes `harness history` exit 1."""
        if not self.metric.gating:
            return False
        step = self.newest_step
        if step and step.ratio > 1 and step.confirmed:
            return True
        return bool(self.creep and self.creep.ratio > 1 and self.creep.last == self.runs[-1])

    @property
    def verdict(self) -> str:
        if self.regression:
            return "regression"
        if self.creep:
            return "creep up" if self.creep.ratio > 1 else "creep down"
        step = self.newest_step
        if step:
            if not step.confirmed:
                return "unconfirmed"
            return "worse" if step.ratio > 1 else "better"
        if self.outliers:
            return "outlier"
        return "steady"

    @property
    def changed(self) -> bool:
        return self.verdict != "steady"


@dataclass
class History:
    nights: list[Night]
    series: list[Series]
    factor: float
    alpha: float
    window: int
    warnings: list[str]
    rules: Rules

    @property
    def regressions(self) -> list[Series]:
        return [s for s in self.series if s.regression]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    @property
    def examples(self) -> list[Record]:
        return [n.records[0] for n in self.nights]


def history_paths(paths: list[Path], factor: float = DEFAULT_FACTOR,
                  alpha: float = DEFAULT_ALPHA, window: int = DEFAULT_WINDOW,
                  since: str | None = None) -> History:
    if not (math.isfinite(factor) and factor > 1):
        raise UsageError(f"--factor must be above 1 (1.10 calls changes over 10 %), got {factor}")
    if window < 2:
        raise UsageError(f"--window must be at least 2 runs, got {window}")
    return history(load_side(paths, "history"), factor, alpha, window, since)


def nights_of(records: list[Record]) -> list[Night]:
    """The runs in time order: by their first record's timestamp, then run_id."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record.run_id, []).append(record)
    nights = [Night(rid, min(r.timestamp for r in rs), tuple(rs)) for rid, rs in groups.items()]
    return sorted(nights, key=lambda n: (n.timestamp, n.run_id))


def _since(nights: list[Night], since: str) -> list[Night]:
    """The runs from `since` on: a run_id of the history, or a date/timestamp prefix."""
    ids = [n.run_id for n in nights]
    if since in ids:
        return nights[ids.index(since):]
    kept = [n for n in nights if n.timestamp >= since]
    if not kept:
        raise UsageError(f"--since {since}: no run of the history is that one or later (runs "
                         f"from {nights[0].timestamp} to {nights[-1].timestamp}); give a run_id "
                         "or a date like 2026-12-01")
    return kept


def history(records: list[Record], factor: float = DEFAULT_FACTOR,
            alpha: float = DEFAULT_ALPHA, window: int = DEFAULT_WINDOW,
            since: str | None = None) -> History:
    nights = nights_of(records)
    if since:
        nights = _since(nights, since)
    nights = nights[-window:]
    warnings = []
    if len(nights) < MIN_RUNS + 1:
        warnings.append(f"{len(nights)} run(s) in the history: a step needs {MIN_RUNS} runs "
                        "before it, so nothing can be called yet")
    series = _all_series(nights)
    gating = sum(1 for s in series if s.metric.gating)
    rules = Rules(factor, alpha, min_samples(alpha), FAMILY_ALPHA / max(gating, 1))
    for group in _groups(series).values():
        _analyse_group(group, nights, rules)
    return History(nights, series, factor, alpha, window, warnings, rules)


def _all_series(nights: list[Night]) -> list[Series]:
    per_night = [by_cell(list(n.records)) for n in nights]
    keys = list(dict.fromkeys(k for cells in per_night for k in cells))
    out = []
    for key in keys:
        for metric in METRICS:
            s = _series(key, metric, per_night)
            if s:
                out.append(s)
    return out


def _series(key: CellKey, metric: Metric,
            per_night: list[dict[CellKey, list[Record]]]) -> Series | None:
    runs, values, spread, repeats = [], [], [], []
    for i, cells in enumerate(per_night):
        got = samples(cells.get(key, []), metric)
        vals = [v for vs in got.values() for v in vs]
        if vals and float(np.median(vals)) > 0:
            runs.append(i)
            values.append(float(np.median(vals)))
            spread.append((min(vals), max(vals)))
            repeats.append(vals)
    if not runs or max(values) < metric.floor:
        return None
    return Series(key, metric, runs, values, spread, repeats)


def _groups(series: list[Series]) -> dict[str, list[Series]]:
    """The series whose variances make one prior: every cell on one metric. One engine's seven
    cells would estimate the prior's own spread from seven numbers; the prior's degrees of
    freedom already give a cell that is truly noisier (Spark's JVM, a threaded array) less
    shrinkage."""
    out: dict[str, list[Series]] = {}
    for s in series:
        out.setdefault(s.metric.name, []).append(s)
    return out


@dataclass
class _Fit:
    """The working state of one series: points kept (not outliers) and level boundaries."""

    series: Series
    keep: list[int]  # positions into series.runs
    breaks: list[int]  # positions into keep where a new level starts

    @property
    def y(self) -> np.ndarray:
        return np.log([self.series.values[i] for i in self.keep])

    def segments(self) -> list[tuple[int, int]]:
        edges = [0, *self.breaks, len(self.keep)]
        return list(itertools.pairwise(edges))

    def residual(self) -> tuple[float, int]:
        """Within-level variance of the log values and its degrees of freedom."""
        y = self.y
        rss = sum(float(np.sum((y[a:b] - y[a:b].mean()) ** 2)) for a, b in self.segments())
        df = len(y) - len(self.segments())
        return (max(rss / df, MIN_VARIANCE) if df > 0 else float("nan")), df

    def within(self) -> float | None:
        """The log of the mean within-run variance of the log repeats of the runs kept: the
        covariate of the metric's prior. None for a metric measured once a run."""
        if not self.series.metric.repeated:
            return None
        # By the median absolute deviation: one slow repeat (a GC, a neighbour) moves the
        # run's median, which the series holds, not at all, and must not move its noise.
        per_run = [_mad_variance(np.log(r)) for pos in self.keep
                   if len(r := self.series.repeats[pos]) > 2 and min(r) > 0]
        return math.log(max(float(np.mean(per_run)), MIN_VARIANCE)) if per_run else None


def _mad_squared(deviations: np.ndarray) -> float:
    """The variance a normal sample of these deviations has, by their median absolute size:
    one wild value moves it little."""
    return float((1.4826 * np.median(np.abs(deviations))) ** 2)


def _mad_variance(values: np.ndarray) -> float:
    return _mad_squared(values - np.median(values))


def _analyse_group(group: list[Series], nights: list[Night], rules: Rules) -> None:
    fits = [_Fit(s, list(range(len(s.runs))), []) for s in group]
    prior = _prior(fits)
    penalty = _penalties(fits, prior, _robust_variance(group))
    for fit, sigma2 in zip(fits, penalty, strict=True):
        fit.breaks = _candidates(fit.y, sigma2)
    _settle(fits, prior, rules)
    for fit, sigma2 in zip(fits, penalty, strict=True):
        if _set_outliers_aside(fit):
            fit.breaks = _candidates(fit.y, sigma2)
    # The points kept changed where outliers went: the prior is learnt from them again.
    prior = _prior(fits)
    _settle(fits, prior, rules)
    for fit in fits:
        _finish(fit, prior, rules, nights)


# A noise floor past 100x says only that the noise is not known yet.
MAX_LOG_NOISE = math.log(100.0)


def _settle(fits: list[_Fit], prior: Prior, rules: Rules) -> None:
    """Drop each series' failing candidates. The prior comes from night-to-night differences,
    not from the levels, so it does not move as steps go and one pass settles them."""
    for fit in fits:
        _eliminate(fit, prior, rules)


def _penalties(fits: list[_Fit], prior: Prior, group_sigma2: float) -> list[float]:
    """The noise each series' PELT penalty is scaled by: what the prior expects of the cell
    from its within-run noise, or the metric's where it has none. One penalty for the whole
    metric hid a 20 % step of a cell that sleeps (0.3 % noise) under the 11 % of the
    CPU-bound cells; and a noisy cell given less than its own noise is over-split, and the
    best of its many candidates passes by chance (5 false alarms in 100 flat 30-night
    histories of a mixed suite)."""
    out = []
    for fit in fits:
        own = prior.at(fit.within()).s2
        out.append(own if own == own and own > 0 else group_sigma2)
    return [max(v, MIN_VARIANCE) for v in out]


def _robust_variance(group: list[Series]) -> float:
    """The metric's run-to-run variance from every night-to-night difference of its cells, by
    the median absolute difference: a step is one large difference and moves it little."""
    diffs = np.concatenate([np.diff(np.log(s.values)) for s in group if len(s.values) > 1] or
                           [np.zeros(0)])
    if len(diffs) == 0:
        return MIN_VARIANCE
    return max(_mad_squared(diffs) / 2, MIN_VARIANCE)


def _candidates(y: np.ndarray, sigma2: float) -> list[int]:
    """PELT's change points with a BIC-like penalty: positions where a new level starts."""
    if len(y) < 2:
        return []
    algo = ruptures.Pelt(model="l2", min_size=1, jump=1).fit(y.reshape(-1, 1))
    ends = algo.predict(pen=2 * sigma2 * math.log(len(y)))
    return [int(e) for e in ends[:-1]]


def _prior(fits: list[_Fit]) -> Prior:
    """The metric's prior, from each series' night-to-night differences by their median: a
    step or an outlier is one large difference and moves it little. Residuals within the
    candidate levels would not do: PELT over-splits a noisy series, its levels then fit the
    noise, and a prior learnt from them let that noise pass as steps (a flat 15 % cell called
    1.66x slower)."""
    pairs = [_diff_variance(f) for f in fits]
    return variance_prior([p[0] for p in pairs], [float(p[1]) for p in pairs],
                          [f.within() for f in fits])


def _diff_variance(fit: _Fit) -> tuple[float, int]:
    diffs = np.diff(fit.y)
    if len(diffs) == 0:
        return float("nan"), 0
    return max(_mad_squared(diffs) / 2, MIN_VARIANCE), len(diffs)


def _sigma(fit: _Fit, prior: Prior) -> tuple[float, float]:
    own, own_df = fit.residual()
    s2, df = prior.at(fit.within()).moderate(own, float(own_df))
    return (math.sqrt(s2) if not math.isnan(s2) else float("nan")), df


@dataclass(frozen=True)
class _Test:
    ratio: float
    p_runs: float
    p_within: float
    se: float
    df: float
    n_before: int
    n_after: int
    passes: bool
    confirmed: bool


def _test(fit: _Fit, j: int, prior: Prior, rules: Rules) -> _Test:
    """The step between level j and level j + 1."""
    segments = fit.segments()
    (a0, a1), (b0, b1) = segments[j], segments[j + 1]
    y = fit.y
    delta = float(y[b0:b1].mean() - y[a0:a1].mean())
    sigma, df = _sigma(fit, prior)
    se = sigma * math.sqrt(1 / (a1 - a0) + 1 / (b1 - b0))
    p_runs = float(sstats.t.sf(abs(delta) / se, df)) if se > 0 and df > 0 else float("nan")
    # The step was put where the series splits best, among len - 1 places: the best of many
    # splits of pure noise passes one test by chance (6 false alarms in 100 flat 30-night
    # histories), so the p is Bonferroni-corrected for the places it was chosen from.
    p_runs = min(1.0, p_runs * max(len(y) - 1, 1))
    within = fit.series.metric.repeated
    pool_a = _pooled_samples(fit, a0, a1)
    pool_b = _pooled_samples(fit, b0, b1)
    p_within = mann_whitney_p(pool_a, pool_b) if within else float("nan")
    enough = not within or min(len(pool_a), len(pool_b)) >= rules.need
    ratio = math.exp(delta)
    threshold = rules.threshold(fit.series.metric)
    passes = ((ratio > threshold or ratio < 1 / threshold)
              and p_runs < rules.level
              and (not within or not enough or p_within < rules.alpha))
    return _Test(ratio, p_runs, p_within, se, df, a1 - a0, b1 - b0, passes, enough)


def _pooled_samples(fit: _Fit, a: int, b: int) -> list[float]:
    """Every repeat of the runs of one level."""
    return [v for pos in fit.keep[a:b] for v in fit.series.repeats[pos]]


def _eliminate(fit: _Fit, prior: Prior, rules: Rules) -> None:
    """Drop the weakest failing step until every step left passes its tests."""
    while fit.breaks:
        tests = [_test(fit, j, prior, rules) for j in range(len(fit.breaks))]
        failing = [(t.p_runs if t.p_runs == t.p_runs else 1.0, -abs(math.log(t.ratio)), j)
                   for j, t in enumerate(tests) if not t.passes]
        if not failing:
            return
        fit.breaks.pop(max(failing)[2])


def _set_outliers_aside(fit: _Fit) -> bool:
    """Levels of one run that are not the newest: outliers, removed from the points kept."""
    single = [a for a, b in fit.segments()[:-1] if b - a == 1]
    if not single or len(fit.keep) - len(single) < 2:
        return False
    fit.series.outliers += [fit.series.runs[fit.keep[a]] for a in single]
    fit.keep = [p for i, p in enumerate(fit.keep) if i not in set(single)]
    fit.breaks = []
    return True


def _finish(fit: _Fit, prior: Prior, rules: Rules, nights: list[Night]) -> None:
    series = fit.series
    series.factor = rules.threshold(series.metric)
    steps = []
    for j, start in enumerate(fit.breaks):
        t = _test(fit, j, prior, rules)
        if t.n_before < MIN_RUNS:
            t = _Test(**{**t.__dict__, "confirmed": False})
        half = float(sstats.t.ppf((1 + CONFIDENCE) / 2, t.df)) * t.se
        at, before = series.runs[fit.keep[start]], series.runs[fit.keep[start - 1]]
        steps.append(Step(at, before, t.ratio, t.ratio * math.exp(-half),
                          t.ratio * math.exp(half), t.p_runs, t.p_within, t.n_before,
                          t.n_after, t.confirmed, tuple(_env(series.key, nights, before, at))))
    series.steps = steps
    sigma, df = _sigma(fit, prior)
    last = fit.segments()[-1]
    if sigma == sigma and df > 0:
        n_last = last[1] - last[0]
        log_bound = float(sstats.t.isf(rules.level, df)) * sigma * math.sqrt(1 + 1 / n_last)
        # With a run or two the t quantile at a Bonferroni level is astronomical: that is no
        # noise floor but an unknown one, so it stays NaN rather than overflowing.
        if log_bound < MAX_LOG_NOISE:
            series.noise = math.exp(log_bound)
    _creep(fit, series.factor, rules.level)


def _env(key: CellKey, nights: list[Night], before: int, at: int) -> list[EnvChange]:
    """What differs between the last run of the old level and the first of the new one, in
    the env and in this cell's engine settings."""
    a = [r for r in nights[before].records if r.engine == key[1]] or list(nights[before].records)
    b = [r for r in nights[at].records if r.engine == key[1]] or list(nights[at].records)
    return env_changes(a, b)


def _creep(fit: _Fit, threshold: float, level: float) -> None:
    """A trend in place of steps, when a line fits better (BIC) and its drift is real."""
    series = fit.series
    y = fit.y
    n = len(y)
    if n < MIN_CREEP_RUNS:
        return
    x = np.array([series.runs[p] for p in fit.keep], dtype=float)
    # Two-sided at twice the run-to-run level: a trend is held to the same false-alarm rate
    # per history as a step (at a plain 99 %, a hundred flat series of ten nights would show
    # a "creep" past 10 % most nights).
    slope, _, low, high = sstats.theilslopes(y, x, alpha=1 - 2 * level)
    span = x[-1] - x[0]
    drift = math.exp(slope * span)
    if not (drift > threshold or drift < 1 / threshold) or low <= 0 <= high:
        return
    _, _, low, high = sstats.theilslopes(y, x, alpha=CONFIDENCE)  # the interval shown
    line = np.polyval(np.polyfit(x, y, 1), x)
    rss_line = max(float(np.sum((y - line) ** 2)), n * MIN_VARIANCE)
    levels = fit.segments()
    rss_steps = max(sum(float(np.sum((y[a:b] - y[a:b].mean()) ** 2)) for a, b in levels),
                    n * MIN_VARIANCE)
    bic_line = n * math.log(rss_line / n) + 2 * math.log(n)
    bic_steps = n * math.log(rss_steps / n) + (2 * len(levels) - 1) * math.log(n)
    if series.steps and bic_steps <= bic_line:
        return
    series.steps = []
    series.creep = Creep(drift, math.exp(low * span), math.exp(high * span),
                         math.exp(slope) - 1, series.runs[fit.keep[0]],
                         series.runs[fit.keep[-1]])


def changed(hist: History) -> list[Series]:
    """Series with something to say, regressions first, then by size of change."""
    order = {"regression": 0, "unconfirmed": 1, "worse": 2, "creep up": 3, "better": 4,
             "creep down": 5, "outlier": 6}
    rows = [s for s in hist.series if s.changed]
    return sorted(rows, key=lambda s: (order[s.verdict], -_size(s)))


def _size(s: Series) -> float:
    step = s.newest_step
    if step:
        return abs(math.log(step.ratio))
    return abs(math.log(s.creep.ratio)) if s.creep else 0.0


def noise_by_engine(hist: History, metric: str = "warm_wall") -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for s in hist.series:
        if s.metric.name == metric and s.noise == s.noise:
            out.setdefault(s.key[1], []).append(s.noise - 1)
    return out
