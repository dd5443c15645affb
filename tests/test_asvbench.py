"""The asv support layer: checked cells, asv's skips, sweep points and the suite's measures.

No Spark and no LocalCluster here: cells run on pandas, the suite's measures come from
hand-built records.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from harness import asvbench
from harness.catalogue import catalogue
from harness.results.schema import Record
from harness.sweep.spec import load_sweep
from harness.workloads.registry import get_workload


@pytest.fixture(autouse=True)
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_ASV_SIZE", "tiny")


def sleep_answer() -> int:
    """delayed-sleep's answer at tiny, worked out here: the sum of i*i over its tasks."""
    n = get_workload("delayed-sleep").params("tiny")["n_tasks"]
    return sum(i * i for i in range(n))


def test_cell_runs_checked_and_gives_the_right_answer() -> None:
    cell = asvbench.cell("delayed-sleep", "pandas")
    assert cell.run_checked() == sleep_answer()
    assert cell.size == "tiny"


def test_cell_measure_is_an_ok_record() -> None:
    record = asvbench.cell("delayed-sleep", "pandas").measure()
    assert isinstance(record, Record)
    assert record.status == "ok"
    assert (record.workload, record.engine, record.size) == ("delayed-sleep", "pandas", "tiny")
    assert record.wall_s is not None and record.wall_s > 0
    assert record.check.get("ok") is True


def test_a_wrong_expected_answer_fails_the_benchmark() -> None:
    good = asvbench.cell("delayed-sleep", "pandas")
    wrong = dataclasses.replace(good, expected=good.expected + 1)
    with pytest.raises(AssertionError):
        wrong.run_checked()
    with pytest.raises(AssertionError):
        wrong.measure()


def test_size_comes_from_harness_asv_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert asvbench.asv_size() == "tiny"
    monkeypatch.setenv("HARNESS_ASV_SIZE", "enormous")
    with pytest.raises(ValueError, match="enormous"):
        asvbench.asv_size()


def test_skip_unless_runnable_passes_a_runnable_pair() -> None:
    asvbench.skip_unless_runnable("delayed-sleep", "pandas")  # no exception


def test_skip_unless_runnable_skips_an_unsupported_pair() -> None:
    reason = catalogue()["workloads"]["ml-random-forest"]["unsupported"]["dask-threads"]
    with pytest.raises(NotImplementedError) as exc:
        asvbench.skip_unless_runnable("ml-random-forest", "dask-threads")
    assert str(exc.value) == reason


def test_skip_unless_runnable_skips_an_engine_this_machine_lacks(no_java: None) -> None:
    with pytest.raises(NotImplementedError, match=r"(?i)java"):
        asvbench.skip_unless_runnable("delayed-sleep", "spark")
    asvbench.skip_unless_runnable("delayed-sleep", "pandas")  # others still run
    with pytest.raises(NotImplementedError, match=r"(?i)java"):
        asvbench.skip_unless_available("spark")


def test_cell_of_an_unsupported_pair_is_skipped() -> None:
    with pytest.raises(NotImplementedError):
        asvbench.cell("ml-random-forest", "dask-sync")


def axis_values(sweep: str, workload: str, axis: str) -> list[Any]:
    (study,) = [s for s in load_sweep(sweep).studies if s.workload == workload]
    return list(study.axes[axis])


