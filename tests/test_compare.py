"""harness compare: same code compares same, a slower run is slower (exit 1), a wrong answer
after a right one is failing, too few runs are unconfirmed, and bad input is one line, exit 2."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.cli import main
from harness.engines.base import Engine
from harness.execution.session import SessionSpec, base_record, measure
from harness.judge.compare import compare
from harness.results.schema import Record, append_records
from harness.stats import mann_whitney_p, min_samples, run_to_run_bound
from tests.helpers import SIZE, prepared

WORKLOAD = "delayed-sleep"  # sleeps dominate its time: steady enough for an A/A at tiny
ENV = {"dask": "2026.8.0", "cpu_model": "test cpu", "logical_cores": 2}


def runs(engine: Engine, run_id: str, counted: int = 8, overrides: dict[str, Any] | None = None,
         expected: Any = None) -> list[Record]:
    """A cold run and `counted` steady ones of delayed-sleep, measured for real."""
    workload, inputs, reference, params = prepared(WORKLOAD, overrides=overrides)
    spec = SessionSpec(run_id=run_id, engine=engine.name, workloads=(WORKLOAD,), size=SIZE,
                       repeats=counted + 1, options=engine.options, env=dict(ENV))
    answer = reference if expected is None else expected
    return [measure(engine, workload, inputs, answer,
                    base_record(spec, engine, WORKLOAD, i, params))
            for i in range(counted + 1)]


def as_params_of(records: list[Record], like: list[Record]) -> list[Record]:
    """The slower runs slept longer through a parameter; a code change would not show in the
    params, so they are given the baseline's: the cell is the same, only its speed moved."""
    return [dataclasses.replace(r, params=like[0].params) for r in records]


@pytest.fixture(scope="module")
def sides(pandas_engine: Engine, dask_threads_engine: Engine) -> dict[str, list[Record]]:
    """Three baseline runs (what the run-to-run bound needs), one more of the same code, and
    one whose tasks sleep 1.5x as long."""
    engines = (pandas_engine, dask_threads_engine)
    base = [r for i in range(3) for e in engines for r in runs(e, f"base{i}")]
    slow = [r for e in engines for r in runs(e, "slow", overrides={"sleep_s": 0.03})]
    return {"base": base, "again": [r for e in engines for r in runs(e, "again")],
            "slow": as_params_of(slow, base),
            "one": [r for r in base if r.run_id == "base0"]}


def write(tmp_path: Path, name: str, records: list[Record]) -> Path:
    path = tmp_path / f"{name}.jsonl"
    append_records(path, records)
    return path


def verdicts(result: Any, metric: str) -> dict[str, str]:
    return {r.key[1]: r.verdict for r in result.rows if r.metric == metric}


def test_the_run_to_run_bound_is_crossed_by_chance_about_once_in_a_hundred() -> None:
    rng = np.random.default_rng(7)
    trials, crossed = 4000, 0
    for _ in range(trials):
        medians = np.exp(rng.normal(0, 0.05, size=6))
        bound = run_to_run_bound(medians[:5], 1, 0.99)
        crossed += medians[5] / np.exp(np.mean(np.log(medians[:5]))) > bound
    assert 0.003 < crossed / trials < 0.02
    assert np.isnan(run_to_run_bound([1.0, 1.1], 1, 0.99))  # two runs cannot estimate it


def test_the_exact_test_needs_the_samples_min_samples_says() -> None:
    need = min_samples(0.002)
    assert need == 7
    low, high = list(range(need)), list(range(100, 100 + need))
    assert mann_whitney_p(low, high) < 0.002
    assert mann_whitney_p(low[:-1], high[:-1]) >= 0.002  # 6 a side cannot get there


def test_two_runs_of_the_same_code_compare_same(sides: dict[str, list[Record]]) -> None:
    result = compare(sides["base"], sides["again"])
    assert verdicts(result, "warm_wall") == {"pandas": "same", "dask-threads": "same"}
    assert result.exit_code == 0
    assert result.env == []
    assert all(r.verdict != "slower" for r in result.rows)


