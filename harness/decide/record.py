"""The decision record: MADR 4.0's sections, filled from the evidence, the outcome and the
growth lines. Every number in it is read from records here, and each names the runs it came
from; what was not measured is said, with the command that would measure it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.decide import growth
from harness.decide.choose import GIB, JobCall, Outcome, Pairing, Standing
from harness.decide.evidence import Cell, cell_params, start_bytes
from harness.decide.growth import GB, Crossing, Line
from harness.decide.spec import MINIMISE, Decision, Job, Option
from harness.fmt import fmt_bytes, fmt_seconds
from harness.reporting.document import Bullets, Code, Heading, Para, Report, Table
from harness.reporting.environment import env_fact, machine_footer
from harness.results.schema import Record
from harness.workloads.registry import get_workload

# Within half a percent, two medians are the same to the figures a record prints.
SAME = 0.005
QUOTED = {"warm": "warm wall time", "cold": "cold wall time with start-up",
          "memory": "peak tree memory"}
# The chapter's comparison of the two engines, claim by claim, and what here measures each.
CHAPTER = (
    ("Language and runtime", "Scala on the JVM; Python through py4j (PySpark)",
     "Python from end to end", "idle"),
    ("API", "its own DataFrame and SQL API", "mirrors pandas, NumPy and plain Python "
     "(delayed, bag)", None),
    ("Learning curve", "steeper for a pandas user: new API, JVM settings",
     "gentle for a pandas user", None),
    ("Ecosystem", "Hadoop and the JVM; MLlib", "the PyData stack; scikit-learn through "
     "dask-ml", None),
    ("Start-up and overhead", "a JVM to start; per-task scheduling in the JVM",
     "a Python process or a local cluster; per-task overhead in Python", "startup"),
    ("Scale", "built for large clusters", "from one laptop to large clusters", "slope"),
    ("Memory management", "JVM heap with spill to disk", "worker memory limits, spill to "
                                                           "disk, pausing", "peak"),
)


@dataclass
class Written:
    """The decision, ready to write: the report, its front matter and its JSON."""

    number: int
    slug: str
    title: str
    report: Report
    front: dict[str, Any]
    data: dict[str, Any]

    @property
    def stem(self) -> str:
        return f"{self.number:04d}-{self.slug}"


def build(decision: Decision, outcome: Outcome, records: list[Record], lines: list[Line],
          crossings: list[Crossing], missing_commands: list[str], reproduce: list[str],
          date: str, number: int, figures: dict[str, Any]) -> Written:
    used = [r for s in outcome.standings for c in s.cells for r in c.records]
    swept = growth.used(decision, lines, records)
    report = Report()
    stem = f"{number:04d}-{decision.slug}"
    report.add(Heading(1, decision.title))
    _context(report, decision, used or records, swept, date)
    _drivers(report, decision, outcome.factor)
    report.add(Heading(2, "Considered Options"),
               Bullets(tuple(f"{o.name} ({o.config_text})"
                             + (f": {o.description}" if o.description else "")
                             for o in decision.options)))
    _outcome(report, decision, outcome, crossings, lines, used or records)
    report.add(Heading(2, "Pros and Cons of the Options"))
    for s in outcome.standings:
        report.add(Heading(3, s.option.name), Bullets(tuple(pros_cons(decision, outcome, s))))
    report.add(Heading(2, "More Information"))
    _evidence(report, decision, outcome, stem, figures)
    _growth(report, decision, lines, crossings, stem, figures)
    if _spark_and_dask(decision):
        _chapter(report, decision, outcome, lines)
    _not_measured(report, decision, outcome, lines, missing_commands)
    report.add(Heading(3, "Reproduce"),
               Para(f"These commands regenerate the records (each harness run "
                    f"{decision.runs} times: one run a round) and this decision record:"),
               Code(tuple(reproduce)))
    report.add(Para(f"Written by harness decide on {date} from {len(used) + len(swept)} "
                    f"record(s) of {len(_runs(used + swept))} run(s); the runs were measured "
                    f"by harness commit {env_fact(used or records, 'harness_commit')[:12]}."))
    front = {"status": decision.status, "date": date,
             "decision-makers": list(decision.decision_makers),
             "consulted": list(decision.consulted), "informed": list(decision.informed)}
    if decision.supersedes:
        front["supersedes"] = list(decision.supersedes)
    return Written(number, decision.slug, decision.title, report, front,
                   as_json(decision, outcome, lines, crossings, date, number))


def _runs(records: list[Record]) -> list[str]:
    return list(dict.fromkeys(r.run_id for r in records))


def _context(report: Report, decision: Decision, records: list[Record], swept: list[Record],
             date: str) -> None:
    report.add(Heading(2, "Context and Problem Statement"), Para(decision.question))
    if decision.context:
        report.add(Para(decision.context))
    facts = [f"Measured on {machine_footer(records).splitlines()[0]}.",
             f"Versions: {machine_footer(records).splitlines()[1]}.",
             *(f"{job.label}: {data_words(job, records, decision.options)}"
               for job in decision.jobs),
             f"Evidence: {_span(records)}"
             + (f", and the growth sweep: {_span(swept)}" if swept else "")
             + f"; this record was written on {date}."]
    report.add(Bullets(tuple(facts)))


def _span(records: list[Record]) -> str:
    """'6 run(s) from 2026-12-06T05:21 to 2026-12-06T05:30 UTC'."""
    stamps = sorted(r.timestamp[:16] for r in records if r.timestamp)
    when = ("" if not stamps else f" at {stamps[0]} UTC" if stamps[0] == stamps[-1]
            else f" from {stamps[0]} to {stamps[-1]} UTC")
    return f"{len(_runs(records))} run(s){when}"




def data_words(job: Job, records: list[Record], options: tuple[Option, ...] = ()) -> str:
    """The job's data as parameters and bytes, from the records of that job; a layout the
    options set themselves is named as theirs, not given its default."""
    workload = get_workload(job.workload)
    theirs = list(dict.fromkeys(k for o in options for k in o.params.get(job.workload, {})))
    params = {k: v for k, v in workload.params(job.size).items()
              if k not in workload.tunables and k not in theirs}
    text = ", ".join(f"{k} {v}" for k, v in params.items())
    size = data_bytes(job, records)
    if size:
        text += f"; {_bytes(size)} of data"
    if theirs:
        text += f"; {' and '.join(theirs)} as each option sets them"
    return text + (f". Why it counts: {job.why}" if job.why else "")


def data_bytes(job: Job, records: list[Record]) -> float | None:
    """The median data size the job's records report, in bytes."""
    sizes = [r.metrics.get("data_bytes") for r in records if not r.sweep
             and r.workload == job.workload and r.size == job.size and r.metrics.get("data_bytes")]
    return float(pd.Series(sizes).median()) if sizes else None