def test_sweep_axis_of_a_layout_axis_gives_both_ends_and_the_middle() -> None:
    values = axis_values("array-chunks", "array-stats", "chunks")
    assert len(values) > 3
    picks = asvbench.sweep_axis("array-chunks", "array-stats", "chunks")
    assert all(isinstance(p, str) for p in picks)
    decoded = [json.loads(p) for p in picks]
    assert len(decoded) == 3
    assert decoded[0] == values[0]
    assert decoded[-1] == values[-1]
    middle = values.index(decoded[1])
    assert middle in (len(values) // 2 - 1, len(values) // 2)  # an even count has two middles


def test_sweep_axis_of_an_engine_axis_gives_the_small_end_and_the_middle() -> None:
    values = axis_values("workers-threads", "delayed-sleep", "n_workers")
    assert len(values) == 3
    picks = asvbench.sweep_axis("workers-threads", "delayed-sleep", "n_workers")
    assert all(isinstance(p, str) for p in picks)
    assert [json.loads(p) for p in picks] == [values[0], values[1]]


# ---------------------------------------------------------------------------------------------
# The suite's measures, from hand-built records

MiB = 2**20


def rec(workload: str, engine: str, repeat: int, status: str = "ok", **extra: Any) -> Record:
    fields: dict[str, Any] = dict(
        run_id="r", workload=workload, engine=engine, size="tiny", status=status, repeat=repeat,
        wall_s=0.1 if status == "ok" else None, startup_s=0.25,
        error=None if status == "ok" else f"{status}!")
    return Record(**(fields | extra))


def suite_records() -> list[Record]:
    return [
        rec("delayed-sleep", "pandas", 0, peak_tree_rss_bytes=100 * MiB,
            peak_tree_hwm_bytes=150 * MiB, peak_driver_rss_bytes=50 * MiB, startup_s=2e-6),
        rec("delayed-sleep", "pandas", 1, peak_tree_rss_bytes=200 * MiB,
            peak_tree_hwm_bytes=120 * MiB, peak_driver_rss_bytes=80 * MiB, startup_s=2e-6),
        rec("delayed-sleep", "dask-threads", 0, peak_tree_rss_bytes=300 * MiB,
            peak_tree_hwm_bytes=310 * MiB, peak_driver_rss_bytes=300 * MiB),
        rec("delayed-sleep", "dask-threads", 1, status="error"),
        rec("custom-graph", "spark", 0, status="unsupported"),
        rec("custom-graph", "spark", 1, status="unsupported"),
    ]


def test_suite_value_gives_the_max_peaks_of_ok_records() -> None:
    cache = asvbench._suite_measures(suite_records())
    value = lambda name: asvbench.suite_value(cache, "delayed-sleep", "pandas", name)  # noqa: E731
    assert value("peak_tree_rss_bytes") == 200 * MiB
    assert value("peak_tree_hwm_bytes") == 150 * MiB
    assert value("peak_driver_rss_bytes") == 80 * MiB
    assert value("startup_s") == pytest.approx(2e-6)
    assert isinstance(value("peak_tree_rss_bytes"), float)


def test_suite_value_fails_a_pair_that_did_not_finish_ok() -> None:
    cache = asvbench._suite_measures(suite_records())
    with pytest.raises(AssertionError):
        asvbench.suite_value(cache, "delayed-sleep", "dask-threads", "peak_tree_rss_bytes")


def test_suite_value_fails_a_pair_that_never_ran() -> None:
    cache = asvbench._suite_measures(suite_records())
    with pytest.raises(AssertionError):
        asvbench.suite_value(cache, "delayed-sleep", "dask-sync", "peak_tree_rss_bytes")


def test_suite_value_skips_an_unsupported_pair() -> None:
    cache = asvbench._suite_measures(suite_records())
    with pytest.raises(NotImplementedError):
        asvbench.suite_value(cache, "custom-graph", "spark", "peak_tree_rss_bytes")


def test_suite_value_fails_a_pair_whose_first_run_failed() -> None:
    records = [rec("delayed-sleep", "dask-sync", 0, status="mismatch", wall_s=0.1,
                   peak_tree_rss_bytes=90 * MiB),
               rec("delayed-sleep", "dask-sync", 1, peak_tree_rss_bytes=100 * MiB)]
    cache = asvbench._suite_measures(records)
    with pytest.raises(AssertionError):
        asvbench.suite_value(cache, "delayed-sleep", "dask-sync", "peak_tree_rss_bytes")


def test_suite_value_does_not_report_an_unmeasured_peak_as_zero() -> None:
    records = [rec("delayed-sleep", "dask-sync", r, peak_tree_rss_bytes=100 * MiB,
                   peak_tree_hwm_bytes=None, peak_driver_rss_bytes=60 * MiB) for r in range(2)]
    cache = asvbench._suite_measures(records)
    assert asvbench.suite_value(cache, "delayed-sleep", "dask-sync",
                                "peak_tree_rss_bytes") == 100 * MiB  # measured: reported
    with pytest.raises((AssertionError, NotImplementedError)):
        asvbench.suite_value(cache, "delayed-sleep", "dask-sync", "peak_tree_hwm_bytes")


def test_startup_from_suite() -> None:
    cache = asvbench._suite_measures(suite_records())
    assert asvbench.startup_from_suite(cache, "pandas") == pytest.approx(2e-6)
    # dask-threads' only workload failed, dask-sync ran nothing: no start-up to report.
    with pytest.raises(AssertionError):
        asvbench.startup_from_suite(cache, "dask-threads")
    with pytest.raises(AssertionError):
        asvbench.startup_from_suite(cache, "dask-sync")


def test_startup_from_suite_skips_an_engine_this_machine_lacks(no_java: None) -> None:
    cache = asvbench._suite_measures([rec("delayed-sleep", "spark", 0, startup_s=5.0)])
    with pytest.raises(NotImplementedError, match=r"(?i)java"):
        asvbench.startup_from_suite(cache, "spark")
