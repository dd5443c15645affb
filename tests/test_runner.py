"""run_plan with real session processes: one record per cell, dead sessions replaced, timeouts,
unsupported pairs, and where the records go."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.catalogue import catalogue
from harness.engines.base import EngineOptions
from harness.engines.registry import get_engine
from harness.execution.runner import Plan, run_plan
from harness.results.schema import Record, read_records

SIZE = "tiny"


def session_processes() -> list[psutil.Process]:
    """Live session processes (`python -m harness.execution.child`) started by this test process."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if "harness.execution.child" in " ".join(proc.cmdline()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_no_sessions() -> list[psutil.Process]:
    """Session processes still alive after a grace period for a killed one to vanish."""
    deadline = time.monotonic() + 10
    while (left := session_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture(autouse=True)
def no_session_left_behind() -> Iterator[None]:
    assert session_processes() == [], "a session process was alive before the test"
    yield
    assert wait_no_sessions() == [], "a session process outlived run_plan"


def make_plan(tmp_path: Path, workloads: tuple[str, ...], engine: str = "pandas",
              repeats: int = 2, **extra: object) -> Plan:
    return Plan(run_id="test-runner", workloads=workloads, engines=(engine,), size=SIZE,
                repeats=repeats, options=EngineOptions(), env={}, out=tmp_path / "out.jsonl",
                log_dir=tmp_path / "logs", **extra)


def quiet(text: str, advance: int) -> None:
    pass


def cells_of(records: list[Record]) -> list[tuple[str, int]]:
    return sorted((r.workload, r.repeat) for r in records)


@pytest.mark.slow
def test_every_workload_and_repeat_is_one_ok_record_appended_to_out(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, ("delayed-sleep", "noop"), repeats=2)
    earlier = Record(run_id="earlier", workload="noop", engine="pandas", size=SIZE, status="ok")
    plan.out.write_text(earlier.to_json() + "\n")
    advanced: list[int] = []

    records = run_plan(plan, lambda text, n: advanced.append(n))

    assert cells_of(records) == [("delayed-sleep", 0), ("delayed-sleep", 1), ("noop", 0),
                                 ("noop", 1)]
    assert [(r.workload, r.repeat, r.status, r.error) for r in records if r.status != "ok"] == []
    assert {(r.run_id, r.engine, r.size) for r in records} == {("test-runner", "pandas", SIZE)}
    assert all(r.wall_s is not None and r.wall_s > 0 for r in records)
    # Appended: the earlier line is kept, then exactly the records returned.
    on_disk = read_records([plan.out])
    assert on_disk[0].run_id == "earlier"
    assert [r.to_json() for r in on_disk[1:]] == [r.to_json() for r in records]
    assert sum(advanced) == plan.total_cells


@pytest.mark.slow
def test_a_dead_session_is_replaced_and_the_run_goes_on(tmp_path: Path) -> None:
    # Sleeps of 0.25 s make each delayed-sleep run last 2 s (8 tasks in turn on pandas), so the
    # kill lands inside the run it aims at even on a loaded machine; noop ignores the override.
    plan = make_plan(tmp_path, ("delayed-sleep", "noop"), repeats=3,
                     overrides={"sleep_s": 0.25})
    killed: list[int] = []
    later_sessions: set[int] = set()
    advanced: list[int] = []

    def progress(text: str, advance: int) -> None:
        advanced.append(advance)
        # Kill the session in the middle of delayed-sleep's second repeat (SIGKILL: no clean-up).
        if not killed and "delayed-sleep" in text and "repeat 2/" in text:
            (session,) = session_processes()
            killed.append(session.pid)
            session.kill()
        if "noop" in text:
            later_sessions.update(p.pid for p in session_processes())

    records = run_plan(plan, progress)

    assert killed, "the progress callback never saw delayed-sleep's second repeat start"
    assert cells_of(records) == [(w, r) for w in ("delayed-sleep", "noop") for r in range(3)]
    sleep = {r.repeat: r for r in records if r.workload == "delayed-sleep"}
    assert sleep[0].status == "ok"
    logs = list(plan.log_dir.iterdir())
    assert len(logs) == 1
    for repeat in (1, 2):
        rec = sleep[repeat]
        assert rec.status == "error"
        assert "session" in rec.error and "died" in rec.error, rec.error
        assert str(logs[0]) in rec.error, rec.error
    noop = [r for r in records if r.workload == "noop"]
    assert [r.status for r in noop] == ["ok", "ok", "ok"]
    # noop ran in a new session, not the killed one.
    assert later_sessions and killed[0] not in later_sessions
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == \
        psutil.STATUS_ZOMBIE
    assert [r.to_json() for r in read_records([plan.out])] == [r.to_json() for r in records]
    assert sum(advanced) == plan.total_cells  # the progress bar ends full, not past it


@pytest.mark.slow
def test_a_timeout_records_the_cell_in_flight_and_the_rest_of_its_workload(
        tmp_path: Path) -> None:
    # delayed-sleep at tiny sleeps 8 x 0.02 s per run: far past a 0.05 s limit.
    plan = make_plan(tmp_path, ("delayed-sleep",), repeats=3, cell_timeout_s=0.05)
    advanced: list[int] = []
    records = run_plan(plan, lambda text, n: advanced.append(n))
    assert cells_of(records) == [("delayed-sleep", r) for r in range(3)]
    assert sum(advanced) == plan.total_cells
    assert [r.status for r in sorted(records, key=lambda r: r.repeat)] == ["timeout"] * 3
    assert all(r.error for r in records)
    assert all(r.wall_s is None for r in records)
    assert [r.status for r in read_records([plan.out])] == ["timeout"] * 3


def test_an_unsupported_pair_is_recorded_without_starting_a_session(tmp_path: Path) -> None:
    reason = catalogue()["workloads"]["custom-graph"]["unsupported"]["spark"]
    plan = make_plan(tmp_path, ("custom-graph",), engine="spark", repeats=2)
    seen_sessions: list[int] = []

    def progress(text: str, advance: int) -> None:
        seen_sessions.extend(p.pid for p in session_processes())

    records = run_plan(plan, progress)
    assert cells_of(records) == [("custom-graph", 0), ("custom-graph", 1)]
    assert {(r.engine, r.status, r.error) for r in records} == {("spark", "unsupported", reason)}
    assert seen_sessions == []
    assert not plan.log_dir.exists() or list(plan.log_dir.iterdir()) == []  # no session log
    assert [r.status for r in read_records([plan.out])] == ["unsupported", "unsupported"]


@pytest.mark.slow
def test_unsupported_and_supported_workloads_in_one_plan(tmp_path: Path) -> None:
    reason = catalogue()["workloads"]["ml-random-forest"]["unsupported"]["dask-sync"]
    plan = make_plan(tmp_path, ("ml-random-forest", "noop"), engine="dask-sync", repeats=1)
    records = run_plan(plan, quiet)
    by_workload = {r.workload: r for r in records}
    assert len(records) == 2
    assert (by_workload["ml-random-forest"].status, by_workload["ml-random-forest"].error) == (
        "unsupported", reason)
    assert by_workload["noop"].status == "ok"


@pytest.mark.slow
def test_sink_receives_the_records_instead_of_the_file(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, ("noop",), repeats=2)
    received: list[Record] = []
    records = run_plan(plan, quiet, sink=received.extend)
    assert not plan.out.exists()
    assert cells_of(received) == [("noop", 0), ("noop", 1)]
    assert [r.to_json() for r in received] == [r.to_json() for r in records]
    assert all(r.status == "ok" for r in received)


@pytest.mark.slow
def test_the_progress_total_counts_warm_ups_only_where_something_runs(tmp_path: Path) -> None:
    """Spark warms up before counted runs; an unsupported pair on Spark runs nothing."""
    plan = make_plan(tmp_path, ("custom-graph", "noop"), engine="spark", repeats=2)
    advanced: list[int] = []
    records = run_plan(plan, lambda text, n: advanced.append(n))
    warmups = get_engine("spark").warmup_runs
    assert plan.total_cells == len(records) == sum(advanced) == 2 + (2 + warmups)
    assert [r.phase for r in records if r.workload == "noop"] == (
        ["cold"] + ["warmup"] * warmups + ["steady"])
