"""The review of issue 14's work: each defect it found, as behaviour that failed before the fix.

A: interrupts and records (a sweep waiting for the records lock, Ctrl-C while a timed-out session
stops, a clean-up that raises), an existing results file, Java's banner, a dataset folder without
its manifest. B: races (the writability probe, records still queued, reads during an append).
C: smaller faults (timeout wording, write-only files, a JVM launched before an interrupted start,
addresses with spaces, error lines, pool probes, the memory probe's parent). D: exit codes,
signal handlers of in-process callers, one check per flag, fault markers.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from harness import cli, lifeline
from harness.engines import addresses
from harness.engines.base import EngineOptions
from harness.engines.dask import DaskProcessesEngine
from harness.errors import UsageError
from harness.execution import runner
from harness.execution.runner import STARTUP_TIMEOUT_S, Plan, Session
from harness.execution.session import one_line
from harness.results.env import java_major, java_version
from harness.results.schema import Record, append_records, read_records
from harness.sweep.plan import plan_sweep
from harness.sweep.run import run_sweep
from harness.sweep.spec import load_sweep
from harness.workloads import datasets, fault
from harness.workloads.datasets import CsvSpec, csv_dataset

SWEEP = ('title = "t"\nsize = "tiny"\nengines = ["dask-threads"]\nrepeats = 1\n'
         '[[study]]\nworkload = "delayed-sleep"\naxes = { n_tasks = [2] }\n')
RUN = ["run", "-w", "noop", "-e", "pandas", "--size", "tiny", "--repeat", "1", "--no-report"]


def record(repeat: int = 0, status: str = "ok") -> Record:
    return Record(run_id="r", workload="noop", engine="pandas", size="tiny", status=status,
                  repeat=repeat)


def _interrupt() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs in this thread at the next instruction


def _session(tmp_path: Path, timeout_s: float = 60.0) -> tuple[Session, list[Record]]:
    """A session of noop on pandas whose process is never started, and the records it keeps."""
    plan = Plan.new(["noop"], ["pandas"], "tiny", 1, EngineOptions(), tmp_path / "o.jsonl",
                    cell_timeout_s=timeout_s, env={"test": True})
    kept: list[Record] = []
    session = Session(plan, plan.spec("pandas", ("noop",)), kept.extend, lambda t, n: None)
    session.proc = None  # type: ignore[assignment]
    return session, kept


# --- A ----------------------------------------------------------------------------------------

def test_a_sweep_waiting_for_the_records_lock_can_be_interrupted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_handlers: None) -> None:
    """A1: another run holds the lock; Ctrl-C stops the wait instead of being held behind it."""
    (tmp_path / "t.toml").write_text(SWEEP)
    out = tmp_path / "t.jsonl"
    out.touch()
    plan = plan_sweep(load_sweep(str(tmp_path / "t.toml")), "tiny", out, resume=False,
                      repeats=None, timeout_s=None, memory_budget_bytes=None, budget_min=None)
    monkeypatch.setattr("harness.sweep.run.run_plan",
                        lambda cell, progress, sink: sink([record()]))
    lifeline.catch_interrupts()
    holder = out.open("rb")
    fcntl.flock(holder, fcntl.LOCK_EX)  # another writer, mid-append
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    release = threading.Timer(5.0, holder.close)  # before the fix, the wait ends only here
    release.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(plan, lambda text, n: None)
    finally:
        release.cancel()
        holder.close()
    assert out.read_bytes() == b""  # interrupted while waiting: nothing written after it


def test_ctrl_c_while_a_timed_out_session_stops_keeps_its_timeout_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_handlers: None) -> None:
    """A2: the stop after a timeout takes seconds; a Ctrl-C then must not lose the record."""
    session, kept = _session(tmp_path)
    session.current, session.phase = "noop", "cell"

    def stop_interrupted(proc: object) -> None:
        with lifeline.uninterrupted():
            _interrupt()

    monkeypatch.setattr(runner, "stop_session", stop_interrupted)
    lifeline.catch_interrupts()
    with pytest.raises(KeyboardInterrupt):
        session._fail_current("timeout", "no progress after 60 s (cell)")
    assert [(r.workload, r.repeat, r.status) for r in kept] == [("noop", 0, "timeout")]


def test_a_clean_up_that_raises_leaves_no_interrupt_behind(own_handlers: None) -> None:
    """A3: the interrupt held in a clean-up that raised neither fires later in another
    clean-up nor hides the clean-up's own error."""
    lifeline.catch_interrupts()
    with pytest.raises(OSError, match="disk"), lifeline.uninterrupted():
        _interrupt()
        raise OSError("disk gone")
    with lifeline.uninterrupted():
        pass  # an unrelated clean-up later: no KeyboardInterrupt of the earlier one here
    assert lifeline._Interrupts.holding == 0


