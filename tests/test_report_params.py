"""Report rows keyed by workload parameters: cells that differ only in params stay apart.

Built from fixed records: persist-reuse with persist = true and false (separate cells of one
run), csv-groupby with its default params (a workload whose params set nothing apart).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd
import pytest

from harness.fmt import fmt_seconds
from harness.judge.compare import compare
from harness.judge.words import params_needed
from harness.reporting.compare_report import ratio_figure
from harness.reporting.document import Heading, Report, Table
from harness.reporting.environment import repeats_text
from harness.reporting.run_report import build_report, problem_lines, speedup_grid
from harness.reporting.run_rows import normalize
from harness.reporting.summary import display_table, summarize, tidy
from harness.results.schema import Record
from harness.workloads.registry import get_workload

MiB = 2**20
SIZE = "tiny"
PERSIST = get_workload("persist-reuse")
GROUPBY = get_workload("csv-groupby")
# (workload, persist or None, engine) -> wall s of repeats 0, 1, 2 and the tree peak in MiB
WALLS: dict[tuple[str, bool | None, str], tuple[list[float], int]] = {
    ("persist-reuse", True, "pandas"): ([1.0, 0.8, 0.8], 300),
    ("persist-reuse", False, "pandas"): ([1.2, 1.0, 1.0], 310),
    ("persist-reuse", True, "dask-threads"): ([0.9, 0.4, 0.4], 900),
    ("persist-reuse", False, "dask-threads"): ([1.5, 1.25, 1.25], 500),
    ("csv-groupby", None, "pandas"): ([0.5, 0.3, 0.3], 200),
    ("csv-groupby", None, "dask-threads"): ([0.6, 0.2, 0.2], 400),
}


def params_of(workload: str, persist: bool | None) -> dict[str, Any]:
    """The params a run records: the size's defaults, persist set where given."""
    params = get_workload(workload).params(SIZE)
    return params if persist is None else {**params, "persist": persist}


def record(workload: str, persist: bool | None, engine: str, repeat: int,
           run_id: str = "run-1", **extra: Any) -> Record:
    walls, peak = WALLS[(workload, persist, engine)]
    fields: dict[str, Any] = dict(
        run_id=run_id, workload=workload, engine=engine, size=SIZE, status="ok",
        params=params_of(workload, persist), n_workers=1,
        threads_per_worker=2 if engine == "dask-threads" else 1, repeat=repeat,
        phase="cold" if repeat == 0 else "steady", wall_s=walls[repeat], startup_s=1e-5,
        cpu_s=walls[repeat], peak_tree_rss_bytes=peak * MiB, peak_tree_hwm_bytes=(peak + 10) * MiB,
        baseline_tree_rss_bytes=100 * MiB, peak_driver_rss_bytes=peak * MiB,
        timestamp=f"2025-01-01T00:0{repeat}:00+00:00")
    return Record(**(fields | extra))


def records(persists: tuple[bool, ...] = (True, False),
            engines: tuple[str, ...] = ("pandas", "dask-threads"),
            ref_persists: tuple[bool, ...] | None = None) -> list[Record]:
    """Both persist cells (the reference at `ref_persists`, by default the same), then
    csv-groupby at its defaults."""
    out = []
    for persist in persists:
        for engine in engines:
            if engine == "pandas" and ref_persists is not None and persist not in ref_persists:
                continue
            out += [record("persist-reuse", persist, engine, r) for r in range(3)]
    for engine in engines:
        out += [record("csv-groupby", None, engine, r) for r in range(3)]
    return out


def row(rows: pd.DataFrame, workload: str, engine: str, label: str | None = None) -> pd.Series:
    """The one summary row of the workload on the engine (with that params label, if given)."""
    hit = rows[(rows["workload"] == workload) & (rows["engine"] == engine)]
    if label is not None:
        hit = hit[hit["params_label"] == label]
    assert len(hit) == 1, rows[["workload", "engine"]]
    return hit.iloc[0]


# ---------------------------------------------------------------------------------------------
# summary rows


