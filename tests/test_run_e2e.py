"""Whole `harness run` invocations in a subprocess: records, report, and nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from harness.cli import main
from harness.engines.registry import get_engine
from harness.results.schema import read_records

MARKER_VAR = "HARNESS_TEST_MARKER"
ENGINES = ("pandas", "dask-threads", "dask-distributed", "spark")
WORKLOADS = ("csv-groupby", "delayed-sleep")
REPEATS = 2


def marked_processes(marker: str) -> list[str]:
    """Live processes whose environment or command line carries `marker` (children inherit
    the environment, so any leftover worker, nanny or JVM of the run shows it)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            text = " ".join(proc.cmdline())
            env = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if marker in text or env.get(MARKER_VAR) == marker:
            found.append(f"{proc.pid} {text[:200]}")
    return found


def assert_nothing_left(marker: str) -> None:
    # A killed process can take a moment to disappear; this waits for that, not for speed.
    deadline = time.monotonic() + 10
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], "processes of the run are still alive:\n" + "\n".join(left)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    out: Path
    report_dir: Path
    marker: str


def harness_run(tmp_path: Path, *args: str) -> Run:
    marker = uuid.uuid4().hex
    out, report_dir = tmp_path / "X.jsonl", tmp_path / "D"
    env = {**os.environ, MARKER_VAR: marker}
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", *args, "--out", str(out),
         "--report-dir", str(report_dir)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, out, report_dir, marker)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, harness_dirs) -> Run:
    args = ["--size", "tiny", "--repeat", str(REPEATS)]
    for workload in WORKLOADS:
        args += ["-w", workload]
    for engine in ENGINES:
        args += ["-e", engine]
    return harness_run(tmp_path_factory.mktemp("e2e"), *args)


@pytest.mark.slow
def test_full_run_records_every_cell_ok(full_run: Run) -> None:
    assert full_run.returncode == 0, full_run.stderr[-3000:]
    records = read_records([full_run.out])
    runs = {e: REPEATS + get_engine(e).warmup_runs for e in ENGINES}
    assert len(records) == len(WORKLOADS) * sum(runs.values())
    bad = [(r.engine, r.workload, r.repeat, r.status, r.error) for r in records
           if r.status != "ok"]
    assert bad == []
    cells = {(r.engine, r.workload, r.repeat) for r in records}
    assert cells == {(e, w, r) for e in ENGINES for w in WORKLOADS for r in range(runs[e])}
    # Only the warm-ups of engines that need them are marked, between the cold and counted runs.
    for r in records:
        warmups = get_engine(r.engine).warmup_runs
        want = "cold" if r.repeat == 0 else "warmup" if r.repeat <= warmups else "steady"
        assert (r.phase, r.warmup["runs"]) == (want, warmups)
    assert sum(r.phase == "steady" for r in records) == len(WORKLOADS) * len(ENGINES) * (
        REPEATS - 1)
    assert len({r.run_id for r in records}) == 1
    assert all(r.check["ok"] is True for r in records)
    assert all(r.wall_s is not None and r.wall_s > 0 for r in records)


@pytest.mark.slow
def test_full_run_leaves_no_process_behind(full_run: Run) -> None:
    assert full_run.out.exists()  # the run did happen
    assert_nothing_left(full_run.marker)


@pytest.mark.slow
def test_full_run_writes_report(full_run: Run) -> None:
    assert full_run.returncode == 0, full_run.stderr[-3000:]
    assert (full_run.report_dir / "report.md").is_file()
    assert (full_run.report_dir / "report.html").is_file()


@pytest.mark.slow
def test_report_command_renders_the_run(full_run: Run, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "R"
    assert main(["report", str(full_run.out), "--out", str(out_dir)]) == 0
    assert (out_dir / "report.md").is_file()
    assert (out_dir / "report.html").is_file()
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_timeout_is_recorded_and_stops_everything(tmp_path: Path, harness_dirs) -> None:
    run = harness_run(tmp_path, "--size", "tiny", "--timeout", "0.05", "-e", "pandas",
                      "-w", "delayed-sleep", "--repeat", "2")
    assert run.returncode == 1, run.stderr[-3000:]
    records = read_records([run.out])
    assert [(r.engine, r.workload) for r in records] == [("pandas", "delayed-sleep")] * 2
    assert sorted(r.repeat for r in records) == [0, 1]
    # The cell in flight times out; the rest of the workload is recorded with it.
    assert [r.status for r in records] == ["timeout", "timeout"]
    assert all(r.error for r in records)
    assert_nothing_left(run.marker)


def test_marker_finds_a_marked_process() -> None:
    """Control for the leftover checks above: a marked process is found, an ended one is not."""
    marker = uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            env={**os.environ, MARKER_VAR: marker})
    try:
        deadline = time.monotonic() + 30
        while not marked_processes(marker):
            assert time.monotonic() < deadline, "marked process not found"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert_nothing_left(marker)
