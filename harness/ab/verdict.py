"""The A/B verdict: `harness compare` of each variant against the baseline, after the A/A
control (the baseline against its own second copy, run in the same interleaving) has said how
far this machine's noise alone goes. Beside each call, the bootstrap probability that the
variant is slower by more than 5, 10 and 20 %.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.ab.envs import BuiltEnv
from harness.ab.spec import AbSpec, Side
from harness.judge.compare import Comparison, compare
from harness.judge.envdiff import EnvChange
from harness.judge.render import comparison_json
from harness.judge.sides import METRICS, CellKey, by_cell, samples
from harness.judge.words import key_text
from harness.results.schema import Record

THRESHOLDS = (0.05, 0.10, 0.20)
RESAMPLES = 10_000
WARM = next(m for m in METRICS if m.name == "warm_wall")


@dataclass(frozen=True)
class Probabilities:
    """P(B/A - 1 > x) per threshold x, from resampled medians of the steady repeats."""

    key: CellKey
    ratio: float
    p_slower: tuple[float, ...]


@dataclass
class Outcome:
    name: str
    comparison: Comparison
    probabilities: list[Probabilities]
    env: BuiltEnv


@dataclass
class AbResult:
    spec: AbSpec
    control: Outcome | None
    variants: list[Outcome]
    baseline_env: BuiltEnv
    wall_s: float
    records_dir: str

    @property
    def control_calls(self) -> list[Any]:
        """What the A/A control called changed: each one a false alarm by construction."""
        if self.control is None:
            return []
        return [r for r in self.control.comparison.rows if r.significant or r.worse]

    @property
    def trusted(self) -> bool:
        return not self.control_calls

    @property
    def trust(self) -> str:
        if self.control is None:
            return "no A/A control was run: the noise of this machine is not known"
        if self.trusted:
            return ("the A/A control called nothing: the baseline against its own copy in "
                    "the same interleaving is the same everywhere" + self._aa_reach)
        return (f"NOT TRUSTWORTHY at this noise level: the A/A control (no change at all) "
                f"called {self._aa_calls}; treat A/B calls under that as noise, or run more "
                "rounds")

    @property
    def _aa_calls(self) -> str:
        """What the A/A control called, in words: how many rows, by how much at most, and how
        many were a change of status (an answer or a run that failed on one copy)."""
        calls = self.control_calls
        moved = [abs(math.log(r.ratio)) for r in calls if r.ratio and r.ratio > 0]
        words = f"{len(calls)} row(s) changed"
        if moved:
            words += f", by up to {math.exp(max(moved)):.2f}x"
        if len(moved) < len(calls):
            words += f" ({len(calls) - len(moved)} a change of status, not of speed)"
        return words

    @property
    def _aa_reach(self) -> str:
        """How high noise alone took the A/A's probability table: the scale to read the
        variants' tables on."""
        table = self.control.probabilities if self.control else []
        if not table:
            return ""
        top = max(table, key=lambda p: p.p_slower[0])
        return (f"; noise alone reached P(> {THRESHOLDS[0]:.0%}) = {top.p_slower[0]:.2f} in its "
                f"table ({key_text(top.key)}): read the variants' tables against that")

    @property
    def exit_code(self) -> int:
        return max((v.comparison.exit_code for v in self.variants), default=0)

    @property
    def verdict(self) -> str:
        parts = [f"{v.name}: {v.comparison.verdict}" for v in self.variants]
        if self.control is None:
            trust = "no A/A control"
        elif self.trusted:
            trust = "the A/A control called nothing"
        else:
            trust = f"NOT TRUSTWORTHY: the A/A control called {self._aa_calls}"
        return "; ".join(parts) + f" ({trust})"


def judge(spec: AbSpec, records: dict[str, list[Record]], envs: dict[str, BuiltEnv],
          wall_s: float, records_dir: str, factor: float) -> AbResult:
    """The verdicts from every side's records, keyed by side label."""
    labels = [label for label, _ in spec.sides]
    base = records[labels[0]]
    control = None
    if spec.control:
        control = _outcome(labels[1], spec.baseline, base, records[labels[1]], spec, factor,
                           envs[spec.baseline.name])
    variants = [_outcome(v.name, v, base, records[v.name], spec, factor, envs[v.name])
                for v in spec.variants]
    return AbResult(spec, control, variants, envs[spec.baseline.name], wall_s, records_dir)


def _outcome(name: str, side: Side, base: list[Record], new: list[Record], spec: AbSpec,
             factor: float, env: BuiltEnv) -> Outcome:
    aligned, changes = align_params(base, new, spec.baseline, side)
    comparison = compare(base, aligned, factor)
    comparison.env = changes + comparison.env
    ratios = {r.key: r.ratio for r in comparison.rows if r.metric == WARM.name and r.ratio}
    return Outcome(name, comparison, probabilities(base, aligned, ratios), env)


