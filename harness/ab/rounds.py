"""Interleaved rounds: each round runs every side once, each in a fresh `harness run` process
in its own environment, so the slow drift of a shared machine lands on every side alike.

The order rotates every round (A A' B, then A' B A, then B A A', ...): over as many rounds
as there are sides, each side runs once in each place, so none is always first on a machine
still settling from the last round. Start-up and data preparation stay out of the comparison
as in any run (timed apart, data generated once and shared through the one data folder).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import config
from harness.ab.envs import BuiltEnv
from harness.ab.spec import AbSpec, Side, folder
from harness.errors import UsageError
from harness.results.schema import Record, read_records

# A side's run that cannot start (exit 2 or worse) stops the A/B: its error is in the log.
BROKEN = 2
# After Ctrl-C the child has its own SIGINT: give it this long to stop its engines.
STOP_GRACE_S = 60.0


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
        # A group of its own: the run, its engines and workers are signalled and ended as one,
        # whether the Ctrl-C came from a terminal or a job runner's signal to this process.
        child = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=child_env,
                                 cwd=where, start_new_session=True)
        try:
            code = child.wait()
        except KeyboardInterrupt:
            _stop(child)
            raise
        finally:
            _end_group(child)
    seconds = time.perf_counter() - started
    if code >= BROKEN or code < 0 or not out.is_file():
        raise UsageError(f"{label}: its run in round {r + 1} exited {code} "
                         f"({_last_line(log)}); see {log}")
    return SideRun(label, r, out, seconds, code)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Pass the Ctrl-C on and give the run its grace to stop its engines and keep its records;
    a second Ctrl-C, or the grace running out, ends it at once."""
    _signal(child, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired, KeyboardInterrupt):
        child.wait(timeout=STOP_GRACE_S)


def _end_group(child: subprocess.Popen[bytes]) -> None:
    """Nothing of the run outlives it: whatever is left in its group is killed."""
    _signal(child, signal.SIGKILL)
    child.wait()


def _signal(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def _last_line(log: Path) -> str:
    lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def side_records(runs: list[SideRun], label: str) -> list[Record]:
    return read_records([r.path for r in runs if r.label == label])