def _bytes(value: float) -> str:
    """Decimal bytes to three figures: '48.5 MB'."""
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


def _drivers(report: Report, decision: Decision, factor: float) -> None:
    weights = ", ".join(f"{j.label} x{j.weight:g}" for j in decision.jobs)
    items = [f"Minimise {MINIMISE[decision.minimise]}, over the jobs weighted {weights}."]
    limits = decision.limits
    if limits.peak_memory_gib:
        items.append(f"Limit: peak tree memory (driver, workers, JVM together) at most "
                     f"{limits.peak_memory_gib:g} GiB on every job.")
    if limits.startup_s:
        items.append(f"Limit: engine start-up at most {limits.startup_s:g} s.")
    if decision.growth:
        items.append(f"Growth: the {decision.growth.workload} data is expected to reach "
                     f"{decision.growth.grow_to_gb:g} GB.")
    items.append(f"A difference counts only where harness compare calls it: larger than "
                 f"{factor:.2f}x, significant between the warm runs (Mann-Whitney U, p < "
                 f"0.002), and larger than the medians of {decision.runs} fresh runs differ "
                 "from each other by chance. Without one, the options are tied and the one "
                 "listed first, the simplest, is chosen.")
    report.add(Heading(2, "Decision Drivers"), Bullets(tuple(items)))


def _outcome(report: Report, decision: Decision, outcome: Outcome,
             crossings: list[Crossing], lines: list[Line], records: list[Record]) -> None:
    report.add(Heading(2, "Decision Outcome"), Para(chosen_sentence(decision, outcome)))
    grown = growth_words(decision, lines, outcome.chosen)
    if grown:
        report.add(Para(grown))
    notes = [f"Out: {s.option.name}, because {'; '.join(s.out)}." for s in outcome.standings
             if s.out]
    notes += [f"Not scored: {s.option.name}, because {'; '.join(s.unscored)}."
              for s in outcome.standings if s.unscored and not s.out]
    if notes:
        report.add(Bullets(tuple(notes)))
    today = next((data_bytes(j, records) for j in decision.jobs
                  if decision.growth and j.workload == decision.growth.workload), None)
    report.add(Heading(3, "Consequences"),
               Bullets(tuple(consequences(decision, outcome, crossings, lines, today))))
    report.add(Heading(3, "Confirmation"), Bullets(tuple(confirmation(decision, outcome))))