def test_an_interrupt_as_a_clean_up_begins_waits_for_its_end(
        monkeypatch: pytest.MonkeyPatch, own_handlers: None) -> None:
    """A3: an interrupt between the handler's installation and the count of held sections
    still waits for the clean-up instead of skipping it."""
    lifeline.catch_interrupts()
    real = signal.signal
    fired: list[bool] = []

    def install(sig: int, handler: Any) -> Any:
        previous = real(sig, handler)
        if handler is lifeline._on_interrupt and not fired:
            fired.append(True)
            _interrupt()  # arrives as soon as the handler is in place
        return previous

    finished = False
    with monkeypatch.context() as patch:
        patch.setattr(signal, "signal", install)
        with pytest.raises(KeyboardInterrupt), lifeline.uninterrupted():
            finished = True
    assert fired and finished


def _uncreatable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing can be created in `folder`: its mode says so, and for root (whom modes do not
    stop) the probes are refused as the kernel would refuse them to anyone else."""
    folder.chmod(0o555)
    for name in ("mkstemp", "mkdtemp"):
        real: Callable[..., Any] = getattr(tempfile, name)

        def refused(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            if Path(kwargs.get("dir") or "").resolve() == folder.resolve():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return _real(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, refused)


def test_an_existing_results_file_in_a_closed_folder_is_accepted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A4: a results file that can be appended to is enough, whatever its folder allows."""
    folder = tmp_path / "closed"
    folder.mkdir()
    results = folder / "night.jsonl"
    results.write_text("")
    _uncreatable(folder, monkeypatch)
    try:
        assert cli._writable_file(results, "--out") == results
        with pytest.raises(UsageError, match="--out"):  # a new file there still cannot be
            cli._writable_file(folder / "new.jsonl", "--out")
    finally:
        folder.chmod(0o755)


def test_a_java_banner_under_a_picked_up_options_line_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A5: with JAVA_TOOL_OPTIONS set, java prints 'Picked up ...' before its version."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'Picked up JAVA_TOOL_OPTIONS: -Xmx1g' >&2\n"
                    "echo 'openjdk version \"17.0.15\" 2025-04-15' >&2\n"
                    "echo 'OpenJDK Runtime Environment' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert java_version() == 'openjdk version "17.0.15" 2025-04-15'
    assert java_major(java_version()) == 17


