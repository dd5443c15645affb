"""Faults during a run end as clear records and the run goes on, with nothing left running.

Each case is a `harness run` of the `fault` workload (its `mode` set by a suite's
`[params.fault]` table) and then `noop`, read back from its records: every planned cell has a
record, the faulty cell says what happened, the next workload is ok, and no process that
carries this test's token in its environment (sessions, workers, nannies, JVMs, Spark's
Python workers all inherit it) outlives the run.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from harness import cli
from harness.engines.spark import SparkEngine
from harness.execution.session import one_line
from harness.results.schema import Record, read_records

TOKEN = "HARNESS_FAULT_TEST_TOKEN"
GRACE_S = 5.0  # how long the run's processes may take to vanish after it returns


@dataclass
class Run:
    """One `harness run` of a fault case: its exit code, records, seconds, what it left."""

    code: int
    records: list[Record]
    seconds: float
    left: list[str]
    folder: Path

    def cells(self) -> set[tuple[str, int]]:
        return {(r.workload, r.repeat) for r in self.records}

    def of(self, workload: str) -> list[Record]:
        return sorted((r for r in self.records if r.workload == workload), key=lambda r: r.repeat)


def run_case(folder: Path, engine: str, fault: dict[str, object], *flags: str,
             repeat: int = 2) -> Run:
    """`harness run` of fault (with these params) then noop on one engine, as a user runs it."""
    params = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in fault.items())
    suite = folder / "faults.toml"
    suite.write_text(f'title = "fault case"\nsize = "tiny"\nrepeat = {repeat}\n'
                     f'workloads = ["fault", "noop"]\nengines = ["{engine}"]\n'
                     f"[params.fault]\n{params}\n")
    out = folder / "records.jsonl"
    token = os.environ[TOKEN]
    t0 = time.monotonic()
    code = cli.main(["run", "--suite", str(suite), "--no-report", "--out", str(out), *flags])
    seconds = time.monotonic() - t0
    records = read_records([out]) if out.exists() else []
    return Run(code, records, seconds, leftovers(token), folder)


def leftovers(token: str) -> list[str]:
    """Live processes carrying `token`, after up to GRACE_S for them to go."""
    deadline = time.monotonic() + GRACE_S
    while (left := _carrying(token)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _carrying(token: str) -> list[str]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(TOKEN) == token and (
                    proc.status() != psutil.STATUS_ZOMBIE):
                found.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    value = uuid.uuid4().hex
    monkeypatch.setenv(TOKEN, value)
    return value


def assert_goes_on(run: Run, repeat: int = 2) -> None:
    """Every planned cell recorded once, noop ok after the fault, nothing left running."""
    assert sorted(run.cells()) == [(w, r) for w in ("fault", "noop") for r in range(repeat)]
    assert len(run.records) == 2 * repeat
    assert [r.status for r in run.of("noop")] == ["ok"] * repeat, run.of("noop")
    assert run.left == []


@pytest.mark.slow
def test_a_killed_dask_worker_is_noted_and_its_tasks_run_again(tmp_path: Path,
                                                               token: str) -> None:
    """SIGKILL of a distributed worker (what the kernel's OOM killer sends) mid-run: the
    scheduler runs its tasks elsewhere, the nanny starts a new worker, the answer is checked."""
    run = run_case(tmp_path, "dask-distributed", {"mode": "kill-worker"},
                   "--workers", "2", "--threads", "1")
    assert_goes_on(run)
    first, second = run.of("fault")
    assert (first.status, first.error, first.check["ok"]) == ("ok", None, True)
    assert first.metrics["workers_lost"] == 1
    (address,) = first.metrics["workers_lost_addresses"]
    assert address.startswith("tcp://127.0.0.1:")
    # Killed once only (the marker): the second run lost nothing, on two workers again.
    assert second.status == "ok" and "workers_lost" not in second.metrics
    assert run.code == 0


@pytest.mark.slow
def test_a_task_that_raises_is_an_error_with_its_one_line(tmp_path: Path, token: str) -> None:
    run = run_case(tmp_path, "dask-threads", {"mode": "raise"})
    assert_goes_on(run)
    assert [(r.status, r.error) for r in run.of("fault")] == [
        ("error", "RuntimeError: injected fault: this task raises on purpose (fault mode "
                  "raise)")] * 2
    assert run.code == 1


@pytest.mark.slow
def test_a_task_that_hangs_is_a_timeout_and_its_session_is_replaced(tmp_path: Path,
                                                                     token: str) -> None:
    """A task hung in a distributed worker: the cell times out, the session and its cluster
    are ended, a fresh session runs the next workload."""
    run = run_case(tmp_path, "dask-distributed", {"mode": "hang"},
                   "--workers", "2", "--threads", "1", "--timeout", "2")
    assert_goes_on(run)
    statuses = [(r.status, r.wall_s) for r in run.of("fault")]
    assert statuses == [("timeout", None)] * 2
    assert all("no progress after 2 s" in (r.error or "") for r in run.of("fault"))


@pytest.mark.slow
def test_allocating_past_the_memory_budget_is_over_memory(tmp_path: Path, token: str) -> None:
    """1 GiB held for 3 s against a 0.75 GiB budget for the whole process tree."""
    run = run_case(tmp_path, "dask-threads", {"mode": "allocate", "gib": 1.0, "hold_s": 3.0},
                   "--memory-budget", "0.75")
    assert_goes_on(run)
    assert [r.status for r in run.of("fault")] == ["over-memory"] * 2
    assert "passed the memory budget of 0.75 GiB" in (run.of("fault")[0].error or "")


@pytest.mark.slow
def test_a_pool_process_killed_breaks_the_pool_which_is_started_afresh(tmp_path: Path,
                                                                       token: str) -> None:
    """The OOM killer's SIGKILL (simulated: this machine is shared and has no swap) of a
    dask-processes worker breaks the pool for good; the next workload gets a new pool."""
    run = run_case(tmp_path, "dask-processes", {"mode": "kill-worker"}, "--workers", "2")
    assert_goes_on(run)
    first, second = run.of("fault")
    assert (first.status, first.error) == (
        "error", "a process of the dask-processes pool exited (signal 9)")
    assert (second.status, second.error) == (
        "error", "not run: in repeat 0 a process of the dask-processes pool exited (signal 9)")


# --- Spark: a JVM killed during start-up, and one killed during a run ---------------------

FAKE_JAVA = """#!/bin/bash
# The Spark JVM (main class SparkSubmit) is SIGKILLed as it starts: always, or only the first
# time (the marker directory says it happened). Every other call runs the real java: `java
# -version`, and Spark's launcher, which names SparkSubmit too, as the command to build.
case " $* " in
  *" org.apache.spark.launcher.Main "*) ;;
  *" org.apache.spark.deploy.SparkSubmit "*)
    if [ "{always}" = 1 ] || mkdir "{marker}" 2>/dev/null; then kill -KILL $$; fi ;;
