"""From evidence to a decision: which options the limits leave in, how each scores on what is
minimised, and whether the margin between the best and the rest is a measured difference.

Score: the weighted geometric mean, over the jobs, of the option's value over the best value
any option still in reached on that job (1.00 = best on every job). Significance is
`harness compare`'s, option against option on the same jobs: a margin that compare does not
call on any job is "no measurable difference", and the tie goes to the option listed first
(list the simplest first). Nothing is guessed: a cell without records is named, not scored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from harness.decide.evidence import Cell
from harness.decide.spec import Decision, Job, Option
from harness.fmt import fmt_bytes, fmt_seconds
from harness.judge.compare import Comparison, Row, compare
from harness.results.schema import Record

GIB = 1 << 30
# Which of compare's rows judge each thing minimised; the first is the one quoted.
ROWS = {"warm": ("warm_wall",), "cold": ("cold_wall", "startup"),
        "memory": ("peak_tree_hwm", "peak_tree_rss")}


@dataclass
class Standing:
    """One option: the cells it was measured on, why it is out (if it is), its score."""

    option: Option
    cells: list[Cell]
    out: list[str] = field(default_factory=list)
    unscored: list[str] = field(default_factory=list)
    score: float | None = None
    relative: dict[str, float] = field(default_factory=dict)  # job label -> value / best

    @property
    def eligible(self) -> bool:
        return not self.out and not self.unscored

    def cell(self, job: Job) -> Cell:
        return next(c for c in self.cells if c.job == job)


@dataclass(frozen=True)
class JobCall:
    """The chosen option against another on one job, as compare judged it."""

    job: Job
    verdict: str  # faster (the chosen is better), slower, same, unconfirmed
    ratio: float | None  # chosen / other, on the first row of ROWS
    low: float | None
    high: float | None
    note: str


@dataclass(frozen=True)
class Pairing:
    """The chosen option against one other: the calls per job, and what they add up to."""

    other: Standing
    calls: tuple[JobCall, ...]

    @property
    def relation(self) -> str:
        """better (measurably, on some job, and worse on none), trade-off, same, unknown."""
        verdicts = {c.verdict for c in self.calls}
        if "faster" in verdicts and "slower" not in verdicts:
            return "better"
        if "slower" in verdicts:
            return "trade-off"
        if verdicts <= {"same"}:
            return "same"
        return "unknown"


@dataclass
class Outcome:
    kind: str  # clear, trade-off, no-difference, unconfirmed, none-qualifies
    chosen: Standing | None
    standings: list[Standing]
    pairings: list[Pairing]
    tied: list[Standing]
    factor: float = 1.10  # compare's threshold: smaller ratios are "same" whatever the test

    @property
    def runner_up(self) -> Standing | None:
        rest = [s for s in self.standings if s.eligible and s is not self.chosen]
        return min(rest, key=lambda s: s.score or math.inf, default=None)

    @property
    def margin(self) -> float | None:
        """The runner-up's score over the chosen's: 1.30 = the next best is 30 % worse."""
        other = self.runner_up
        if not (self.chosen and other and self.chosen.score and other.score):
            return None
        return other.score / self.chosen.score

    def pairing(self, other: Standing) -> Pairing | None:
        return next((p for p in self.pairings if p.other is other), None)


def decide(decision: Decision, cells: dict[tuple[str, str], Cell],
           factor: float = 1.10) -> Outcome:
    standings = [_standing(decision, o, cells) for o in decision.options]
    _score(decision, [s for s in standings if s.eligible])
    eligible = [s for s in standings if s.eligible]
    if not eligible:
        return Outcome("none-qualifies", None, standings, [], [], factor)
    best = min(eligible, key=lambda s: (s.score or math.inf, decision.options.index(s.option)))
    pairings = [_pair(decision, best, s, factor) for s in eligible if s is not best]
    tied = [p.other for p in pairings if p.relation == "same"]
    chosen = min([best, *tied], key=lambda s: decision.options.index(s.option))
    if chosen is not best:
        pairings = [_pair(decision, chosen, s, factor) for s in eligible if s is not chosen]
    relations = {p.relation for p in pairings}
    if tied:
        kind = "no-difference"
    elif "unknown" in relations:
        kind = "unconfirmed"
    elif "trade-off" in relations:
        kind = "trade-off"
    else:
        kind = "clear"
    return Outcome(kind, chosen, standings, pairings, [best, *tied] if tied else [], factor)


def _standing(decision: Decision, option: Option,
              cells: dict[tuple[str, str], Cell]) -> Standing:
    mine = [cells[(option.name, j.label)] for j in decision.jobs]
    standing = Standing(option, mine)
    for cell in mine:
        standing.out += _broken(decision, cell)
        if cell.status == "missing":
            standing.unscored.append(f"no records of {option.config_text} on {cell.job.label}")
        elif cell.usable and cell.value(decision.minimise) is None:
            standing.unscored.append(f"the records of {cell.job.label} hold no "
                                     f"{decision.minimise} measure")
    return standing


def _broken(decision: Decision, cell: Cell) -> list[str]:
    """Why this cell puts its option out: a failed run, a refusal, a limit broken."""
    job, run = cell.job.label, _runs_text(cell)
    if cell.status == "unsupported":
        return [f"it cannot run {job}: {cell.error or 'unsupported'}"]
    if cell.failed:
        return [f"its runs of {job} ended {cell.status} ({cell.error}; {run})"]
    out = []
    limits = decision.limits
    peak = cell.highest_peak_bytes
    if limits.peak_memory_gib and peak and peak > limits.peak_memory_gib * GIB:
        out.append(f"its peak tree memory on {job} reached {fmt_bytes(peak)}, over the "
                   f"{limits.peak_memory_gib:g} GiB limit ({run})")
    start = cell.startup_s
    if limits.startup_s and start is not None and start > limits.startup_s:
        out.append(f"its engine took {fmt_seconds(start)} to start before {job}, over the "
                   f"{limits.startup_s:g} s limit ({run})")
    return out


def _runs_text(cell: Cell) -> str:
    runs = cell.runs
    if not runs:
        return "no runs"
    return f"run {runs[0]}" if len(runs) == 1 else f"runs {runs[0]} .. {runs[-1]}"


def _score(decision: Decision, eligible: list[Standing]) -> None:
    for job in decision.jobs:
        values = {id(s): s.cell(job).value(decision.minimise) for s in eligible}
        best = min((v for v in values.values() if v), default=None)
        for s in eligible:
            v = values[id(s)]
            if best and v:
                s.relative[job.label] = v / best
    total = sum(j.weight for j in decision.jobs)
    for s in eligible:
        logs = [j.weight * math.log(s.relative[j.label]) for j in decision.jobs
                if j.label in s.relative]
        s.score = math.exp(sum(logs) / total) if len(logs) == len(decision.jobs) else None


def _pair(decision: Decision, chosen: Standing, other: Standing, factor: float) -> Pairing:
    """Each job judged both ways: compare's run-to-run bound comes from its baseline's runs,
    so a noisy option as the baseline can hide a difference that the quiet one, as the
    baseline, calls. A difference called from either side counts; "same" needs both."""
    calls = []
    for job in decision.jobs:
        a, b = other.cell(job), chosen.cell(job)
        forward = _call(job, _compare(a, b, factor), decision.minimise)
        if forward.verdict in ("same", "unconfirmed"):
            backward = _call(job, _compare(b, a, factor), decision.minimise)
            mirrored = MIRROR.get(backward.verdict, backward.verdict)
            if mirrored in ("faster", "slower") or forward.verdict == "unconfirmed":
                forward = dataclasses.replace(
                    forward, verdict=mirrored,
                    note=_side_note(mirrored, backward.note, forward.verdict))
        calls.append(forward)
    return Pairing(other, tuple(calls))


MIRROR = {"faster": "slower", "slower": "faster"}


def _compare(baseline: Cell, new: Cell, factor: float) -> Comparison:
    return compare(_as_one_cell(baseline.records, "baseline"),
                   _as_one_cell(new.records, "new"), factor)


def _side_note(verdict: str, note: str, forward: str) -> str:
    """Why a call came from the chosen option's side, in words a reader can check."""
    if verdict not in ("faster", "slower"):
        return note
    if forward == "unconfirmed":
        return ("called with the chosen option's runs as the baseline; the other option has "
                "too few runs to be one")
    return ("called with the chosen option's runs as the baseline; the other option's runs "
            "differ more from run to run, and with them as the baseline it is inside that spread")


