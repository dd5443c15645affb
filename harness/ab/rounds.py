"""Interleaved rounds: each round runs every side once, each in a fresh `harness run` process
in its own environment, so the slow drift of a shared machine lands on every side alike.

The order rotates every round (A A' B, then A' B A, then B A A', ...): over as many rounds
as there are sides, each side runs once in each place, so none is always first on a machine
still settling from the last round. Start-up and data preparation stay out of the comparison
as in any run (timed apart, data generated once and shared through the one data folder).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import config
from harness.ab.envs import BuiltEnv
from harness.ab.spec import AbSpec, Side, folder
from harness.errors import UsageError
from harness.execution.proctree import run_own_group
from harness.results.schema import Record, read_records

# A side's run that cannot start (exit 2 or worse) stops the A/B: its error is in the log.
BROKEN = 2


@dataclass(frozen=True)
class SideRun:
    label: str
    round: int
    path: Path
    seconds: float
    exit_code: int


def order(sides: list[str], round_index: int) -> list[str]:
    """A cyclic Latin square: round r starts at side r."""
    shift = round_index % len(sides)
    return [*sides[shift:], *sides[:shift]]


def run_rounds(spec: AbSpec, envs: dict[str, BuiltEnv], workdir: Path,
               say: Callable[[str], None] = print) -> list[SideRun]:
    """Every round of every side, in order; records land in workdir/SIDE/round-NN.jsonl."""
    sides = dict(spec.sides)
    labels = list(sides)
    for label, side in sides.items():
        where = workdir / folder(label)
        where.mkdir(parents=True, exist_ok=True)
        (where / "suite.toml").write_text(spec.suite_toml(side), encoding="utf-8")
    runs = []
    for r in range(spec.rounds):
        for label in order(labels, r):
            run = _run_side(label, sides[label], envs[sides[label].name], workdir, r)
            say(f"round {r + 1}/{spec.rounds}: {label}: {run.seconds:.0f} s, exit "
                f"{run.exit_code}")
            runs.append(run)
    return runs


def _run_side(label: str, side: Side, env: BuiltEnv, workdir: Path, r: int) -> SideRun:
    where = workdir / folder(label)
    out = where / f"round-{r:02d}.jsonl"
    log = where / f"round-{r:02d}.log"
    command = [str(env.python), "-m", "harness", "run", "--suite", str(where / "suite.toml"),
               "--out", str(out), "--no-report"]
    # Every side reads the same generated data; its own results and logs stay in its folder.
    child_env = {**os.environ, "HARNESS_DATA_DIR": str(config.data_dir().resolve()),
                 "HARNESS_RESULTS_DIR": str(where.resolve())}
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as sink:
        code = run_own_group(command, stdout=sink, stderr=subprocess.STDOUT, env=child_env,
                             cwd=where)
    seconds = time.perf_counter() - started
    if code >= BROKEN or code < 0 or not out.is_file():
        raise UsageError(f"{label}: its run in round {r + 1} exited {code} "
                         f"({_last_line(log)}); see {log}")
    return SideRun(label, r, out, seconds, code)


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def side_records(runs: list[SideRun], label: str) -> list[Record]:
    return read_records([r.path for r in runs if r.label == label])