def test_a_dataset_folder_without_its_manifest_is_made_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A6: a folder left without manifest.json (a crash, a hand-made copy) is discarded."""
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(datasets, "_VERIFIED", set())
    spec = CsvSpec(files=2, rows_per_file=50)
    junk = tmp_path / "data" / datasets._dataset_name("csv", spec)
    junk.mkdir(parents=True)
    (junk / "part-000.csv").write_text("half of something\n")
    made = csv_dataset(spec)
    assert datasets.cache_problem(made.path) is None and len(made.files) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("harness: warning: dataset csv-f2-r50") and "manifest" in line


# --- B ----------------------------------------------------------------------------------------

def test_the_writability_probe_leaves_another_runs_folder_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """B7: a run that checks results/ while another run has just made it (and is about to
    write in it) must neither remove it nor be refused."""
    shared = tmp_path / "results" / "logs"
    for name in ("mkstemp", "mkdtemp"):
        real: Callable[..., Any] = getattr(tempfile, name)

        def other_run_too(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            shared.mkdir(parents=True, exist_ok=True)  # the other run, at the same moment
            return _real(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, other_run_too)
    cli._creatable(shared, "the results folder")
    assert shared.is_dir()
    assert [p.name for p in tmp_path.rglob("*")] == ["results", "logs"]


def test_records_queued_when_interrupted_are_kept(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """B8: a record the session sent just before Ctrl-C is written, not dropped."""
    session, kept = _session(tmp_path)
    done = record()
    session.events.put({"event": "record", "record": json.loads(done.to_json())})
    session.events.put(None)

    def interrupted() -> set[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "stop_session", lambda proc: None)
    monkeypatch.setattr(session, "_spawn", lambda log: None)
    monkeypatch.setattr(session, "_follow", interrupted)
    with pytest.raises(KeyboardInterrupt):
        session.run()
    assert [(r.workload, r.repeat, r.status) for r in kept] == [("noop", 0, "ok")]


def test_a_reader_waits_for_an_append_in_progress(tmp_path: Path) -> None:
    """B9: a reader during another process's append sees the file before or after it, never
    the half-written line."""
    path = tmp_path / "r.jsonl"
    append_records(path, [record(0)])
    line = record(1).to_json() + "\n"
    read: list[object] = []
    with path.open("ab") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        writer.write(line[:40].encode())
        writer.flush()
        reader = threading.Thread(target=lambda: read.append(_read_or_error(path)))
        reader.start()
        reader.join(timeout=1.0)  # before the fix the reader is done by now, with an error
        writer.write(line[40:].encode())
        writer.flush()
        fcntl.flock(writer, fcntl.LOCK_UN)
    reader.join(timeout=10)
    assert read == [[0, 1]]


def _read_or_error(path: Path) -> object:
    try:
        return [r.repeat for r in read_records([path])]
    except UsageError as exc:
        return str(exc)


# --- C ----------------------------------------------------------------------------------------

def test_a_restart_that_hangs_says_the_start_up_limit(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """C1: the limit a restarting session passed is the start-up one, and the error says so."""
    session, kept = _session(tmp_path, timeout_s=2.0)
    session.current, session.phase = "noop", "restarting"
    session.deadline = time.monotonic() - 1  # the limit has passed
    monkeypatch.setattr(runner, "stop_session", lambda proc: None)
    session._follow()
    (failed,) = kept
    assert failed.status == "timeout"
    assert f"no progress after {STARTUP_TIMEOUT_S:.0f} s (restarting)" in (failed.error or "")


def test_a_write_only_results_file_takes_records(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """C2: `--out` accepts a file it may append to but not read (mode 0200); so must every
    append. (Root reads any file: the refusal of reads is made by hand there.)"""
    path = tmp_path / "w.jsonl"
    append_records(path, [record(0)])
    path.chmod(0o200)
    real = os.open

    def write_only(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(file) == path and flags & os.O_ACCMODE != os.O_WRONLY:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real(file, flags, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "open", write_only)
        append_records(path, [record(1), record(2)])
    path.chmod(0o644)
    assert [r.repeat for r in read_records([path])] == [0, 1, 2]


def test_a_jvm_launched_before_an_interrupted_start_is_ended(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """C3: pyspark launched the JVM but the start was cut short before its gateway was kept:
    the stop ends the JVM the engine kept itself."""
    pytest.importorskip("pyspark")
    from harness.engines import spark

    # This process's own Spark (other tests') must not be touched: only the kept JVM matters.
    monkeypatch.setattr(spark, "_forget_session", lambda: None)
    monkeypatch.setattr(spark, "shutdown_jvm", lambda cls: None)
    engine = spark.SparkEngine(EngineOptions())
    jvm = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    engine._jvm_proc = jvm  # type: ignore[assignment]
    try:
        engine._stop()
        assert jvm.poll() is not None
    finally:
        if jvm.poll() is None:
            jvm.kill()
        jvm.wait()


@pytest.mark.parametrize("master", [" local[2]", "local[2] ", "spark://a:7077, b:7077"],
                         ids=["space-before", "space-after", "space-in-list"])
def test_a_spark_master_with_spaces_around_is_refused(master: str) -> None:
    """C4: Spark would receive the value as typed; a space it cannot parse is refused here."""
    with pytest.raises(UsageError, match="--spark-master"):
        addresses.spark_endpoints(master)


def test_only_spark_errors_are_read_from_their_last_line() -> None:
    """C5: a header ending with ':' is Spark's way (a Python worker's traceback); any other
    error keeps its first line."""
    assert one_line(ValueError("bad columns:\n a\n b")) == "ValueError: bad columns:"

    class Py4JJavaError(Exception):
        pass

    assert one_line(Py4JJavaError("Job aborted:\n\tat x\norg.Cause: boom")) == (
        "Py4JJavaError: org.Cause: boom")


class _BrokenPool:
    """A process pool that lost a process, counting how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        self.asked += 1
        future: Future[Any] = Future()
        future.set_exception(BrokenProcessPool("a process exited"))
        return future


def test_a_pool_is_asked_once_per_run_whether_it_died() -> None:
    """C6: each ask may wait POOL_PROBE_S on a busy pool: the record, the next run's check and
    the next workload's check share one answer."""
    engine = DaskProcessesEngine(EngineOptions(workers=1))
    pool = _BrokenPool()
    engine._pool = pool  # type: ignore[assignment]
    answers = {engine.failure() for _ in range(3)}
    assert pool.asked == 1
    assert answers == {"a process of the dask-processes pool exited (killed, or out of memory)"}
    engine._call(lambda inputs, compute, ctx: 1, None, engine.context())  # the next run
    engine.failure()
    assert pool.asked == 2
    engine._pool = None


