"""Categorical sweep axes: true/false (persist-reuse's `persist`) and short strings load,
run with the real value in params, and are reported side by side, with no fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.reporting.render import render_report
from harness.reporting.sweep_report import build_sweep_report
from harness.results.schema import Record, read_records
from harness.sweep.plan import Estimator
from harness.sweep.spec import data_scale, expand, load_sweep

ENV = {"logical_cores": 2, "total_memory_bytes": 24 * 2**30, "python": "3.11"}
STUDY = "title = 'x'\nsize = 'tiny'\nengines = ['dask-threads']\n[[study]]\nworkload = '{w}'\n"


def sweep_file(tmp_path: Path, workload: str, axes: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(STUDY.format(w=workload) + f"axes = {{ {axes} }}\n")
    return path


def test_the_shipped_persist_sweep_loads_with_real_booleans() -> None:
    (study,) = load_sweep("persist-reuse").studies
    assert study.axes["persist"] == (False, True)
    cells = expand(load_sweep("persist-reuse"), "tiny")
    persists = [c.overrides["persist"] for c in cells if c.engine == "dask-threads"]
    assert persists == [False, True] and all(type(p) is bool for p in persists)
    assert "persist=false" in cells[0].describe()


def test_harness_list_shows_the_persist_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert "persist-reuse: persist false/true" in capsys.readouterr().out


@pytest.mark.parametrize(("workload", "axes"), [
    ("persist-reuse", "persist = [true, false]"),
    ("adaptive-scale", "mode = ['adaptive', 'fixed']"),
    ("persist-reuse", "persist = [0, 1]"),  # numbers, as before: prepare() makes them bools
])
def test_choice_and_number_axes_are_accepted(tmp_path: Path, workload: str, axes: str) -> None:
    assert main(["sweep", str(sweep_file(tmp_path, workload, axes)), "--dry-run"]) == 0


@pytest.mark.parametrize(("workload", "axes", "problem"), [
    ("persist-reuse", "persist = [false, 1]", "persist: expected values of one kind"),
    ("persist-reuse", "persist = [true, 'no']", "persist: expected values of one kind"),
    ("persist-reuse", "persist = ['yes', 'no']", "persist is a true/false parameter: "
                                                 'expected true or false, got ["yes", "no"]'),
    ("delayed-sleep", "n_tasks = ['2']", "n_tasks is a numeric parameter: expected a number"),
    ("delayed-sleep", "n_tasks = [true]", "n_tasks is a numeric parameter: expected a number"),
    ("delayed-sleep", "n_workers = [true, false]", "n_workers is a numeric parameter"),
    ("persist-reuse", "persist = [{ a = 1 }]", "expected a number, a list of numbers, "
                                               "true/false or a short string"),
    ("persist-reuse", "persist = [[true]]", "expected a number, a list of numbers"),
    ("adaptive-scale", f"mode = ['{'x' * 41}']", "a short string"),
])
def test_mixed_and_invalid_values_are_one_line_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], workload: str, axes: str,
        problem: str) -> None:
    assert main(["sweep", str(sweep_file(tmp_path, workload, axes)), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and len(err.splitlines()) == 1


def test_a_choice_is_not_a_data_size_for_estimates() -> None:
    # True is an int to Python: as a size, false would be 0 bytes and divide by zero.
    assert data_scale({"persist": False, "rows_per_file": 10}) == 10.0
    cell = next(c for c in expand(load_sweep("persist-reuse"), "tiny")
                if c.overrides.get("persist") is True)
    history = [Record(run_id="r", workload=cell.workload, engine=cell.engine, size="tiny",
                      status="ok", repeat=1, wall_s=2.0, params={"persist": False})]
    assert Estimator(history).run_s(cell) == pytest.approx(2.0)


def rec(engine: str, persist: bool, wall: float, *, role: str = "cell",
        peak: int = 300 * 2**20, kept: int | None = None) -> Record:
    axes = {"persist": persist}
    key = json.dumps(["persist-reuse", engine, "tiny", role, axes], sort_keys=True)
    metrics = {"data_bytes": 5e6} | ({"persisted_bytes": kept} if kept else {})
    return Record(run_id="r", workload="persist-reuse", engine=engine, size="tiny",
                  status="ok", repeat=1, wall_s=wall, env=ENV, params=axes,
                  peak_tree_rss_bytes=peak, metrics=metrics,
                  sweep={"name": "persist-reuse", "cell": key, "role": role, "axes": axes})


def persist_records() -> list[Record]:
    """pandas 1 s either way; dask-threads 2 s recomputing, 1 s persisted for 20 MiB more."""
    return [rec("pandas", False, 1.0, role="reference"), rec("pandas", True, 1.0,
                                                             role="reference"),
            rec("dask-threads", False, 2.0),
            rec("dask-threads", True, 1.0, peak=320 * 2**20, kept=8 * 2**20)]


def test_report_draws_choices_side_by_side_and_fits_nothing(tmp_path: Path) -> None:
    text = "\n".join(str(b) for b in build_sweep_report(persist_records()).blocks)
    assert "persist is a categorical axis" in text and "No lines are fitted" in text
    assert ("dask-threads: persist=false 2.000 s, peak 300.0 MiB; persist=true 1.000 s "
            "(2.00x faster than persist=false), peak 320.0 MiB (+20.0 MiB), 8.0 MiB kept in "
            "memory.") in text
    assert "pandas reference: persist=false 1.000 s, persist=true 1.000 s." in text
    assert "grows as data^" not in text and "False" not in text
    out = render_report(persist_records(), tmp_path / "R")
    names = {p.name for p in out.iterdir()}
    assert "persist-reuse-persist-reuse-choices.png" in names
    assert not any("scaling" in n for n in names)
    html = (out / "report.html").read_text()
    assert "persist=false" in html and "persist=true" in html and "8.0 MiB" in html


@pytest.mark.slow
def test_tiny_persist_sweep_records_both_choices_and_renders(tmp_path: Path) -> None:
    text = (Path("harness/sweep/specs/persist-reuse.toml").read_text()
            .replace('size = "small"', 'size = "tiny"')
            .replace('engines = ["dask-threads", "dask-processes", "dask-distributed", "spark"]',
                     'engines = ["dask-threads"]'))
    spec, out, report = tmp_path / "persist-tiny.toml", tmp_path / "p.jsonl", tmp_path / "R"
    spec.write_text(text)
    assert main(["sweep", str(spec), "--repeat", "1", "--out", str(out), "--report-dir",
                 str(report)]) == 0
    records = read_records([out])
    assert {r.status for r in records} == {"ok"}
    cells = [r for r in records if r.engine == "dask-threads"]
    assert sorted(r.params["persist"] for r in cells) == [False, True]
    assert all(type(r.params["persist"]) is bool for r in cells)
    kept = {r.params["persist"]: r.metrics.get("persisted_bytes") for r in cells}
    assert kept[False] is None and kept[True] > 0  # the workload saw a real bool
    html = (report / "report.html").read_text()
    assert "persist=false" in html and "persist=true" in html and "categorical" in html
    assert (report / "persist-tiny-persist-reuse-choices.png").stat().st_size > 0
