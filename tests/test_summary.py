"""Summary rows from hand-built records: cold, warm, best, worst status, speedup, wording."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from harness.fmt import fmt_bytes, fmt_seconds, ratio_words
from harness.reporting.summary import display_table, summarize
from harness.results.schema import Record

NAN = float("nan")


def rec(workload: str, engine: str, repeat: int, wall: float | None, status: str = "ok",
        size: str = "tiny", workers: int = 1, threads: int = 1, **extra: Any) -> Record:
    """One record as a run would write it (failed runs carry an error)."""
    if status != "ok" and "error" not in extra:
        extra["error"] = f"{status} in repeat {repeat}"
    return Record(run_id="run-1", workload=workload, engine=engine, size=size, status=status,
                  repeat=repeat, wall_s=wall, n_workers=workers, threads_per_worker=threads,
                  **extra)


def row_of(rows: pd.DataFrame, engine: str, workload: str = "w", size: str = "tiny",
           ) -> pd.Series:
    """The one summary row of (workload, size, engine)."""
    hit = rows[(rows["engine"] == engine) & (rows["workload"] == workload)
               & (rows["size"] == size)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_cold_is_repeat_0_and_warm_is_median_of_the_rest() -> None:
    # Listed out of order on purpose: "cold" is repeat 0, not the first record seen.
    records = [rec("w", "pandas", 2, 4.0), rec("w", "pandas", 0, 3.0),
               rec("w", "pandas", 1, 2.0), rec("w", "pandas", 3, 1.0)]
    row = row_of(summarize(records), "pandas")
    assert row["cold_s"] == pytest.approx(3.0)
    assert row["warm_s"] == pytest.approx(2.0)  # median of 4.0, 2.0, 1.0
    assert row["best_s"] == pytest.approx(2.0)
    assert row["status"] == "ok"


def test_warm_median_of_an_even_number_of_repeats() -> None:
    records = [rec("w", "pandas", 0, 9.0), rec("w", "pandas", 1, 1.0),
               rec("w", "pandas", 2, 3.0)]
    row = row_of(summarize(records), "pandas")
    assert row["warm_s"] == pytest.approx(2.0)
    assert row["cold_s"] == pytest.approx(9.0)


def test_best_falls_back_to_cold_with_one_repeat() -> None:
    row = row_of(summarize([rec("w", "pandas", 0, 1.25)]), "pandas")
    assert math.isnan(row["warm_s"])
    assert row["cold_s"] == pytest.approx(1.25)
    assert row["best_s"] == pytest.approx(1.25)


# (statuses in the group, the status the row must show): error > timeout > over-memory >
# mismatch > unsupported > ok.
WORST = [
    (["ok", "ok", "ok"], "ok"),
    (["ok", "unsupported"], "unsupported"),
    (["unsupported", "mismatch", "ok"], "mismatch"),
    (["mismatch", "over-memory", "unsupported"], "over-memory"),
    (["over-memory", "ok", "timeout", "mismatch"], "timeout"),
    (["timeout", "error", "ok"], "error"),
    (["ok", "mismatch", "error", "unsupported", "over-memory", "timeout"], "error"),
]


@pytest.mark.parametrize(("statuses", "worst"), WORST,
                         ids=[f"{'-'.join(s)}->{w}" for s, w in WORST])
def test_status_is_the_worst_of_the_group(statuses: list[str], worst: str) -> None:
    records = [rec("w", "dask-threads", i, 1.0 if s in ("ok", "mismatch") else None, status=s)
               for i, s in enumerate(statuses)]
    assert row_of(summarize(records), "dask-threads")["status"] == worst


def test_failed_runs_are_not_counted_in_timings() -> None:
    # A mismatch has a wall time, but a wrong answer is never a timing.
    records = [rec("w", "dask-threads", 0, 50.0, status="mismatch"),
               rec("w", "dask-threads", 1, 2.0),
               rec("w", "dask-threads", 2, 40.0, status="mismatch"),
               rec("w", "dask-threads", 3, 4.0),
               rec("w", "dask-threads", 4, None, status="error")]
    row = row_of(summarize(records), "dask-threads")
    assert row["status"] == "error"
    assert math.isnan(row["cold_s"])  # repeat 0 failed: there is no cold time
    assert row["warm_s"] == pytest.approx(3.0)  # median of the ok 2.0 and 4.0 only
    assert row["best_s"] == pytest.approx(3.0)


def test_a_group_with_no_ok_run_has_no_times() -> None:
    records = [rec("w", "spark", 0, None, status="error"),
               rec("w", "spark", 1, None, status="timeout")]
    row = row_of(summarize(records), "spark")
    assert row["status"] == "error"
    assert math.isnan(row["cold_s"]) and math.isnan(row["warm_s"]) and math.isnan(row["best_s"])


def test_speedup_is_pandas_best_over_engine_best_for_same_workload_and_size() -> None:
    records = [
        rec("w", "pandas", 0, 3.0), rec("w", "pandas", 1, 2.0), rec("w", "pandas", 2, 2.0),
        rec("w", "dask-threads", 0, 1.0, threads=2), rec("w", "dask-threads", 1, 0.5, threads=2),
        rec("w", "dask-threads", 2, 0.5, threads=2),
        rec("w", "spark", 0, 9.0, workers=2), rec("w", "spark", 1, 4.0, workers=2),
        # Another workload with its own reference, and a size with no reference at all.
        rec("v", "pandas", 0, 1.0), rec("v", "dask-threads", 0, 2.0, threads=2),
        rec("w", "dask-threads", 0, 1.0, size="small", threads=2),
    ]
    rows = summarize(records)
    assert row_of(rows, "pandas")["speedup"] == pytest.approx(1.0)
    assert row_of(rows, "dask-threads")["speedup"] == pytest.approx(4.0)  # 2.0 / 0.5
    assert row_of(rows, "spark")["speedup"] == pytest.approx(0.5)  # 2.0 / 4.0
    assert row_of(rows, "dask-threads", workload="v")["speedup"] == pytest.approx(0.5)
    assert math.isnan(row_of(rows, "dask-threads", size="small")["speedup"])


def test_speedup_is_nan_when_the_reference_failed() -> None:
    records = [rec("w", "pandas", 0, None, status="error"), rec("w", "dask-sync", 0, 1.0)]
    assert math.isnan(row_of(summarize(records), "dask-sync")["speedup"])


def test_each_configuration_is_its_own_row() -> None:
    records = [rec("w", "dask-distributed", 0, 1.0, workers=1),
               rec("w", "dask-distributed", 0, 2.0, workers=2)]
    rows = summarize(records)
    assert sorted(rows["n_workers"]) == [1, 2]
    assert sorted(rows["best_s"]) == [1.0, 2.0]


def test_summarize_of_no_records_is_empty() -> None:
    assert summarize([]).empty


@pytest.mark.parametrize(("speedup", "words"), [
    (2.0, "2.00x faster"),
    (1 / 1.5, "1.50x slower"),
    (1.0, "same"),
    (1.004, "same"),
    (0.996, "same"),
    (1.02, "1.02x faster"),
    (0.25, "4.00x slower"),
    (NAN, ""),
    (0.0, ""),
    (-1.0, ""),
])
def test_ratio_words(speedup: float, words: str) -> None:
    assert ratio_words(speedup) == words


@pytest.mark.parametrize(("seconds", "text"), [
    (1.5, "1.500 s"),
    (0.25, "0.250 s"),
    (12.34, "12.3 s"),
    (0.005, "5.00 ms"),
    (0.0005, "500 µs"),
    (NAN, ""),
])
def test_fmt_seconds(seconds: float, text: str) -> None:
    assert fmt_seconds(seconds) == text


@pytest.mark.parametrize(("value", "text"), [
    (512, "512 B"),
    (2048, "2.0 KiB"),
    (3 * 2**20, "3.0 MiB"),
    (1.5 * 2**30, "1.5 GiB"),
    (NAN, ""),
])
def test_fmt_bytes(value: float, text: str) -> None:
    assert fmt_bytes(value) == text


DISPLAY_COLUMNS = ["workload", "engine", "workers x threads", "status", "cold", "warm (median)",
                   "vs pandas", "start-up", "peak tree mem", "driver peak", "tasks"]


def test_display_table_columns_and_formatting() -> None:
    records = [
        rec("w", "pandas", 0, 2.0, startup_s=1e-6, peak_tree_rss_bytes=2 * 2**20,
            peak_driver_rss_bytes=2 * 2**20),
        rec("w", "pandas", 1, 2.0, startup_s=1e-6),
        rec("w", "dask-processes", 0, 3.0, workers=2, startup_s=0.75, n_tasks=9,
            peak_tree_rss_bytes=3 * 2**30, peak_driver_rss_bytes=2**30),
        rec("w", "dask-processes", 1, 1.0, workers=2, startup_s=0.75, n_tasks=9),
    ]
    table = display_table(summarize(records))
    assert list(table.columns) == DISPLAY_COLUMNS
    by_engine = table.set_index("engine")
    procs = by_engine.loc["dask-processes"]
    assert procs["workload"] == "w"
    assert procs["workers x threads"] == "2x1"
    assert procs["status"] == "ok"
    assert procs["cold"] == "3.000 s"
    assert procs["warm (median)"] == "1.000 s"
    assert procs["vs pandas"] == "2.00x faster"
    assert procs["start-up"] == "0.750 s"
    assert procs["peak tree mem"] == "3.0 GiB"
    assert procs["driver peak"] == "1.0 GiB"
    assert procs["tasks"] == "9"
    ref = by_engine.loc["pandas"]
    assert ref["workers x threads"] == "1x1"
    assert ref["vs pandas"] == "same"
    assert ref["tasks"] == ""


def test_display_table_of_a_failed_row_is_blank_not_nan() -> None:
    table = display_table(summarize([rec("w", "spark", 0, None, status="timeout")]))
    row = table.iloc[0]
    assert row["status"] == "timeout"
    for col in ("cold", "warm (median)", "vs pandas", "peak tree mem", "tasks"):
        assert row[col] == "", col


def test_warm_up_runs_are_recorded_but_not_counted_as_warm() -> None:
    """A JVM's warm-up runs (still getting faster) stay out of the warm median."""
    walls = [9.0, 4.0, 3.0, 2.0, 1.0, 1.1, 0.9]  # cold, 3 warm-ups, 3 steady
    records = [rec("w", "spark", i, t, phase="cold" if i == 0 else
                   "warmup" if i <= 3 else "steady", warmup={"runs": 3, "rule": "test"})
               for i, t in enumerate(walls)]
    row = row_of(summarize(records), "spark")
    assert row["cold_s"] == pytest.approx(9.0)
    assert row["warm_s"] == pytest.approx(1.0)  # median of the steady 1.0, 1.1, 0.9
    assert row["warmup_runs"] == 3
    assert row["runs"] == 7