def align_params(base: list[Record], new: list[Record], baseline: Side,
                 side: Side) -> tuple[list[Record], list[EnvChange]]:
    """A side that sets a workload's parameters runs the baseline's cells with other values:
    its records are matched to the baseline's cells, and the values shown as a change, as a
    library version would be. The records on disk keep what really ran."""
    touched = set(side.params) | set(baseline.params)
    if not touched:
        return new, []
    params = {_loose(r): r.params for r in base if r.workload in touched}
    aligned = [dataclasses.replace(r, params=params.get(_loose(r), r.params))
               if r.workload in touched else r for r in new]
    changes = []
    for workload in sorted(touched):
        a = next((r.params for r in base if r.workload == workload), None)
        b = next((r.params for r in new if r.workload == workload), None)
        if a is not None and b is not None and a != b:
            moved = {k: (a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b])
                     if a.get(k) != b.get(k)}
            changes += [EnvChange(f"params {workload}.{k}", json.dumps(x), json.dumps(y))
                        for k, (x, y) in moved.items()]
    return aligned, changes


def _loose(r: Record) -> tuple[str, str, str, int, int]:
    return (r.workload, r.engine, r.size, r.n_workers, r.threads_per_worker)


def probabilities(base: list[Record], new: list[Record],
                  ratios: dict[CellKey, float] | None = None,
                  seed: int = 0) -> list[Probabilities]:
    """Per cell of both sides, P(median(B) / median(A) - 1 > x), by a two-level bootstrap:
    resample the rounds, then the steady repeats within each round drawn (coiled/benchmarks'
    A/B table, with medians as `harness compare` uses). Resampling the repeats alone would
    treat 18 repeats of three processes as 18 independent runs: the A/A control then gave a
    flat cell a 73 % chance of being 5 % slower. The rounds are drawn in pairs, round i of
    both sides together, because those ran side by side on the machine as it was then. The
    ratio shown is compare's (`ratios`) where it has one."""
    a, b = by_cell(base), by_cell(new)
    rng = np.random.default_rng(seed)
    out = []
    for key in [k for k in a if k in b]:
        ra, rb = _rounds(a[key]), _rounds(b[key])
        if ra is None or rb is None:
            continue
        drawn = _round_draws(len(ra), len(rb), rng)
        ma = _resampled_medians(ra, drawn[0], rng)
        mb = _resampled_medians(rb, drawn[1], rng)
        ratio = mb / ma - 1
        shown = (ratios or {}).get(key) or float(np.median(rb) / np.median(ra))
        out.append(Probabilities(key, float(shown),
                                 tuple(float(np.mean(ratio > x)) for x in THRESHOLDS)))
    return out


def _rounds(records: list[Record]) -> np.ndarray | None:
    """The cell's steady repeats, one row per round (run) in the order they ran, cut to the
    shortest round."""
    by_run = samples(records, WARM)
    runs = [np.array(by_run[run]) for run in sorted(by_run) if len(by_run[run]) >= 2]
    if len(runs) < 2:
        return None
    width = min(len(r) for r in runs)
    data = np.stack([r[:width] for r in runs])
    return data if float(np.median(data)) > 0 else None


def _round_draws(ka: int, kb: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Which rounds each resample takes: the same ones on both sides when both have every
    round, else each side its own (a round lost on one side breaks the pairing)."""
    first = rng.integers(ka, size=(RESAMPLES, ka, 1))
    if ka == kb:
        return first, first
    return first, rng.integers(kb, size=(RESAMPLES, kb, 1))


def _resampled_medians(data: np.ndarray, rounds: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    k, m = data.shape
    repeats = rng.integers(m, size=(RESAMPLES, k, m))
    return np.median(data[rounds, repeats].reshape(RESAMPLES, -1), axis=1)


def ab_json(result: AbResult) -> dict[str, Any]:
    def outcome(o: Outcome) -> dict[str, Any]:
        return {"name": o.name, "environment": _env_json(o.env),
                **comparison_json(o.comparison),
                "p_slower": [{"workload": p.key[0], "engine": p.key[1], "size": p.key[2],
                              "n_workers": p.key[3], "threads_per_worker": p.key[4],
                              "ratio": p.ratio,
                              **{f"over_{round(x * 100)}pct": v
                                 for x, v in zip(THRESHOLDS, p.p_slower, strict=True)}}
                             for p in o.probabilities]}

    return {"title": result.spec.title, "verdict": result.verdict,
            "exit_code": result.exit_code, "trusted": result.trusted, "trust": result.trust,
            "rounds": result.spec.rounds, "wall_s": result.wall_s,
            "records": result.records_dir,
            "baseline": {"name": result.spec.baseline.name,
                         "environment": _env_json(result.baseline_env)},
            "control": outcome(result.control) if result.control else None,
            "variants": [outcome(v) for v in result.variants]}


def _env_json(env: BuiltEnv) -> dict[str, Any]:
    return {"python": str(env.python), "key": env.key, "cached": env.cached,
            "seconds": env.seconds}
