"""The statistics every verdict uses: a bootstrap interval of a ratio of medians, and the exact
Mann-Whitney U test. Both from scipy; nothing here is hand-rolled distribution code.

Medians, not means: one slow run (a GC pause, a neighbour on the machine) moves a mean far
more than a median, and the harness's samples are few.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

RESAMPLES = 9999
# Beyond this many samples in all, the exact distribution costs more than it is worth: the
# normal approximation is then as good as exact at any p this harness asks about.
EXACT_UP_TO = 400


def _median_ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(b, axis=axis) / np.median(a, axis=axis)


def ratio_interval(base: Sequence[float], new: Sequence[float], confidence: float,
                   seed: int = 0) -> tuple[float, float, float]:
    """median(new) / median(base) and its percentile-bootstrap interval (NaNs with fewer than
    3 samples a side, where a bootstrap only reshuffles the same two or three values)."""
    a, b = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    if len(a) < 3 or len(b) < 3 or np.median(a) <= 0:
        return float("nan"), float("nan"), float("nan")
    ratio = float(_median_ratio(a, b))
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return ratio, ratio, ratio  # no spread at all: every resample gives the same ratio
    # A resample of mostly zeros (CPU time of a sleeping task) has a zero median: its ratio is
    # inf and scipy warns; an interval that is not finite is no interval.
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        res = stats.bootstrap((a, b), _median_ratio, n_resamples=RESAMPLES, vectorized=True,
                              confidence_level=confidence, method="percentile",
                              random_state=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return ratio, float("nan"), float("nan")
    return ratio, low, high


def mann_whitney_p(base: Sequence[float], new: Sequence[float]) -> float:
    """Two-sided p of the Mann-Whitney U test: exact when no two values tie (scipy's "auto"
    would switch to the normal approximation above 8 a side), else that approximation with
    its tie correction (NaN with fewer than 2 a side)."""
    if len(base) < 2 or len(new) < 2:
        return float("nan")
    values = np.concatenate([base, new])
    if np.ptp(values) == 0:
        return 1.0  # every value equal: nothing to tell apart
    exact = len(np.unique(values)) == len(values) and len(values) <= EXACT_UP_TO
    method = "exact" if exact else "asymptotic"
    return float(stats.mannwhitneyu(new, base, alternative="two-sided", method=method).pvalue)


def min_samples(alpha: float) -> int:
    """The fewest samples a side with which the exact two-sided test can reach p < alpha: the
    smallest p it can give, complete separation, is 2 / C(2n, n). At 0.002 that is 7 (6 a side
    gives at best 2/924 = 0.00216)."""
    n = 1
    while 2 / math.comb(2 * n, n) >= alpha:
        n += 1
    return n


@dataclass(frozen=True)
class Shift:
    """How `new` differs from `base`: ratio of medians, its interval, the test's p."""

    ratio: float
    low: float
    high: float
    p: float
    n_base: int
    n_new: int

    @property
    def resolution(self) -> float:
        """Half the interval's width, relative to the ratio: changes smaller than this are
        inside the noise of this comparison (NaN without an interval)."""
        if not (self.low > 0 and self.high > 0):
            return float("nan")
        return max(self.high / self.ratio, self.ratio / self.low) - 1


def shift(base: Sequence[float], new: Sequence[float], confidence: float,
          seed: int = 0) -> Shift:
    ratio, low, high = ratio_interval(base, new, confidence, seed)
    if math.isnan(ratio) and len(base) and len(new) and np.median(base) > 0:
        ratio = float(np.median(new) / np.median(base))
    return Shift(ratio, low, high, mann_whitney_p(base, new), len(base), len(new))


MIN_RUNS = 3


def run_to_run_bound(run_medians: Sequence[float], new_runs: int, confidence: float) -> float:
    """How far the median of `new_runs` fresh runs may stray from the baseline's runs by chance
    alone, as a ratio above 1: the one-sided prediction bound of a normal model of log run
    medians, with Student's t for the few runs it is estimated from. NaN below MIN_RUNS runs.

    Repeats within one run share its engine session, its memory layout and the machine's mood
    of that minute, so they understate how much two runs differ; only runs measure that.
    """
    k = len(run_medians)
    if k < MIN_RUNS or min(run_medians) <= 0 or new_runs < 1:
        return float("nan")
    spread = float(np.std(np.log(run_medians), ddof=1))
    t = float(stats.t.ppf(confidence, k - 1))
    return math.exp(t * spread * math.sqrt(1 / new_runs + 1 / k))


