"""What `harness run` and `harness sweep` print, and the run's exit codes."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.console import plan_lines, print_summary, print_sweep_summary
from harness.results.schema import Record, read_records
from harness.sweep.plan import plan_sweep
from harness.sweep.spec import expand, load_sweep


def rec(workload: str, engine: str, repeat: int, wall: float | None, status: str = "ok",
        **extra: Any) -> Record:
    return Record(run_id="r", workload=workload, engine=engine, size="tiny", status=status,
                  repeat=repeat, wall_s=wall, error=None if status == "ok" else "boom", **extra)


def table_lines(out: str, *words: str) -> list[str]:
    """Lines of printed output that contain every one of `words`."""
    return [line for line in out.splitlines() if all(w in line for w in words)]


def test_print_summary_names_each_workload_engine_and_the_columns(capsys) -> None:
    records = [rec(w, e, r, wall) for w, walls in
               (("csv-groupby", {"pandas": 2.0, "dask-threads": 1.0}),
                ("delayed-sleep", {"pandas": 0.16, "dask-threads": 0.32}))
               for e, wall in walls.items() for r in range(2)]
    print_summary(records)
    out = capsys.readouterr().out
    for column in ("cold", "warm (median)", "vs pandas"):
        assert column in out
    for workload in ("csv-groupby", "delayed-sleep"):
        for engine in ("pandas", "dask-threads"):
            assert len(table_lines(out, workload, engine)) == 1, (workload, engine, out)
    (faster,) = table_lines(out, "csv-groupby", "dask-threads")
    assert "2.00x faster" in faster
    (slower,) = table_lines(out, "delayed-sleep", "dask-threads")
    assert "2.00x slower" in slower


def test_print_summary_shows_a_failed_configuration(capsys) -> None:
    print_summary([rec("delayed-sleep", "pandas", 0, 0.2),
                   rec("delayed-sleep", "spark", 0, None, status="timeout")])
    out = capsys.readouterr().out
    (line,) = table_lines(out, "delayed-sleep", "spark")
    assert "timeout" in line


def sweep_rec(engine: str, axes: dict[str, Any], repeat: int, wall: float | None,
              status: str = "ok", role: str = "cell", **extra: Any) -> Record:
    key = json.dumps(["array-stats", engine, "tiny", role, axes], sort_keys=True)
    return rec("array-stats", engine, repeat, wall, status=status,
               sweep={"name": "array-chunks", "cell": key, "role": role, "axes": axes}, **extra)


def test_print_sweep_summary_prints_one_line_per_cell_with_its_axes(capsys) -> None:
    small, big = {"chunks": [40, 40, 6]}, {"chunks": [2000, 2000, 6]}
    records = [
        sweep_rec("pandas", {}, 0, 1.0, role="reference"),
        *[sweep_rec("dask-threads", small, r, 3.0, n_tasks=1500) for r in range(2)],
        *[sweep_rec("dask-threads", big, r, 0.5, n_tasks=4) for r in range(2)],
        sweep_rec("dask-distributed", small, 0, None, status="timeout"),
    ]
    print_sweep_summary(records)
    out = capsys.readouterr().out
    (small_line,) = table_lines(out, "dask-threads", "chunks=[40, 40, 6]")
    (big_line,) = table_lines(out, "dask-threads", "chunks=[2000, 2000, 6]")
    assert "1500" in small_line and "3.000 s" in small_line
    assert "0.500 s" in big_line
    (failed,) = table_lines(out, "dask-distributed", "chunks=[40, 40, 6]")
    assert "timeout" in failed
    assert len(table_lines(out, "pandas", "array-stats")) == 1
    assert len(table_lines(out, "array-stats")) == 4  # one line per cell, not per record


def test_print_sweep_summary_of_nothing_prints_nothing(capsys) -> None:
    print_sweep_summary([])
    assert capsys.readouterr().out == ""


@pytest.fixture
def no_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty results dir, so estimates come from the guesses alone."""
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setenv("HARNESS_RESULTS_DIR", str(results))
    return results


def test_plan_lines_state_cells_and_estimate(no_history: Path, tmp_path: Path) -> None:
    spec = load_sweep("array-chunks")
    plan = plan_sweep(spec, "tiny", tmp_path / "sweep.jsonl", resume=False, repeats=None,
                      timeout_s=None, memory_budget_bytes=None, budget_min=None)
    assert len(plan.cells) == len(expand(spec, "tiny"))
    lines = plan_lines(plan)
    assert f"{len(plan.cells)} cell(s)" in lines[0]
    assert "array-chunks" in lines[0]
    assert str(tmp_path / "sweep.jsonl") in lines[0]
    (estimate,) = [line for line in lines if "estimate" in line]
    assert f"{plan.estimate_s / 60:.1f} min" in estimate
    assert not [line for line in lines if "trimmed" in line]


def test_plan_lines_say_what_a_small_budget_trimmed(no_history: Path, tmp_path: Path) -> None:
    spec = load_sweep("array-chunks")
    full = plan_sweep(spec, "tiny", tmp_path / "full.jsonl", resume=False, repeats=None,
                      timeout_s=None, memory_budget_bytes=None, budget_min=None)
    plan = plan_sweep(spec, "tiny", tmp_path / "sweep.jsonl", resume=False, repeats=None,
                      timeout_s=None, memory_budget_bytes=None, budget_min=1)
    assert plan.trimmed
    assert plan.estimate_s < full.estimate_s
    lines = plan_lines(plan)
    trimmed = [line for line in lines if "trimmed" in line]
    assert len(trimmed) == len(plan.trimmed)
    for note, line in zip(plan.trimmed, trimmed, strict=True):
        assert note in line
    assert any("repeats" in note for note in plan.trimmed)  # fewer repeats come first
    assert any("dropped" in note for note in plan.trimmed)  # then the costliest ends
    assert f"{len(plan.cells)} cell(s)" in lines[0]
    assert len(plan.cells) < len(full.cells)


# ---------------------------------------------------------------------------------------------
# Exit codes of a whole (tiny) run through the CLI


@pytest.fixture
def keep_sigterm() -> Iterator[None]:
    """The run installs its own SIGTERM and SIGINT handlers; give pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def tiny_run(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--size", "tiny", "-e", "pandas", "-w", "delayed-sleep", "--repeat", "1",
            "--no-report", "--out", str(tmp_path / "out.jsonl"), *extra]


@pytest.mark.slow
def test_an_all_ok_run_exits_0(tmp_path: Path, no_history: Path, keep_sigterm: None,
                               capsys) -> None:
    assert main(tiny_run(tmp_path)) == 0
    records = read_records([tmp_path / "out.jsonl"])
    assert [(r.workload, r.engine, r.status) for r in records] == [
        ("delayed-sleep", "pandas", "ok")]
    out = capsys.readouterr().out
    assert len(table_lines(out, "delayed-sleep", "pandas")) == 1


@pytest.mark.slow
def test_a_failed_run_exits_1(tmp_path: Path, no_history: Path, keep_sigterm: None,
                              capsys) -> None:
    assert main(tiny_run(tmp_path, "--timeout", "0.01")) == 1
    records = read_records([tmp_path / "out.jsonl"])
    assert [(r.workload, r.status) for r in records] == [("delayed-sleep", "timeout")]
    out = capsys.readouterr().out
    (line,) = table_lines(out, "delayed-sleep", "pandas")
    assert "timeout" in line