def chosen_sentence(decision: Decision, outcome: Outcome) -> str:
    c, what = outcome.chosen, QUOTED[decision.minimise]
    if c is None:
        return ("Chosen option: none, because no option qualifies: each one breaks a limit, "
                "failed, or lacks the evidence to score it (below).")
    other = outcome.runner_up
    if other is None:
        return (f"Chosen option: \"{c.option.name}\", because it is the only option that "
                "keeps every limit and has evidence on every job.")
    if outcome.kind == "no-difference":
        return _tie_sentence(c, outcome, what)
    pairing = outcome.pairing(other)
    calls = pairing.calls if pairing else ()
    head = (f"Chosen option: \"{c.option.name}\", because it has the best weighted {what} of "
            f"the options that keep the limits, {outcome.margin or 1.0:.2f}x better than the "
            f"next, \"{other.option.name}\"")
    against = _calls_text(calls, other, what, outcome.factor)
    if outcome.kind == "clear":
        better = [k for k in calls if k.verdict == "faster"]
        return head + (f"; harness compare calls it better on {_jobs(better)} and worse on "
                       f"none. {against}.")
    if outcome.kind == "trade-off":
        worse = [k for k in calls if k.verdict == "slower"]
        return head + (f"; it is measurably worse on {_jobs(worse)}, so the weights decide. "
                       f"{against}.")
    return head + (f". The margin is not confirmed: run harness decide {decision.path} --run "
                   f"to measure what is missing. {against}.")


def _tie_sentence(chosen: Standing, outcome: Outcome, what: str) -> str:
    """The chosen option is tied with others: quote the calls against each tied option."""
    others = [s for s in outcome.tied if s is not chosen]
    names = ", ".join(f"\"{s.option.name}\"" for s in others)
    against = " ".join(f"{_calls_text(p.calls, s, what, outcome.factor)}."
                       for s in others if (p := outcome.pairing(s)))
    return (f"Chosen option: \"{chosen.option.name}\", because there is no measurable "
            f"difference in {what} between it and {names}: harness compare calls no job "
            f"either way, and a tie goes to the option listed first. {against}")


def _jobs(calls: Any) -> str:
    return ", ".join(k.job.label for k in calls) or "no job"


def _calls_text(calls: Any, other: Standing, what: str, factor: float) -> str:
    """'Its warm wall time over that of "coarse": array-stats (small) 0.61x, better'."""
    return (f"Its {what} over that of \"{other.option.name}\": "
            + "; ".join(f"{k.job.label} {_ratio(k.ratio)}, {call_words(k, factor)}"
                        for k in calls))


def call_words(call: JobCall, factor: float) -> str:
    """compare's call in plain words, with why when it calls no difference."""
    if call.verdict == "faster":
        return "better"
    if call.verdict == "slower":
        return "worse"
    if call.verdict == "same":
        return f"no measurable difference, {call.note or f'under the {factor:.2f}x threshold'}"
    return f"not confirmed, {call.note or 'too few runs'}"


def _ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def consequences(decision: Decision, outcome: Outcome, crossings: list[Crossing],
                 lines: list[Line], today: float | None = None) -> list[str]:
    c = outcome.chosen
    if c is None:
        return ["Bad, because nothing measured here meets the drivers; relax a limit or add "
                "an option."]
    items = [f"Good, because {p}" for p in _strengths(decision, outcome, c)]
    items += [f"Bad, because {p}" for p in _weaknesses(decision, outcome, c)]
    mine = [x for x in crossings if x.option == c.option.name]
    items += [f"Bad, because {crossing_words(decision, x, lines)}" for x in mine]
    if not any(i.startswith("Bad") for i in items):
        items.append("Neutral, because nothing measured here argues against it; what was not "
                     "measured is listed under More Information.")
    workload = decision.growth.workload if decision.growth else ""
    now = f" (it is {_bytes(today)} today)" if today else ""
    if mine:
        items.append(f"Revisit before the {workload} data passes about "
                     f"{_bytes(mine[0].at_bytes)}, the first of those sizes{now}.")
    if decision.growth and not mine:
        items.append(f"Revisit before the {workload} data nears "
                     f"{decision.growth.grow_to_gb:g} GB{now}: "
                     + ("no line crosses a limit or another option's up to ten times that "
                        "size." if lines else "how each option grows with its data was "
                        "not measured (see Not measured)."))
    return items


def crossing_words(decision: Decision, x: Crossing, lines: list[Line]) -> str:
    """A crossing, said to be interpolated or extrapolated, with the measured numbers at the
    largest size measured beside it."""
    workload = decision.growth.workload if decision.growth else "the"
    text = f"at about {_bytes(x.at_bytes)} of {workload} data {x.what} ({_how(x, True)})"
    by_name = {ln.option.name: ln for ln in lines}
    mine, other = by_name.get(x.option), by_name.get(x.other)
    if mine and other:
        shared = sorted(set(mine.data) & set(other.data))
        if shared:
            a, b = (ln.time_s[ln.data.index(shared[-1])] for ln in (other, mine))
            text += (f"; at {_bytes(shared[-1])}, the largest size measured, "
                     f"{other.option.name} took {fmt_seconds(a)}, {mine.option.name} "
                     f"{fmt_seconds(b)}")
    return text


