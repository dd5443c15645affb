"""`harness decide`: read the evidence (and with --run measure what is missing), decide, and
write the record."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.decide import growth, record, runs
from harness.decide.choose import Outcome, decide
from harness.decide.evidence import Cell, gather, missing
from harness.decide.plots import growth_figure, options_figure
from harness.decide.spec import Decision
from harness.errors import UsageError
from harness.judge.sides import result_files
from harness.reporting.environment import machine_footer
from harness.results.schema import Record, read_records

_NUMBERED = re.compile(r"^(\d{4})-(.+)\.md$")


@dataclass
class Made:
    written: record.Written
    outcome: Outcome
    paths: list[Path]
    missing: list[Cell]


def number_for(decision: Decision, out: Path) -> int:
    """The decision's own number; else the number of its earlier record in `out` (it is
    rewritten); else the next free one (adr-tools' numbering)."""
    if decision.number is not None:
        return decision.number
    taken = {}
    for path in out.glob("*.md") if out.is_dir() else []:
        found = _NUMBERED.match(path.name)
        if found:
            taken[found.group(2)] = int(found.group(1))
    return taken.get(decision.slug, max(taken.values(), default=0) + 1)


def load(paths: list[Path], own: Path) -> list[Record]:
    files = [f for p in paths for f in result_files(p, "RESULTS")]
    if own.is_dir():
        files += [f for f in sorted(own.glob("*.jsonl")) if f not in files]
    return read_records(files)


def make(decision: Decision, paths: list[Path], out: Path, results: Path, date: str,
         run: bool, say: Callable[[str], None], factor: float = 1.10) -> Made:
    own = runs.folder(decision, results)
    records = load(paths, own)
    cells = gather(decision, records)
    lacking = missing(cells, decision.runs)
    lines = growth.lines(decision, records)
    if run and (lacking or (decision.growth and decision.growth.sweep and not lines)):
        runs.run_missing(decision, lacking, results, bool(lines), say)
        records = load(paths, own)
        cells = gather(decision, records)
        lacking = missing(cells, decision.runs)
        lines = growth.lines(decision, records)
    if not records:
        raise UsageError(f"no records to decide from: pass RESULTS files or folders, or add "
                         f"--run to measure the decision's cells (into {own})")
    outcome = decide(decision, cells, factor)
    crossings = growth.crossings(decision, lines, outcome.chosen.option
                                 if outcome.chosen else None)
    footer = machine_footer([r for c in cells.values() for r in c.records] or records)
    figures = {"options": options_figure(decision, outcome, footer),
               "growth": growth_figure(decision, lines, footer)}
    all_cells = list(cells.values())
    reproduce = [runs.shell(c) for _, _, c in runs.commands(decision, all_cells, results)]
    sweep = runs.sweep_command(decision, results)
    if sweep:
        reproduce.append(runs.shell(sweep))
    reproduce.append(f"harness decide {decision.path} {' '.join(map(str, paths))} --out {out} "
                     f"--date {date}".replace("  ", " "))
    missing_commands = [runs.shell(c) for _, _, c in runs.commands(decision, lacking, results)]
    if lacking:
        missing_commands.append(f"harness decide {decision.path} --run   # all of the "
                                "above, then this record again")
    written = record.build(decision, outcome, records, lines, crossings, missing_commands,
                           reproduce, date, number_for(decision, out), figures)
    return Made(written, outcome, record.write(written, out), lacking)