esac
exec "{real}" "$@"
"""


def fake_java_home(folder: Path, always: bool) -> Path:
    """A JAVA_HOME whose bin/java kills the Spark JVM at start-up. JAVA_HOME, not PATH: both
    spark-class and Spark's launcher take JAVA_HOME's java first, and the launcher, with no
    JAVA_HOME, starts the JVM from its own java.home, the real one, past a fake on PATH."""
    real = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else (
        Path(os.path.realpath(shutil.which("java") or "java")))
    java = folder / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(FAKE_JAVA.format(always=int(always), marker=folder / "killed-once",
                                     real=real))
    java.chmod(0o755)
    return java.parent.parent


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One run for both Spark cases: its first JVM is killed during start-up, the second is
    killed by the fault workload mid-run, the third serves noop."""
    reason = SparkEngine.unavailable_reason()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("spark-faults")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(TOKEN, uuid.uuid4().hex)
        mp.setenv("JAVA_HOME", str(fake_java_home(folder, always=False)))
        yield run_case(folder, "spark", {"mode": "kill-jvm"}, "--warmup", "0")


@pytest.mark.slow
def test_a_jvm_killed_during_start_up_is_given_a_second_start(spark_run: Run) -> None:
    assert (spark_run.folder / "killed-once").is_dir()  # the first JVM was killed
    assert_goes_on(spark_run)
    assert all(r.startup_s is not None for r in spark_run.records)


@pytest.mark.slow
def test_a_jvm_killed_mid_run_is_an_error_in_plain_words_and_a_fresh_jvm_goes_on(
        spark_run: Run) -> None:
    assert_goes_on(spark_run)
    first, second = spark_run.of("fault")
    assert (first.status, first.error) == (
        "error", "the Spark JVM exited during the run (signal 9)")
    assert (second.status, second.error) == (
        "error", "not run: in repeat 0 the Spark JVM exited during the run (signal 9)")
    # noop ran on a JVM started after the death: its start-up is a new one.
    assert {r.startup_s for r in spark_run.of("noop")}.isdisjoint({first.startup_s})
    assert spark_run.code == 1


@pytest.mark.slow
def test_a_jvm_that_dies_at_every_start_is_one_clear_error_per_cell(tmp_path: Path, token: str,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    reason = SparkEngine.unavailable_reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("JAVA_HOME", str(fake_java_home(tmp_path, always=True)))
    run = run_case(tmp_path, "spark", {"mode": "none"}, "--warmup", "0", repeat=1)
    assert sorted(run.cells()) == [("fault", 0), ("noop", 0)]
    assert {(r.status, r.error) for r in run.records} == {
        ("error", "engine start failed (2 attempts): the JVM exited during start-up "
                  "(signal 9)")}
    assert run.left == []
    assert run.code == 1


def test_one_line_finds_the_cause_under_a_header() -> None:
    """Spark's errors put a header first: a Python worker's traceback ends with its cause,
    py4j puts the Java exception on the second line."""

    class PythonException(Exception):
        pass

    worker = PythonException("An exception was thrown from the Python worker:\n"
                             "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                             "RuntimeError: boom\n")
    java = RuntimeError("An error occurred while calling o42.collect.\n"
                        ": org.apache.spark.SparkException: Job aborted\n\tat x.y(z.java:1)")
    assert one_line(worker) == "PythonException: RuntimeError: boom"
    assert one_line(java) == "RuntimeError: org.apache.spark.SparkException: Job aborted"
    assert one_line(ValueError("missing port number")) == "ValueError: missing port number"
    assert one_line(KeyError()) == "KeyError"