def _how(x: Crossing, long: bool = False) -> str:
    """'fitted time lines cross; interpolated': what a crossing is, and how far it is from
    the sizes measured."""
    line = "their fitted time lines cross" if x.other else "its fitted memory line reaches it"
    where = ("extrapolated beyond" if x.extrapolated else "interpolated between")
    return f"where {line}, {where} the sizes measured" if long else \
        f"{line}; {where.split()[0]}"


def growth_words(decision: Decision, lines: list[Line], chosen: Standing | None) -> str:
    """What the fitted lines say about the size the team grows to: who keeps the memory
    limit there, and who is fastest of those (all of it extrapolated)."""
    growth, limit = decision.growth, decision.limits.peak_memory_gib
    fitted = [ln for ln in lines if ln.fitted()]
    if growth is None or not fitted:
        return ""
    target = growth.grow_to_gb * GB
    fits = [ln for ln in fitted if not limit or ln.memory_at(target) <= limit * GIB]
    over = [ln for ln in fitted if ln not in fits]
    text = (f"At the {growth.grow_to_gb:g} GB of {growth.workload} data the team expects, the "
            f"lines fitted to {len(fitted[0].data)} measured sizes up to "
            f"{_bytes(max(ln.measured[1] for ln in fitted))} predict (an extrapolation): ")
    if over:
        text += ", ".join(f"\"{ln.option.name}\" passes the {limit:g} GiB limit "
                          f"({fmt_bytes(ln.memory_at(target))})" for ln in over) + "; "
    if not fits:
        return text + "no option stays under the limit there."
    best = min(fits, key=lambda ln: ln.time_at(target))
    under = f"stay under the {limit:g} GiB limit" if limit else "were measured"
    text += (f"of the options that {under}, \"{best.option.name}\" is the fastest there "
             f"({fmt_seconds(best.time_at(target))} warm, {fmt_bytes(best.memory_at(target))}).")
    if chosen and best.option != chosen.option:
        text += (f" The choice of \"{chosen.option.name}\" holds for today's data; plan the "
                 f"move to \"{best.option.name}\" before the data grows that far.")
    return text


def _strengths(decision: Decision, outcome: Outcome, s: Standing) -> list[str]:
    out = []
    for job in decision.jobs:
        rel = s.relative.get(job.label)
        value = s.cell(job).value(decision.minimise)
        if rel is not None and rel < 1.0 + SAME and value is not None:
            out.append(f"it is the best on {job.label}: {_value(decision, value)} "
                       f"{QUOTED[decision.minimise]}{_versus(decision, outcome, s, job)}")
    return out


def _weaknesses(decision: Decision, outcome: Outcome, s: Standing) -> list[str]:
    out = []
    for job in decision.jobs:
        rel = s.relative.get(job.label)
        if rel is not None and rel > 1.1:
            best = min((o for o in outcome.standings if job.label in o.relative),
                       key=lambda o: o.relative[job.label])
            out.append(f"on {job.label} it takes {rel:.2f}x what {best.option.name} does "
                       f"({QUOTED[decision.minimise]})")
    return out + _costs(outcome, s)


def _costs(outcome: Outcome, s: Standing) -> list[str]:
    """What the option costs beyond its time: a start-up over a second and twice the
    quickest engine's, a highest peak 1.5x the leanest option's."""
    out = []
    rest = [o for o in outcome.standings if o is not s and not o.unscored]
    start, quickest = _most(s, "startup_s"), min(rest, key=lambda o: _most(o, "startup_s"),
                                                 default=None)
    if quickest and start > 1 and start >= 2 * _most(quickest, "startup_s"):
        fresh = _most(quickest, "startup_s")
        out.append(f"its engine takes {fmt_seconds(start)} to start before a job that starts "
                   f"its own; {quickest.option.name} "
                   + (f"takes {fmt_seconds(fresh)}" if fresh >= 0.01 else "starts none"))
    peak, leanest = _most(s, "highest_peak_bytes"), min(
        rest, key=lambda o: _most(o, "highest_peak_bytes"), default=None)
    lean = _most(leanest, "highest_peak_bytes") if leanest else 0.0
    if leanest and lean and peak >= 1.5 * lean:
        out.append(f"it needs more memory: its highest peak tree memory is {fmt_bytes(peak)}, "
                   f"{peak / lean:.1f}x that of {leanest.option.name} ({fmt_bytes(lean)})")
    return out


def _most(s: Standing, what: str) -> float:
    """The largest of a cell measure over the option's jobs (0 when none was measured)."""
    return max((getattr(c, what) or 0.0 for c in s.cells), default=0.0)