def test_a_run_that_sleeps_longer_is_slower_and_exits_1(
        sides: dict[str, list[Record]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base, slow = write(tmp_path, "base", sides["base"]), write(tmp_path, "slow", sides["slow"])
    assert main(["compare", str(base), str(slow), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "worse"
    warm = [r for r in out["rows"] if r["metric"] == "warm_wall"]
    assert {r["engine"]: r["verdict"] for r in warm} == {"pandas": "slower",
                                                          "dask-threads": "slower"}
    for row in warm:
        assert {"workload", "engine", "size", "n_workers", "threads_per_worker", "params",
                "metric", "baseline", "new", "ratio", "low", "high", "significant",
                "verdict"} <= row.keys()
        assert row["significant"] and 1.3 < row["low"] <= row["ratio"] <= row["high"] < 1.7
    # The table in pyperf's words, slowest first, and the exit code the same.
    assert main(["compare", str(base), str(slow)]) == 1
    table = capsys.readouterr().out
    assert "x slower" in table and "verdict: WORSE" in table


def test_too_few_repeats_are_unconfirmed_not_guessed(pandas_engine: Engine) -> None:
    base = runs(pandas_engine, "b", counted=2)
    slow = as_params_of(runs(pandas_engine, "s", counted=2, overrides={"sleep_s": 0.04}), base)
    result = compare(base, slow)
    (row,) = [r for r in result.rows if r.metric == "warm_wall"]
    assert row.verdict == "unconfirmed" and row.note == "n=2/2 a side: need 7"
    assert result.exit_code == 0
    assert any("fewer than 7 warm runs" in w for w in result.warnings)


def test_one_baseline_run_leaves_a_real_slowdown_unconfirmed(
        sides: dict[str, list[Record]]) -> None:
    """Repeats of one run cannot show how much two runs differ: significant, past the factor,
    and still not called until the baseline holds three runs."""
    result = compare(sides["one"], sides["slow"])
    warm = [r for r in result.rows if r.metric == "warm_wall"]
    assert {r.verdict for r in warm} == {"unconfirmed"}
    assert all("run-to-run noise unknown" in r.note for r in warm)
    assert result.exit_code == 0


def test_a_wrong_answer_after_a_right_one_is_failing_and_the_reverse_fixed(
        pandas_engine: Engine) -> None:
    ok = runs(pandas_engine, "ok", counted=1)
    wrong = runs(pandas_engine, "wrong", counted=1, expected=-1)
    assert {r.status for r in wrong} == {"mismatch"}
    failing = compare(ok, wrong)
    (status,) = [r for r in failing.rows if r.metric == "status"]
    assert (status.verdict, status.baseline, status.new) == ("failing", "ok", "mismatch")
    assert failing.exit_code == 1 and failing.verdict == "worse"
    fixed = compare(wrong, ok)
    assert [r.verdict for r in fixed.rows if r.metric == "status"] == ["fixed"]
    assert fixed.exit_code == 0


def test_unmatched_cells_are_new_and_gone(sides: dict[str, list[Record]]) -> None:
    pandas = [r for r in sides["base"] if r.engine == "pandas"]
    threads = [r for r in sides["base"] if r.engine == "dask-threads"]
    again = [r for r in sides["again"] if r.engine == "pandas"]
    result = compare(pandas + threads, again + [dataclasses.replace(r, workload="other")
                                                for r in sides["again"]
                                                if r.engine == "dask-threads"])
    presence = {(r.key[0], r.key[1]): r.verdict for r in result.rows if r.metric == "presence"}
    assert presence == {(WORKLOAD, "dask-threads"): "gone", ("other", "dask-threads"): "new"}


def test_the_environment_diff_names_each_field_and_warns_across_machines(
        sides: dict[str, list[Record]]) -> None:
    moved = [dataclasses.replace(r, env={**r.env, "dask": "2026.9.0"}) for r in sides["again"]]
    assert [c.text for c in compare(sides["base"], moved).env] == ["dask 2026.8.0 -> 2026.9.0"]
    other = [dataclasses.replace(r, env={**r.env, "cpu_model": "other cpu"})
             for r in sides["again"]]
    (warning,) = [w for w in compare(sides["base"], other).warnings if "MACHINES" in w]
    assert "cpu_model test cpu -> other cpu" in warning


def test_markdown_and_report_are_written(sides: dict[str, list[Record]], tmp_path: Path) -> None:
    base, slow = write(tmp_path, "base", sides["base"]), write(tmp_path, "slow", sides["slow"])
    md, out = tmp_path / "summary.md", tmp_path / "report"
    assert main(["compare", str(base), str(slow), "--md", str(md), "--out", str(out)]) == 1
    text = md.read_text()
    assert "## Changes" in text and "x slower" in text and ".png" not in text
    assert (out / "report.html").is_file() and (out / "compare-warm_wall.png").is_file()


def _bad(tmp_path: Path, case: str, good: Path) -> list[str]:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("no records here")
    future = tmp_path / "future.jsonl"
    future.write_text(json.dumps({**json.loads(good.read_text().splitlines()[0]),
                                  "schema_version": 99}) + "\n")
    other = tmp_path / "other.jsonl"
    other.write_text("".join(
        json.dumps({**json.loads(line), "workload": "csv-groupby", "run_id": "other"}) + "\n"
        for line in good.read_text().splitlines()))
    return {"missing": [str(tmp_path / "nope.jsonl"), str(good)],
            "empty": [str(empty), str(good)],
            "folder-without-records": [str(good), str(folder)],
            "other-schema-version": [str(good), str(future)],
            "no-cell-in-common": [str(good), str(other)],
            "factor-not-above-1": [str(good), str(good), "--factor", "1"]}[case]


@pytest.mark.parametrize("case", ["missing", "empty", "folder-without-records",
                                  "other-schema-version", "no-cell-in-common",
                                  "factor-not-above-1"])
def test_bad_input_is_one_line_and_exit_2(case: str, sides: dict[str, list[Record]],
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good", sides["base"])
    md = tmp_path / "summary.md"
    assert main(["compare", *_bad(tmp_path, case, good), "--md", str(md)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not md.exists()
    (line,) = captured.err.splitlines()
    assert line.startswith("harness: error: ")


def test_a_folder_side_reads_every_results_file(sides: dict[str, list[Record]],
                                                tmp_path: Path) -> None:
    folder = tmp_path / "nights"
    folder.mkdir()
    write(folder, "one", [r for r in sides["base"] if r.engine == "pandas"])
    write(folder, "two", [r for r in sides["base"] if r.engine == "dask-threads"])
    assert main(["compare", str(folder), str(write(tmp_path, "again", sides["again"]))]) == 0


def test_a_cell_the_engine_now_refuses_is_gone_not_fixed(sides: dict[str, list[Record]]) -> None:
    pandas = [r for r in sides["base"] if r.engine == "pandas" and r.run_id == "base0"]
    broken = [dataclasses.replace(r, status="error", error="boom", run_id="broken")
              for r in pandas]
    refused = [dataclasses.replace(r, status="unsupported", error="not on this engine",
                                   wall_s=None, run_id="refused") for r in pandas]
    for before, verdict in ((pandas, "gone"), (broken, "gone")):
        result = compare(before, refused)
        (row,) = [r for r in result.rows if r.metric == "status"]
        assert (row.verdict, row.new) == (verdict, "unsupported")
        assert result.verdict != "better"
    (row,) = [r for r in compare(refused, broken).rows if r.metric == "status"]
    assert row.verdict == "new"


def test_over_memory_after_ok_is_failing(sides: dict[str, list[Record]]) -> None:
    pandas = [r for r in sides["base"] if r.engine == "pandas" and r.run_id == "base0"]
    over = [dataclasses.replace(r, status="over-memory", run_id="over") for r in pandas]
    assert compare(pandas, over).exit_code == 1


def test_the_new_run_is_left_out_of_a_baseline_that_holds_it(
        sides: dict[str, list[Record]]) -> None:
    result = compare(sides["base"] + sides["again"], sides["again"])
    assert any("left out of the baseline" in w for w in result.warnings)
    assert result.baseline_runs == ["base0", "base1", "base2"]


def test_md_inside_out_is_refused_before_anything_is_written(
        sides: dict[str, list[Record]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path, "base", sides["base"])
    out = tmp_path / "report"
    assert main(["compare", str(base), str(base), "--out", str(out), "--md",
                 str(out / "summary.md")]) == 2
    assert not out.exists() and capsys.readouterr().out == ""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["compare", str(base), str(base), "--md", str(blocker / "x" / "s.md")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "not a writable directory" in line