def test_two_persist_values_are_two_rows_with_their_own_numbers() -> None:
    rows = summarize(records())
    mine = rows[(rows["workload"] == "persist-reuse") & (rows["engine"] == "dask-threads")]
    assert len(mine) == 2
    kept = row(rows, "persist-reuse", "dask-threads", "persist=true")
    again = row(rows, "persist-reuse", "dask-threads", "persist=false")
    assert (kept["cold_s"], kept["warm_s"], kept["peak_tree_bytes"]) == (0.9, 0.4, 900 * MiB)
    assert (again["cold_s"], again["warm_s"], again["peak_tree_bytes"]) == (1.5, 1.25, 500 * MiB)
    assert kept["runs"] == again["runs"] == 3


def test_each_ratio_is_to_the_reference_of_the_same_params() -> None:
    rows = summarize(records())
    kept = row(rows, "persist-reuse", "dask-threads", "persist=true")
    again = row(rows, "persist-reuse", "dask-threads", "persist=false")
    assert kept["reference_s"] == 0.8 and kept["speedup"] == pytest.approx(2.0)
    assert again["reference_s"] == 1.0 and again["speedup"] == pytest.approx(0.8)


def test_a_tunable_the_reference_did_not_run_takes_the_reference_of_the_same_data() -> None:
    # persist changes how an engine runs the workload, not its data: pandas at persist=true
    # is the reference for both dask cells.
    rows = summarize(records(ref_persists=(True,)))
    again = row(rows, "persist-reuse", "dask-threads", "persist=false")
    assert again["reference_s"] == 0.8 and again["speedup"] == pytest.approx(0.64)


def test_no_ratio_to_a_reference_of_other_data() -> None:
    other = {**params_of("persist-reuse", True), "rows": 999}
    recs = [r for r in records() if not (r.workload == "persist-reuse" and r.engine == "pandas")]
    recs += [record("persist-reuse", True, "pandas", i, params=other) for i in range(3)]
    rows = summarize(recs)
    assert math.isnan(row(rows, "persist-reuse", "dask-threads", "persist=true")["speedup"])


def test_display_table_names_the_params_in_the_workload_column() -> None:
    table = display_table(summarize(records()))
    assert list(table["workload"]) == [
        "persist-reuse (persist=true)", "persist-reuse (persist=true)",
        "persist-reuse (persist=false)", "persist-reuse (persist=false)",
        "csv-groupby", "csv-groupby"]


def test_default_params_alone_are_not_named() -> None:
    rows = summarize(records(persists=(True,)))
    assert set(rows["params_label"]) == {""}
    assert set(display_table(rows)["workload"]) == {"persist-reuse", "csv-groupby"}


def test_params_other_than_the_defaults_are_named_even_alone() -> None:
    table = display_table(summarize(records(persists=(False,))))
    assert "persist-reuse (persist=false)" in set(table["workload"])


def test_a_workload_without_params_is_unchanged() -> None:
    mine = [r for r in records() if r.workload == "csv-groupby"]
    rows = summarize(mine)
    assert list(rows["engine"]) == ["pandas", "dask-threads"]
    assert list(display_table(rows)["workload"]) == ["csv-groupby", "csv-groupby"]
    dask = row(rows, "csv-groupby", "dask-threads")
    assert (dask["cold_s"], dask["warm_s"], dask["reference_s"]) == (0.6, 0.2, 0.3)
    # Beside persist-reuse's two cells, its rows are the same numbers under the same name.
    both = summarize(records())
    assert row(both, "csv-groupby", "dask-threads")["speedup"] == dask["speedup"]
    # As older tests and files hold them: no params at all.
    bare = summarize([dataclasses.replace(r, params={}) for r in mine])
    assert list(display_table(bare)["workload"]) == ["csv-groupby", "csv-groupby"]


def test_repeats_are_counted_per_cell() -> None:
    assert repeats_text(tidy(records())) == "1 cold + 2 steady (pandas, dask-threads)"