def _versus(decision: Decision, outcome: Outcome, s: Standing, job: Job) -> str:
    """', 2.10x faster than pandas' against the reference option, when there is one."""
    ref = next((o for o in outcome.standings if o.option.engine == "pandas" and o is not s),
               None)
    if ref is None:
        return ""
    mine, theirs = s.cell(job).value(decision.minimise), ref.cell(job).value(decision.minimise)
    if not (mine and theirs):
        return ""
    better, worse = ("less", "more") if decision.minimise == "memory" else ("faster", "slower")
    if abs(theirs / mine - 1) < SAME:
        return f", as {'small' if decision.minimise == 'memory' else 'fast'} as " \
               f"{ref.option.name}"
    if theirs >= mine:
        return f", {theirs / mine:.2f}x {better} than {ref.option.name}"
    return f", {mine / theirs:.2f}x {worse} than {ref.option.name}"


def _value(decision: Decision, value: float) -> str:
    return fmt_bytes(value) if decision.minimise == "memory" else fmt_seconds(value)


def confirmation(decision: Decision, outcome: Outcome) -> list[str]:
    items = [f"Run harness decide {decision.path} --run again after any upgrade of dask, "
             "distributed, pandas or pyspark, or a move to other machines; the record is "
             "rewritten from the new runs."]
    if outcome.chosen:
        jobs = ", ".join(j.workload for j in decision.jobs)
        o = outcome.chosen.option
        shown = [t for t in (o.config_text if o.config_text != o.name else "",
                             "its layout" if o.params else "") if t]
        items.append(f"Keep {jobs} on \"{o.name}\""
                     + (f" ({', '.join(shown)})" if shown else "") + " in the nightly suite: "
                     "harness history calls a step in them, with the versions that moved.")
    return items


def pros_cons(decision: Decision, outcome: Outcome, s: Standing) -> list[str]:
    """Plain words and numbers: each job against the best, start-up, idle memory, peak
    against the limit, answers checked, why it is out."""
    items = [line for job in decision.jobs if (line := _job_line(decision, outcome, s, job))]
    starts = [c.startup_s for c in s.cells if c.startup_s is not None]
    if starts and max(starts) > 0.05:
        items.append(f"{'Bad' if max(starts) > 5 else 'Neutral'}, because its engine takes "
                     f"{fmt_seconds(max(starts))} to start, paid again by every job that "
                     "starts its own")
    idle, fresh = _most(s, "idle_bytes"), start_bytes(s.cells)
    if idle:
        items.append("Neutral, because its process tree holds "
                     + (f"{fmt_bytes(fresh)} before any work and " if fresh else "")
                     + f"{fmt_bytes(idle)} between warm runs (the engine, what it kept from "
                     "the runs before, the job's inputs)")
    peak, limit = _most(s, "highest_peak_bytes"), decision.limits.peak_memory_gib
    if peak and limit and peak <= limit * GIB:
        items.append(f"Good, because its highest peak tree memory, {fmt_bytes(peak)}, keeps "
                     f"the {limit:g} GiB limit")
    checked = sum(c.checked for c in s.cells)
    if checked:
        items.append(f"Good, because its answers agreed with the reference in all {checked} "
                     "checked runs" if not any(c.failed for c in s.cells) else
                     f"Neutral, because {checked} runs agreed with the reference")
    items += [f"Bad, because {reason}" for reason in s.out]
    items += [f"Neutral, because it was not scored: {reason}" for reason in s.unscored]
    return items or ["Neutral, because nothing was measured for it"]


def _job_line(decision: Decision, outcome: Outcome, s: Standing, job: Job) -> str | None:
    """'Bad, because resample-daily (small): 1.500 s warm wall time, 2.22x the best
    (pandas's 0.677 s)': the best is named, and a closeness within the threshold is said."""
    value = s.cell(job).value(decision.minimise)
    if value is None:
        return None
    rel = s.relative.get(job.label)
    text = f"{job.label}: {_value(decision, value)} {QUOTED[decision.minimise]}"
    if rel is None:
        return f"Neutral, because {text}"
    if rel < 1 + SAME:
        return f"Good, because {text}, the best{_versus(decision, outcome, s, job)}"
    best = min((o for o in outcome.standings if job.label in o.relative),
               key=lambda o: o.relative[job.label])
    best_value = best.cell(job).value(decision.minimise) or 0.0
    good = rel <= outcome.factor
    text += (f", {rel:.2f}x the best" + (f", within {outcome.factor:.2f}x" if good else "")
             + f" ({best.option.name}: {_value(decision, best_value)})"
             + ("" if best.option.engine == "pandas" else _versus(decision, outcome, s, job)))
    return f"{'Good' if good else 'Bad'}, because {text}"