def _trigamma_inverse(x: float) -> float:
    """y with trigamma(y) = x, by Newton's method from Smyth's starting point."""
    y = 0.5 + 1 / x
    for _ in range(50):
        tri = float(special.polygamma(1, y))
        step = tri * (1 - tri / x) / float(special.polygamma(2, y))
        y += step
        if -step / y < 1e-8:
            break
    return y


@dataclass(frozen=True)
class Prior:
    """The variance a group of series shares, and how many degrees of freedom it is worth.

    With a trend (limma-trend), the prior variance depends on a covariate of each series:
    `s2` is the prior at `center`, and log s2 rises by `slope` per unit of covariate."""

    s2: float
    df: float  # math.inf: the group's variances are all alike; 0: no prior at all
    slope: float = 0.0
    center: float = 0.0

    def at(self, covariate: float | None) -> Prior:
        """The prior of one series whose covariate is given (None: the group's centre)."""
        if self.slope == 0.0 or covariate is None or not math.isfinite(covariate):
            return self
        return Prior(self.s2 * math.exp(self.slope * (covariate - self.center)), self.df)

    def moderate(self, s2: float, df: float) -> tuple[float, float]:
        """A series' variance shrunk toward the prior, and its degrees of freedom."""
        if self.df == 0 or math.isnan(self.s2):
            return s2, df
        if math.isinf(self.df):
            return self.s2, math.inf
        if df <= 0:
            return self.s2, self.df
        return (self.df * self.s2 + df * s2) / (self.df + df), self.df + df


# A trend costs a degree of freedom of the prior's own spread: below this many series, none.
MIN_TREND_SERIES = 6


def variance_prior(s2: Sequence[float], df: Sequence[float],
                   covariate: Sequence[float | None] | None = None) -> Prior:
    """The empirical-Bayes prior of many small-sample variances (Smyth 2004, limma's
    `squeezeVar`): a scaled inverse chi-square fitted by moments of log variances.

    Three nights give each cell 2 degrees of freedom, and a t bound with 2 of them is 9.9
    standard deviations wide: nothing short of a doubling could be called. The cells of one
    engine share the machine's run-to-run noise, so borrowing it makes the bound usable, while a
    cell that is truly noisier keeps its own variance as far as its history shows it.

    `covariate` (limma-trend): the prior's log variance is a straight line in it. A suite mixes
    cells that sleep (0.1 % night to night) with CPU-bound ones (10-20 %); one prior for both
    fits their spread with under one degree of freedom and helps neither. The log of each
    cell's within-run variance predicts its run-to-run variance, and is known from one night.
    """
    cov = list(covariate) if covariate is not None else [None] * len(s2)
    rows = [(v, d, c) for v, d, c in zip(s2, df, cov, strict=True) if d > 0 and v > 0]
    if len(rows) < 3:
        return Prior(float("nan"), 0.0)
    v, d = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    e = np.log(v) - special.digamma(d / 2) + np.log(d / 2)
    x = [r[2] for r in rows]
    trend = len(rows) >= MIN_TREND_SERIES and all(c is not None and math.isfinite(c) for c in x)
    slope, center, params = 0.0, 0.0, 1
    if trend:
        xs = np.array(x, dtype=float)
        center = float(xs.mean())
        if float(np.ptp(xs)) > 0:
            slope = float(np.polyfit(xs - center, e, 1)[0])
            params = 2
    fitted = slope * ((np.array(x, dtype=float) - center) if slope else 0.0)
    mean = float(np.mean(e - fitted))
    resid = e - fitted - mean
    spread = float(np.sum(resid ** 2) / (len(e) - params) - np.mean(special.polygamma(1, d / 2)))
    if spread <= 0:
        return Prior(math.exp(mean), math.inf, slope, center)
    d0 = 2 * _trigamma_inverse(spread)
    return Prior(math.exp(mean + float(special.digamma(d0 / 2)) - math.log(d0 / 2)), d0,
                 slope, center)