def _as_one_cell(records: tuple[Record, ...], side: str) -> list[Record]:
    """Two options measured in the same run are different cells of it; compare matches cells
    and needs runs of its own on each side: both become one anonymous cell."""
    return [dataclasses.replace(r, engine="option", n_workers=0, threads_per_worker=0,
                                params={}, run_id=f"{side}:{r.run_id}") for r in records]


def _call(job: Job, comparison: Comparison, minimise: str) -> JobCall:
    rows: list[Row] = [r for r in comparison.rows if r.metric in ROWS[minimise]]
    verdicts = {r.verdict for r in rows}
    if "faster" in verdicts and "slower" not in verdicts:
        verdict = "faster"
    elif "slower" in verdicts and "faster" not in verdicts:
        verdict = "slower"
    elif verdicts and verdicts <= {"same"}:
        verdict = "same"
    else:
        verdict = "unconfirmed"
    quoted = next((r for r in rows if r.metric == ROWS[minimise][0]), rows[0] if rows else None)
    note = "; ".join(dict.fromkeys(r.note for r in rows if r.note))
    s = quoted.shift if quoted else None
    return JobCall(job, verdict, quoted.ratio if quoted else None,
                   s.low if s and math.isfinite(s.low) else None,
                   s.high if s and math.isfinite(s.high) else None, note)