def evidence_frame(decision: Decision, outcome: Outcome, with_runs: bool = True) -> pd.DataFrame:
    rows = []
    for s in outcome.standings:
        for cell in s.cells:
            row = {"option": s.option.name, "job": cell.job.label,
                   "cell": cell.config + _layout(s.option, cell.job), "status": cell.status,
                   "warm": fmt_seconds(cell.warm_s), "cold + start-up": fmt_seconds(cell.cold_s),
                   "start-up": fmt_seconds(cell.startup_s),
                   "peak memory": fmt_bytes(cell.peak_bytes),
                   "highest peak": fmt_bytes(cell.highest_peak_bytes),
                   "idle memory": fmt_bytes(cell.idle_bytes),
                   "vs best": "" if cell.job.label not in s.relative
                   else f"{s.relative[cell.job.label]:.2f}x",
                   "answers checked": cell.checked}
            if with_runs:
                row["runs"] = ", ".join(cell.runs) or "none"
            rows.append(row)
    return pd.DataFrame(rows)


def _layout(option: Option, job: Job) -> str:
    """', chunks 250x250x3': the layout values the option sets for the job's workload."""
    values = option.params.get(job.workload, {})
    return "".join(f", {k} {'x'.join(map(str, v)) if isinstance(v, list) else v}"
                   for k, v in values.items())


def _shared_runs(outcome: Outcome) -> dict[str, list[str]] | None:
    """Each option's runs, when all its cells share them (one run measured all its jobs)."""
    runs = {}
    for s in outcome.standings:
        each = {tuple(c.runs) for c in s.cells}
        if len(each) != 1:
            return None
        runs[s.option.name] = list(next(iter(each))) or ["none"]
    return runs


def scores_frame(outcome: Outcome) -> pd.DataFrame:
    return pd.DataFrame([{"option": s.option.name,
                          "score": "" if s.score is None else f"{s.score:.3f}",
                          "standing": ("chosen" if s is outcome.chosen else "out" if s.out
                                       else "not scored" if s.unscored else "in")}
                         for s in outcome.standings])


CALLS = {"faster": "chosen better", "slower": "chosen worse", "same": "no measurable difference",
         "unconfirmed": "not confirmed"}


def calls_frame(outcome: Outcome) -> pd.DataFrame:
    rows = []
    for p in outcome.pairings:
        for k in p.calls:
            why = k.note or (f"under the {outcome.factor:.2f}x threshold"
                             if k.verdict == "same" else "")
            rows.append({"chosen against": p.other.option.name, "job": k.job.label,
                         "ratio (chosen / other)": _ratio(k.ratio),
                         "99% interval": "" if k.low is None or k.high is None
                         else f"{k.low:.2f}-{k.high:.2f}",
                         "compare's call": CALLS.get(k.verdict, k.verdict), "why": why})
    return pd.DataFrame(rows)


COLUMNS = ("Columns: warm is the median wall time of the steady runs; cold + start-up the "
           "job's first run in its engine session plus the engine's start-up (median over "
           "runs); peak memory the median over the steady runs of the whole process tree's "
           "peak, highest peak the highest of any run (what a limit is held to); idle memory "
           "the tree before each warm run (the engine, what it kept from the runs before, the "
           "job's inputs); vs best the option's {what} over the best option's on that job; "
           "answers checked the runs whose answer agreed with the pandas/NumPy reference.")


def _evidence(report: Report, decision: Decision, outcome: Outcome, stem: str,
              figures: dict[str, Any]) -> None:
    shared = _shared_runs(outcome)
    what = QUOTED[decision.minimise]
    report.add(Heading(3, "Evidence"),
               Para(f"Scores: the weighted geometric mean of each option's {what} over the "
                    "best value on each job (1.000 = the best on every job; 1.30 = 30 % "
                    "worse than the best, on the weighted average)."),
               Table(scores_frame(outcome)),
               Para("Every cell, the medians of its runs:"),
               Table(evidence_frame(decision, outcome, with_runs=shared is None)),
               Para(COLUMNS.format(what=what)))
    if shared:
        report.add(Para("The runs each option's numbers come from (one run measured all of "
                        "its jobs):"),
                   Bullets(tuple(f"{name}: {', '.join(runs)}" for name, runs in shared.items())))
    calls = calls_frame(outcome)
    if len(calls):
        report.add(Para(f"The chosen option against each other option, job by job, as harness "
                        f"compare judges it: the ratio is the chosen option's median {what} "
                        "over the other's (below 1: the chosen is better), with its 99 % "
                        "bootstrap interval:"), Table(calls))
    report.figure(f"{stem}-options.png", figures.get("options"),
                  f"{MINIMISE[decision.minimise]} per option and job")