def test_the_memory_probe_dies_when_orphaned_before_it_asked() -> None:
    """C7: the probe compares its parent with the pid its starter gave, not with itself."""
    not_my_parent = os.getpid() + 1_000_000
    done = subprocess.run([sys.executable, "-m", "harness.execution.probe", str(os.getpid()),
                           "0.1", str(not_my_parent)], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGKILL


# --- D ----------------------------------------------------------------------------------------

def _fake_run(records: Callable[[Plan], list[Record]],
              seen: list[object] | None = None) -> Callable[..., list[Record]]:
    def run_plan(plan: Plan, progress: object, sink: object = None) -> list[Record]:
        if seen is not None:
            seen.extend([lifeline._Interrupts.received, signal.getsignal(signal.SIGINT)])
        return records(plan)
    return run_plan


def _over_memory(plan: Plan) -> list[Record]:
    return plan.failed(plan.spec("pandas", ("noop",)), "noop", 0, "over-memory",
                       "process tree RSS 1.1 GiB passed the memory budget of 1 GiB; stopped")


def test_over_memory_fails_a_run_but_not_a_sweep(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 own_handlers: None) -> None:
    """D1: a budget the user set for a run and a cell broke is a failed run (exit 1); a sweep
    finding where an engine stops fitting is what it is for (exit 0)."""
    monkeypatch.setattr(runner, "run_plan", _fake_run(_over_memory))
    assert cli.main([*RUN, "--out", str(tmp_path / "o.jsonl"), "--memory-budget", "1"]) == 1
    (tmp_path / "t.toml").write_text(SWEEP)
    monkeypatch.setattr("harness.sweep.run.run_sweep",
                        lambda plan, progress: [record(status="over-memory")])
    assert cli.main(["sweep", str(tmp_path / "t.toml"), "--no-report", "--out",
                     str(tmp_path / "s.jsonl"), "--memory-budget", "1"]) == 0
    monkeypatch.setattr("harness.sweep.run.run_sweep",
                        lambda plan, progress: [record(status="timeout")])
    assert cli.main(["sweep", str(tmp_path / "t.toml"), "--no-report", "--out",
                     str(tmp_path / "s2.jsonl")]) == 1


def test_a_command_counts_interrupts_afresh_and_gives_back_the_handlers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_handlers: None) -> None:
    """D2: an in-process caller (a test, asv) runs commands one after another: an earlier
    command's interrupts do not count in the next, and its handlers are put back after."""
    before = {sig: signal.getsignal(sig) for sig in lifeline.INTERRUPTS}
    lifeline._Interrupts.received = 2  # an earlier command was interrupted twice
    seen: list[object] = []
    monkeypatch.setattr(runner, "run_plan", _fake_run(lambda plan: [], seen))
    assert cli.main([*RUN, "--out", str(tmp_path / "o.jsonl")]) == 0
    assert seen == [0, lifeline._on_interrupt]
    assert {sig: signal.getsignal(sig) for sig in lifeline.INTERRUPTS} == before


def test_an_ignored_ctrl_c_stays_ignored(own_handlers: None) -> None:
    """D2: `harness run &` in sh ignores SIGINT on purpose; SIGTERM still stops the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lifeline.catch_interrupts()
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is lifeline._on_interrupt
    with lifeline.uninterrupted():
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.mark.parametrize("value", ["0", "nan", "-1"])
def test_sweep_checks_its_memory_budget_as_run_does(
        tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """D3: one check, one wording for one flag."""
    (tmp_path / "t.toml").write_text(SWEEP)
    for argv in (["sweep", str(tmp_path / "t.toml"), "--dry-run"], RUN):
        assert cli.main([*argv, "--memory-budget", value]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert "--memory-budget must be a positive number of GiB" in line


def test_a_kill_worker_marker_goes_with_its_workload(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """D4: the marker lives as long as the prepared inputs (the workload's runs), no longer."""
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    prepared = fault.prepare(fault.WORKLOAD.params("tiny", {"mode": "kill-worker"}))
    assert fault.first_attempt(prepared.marker)  # the first run kills its worker
    assert not fault.first_attempt(prepared.marker)  # its retries and later runs do not
    marker = Path(prepared.marker)
    del prepared
    gc.collect()
    assert not marker.exists()
    assert list((tmp_path / "faults").iterdir()) == []