# ---------------------------------------------------------------------------------------------
# the run report


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(records(), graphs=())


def headings(report: Report, level: int) -> list[str]:
    return [b.text for b in report.blocks if isinstance(b, Heading) and b.level == level]


def tables_under(report: Report, title: str) -> list[pd.DataFrame]:
    """The tables under the level-2 heading `title`, up to the next one."""
    start = next(i for i, b in enumerate(report.blocks)
                 if isinstance(b, Heading) and b.text == title)
    out = []
    for block in report.blocks[start + 1:]:
        if isinstance(block, Heading) and block.level <= 2:
            break
        if isinstance(block, Table):
            out.append(block.frame)
    return out


def test_each_persist_value_has_its_own_section_and_figures(report: Report) -> None:
    titles = [h for h in headings(report, 3) if h.startswith("persist-reuse")]
    assert [t.split(":")[0] for t in titles] == ["persist-reuse (persist=false)",
                                                 "persist-reuse (persist=true)"]
    assert "csv-groupby" in [h.split(":")[0] for h in headings(report, 3)]
    names = set(report.images)
    assert {"persist-reuse-tiny-persist-false-wall.png", "persist-reuse-tiny-persist-true-wall.png",
            "csv-groupby-tiny-wall.png"} <= names


def test_summary_table_has_a_row_per_persist_value(report: Report) -> None:
    (table,) = tables_under(report, "Summary table")
    assert list(table["workload"]) == [
        "csv-groupby", "csv-groupby", "persist-reuse (persist=false)",
        "persist-reuse (persist=false)", "persist-reuse (persist=true)",
        "persist-reuse (persist=true)"]
    assert list(table["warm (median)"])[2:] == [fmt_seconds(s) for s in (1.0, 1.25, 0.8, 0.4)]


def test_overview_has_a_column_per_persist_value() -> None:
    grid, texts = speedup_grid(normalize(summarize(records())))
    assert list(grid.columns) == ["§3.2 csv-groupby", "§3.5 persist-reuse (persist=false)",
                                  "§3.5 persist-reuse (persist=true)"]
    assert grid.loc["dask-threads (1x2)", "§3.5 persist-reuse (persist=true)"] == pytest.approx(2)
    assert grid.loc["dask-threads (1x2)", "§3.5 persist-reuse (persist=false)"] == \
        pytest.approx(0.8)
    assert texts.loc["dask-threads (1x2)", "§3.5 persist-reuse (persist=false)"].startswith(
        "1.25x slower")


def test_problems_name_the_cell_of_the_failure() -> None:
    bad = record("persist-reuse", False, "dask-threads", 1, status="error", error="boom")
    lines = problem_lines([(bad, "persist=false")])
    assert lines == ["persist-reuse (persist=false) (tiny) on dask-threads (1x2): error, "
                     "repeat(s) 1: boom"]


# ---------------------------------------------------------------------------------------------
# harness compare: keyed by params already; its plot names them where they tell cells apart


def test_compare_plot_names_params_where_only_they_differ() -> None:
    base = records()
    new = [dataclasses.replace(r, run_id="run-2") for r in base]
    comparison = compare(base, new)
    fig = ratio_figure(comparison, "warm_wall")
    assert fig is not None
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    persist = [t for t in labels if t.startswith("persist-reuse")]
    assert len(persist) == len(set(persist)) == 4, labels
    assert all("persist=" in t for t in persist)
    assert {t for t in labels if t.startswith("csv-groupby")} == {
        "csv-groupby · pandas (1x1) · tiny", "csv-groupby · dask-threads (1x2) · tiny"}


def test_params_needed_only_for_keys_that_share_everything_else() -> None:
    a = ("w", "dask-threads", "tiny", 1, 2, '{"persist": true}')
    b = ("w", "dask-threads", "tiny", 1, 2, '{"persist": false}')
    c = ("w", "dask-threads", "small", 1, 2, '{"persist": true, "rows": 5}')
    assert params_needed([a, b, c]) == {a, b}