def _growth(report: Report, decision: Decision, lines: list[Line], crossings: list[Crossing],
            stem: str, figures: dict[str, Any]) -> None:
    if decision.growth is None:
        return
    report.add(Heading(3, "When to revisit"))
    if not lines:
        report.add(Para(f"No growth sweep of {decision.growth.workload} was given, so no line "
                        "says where an option stops fitting (see Not measured)."))
        return
    target = decision.growth.grow_to_gb * GB
    runs = list(dict.fromkeys(r for ln in lines for r in ln.runs))
    report.add(Para(f"The growth sweep ({decision.growth.sweep or 'given'}; run "
                    f"{', '.join(runs)}) measured {decision.growth.workload} at "
                    f"{len(lines[0].data)} data sizes: each option's warm time (the median of "
                    "the size's steady runs) and highest peak tree memory, fitted as straight "
                    "lines on log-log axes (time grows as data^slope). One run: no "
                    "significance test applies to these lines, and a crossing is where two "
                    "fitted lines meet."))
    rows = [{"option": ln.option.name, "sizes measured": len(ln.data),
             "data measured": f"{_bytes(ln.data[0])} - {_bytes(ln.data[-1])}",
             "time grows as": f"data^{ln.time_fit[0]:.2f}",
             "memory grows as": _memory_slope(ln.memory_fit[0]),
             f"time at {decision.growth.grow_to_gb:g} GB (extrapolated)":
                 fmt_seconds(ln.time_at(target)) if ln.fitted() else "",
             f"memory at {decision.growth.grow_to_gb:g} GB (extrapolated)":
                 fmt_bytes(ln.memory_at(target)) if ln.fitted() else "",
             "not ok": "; ".join(ln.failed)} for ln in lines]
    report.add(Table(pd.DataFrame(rows)))
    if crossings:
        report.add(Bullets(tuple(f"{_bytes(x.at_bytes)}: {x.what} ({_how(x)})"
                                 for x in crossings)))
    report.figure(f"{stem}-growth.png", figures.get("growth"),
                  f"{decision.growth.workload} time and memory against data size")


def _memory_slope(slope: float) -> str:
    """A slope near zero or below is a tree that did not grow with the data measured."""
    return f"flat (data^{slope:.2f})" if slope < 0.1 else f"data^{slope:.2f}"


def _spark_and_dask(decision: Decision) -> bool:
    engines = {o.engine for o in decision.options}
    return "spark" in engines and any(e.startswith("dask") for e in engines)


def _chapter(report: Report, decision: Decision, outcome: Outcome, lines: list[Line]) -> None:
    rows = [{"aspect": aspect, "Spark (the chapter)": spark, "Dask (the chapter)": dask,
             "measured here": _measured(kind, outcome, lines) if kind else "not measurable "
                                                                             "by a benchmark"}
            for aspect, spark, dask, kind in CHAPTER]
    report.add(Heading(3, "Spark and Dask, as the chapter compares them"),
               Table(pd.DataFrame(rows)))


def _measured(kind: str, outcome: Outcome, lines: list[Line]) -> str:
    """What the runs say on one of the chapter's claims, option by option (pandas as the
    reference where it has a number to give)."""
    parts = []
    for s in outcome.standings:
        if kind == "startup" and s.option.engine == "pandas":
            continue
        line = next((ln for ln in lines if ln.option == s.option and ln.fitted()), None)
        text = _claim_words(kind, [c for c in s.cells if c.usable], line)
        if text:
            parts.append(f"{s.option.name}: {text}")
    return "; ".join(parts) if parts else "not measured (see Not measured)"


def _claim_words(kind: str, cells: list[Cell], line: Line | None) -> str:
    if kind == "idle":
        return _idle_words(cells)
    if kind == "startup":
        return _startup_words(cells)
    if line is None:
        return ""
    if kind == "slope":
        return f"time as data^{line.time_fit[0]:.2f}"
    return f"highest peak {fmt_bytes(line.peak[-1])} at {_bytes(line.data[-1])} of data"


def _idle_words(cells: list[Cell]) -> str:
    fresh, idle = start_bytes(cells), max((c.idle_bytes or 0 for c in cells), default=0)
    if not idle:
        return ""
    return ((f"{fmt_bytes(fresh)} of process tree before any work, " if fresh else "")
            + f"{fmt_bytes(idle)} between warm runs")


def _startup_words(cells: list[Cell]) -> str:
    start = max((c.startup_s or 0 for c in cells), default=0)
    if not start:
        return ""
    per_task = [(c.warm_s / n, n, c.job) for c in cells if c.warm_s and (n := _tasks(c))]
    text = f"start-up {fmt_seconds(start)}"
    if per_task:
        each, n, job = min(per_task, key=lambda t: t[0])
        text += (f", at most {each * 1000:.3g} ms a task ({job.workload}'s warm time over its "
                 f"{n:.0f} tasks: an upper bound on the per-task overhead)")
    return text


