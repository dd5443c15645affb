"""Nothing left running, whatever ends the harness: its driver SIGKILLed (a CI runner's timeout),
Ctrl-C twice in a row, SIGTERM.

Each case starts one `harness run` on one engine, waits until the engine's processes are up,
records are written and a long run has begun, notes every process of the tree, signals the
driver, and checks that none of them is left and that every line of the results file is a
whole record, none lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness import lifeline
from harness.engines.registry import get_engine
from tests.test_run_e2e import MARKER_VAR, marked_processes

GONE_WITHIN_S = 10.0  # a dead parent's children go in about a second; this waits, not races
UP_WITHIN_S = 180.0
# noop writes records first; then each case is signalled during delayed-sleep's cold run, a
# 30 s one: a session left to itself would live on for that long, workers and JVM with it.
SUITE = """title = "lifecycle"
size = "tiny"
repeat = 2
workloads = ["noop", "delayed-sleep"]
engines = ["{engine}"]

[params.delayed-sleep]
n_tasks = 2
sleep_s = 30.0
"""
# What shows that an engine is up, by the command lines of the session's descendants.
ENGINE_UP = {
    "dask-processes": ("harness.execution.probe", "spawn_main"),
    "dask-distributed": ("harness.execution.probe", "spawn_main"),
    "spark": ("harness.execution.probe", "org.apache.spark", "pyspark.daemon"),
}


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _start_run(tmp_path: Path, engine: str) -> tuple[subprocess.Popen[str], Path, str]:
    """`harness run` of one engine in a process group of its own, as a terminal would run it."""
    suite, out, marker = tmp_path / "suite.toml", tmp_path / "out.jsonl", uuid.uuid4().hex
    suite.write_text(SUITE.format(engine=engine))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--suite", str(suite), "--out", str(out),
         "--no-report", "--workers", "2", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, MARKER_VAR: marker}, start_new_session=True)
    return proc, out, marker


def _lines(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


def _wait_until_up(proc: subprocess.Popen[str], engine: str, out: Path) -> list[psutil.Process]:
    """The driver's descendants once the engine runs, noop's records are written and the
    long run has begun."""
    noop_runs = 2 + get_engine(engine).warmup_runs
    deadline = time.monotonic() + UP_WITHIN_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        tree = psutil.Process(proc.pid).children(recursive=True)
        commands = " ".join(_cmdline(p) for p in tree)
        if len(_lines(out)) >= noop_runs and all(part in commands for part in ENGINE_UP[engine]):
            time.sleep(1.0)  # into the sleeping tasks
            return psutil.Process(proc.pid).children(recursive=True)
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{engine} did not come up: {proc.communicate()}")


def _alive(proc: psutil.Process) -> bool:
    try:  # is_running also checks the creation time: a reused pid is not the process
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _left(tree: list[psutil.Process], marker: str) -> list[str]:
    """Processes of the tree (or carrying the run's marker) still alive after GONE_WITHIN_S."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while True:
        left = {f"{p.pid} {_cmdline(p)[:160]}" for p in tree if _alive(p)}
        left |= set(marked_processes(marker))
        if not left or time.monotonic() > deadline:
            return sorted(left)
        time.sleep(0.2)


def _assert_whole(out: Path, before: int) -> None:
    lines = _lines(out)
    assert len(lines) >= before  # nothing written before the signal is lost
    for line in lines:
        json.loads(line)  # raises on a torn line
    assert out.read_text().endswith("\n")


@pytest.fixture
def run_tree(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    """A running `harness run` of `request.param` (an engine), up; killed whatever happens."""
    proc, out, marker = _start_run(tmp_path, request.param)
    tree: list[psutil.Process] = []
    try:
        tree = _wait_until_up(proc, request.param, out)
        yield {"proc": proc, "out": out, "marker": marker, "tree": tree,
               "before": len(_lines(out))}
    finally:  # a failed case must not leave its processes to the next
        for p in [psutil.Process(proc.pid), *tree] if proc.poll() is None else tree:
            with contextlib.suppress(psutil.Error):
                p.kill()
        proc.communicate()


def _signal_and_check(run: dict[str, object], send: str) -> tuple[int, str]:
    proc = run["proc"]
    assert isinstance(proc, subprocess.Popen)
    if send == "kill":
        proc.kill()
    elif send == "int-twice":  # a terminal sends Ctrl-C to the whole foreground group
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.terminate()
    _, err = proc.communicate(timeout=60)
    tree, marker, out, before = run["tree"], run["marker"], run["out"], run["before"]
    assert isinstance(tree, list) and isinstance(marker, str) and isinstance(out, Path)
    assert _left(tree, marker) == []
    assert isinstance(before, int)
    _assert_whole(out, before)
    return proc.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize("run_tree", ["spark", "dask-distributed", "dask-processes"],
                         indirect=True)
def test_a_killed_driver_leaves_no_engine_process(run_tree: dict[str, object]) -> None:
    """SIGKILL: the driver can do nothing; session, probe, workers and JVM die by themselves."""
    code, _ = _signal_and_check(run_tree, "kill")
    assert code == -signal.SIGKILL


def _said_once(err: str) -> None:
    """One line, the last, says the run was interrupted; no traceback."""
    said = [line for line in err.splitlines() if "interrupted" in line]
    assert len(said) == 1 and err.splitlines()[-1] == said[0], err
    assert "Traceback" not in err, err


@pytest.mark.slow
@pytest.mark.parametrize("run_tree", ["dask-distributed"], indirect=True)
def test_ctrl_c_twice_stops_everything_and_says_so_once(run_tree: dict[str, object]) -> None:
    """The second Ctrl-C lands in the clean-up the first began: it hurries it, never cuts it."""
    code, err = _signal_and_check(run_tree, "int-twice")
    assert code == 130
    _said_once(err)


@pytest.mark.slow
@pytest.mark.parametrize("run_tree", ["dask-processes"], indirect=True)
def test_sigterm_stops_everything_like_ctrl_c(run_tree: dict[str, object]) -> None:
    code, err = _signal_and_check(run_tree, "term")
    assert code == 130
    _said_once(err)


PROBE_OWNER = textwrap.dedent("""
    import subprocess, sys, time
    from harness.execution.sampler import Probe

    probe = Probe()
    probe.start()  # sampling: the probe is not waiting on its stdin
    # A process that holds the probe's stdin open, as a forked worker would: the probe never
    # sees end-of-file, so only the kernel's parent-death signal can end it.
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              pass_fds=[probe.proc.stdin.fileno()])
    print(probe.proc.pid, holder.pid, flush=True)
    time.sleep(60)
""")


@pytest.mark.slow
def test_the_memory_probe_dies_with_its_parent() -> None:
    owner = subprocess.Popen([sys.executable, "-c", PROBE_OWNER], stdout=subprocess.PIPE,
                             text=True)
    assert owner.stdout is not None
    probe_pid, holder_pid = (int(pid) for pid in owner.stdout.readline().split())
    probe, holder = psutil.Process(probe_pid), psutil.Process(holder_pid)
    try:
        owner.kill()
        owner.wait()
        probe.wait(timeout=GONE_WITHIN_S)  # raises TimeoutExpired while it lives
    finally:
        holder.kill()
        holder.wait()
        if probe.is_running():
            probe.kill()


AB_ROUND = textwrap.dedent("""
    import sys
    from harness.execution.proctree import run_own_group

    # As `harness ab` runs a side's `harness run`: in a group of its own.
    run_own_group([sys.executable, "-c", "import time; from harness.errors import "
                   "interrupt_on_sigterm; interrupt_on_sigterm(); print(flush=True); "
                   "time.sleep(60)"])
""")


def test_a_round_s_run_stops_when_harness_ab_is_killed() -> None:
    """The run gets the SIGTERM a job runner would send (its own clean-up then runs)."""
    ab = subprocess.Popen([sys.executable, "-c", AB_ROUND], stdout=subprocess.PIPE, text=True)
    assert ab.stdout is not None
    ab.stdout.readline()  # the run is up, its lifeline asked for
    (run,) = psutil.Process(ab.pid).children()
    try:
        ab.kill()
        ab.wait()
        run.wait(timeout=GONE_WITHIN_S)  # raises TimeoutExpired while it lives
    finally:
        with contextlib.suppress(psutil.Error):
            run.kill()


def test_a_child_whose_parent_already_died_kills_itself() -> None:
    """The kernel signals only deaths after the request: the parent is checked after it."""
    not_my_parent = os.getpid() + 1_000_000
    done = subprocess.run([sys.executable, "-c", "import time; from harness.lifeline import "
                           f"die_with_parent; die_with_parent({not_my_parent}); time.sleep(30)"],
                          timeout=30)
    assert done.returncode == -signal.SIGKILL


def _interrupt() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs in this thread at the next instruction


def test_only_the_first_interrupt_raises_the_rest_hurry(own_handlers: None) -> None:
    lifeline.catch_interrupts()
    with pytest.raises(KeyboardInterrupt):
        _interrupt()
    assert not lifeline.hurried()
    _interrupt()  # the second: no exception, so a clean-up runs on
    assert lifeline.hurried()


def test_an_interrupt_inside_a_clean_up_waits_for_its_end(own_handlers: None) -> None:
    finished = False
    with pytest.raises(KeyboardInterrupt), lifeline.uninterrupted():
        _interrupt()
        finished = True
    assert finished
