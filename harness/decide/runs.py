"""What a decision still needs measured, as the commands that measure it, and `--run`,
which runs them: one `harness run` per group of cells that share a size, workers x threads and
layout parameters, as many rounds as the decision asks (each round a fresh process, so the
run-to-run test has runs to compare), then the growth sweep if it has no records yet.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.decide.evidence import Cell
from harness.decide.spec import Decision
from harness.errors import UsageError
from harness.execution.proctree import run_own_group


@dataclass(frozen=True)
class Group:
    """Cells one `harness run` can measure together."""

    size: str
    workers: int | None
    threads: int | None
    params: str  # JSON of the layout parameters, per workload
    engines: tuple[str, ...]
    workloads: tuple[str, ...]

    def suite_toml(self, title: str, repeat: int) -> str:
        lines = [f"title = {json.dumps(title)}", f"size = {json.dumps(self.size)}",
                 f"repeat = {repeat}",
                 f"workloads = {json.dumps(list(self.workloads))}",
                 f"engines = {json.dumps(list(self.engines))}"]
        for workload, values in json.loads(self.params).items():
            if workload not in self.workloads:
                continue
            lines.append(f"[params.{json.dumps(workload)}]")
            lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


def folder(decision: Decision, results: Path) -> Path:
    """Where a decision's own runs and suites live: results/decide/SLUG/."""
    return results / "decide" / decision.slug


def groups(cells: list[Cell]) -> list[Group]:
    """The cells, grouped by what one run must hold constant; engines and workloads that
    share it run together."""
    keyed: dict[tuple[Any, ...], tuple[list[str], list[str]]] = {}
    for cell in cells:
        o = cell.option
        # One option's layout values per group: options that differ only in them run apart.
        key = (cell.job.size, o.workers, o.threads, json.dumps(o.params, sort_keys=True))
        engines, workloads = keyed.setdefault(key, ([], []))
        if o.engine not in engines:
            engines.append(o.engine)
        if cell.job.workload not in workloads:
            workloads.append(cell.job.workload)
    return [Group(size, w, t, params, tuple(e), tuple(wl))
            for (size, w, t, params), (e, wl) in keyed.items()]


def commands(decision: Decision, cells: list[Cell], results: Path,
             program: list[str] | None = None) -> list[tuple[Group, Path, list[str]]]:
    """(group, its suite file, the `harness run` command) for every group of cells."""
    program = program or ["harness"]
    where = folder(decision, results)
    out = []
    for i, group in enumerate(groups(cells)):
        suite = where / f"suite-{i + 1}.toml"
        if group.params == "{}":
            # Without layout values the flags say it all: a command to paste as it is.
            command = [*program, "run", *[a for w in group.workloads for a in ("-w", w)],
                       *[a for e in group.engines for a in ("-e", e)], "--size", group.size,
                       "--repeat", str(decision.repeat)]
        else:
            command = [*program, "run", "--suite", str(suite)]
        command += ["--out", str(where / "records.jsonl"), "--no-report"]
        if group.workers is not None:
            command += ["--workers", str(group.workers)]
        if group.threads is not None:
            command += ["--threads", str(group.threads)]
        out.append((group, suite, command))
    return out


def sweep_command(decision: Decision, results: Path,
                  program: list[str] | None = None) -> list[str] | None:
    if decision.growth is None or decision.growth.sweep is None:
        return None
    return [*(program or ["harness"]), "sweep", decision.growth.sweep, "--out",
            str(folder(decision, results) / "growth.jsonl"), "--no-report"]


def shell(command: list[str]) -> str:
    return shlex.join(command)


def run_missing(decision: Decision, cells: list[Cell], results: Path, have_growth: bool,
                say: Callable[[str], None]) -> list[Path]:
    """Measure the cells (each group `decision.runs` times, interleaved) and the growth sweep
    when it has no records yet; returns the files written."""
    where = folder(decision, results)
    where.mkdir(parents=True, exist_ok=True)
    program = [sys.executable, "-m", "harness"]
    planned = commands(decision, cells, results, program)
    for group, suite, command in planned:
        if "--suite" in command:
            suite.write_text(group.suite_toml(f"{decision.title}: {', '.join(group.engines)}",
                                              decision.repeat), encoding="utf-8")
    # Rounds up to the decision's count of runs for the cell that has the fewest.
    rounds = decision.runs - min((len(c.runs) for c in cells), default=decision.runs)
    for r in range(rounds if planned else 0):
        for group, _, command in planned:
            shape = (f" {group.workers or 1}x{group.threads or 1}"
                     if group.workers or group.threads else "")
            say(f"round {r + 1}/{rounds}: {', '.join(group.engines)}{shape} on "
                f"{', '.join(group.workloads)} ({group.size})")
            _run(command)
    sweep = sweep_command(decision, results, program)
    if sweep and not have_growth:
        say(f"growth sweep {decision.growth.sweep if decision.growth else ''}")
        _run(sweep)
    return sorted(where.glob("*.jsonl"))


def _run(command: list[str]) -> None:
    """One measuring process; exit 1 (a failed cell) is a finding, recorded; worse stops."""
    # Its own group, ended with it: Ctrl-C gives it time to stop its engines, and a killed
    # decide takes it along (proctree's lifeline).
    code = run_own_group(command)
    if code >= 2 or code < 0:
        raise UsageError(f"`{shell(command)}` exited {code}; fix what it printed "
                         "and run harness decide --run again")
