"""Sweeps: declarations load and expand, bad files are clear errors, cells run isolated,
an interrupted sweep resumes with only the missing cells, and a memory budget stops a cell."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.engines.base import EngineOptions
from harness.errors import UsageError
from harness.results.schema import Record, read_records
from harness.sweep.plan import Estimator, fit_budget, plan_sweep
from harness.sweep.spec import axis_kind, expand, load_sweep, sweep_names
from tests.test_run_e2e import MARKER_VAR, assert_nothing_left

SHIPPED = ("array-chunks", "data-scaling", "frame-partitions", "workers-threads")

# Two points of delayed-sleep on dask-threads at tiny: seconds per cell.
TINY_SWEEP = """
title = "test sweep"
size = "tiny"
engines = ["dask-threads"]
repeats = 2

[[study]]
workload = "delayed-sleep"
axes = { n_tasks = [2, 4], threads_per_worker = [1, 2] }
"""


def test_shipped_sweeps_load_and_meet_the_issue_shape() -> None:
    assert set(SHIPPED) <= set(sweep_names())
    wt = load_sweep("workers-threads")
    assert {s.workload for s in wt.studies} == {"delayed-sleep", "csv-groupby"}
    assert all(set(s.axes) == {"n_workers", "threads_per_worker"} for s in wt.studies)
    for name, axis in (("array-chunks", "chunks"), ("frame-partitions", "npartitions")):
        assert all(len(s.axes[axis]) >= 7 for s in load_sweep(name).studies)
    parts = load_sweep("frame-partitions").studies[0].axes["npartitions"]
    assert min(parts) == 1 and max(parts) >= 256
    for study in load_sweep("data-scaling").studies:
        (values,) = study.axes.values()
        sizes = [v if isinstance(v, int) else v[0] * v[1] * v[2] for v in values]
        assert len(values) >= 5 and max(sizes) / min(sizes) >= 100


def test_expand_adds_one_pandas_reference_per_data_point() -> None:
    cells = expand(load_sweep("data-scaling"))
    refs = [c for c in cells if c.role == "reference"]
    assert {c.engine for c in refs} == {"pandas"} and len(refs) == 11
    wt = expand(load_sweep("workers-threads"))
    assert sum(c.role == "reference" for c in wt) == 2  # no data axes: one per workload
    assert len({c.key for c in wt}) == len(wt)
    point = next(c for c in wt if c.axes == {"n_workers": 4, "threads_per_worker": 2})
    assert point.options == EngineOptions(workers=4, threads=2) and point.overrides == {}
    assert axis_kind("chunks") == "layout" and axis_kind("rows_per_file") == "data"


@pytest.mark.parametrize(("text", "problem"), [
    ("title = 'x'\nengines = ['nope']\n[[study]]\nworkload = 'csv-groupby'\naxes = {}",
     "unknown engine"),
    ("title = 'x'\nengines = ['dask-threads']\n[[study]]\nworkload = 'csv-groupby'\n"
     "axes = { chunks = [1] }", "has no axis 'chunks'"),
    ("title = 'x'\nengines = ['dask-threads']\n[[study]]\nworkload = 'nope'\naxes = {}",
     "unknown workload"),
    ("title = [", "TOMLDecodeError"),
])
def test_bad_sweep_files_are_one_line_errors(tmp_path: Path, text: str, problem: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and len(err.splitlines()) == 1


def test_unknown_sweep_name_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "no-such-sweep", "--dry-run"]) == 2
    assert "choose one of: array-chunks" in capsys.readouterr().err


def test_existing_output_needs_resume(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    out.write_text("x\n")
    with pytest.raises(UsageError, match="--resume"):
        plan_sweep(load_sweep("array-chunks"), "tiny", out, resume=False, repeats=None,
                   timeout_s=None, memory_budget_bytes=None, budget_min=None)


def test_budget_cuts_repeats_then_the_costliest_axis_end() -> None:
    cells = expand(load_sweep("data-scaling"), "small")
    est = Estimator([])
    budget_s = 0.8 * sum(est.cell_s(c, 1) for c in cells)  # less than one run of each cell
    kept, repeats, notes = fit_budget(cells, 3, budget_s, est)
    assert repeats == 1 and notes[:2] == ["repeats 3 -> 2", "repeats 2 -> 1"]
    assert len(kept) < len(cells) and any("dropped" in n for n in notes)
    assert sum(est.cell_s(c, repeats) for c in kept) <= budget_s


def test_estimate_counts_the_measured_overhead_of_a_cell() -> None:
    cell = expand(load_sweep("array-chunks"), "small")[1]
    tag = {**cell.tag(), "cell_s": 20.0}
    # Three timed runs of 2 s in a cell that took 20 s: 14 s went to everything else.
    history = [Record(run_id="r", workload=cell.workload, engine=cell.engine, size="small",
                      status="ok", repeat=i, wall_s=2.0, sweep=tag) for i in range(3)]
    est = Estimator(history)
    assert est.cell_s(cell, 3) == pytest.approx(20.0)
    assert est.cell_s(cell, 1) == pytest.approx(16.0)


def _sweep(tmp_path: Path, *args: str, marker: str) -> subprocess.Popen:
    env = {**os.environ, MARKER_VAR: marker}
    return subprocess.Popen([sys.executable, "-m", "harness", "sweep", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sweep_runs_every_cell_then_resume_runs_none(tmp_path: Path) -> None:
    spec, out, marker = tmp_path / "t.toml", tmp_path / "t.jsonl", uuid.uuid4().hex
    spec.write_text(TINY_SWEEP)
    proc = _sweep(tmp_path, str(spec), "--out", str(out), "--report-dir", str(tmp_path / "R"),
                  marker=marker)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    records = read_records([out])
    cells = Counter(r.sweep["cell"] for r in records)
    assert len(cells) == 2 + 4 and set(cells.values()) == {2}  # 2 pandas references + 2x2
    assert all(r.status == "ok" for r in records)
    assert all(r.sweep["cell_s"] >= r.wall_s for r in records)
    pool = {(r.sweep["axes"]["threads_per_worker"], r.threads_per_worker) for r in records
            if r.engine == "dask-threads"}
    assert pool == {(1, 1), (2, 2)}
    assert (tmp_path / "R" / "report.html").exists()
    assert_nothing_left(marker)
    again = _sweep(tmp_path, str(spec), "--out", str(out), "--resume", "--no-report",
                   marker=marker)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0 and "0 cell(s) to run, 6 already recorded" in err
    assert len(read_records([out])) == len(records)


@pytest.mark.slow
def test_interrupted_sweep_keeps_whole_cells_and_resumes_the_rest(tmp_path: Path) -> None:
    spec, out, marker = tmp_path / "t.toml", tmp_path / "t.jsonl", uuid.uuid4().hex
    spec.write_text(TINY_SWEEP.replace("[2, 4]", "[2, 4, 6, 8]"))
    proc = _sweep(tmp_path, str(spec), "--out", str(out), "--no-report", marker=marker)
    deadline = time.monotonic() + 300
    while not (out.exists() and len(out.read_text().splitlines()) >= 6):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err
    assert_nothing_left(marker)
    first = Counter(r.sweep["cell"] for r in read_records([out]))
    assert set(first.values()) == {2}  # whole cells only
    again = _sweep(tmp_path, str(spec), "--out", str(out), "--resume", "--no-report",
                   marker=marker)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"{12 - len(first)} cell(s) to run, {len(first)} already recorded" in err
    final = Counter(r.sweep["cell"] for r in read_records([out]))
    assert len(final) == 12 and set(final.values()) == {2}


@pytest.mark.slow
def test_memory_budget_stops_the_cell_and_the_sweep_goes_on(tmp_path: Path) -> None:
    spec, out, marker = tmp_path / "t.toml", tmp_path / "t.jsonl", uuid.uuid4().hex
    spec.write_text(TINY_SWEEP)
    # 50 MiB: below what any Python process with pandas holds, so every cell is stopped.
    proc = _sweep(tmp_path, str(spec), "--out", str(out), "--no-report", "--memory-budget",
                  str(50 / 1024), marker=marker)
    _, err = proc.communicate(timeout=600)
    records = read_records([out])
    assert len({r.sweep["cell"] for r in records}) == 6
    assert {r.status for r in records} == {"over-memory"}, err
    assert "memory budget" in records[0].error
    assert_nothing_left(marker)
    assert proc.returncode == 0  # over budget is a measured limit, not a failure of the run