def _tasks(cell: Cell) -> float | None:
    counts = [r.n_tasks for r in cell.records if r.n_tasks and r.phase == "steady"]
    return float(max(counts)) if counts else None


def _not_measured(report: Report, decision: Decision, outcome: Outcome, lines: list[Line],
                  missing_commands: list[str]) -> None:
    items = []
    if missing_commands:
        items.append("the cells named under Decision Outcome as not scored, or with fewer runs "
                     f"than the {decision.runs} the decision asks for: the commands below "
                     "measure them")
    if decision.growth and not lines and decision.growth.sweep:
        items.append(f"the growth of {decision.growth.workload} with its data (harness sweep "
                     f"{decision.growth.sweep})")
    used = [r for s in outcome.standings for c in s.cells for r in c.records]
    items.append("clusters beyond this one machine (several hosts, object storage): every "
                 f"number here is one machine's, {env_fact(used, 'logical_cores')} logical "
                 "cores")
    report.add(Heading(3, "Not measured"), Bullets(tuple(items)))
    if missing_commands:
        report.add(Code(tuple(missing_commands)))


def as_json(decision: Decision, outcome: Outcome, lines: list[Line], crossings: list[Crossing],
            date: str, number: int) -> dict[str, Any]:
    def num(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else float(v)

    def cell_json(c: Cell) -> dict[str, Any]:
        return {"job": c.job.label, "workload": c.job.workload, "size": c.job.size,
                "config": c.config, "params": cell_params(c.option, c.job),
                "status": c.status, "warm_s": num(c.warm_s), "cold_s": num(c.cold_s),
                "startup_s": num(c.startup_s), "peak_bytes": num(c.peak_bytes),
                "highest_peak_bytes": num(c.highest_peak_bytes),
                "idle_bytes": num(c.idle_bytes), "answers_checked": c.checked,
                "runs": c.runs}

    def pairing_json(p: Pairing) -> dict[str, Any]:
        return {"other": p.other.option.name, "relation": p.relation,
                "calls": [{"job": k.job.label, "verdict": k.verdict, "ratio": num(k.ratio),
                           "low": num(k.low), "high": num(k.high), "note": k.note}
                          for k in p.calls]}

    return {"number": number, "title": decision.title, "date": date, "status": decision.status,
            "question": decision.question, "minimise": decision.minimise,
            "limits": {"peak_memory_gib": decision.limits.peak_memory_gib,
                       "startup_s": decision.limits.startup_s},
            "outcome": outcome.kind,
            "chosen": outcome.chosen.option.name if outcome.chosen else None,
            "margin": num(outcome.margin), "sentence": chosen_sentence(decision, outcome),
            "options": [{"name": s.option.name, "engine": s.option.engine,
                         "config": s.option.config_text, "score": num(s.score),
                         "out": s.out, "unscored": s.unscored,
                         "start_bytes": num(start_bytes(s.cells)),
                         "cells": [cell_json(c) for c in s.cells]}
                        for s in outcome.standings],
            "comparisons": [pairing_json(p) for p in outcome.pairings],
            "growth": [{"option": ln.option.name, "data_bytes": list(ln.data),
                        "time_slope": num(ln.time_fit[0]),
                        "memory_slope": num(ln.memory_fit[0]), "runs": list(ln.runs)}
                       for ln in lines],
            "crossings": [{"what": x.what, "at_bytes": x.at_bytes,
                           "extrapolated": x.extrapolated} for x in crossings],
            "factor": outcome.factor}


def front_matter(front: dict[str, Any]) -> str:
    """MADR's YAML front matter. A JSON string or list is a YAML flow scalar or sequence, so
    any text the user wrote stays one value."""
    import json

    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in front.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n"


def write(written: Written, out: Path) -> list[Path]:
    """NNNN-slug.md (front matter, then MADR's sections), .html, .json and the PNGs, each
    written whole (a sibling then a rename): other records in the folder are left alone."""
    import json

    from harness.reporting.writers import to_html, to_markdown

    out.mkdir(parents=True, exist_ok=True)
    files = {f"{written.stem}.md": front_matter(written.front) + to_markdown(written.report),
             f"{written.stem}.html": to_html(written.report, written.title),
             f"{written.stem}.json": json.dumps(written.data, indent=2, allow_nan=False) + "\n"}
    paths = []
    for name, png in written.report.images.items():
        paths.append(_replace(out / name, png))
    for name, text in files.items():
        paths.append(_replace(out / name, text.encode("utf-8")))
    return paths


def _replace(path: Path, data: bytes) -> Path:
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
