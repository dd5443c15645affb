"""The asv support layer: one harness run per benchmark class, looked up per combination.

Most tests build records by hand. The end-to-end ones (marked slow) run real harness sessions
at tiny on in-process Dask schedulers only: a few seconds each, no Spark, no LocalCluster.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from benchmarks import sweeps as asv_sweeps
from benchmarks import workloads as asv_workloads
from harness import asvbench
from harness.catalogue import catalogue
from harness.engines.base import Engine, EngineOptions
from harness.results.schema import Record
from harness.sweep.spec import load_sweep
from harness.workloads.registry import get_workload

VARIABLES = ("HARNESS_ASV_WORKLOADS", "HARNESS_ASV_ENGINES", "HARNESS_ASV_TIME")


@pytest.fixture(autouse=True)
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Size tiny, and none of a developer's HARNESS_ASV_* choices leaking into a test."""
    monkeypatch.setenv("HARNESS_ASV_SIZE", "tiny")
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_size_comes_from_harness_asv_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert asvbench.asv_size() == "tiny"
    monkeypatch.setenv("HARNESS_ASV_SIZE", "enormous")
    with pytest.raises(ValueError, match="enormous"):
        asvbench.asv_size()


# ---------------------------------------------------------------------------------------------
# What a harness run becomes, from hand-built records

MiB = 2**20
SPARK = ("csv-groupby", "spark")


def rec(workload: str, engine: str, repeat: int, status: str = "ok", **extra: Any) -> Record:
    fields: dict[str, Any] = dict(
        run_id="r", workload=workload, engine=engine, size="tiny", status=status, repeat=repeat,
        wall_s=0.1 if status == "ok" else None, startup_s=0.25,
        error=None if status == "ok" else f"{status}!")
    return Record(**(fields | extra))


def measured(*records: Record) -> asvbench.Measured:
    """What collect makes of records keyed the way the suite keys them."""
    return asvbench.collect("tiny", [((r.workload, r.engine), r) for r in records])


def spark_runs() -> list[Record]:
    """A cold run, two warm-ups and three steady runs, each slower phase far from the rest."""
    walls = [("cold", 9.0), ("warmup", 5.0), ("warmup", 4.0), ("steady", 1.0), ("steady", 3.0),
             ("steady", 2.0)]
    return [rec(*SPARK, repeat, phase=phase, wall_s=wall, startup_s=12.0,
                peak_tree_rss_bytes=(100 + repeat) * MiB)
            for repeat, (phase, wall) in enumerate(walls)]


def test_warm_wall_is_the_median_of_the_steady_runs_only() -> None:
    cache = measured(*spark_runs())
    # Counting the cold run would give 2.5, the warm-ups 3.0, both 3.5.
    assert asvbench.measured_value(cache, SPARK, "warm_wall_s") == 2.0
    assert asvbench.measured_value(cache, SPARK, "startup_s") == 12.0


def test_peaks_are_the_largest_over_every_ok_run() -> None:
    cache = measured(
        rec("delayed-sleep", "pandas", 0, peak_tree_rss_bytes=100 * MiB,
            peak_tree_hwm_bytes=150 * MiB, peak_driver_rss_bytes=50 * MiB),
        rec("delayed-sleep", "pandas", 1, peak_tree_rss_bytes=200 * MiB,
            peak_tree_hwm_bytes=120 * MiB, peak_driver_rss_bytes=80 * MiB))
    value = lambda name: asvbench.measured_value(cache, ("delayed-sleep", "pandas"), name)  # noqa: E731
    assert value("peak_tree_rss_bytes") == 200 * MiB
    assert value("peak_tree_hwm_bytes") == 150 * MiB
    assert value("peak_driver_rss_bytes") == 80 * MiB
    assert isinstance(value("peak_tree_rss_bytes"), float)


@pytest.mark.parametrize("statuses", [("ok", "error"), ("mismatch", "ok"), ("timeout",)])
def test_a_pair_with_any_run_not_ok_fails_and_is_not_skipped(statuses: tuple[str, ...]) -> None:
    key = ("delayed-sleep", "dask-sync")
    cache = measured(*(rec(*key, r, status) for r, status in enumerate(statuses)))
    asvbench.skip_unmeasured(cache, key)  # a failure must show as one, not as a skip
    bad = next(s for s in statuses if s != "ok")
    with pytest.raises(AssertionError, match=f"{bad}: {bad}!"):
        asvbench.measured_value(cache, key, "warm_wall_s")


def test_an_unsupported_pair_is_skipped_with_the_harness_reason() -> None:
    key = ("custom-graph", "spark")
    cache = measured(*(rec(*key, r, "unsupported", error="no Spark body") for r in range(2)))
    with pytest.raises(NotImplementedError, match="no Spark body"):
        asvbench.skip_unmeasured(cache, key)


def test_a_pair_the_run_never_measured_fails() -> None:
    cache = measured(rec("delayed-sleep", "pandas", 0), rec("delayed-sleep", "pandas", 1))
    asvbench.skip_unmeasured(cache, ("delayed-sleep", "dask-sync"))  # not a skip either
    with pytest.raises(AssertionError, match="not among"):
        asvbench.measured_value(cache, ("delayed-sleep", "dask-sync"), "warm_wall_s")


def test_an_unmeasured_peak_or_a_cold_only_pair_is_not_reported_as_zero() -> None:
    key = ("delayed-sleep", "dask-sync")
    cache = measured(rec(*key, 0, peak_tree_rss_bytes=100 * MiB, peak_tree_hwm_bytes=None))
    assert asvbench.measured_value(cache, key, "peak_tree_rss_bytes") == 100 * MiB
    with pytest.raises(AssertionError, match="peak_tree_hwm_bytes"):
        asvbench.measured_value(cache, key, "peak_tree_hwm_bytes")
    with pytest.raises(AssertionError, match="warm_wall_s"):  # the cold run is no warm time
        asvbench.measured_value(cache, key, "warm_wall_s")


def test_startup_comes_from_the_engines_first_ok_workload() -> None:
    cache = measured(rec("delayed-sleep", "pandas", 0, startup_s=2e-6),
                     rec("csv-groupby", "pandas", 0, startup_s=5.0),
                     rec("delayed-sleep", "dask-threads", 0, status="error"))
    assert asvbench.startup_value(cache, "pandas") == pytest.approx(2e-6)
    # dask-threads ran and failed, dask-sync never ran: neither is skipped, both fail.
    for engine in ("dask-threads", "dask-sync"):
        asvbench.skip_engine_unmeasured(cache, engine)
        with pytest.raises(AssertionError, match=engine):
            asvbench.startup_value(cache, engine)


def test_an_engine_left_out_entirely_is_skipped() -> None:
    cache = measured(rec("delayed-sleep", "pandas", 0))
    cache.skipped.update({(w, "spark"): "no Java" for w in ("delayed-sleep", "csv-groupby")})
    with pytest.raises(NotImplementedError, match="no Java"):
        asvbench.skip_engine_unmeasured(cache, "spark")
    asvbench.skip_engine_unmeasured(cache, "pandas")


def test_measured_survives_pickling() -> None:
    """asv pickles setup_cache's result for every combination's process."""
    cache = measured(*spark_runs(), rec("delayed-sleep", "pandas", 0, status="error"))
    cache.skipped[("custom-graph", "spark")] = "no Spark body"
    again = pickle.loads(pickle.dumps(cache))
    assert again == cache
    assert asvbench.measured_value(again, SPARK, "warm_wall_s") == 2.0


# ---------------------------------------------------------------------------------------------
# What an asv run chooses to measure


def test_every_available_pair_runs_by_default() -> None:
    names = asvbench.WORKLOAD_NAMES, ["pandas", "dask-threads"]
    workloads, engines, left_out = asvbench.chosen_grid(*names)
    assert (workloads, engines, left_out) == (asvbench.WORKLOAD_NAMES, names[1], {})


def test_an_engine_this_machine_cannot_start_is_left_out(no_java: None) -> None:
    workloads, engines, left_out = asvbench.chosen_grid(["csv-groupby", "frame-mean"],
                                                        ["pandas", "spark"])
    assert (workloads, engines) == (["csv-groupby", "frame-mean"], ["pandas"])
    assert set(left_out) == {("csv-groupby", "spark"), ("frame-mean", "spark")}
    assert all("java" in reason.lower() for reason in left_out.values())


def test_the_variables_narrow_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_ASV_WORKLOADS", "csv-groupby")
    monkeypatch.setenv("HARNESS_ASV_ENGINES", " spark, pandas ")
    workloads, engines, left_out = asvbench.chosen_grid(
        ["frame-mean", "csv-groupby"], ["pandas", "dask-threads", "spark"])
    assert workloads == ["csv-groupby"]
    assert "dask-threads" not in engines and "pandas" in engines
    assert ("csv-groupby", "pandas") not in left_out
    assert "HARNESS_ASV_WORKLOADS" in left_out[("frame-mean", "pandas")]
    assert "HARNESS_ASV_ENGINES" in left_out[("csv-groupby", "dask-threads")]
    assert len(left_out) == 6 - len(engines)  # only csv-groupby on the chosen engines runs


@pytest.mark.parametrize("variable", ["HARNESS_ASV_WORKLOADS", "HARNESS_ASV_ENGINES"])
def test_an_unknown_name_in_a_variable_is_an_error(monkeypatch: pytest.MonkeyPatch,
                                                   variable: str) -> None:
    monkeypatch.setenv(variable, "csv-groupby,dask-threads,nonesuch")
    with pytest.raises(ValueError, match="nonesuch"):
        asvbench.chosen_grid(["csv-groupby"], ["dask-threads"])


def test_measure_sweep_needs_workload_and_engine_first() -> None:
    with pytest.raises(ValueError, match="workload, engine"):
        asvbench.measure_sweep((["dask-threads"], ["csv-groupby"]), ("engine", "workload"))


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
# The thin asv layer in benchmarks/

SUITE_CLASSES = (asv_workloads.Compute, asv_workloads.TreeMemory, asv_workloads.Startup)
SWEEP_CLASSES = (asv_sweeps.WorkersThreads, asv_sweeps.ArrayChunks, asv_sweeps.FramePartitions,
                 asv_sweeps.DataScaling)


def test_the_suite_shares_one_setup_cache_and_each_sweep_has_its_own() -> None:
    """asv runs setup_cache once per key (module and line), so the keys decide how often the
    harness runs: once for the three suite classes, once per sweep class."""
    base = pytest.importorskip("asv_runner.benchmarks._base")
    suite = {base.get_setup_cache_key(c.setup_cache) for c in SUITE_CLASSES}
    sweeps = [base.get_setup_cache_key(c.setup_cache) for c in SWEEP_CLASSES]
    assert len(suite) == 1
    assert len(set(sweeps)) == len(SWEEP_CLASSES)
    assert suite.isdisjoint(sweeps)


def test_asv_finds_every_benchmark_and_accepts_its_signatures() -> None:
    discovery = pytest.importorskip("asv_runner.discovery")
    root = str(Path(asv_workloads.__file__).parent)
    found = {b.name: b for b in discovery.disc_benchmarks(root)}
    expected = {f"workloads.{c.__name__}.{m}" for c in SUITE_CLASSES for m in dir(c)
                if m.startswith("track_")}
    expected |= {f"sweeps.{c.__name__}.track_warm_wall" for c in SWEEP_CLASSES}
    assert expected <= set(found)
    assert len(expected) == 9
    assert all(found[name].check(root) for name in expected)  # argument counts asv will use


def test_asv_forks_each_combination_from_one_import() -> None:
    """About 600 combinations, each in a fresh interpreter importing the harness (~1 s here),
    would spend some 10 minutes on imports alone: asv's forkserver imports once."""
    conf = json.loads((Path(__file__).parents[1] / "asv.conf.json").read_text())
    assert conf["launch_method"] == "forkserver"


def test_the_suite_classes_cover_every_workload_on_every_engine() -> None:
    for cls in (asv_workloads.Compute, asv_workloads.TreeMemory):
        assert cls.params == (asvbench.WORKLOAD_NAMES, asvbench.ENGINE_NAMES)
    assert asv_workloads.Startup.params == asvbench.ENGINE_NAMES


@pytest.mark.parametrize("cls", SWEEP_CLASSES, ids=lambda c: c.__name__)
def test_every_sweep_class_is_workload_engine_then_its_axes(cls: type) -> None:
    assert tuple(cls.param_names[:2]) == ("workload", "engine")
    assert len(cls.params) == len(cls.param_names) > 2
    for values in cls.params[2:]:  # axis values as sweep_axis gives them: JSON strings
        assert values and all(isinstance(json.loads(v), int | list) for v in values)


def lookup_cache() -> asvbench.Measured:
    cache = measured(*spark_runs(), rec("frame-mean", "pandas", 0, startup_s=0.5,
                                        peak_tree_rss_bytes=7 * MiB))
    cache.skipped[("custom-graph", "spark")] = "no Spark body"
    point = ("csv-groupby", "dask-threads", "1", "2")
    cache.values[point] = dataclasses.replace(cache.values[SPARK], warm_wall_s=0.5)
    return cache


def test_the_benchmark_methods_look_their_combination_up() -> None:
    cache = lookup_cache()
    compute, memory, startup = (cls() for cls in SUITE_CLASSES)
    assert compute.track_warm_wall(cache, *SPARK) == 2.0
    assert memory.track_peak_tree_rss(cache, "frame-mean", "pandas") == 7 * MiB
    assert startup.track_startup(cache, "pandas") == 0.5
    with pytest.raises(NotImplementedError, match="no Spark body"):
        compute.setup(cache, "custom-graph", "spark")
    with pytest.raises(AssertionError):
        memory.track_peak_tree_hwm(cache, "frame-mean", "pandas")  # not measured
    workers = asv_sweeps.WorkersThreads()
    workers.setup(cache, "csv-groupby", "dask-threads", "1", "2")
    assert workers.track_warm_wall(cache, "csv-groupby", "dask-threads", "1", "2") == 0.5
    with pytest.raises(AssertionError):
        workers.track_warm_wall(cache, "csv-groupby", "dask-threads", "2", "1")


# ---------------------------------------------------------------------------------------------
# End to end: real harness sessions at tiny


def sleep_params() -> dict[str, Any]:
    return get_workload("delayed-sleep").params("tiny")


def ideal_sleep_s(slots: int) -> float:
    """The least time delayed-sleep can take on `slots` parallel slots: rounds of sleeps."""
    p = sleep_params()
    return math.ceil(p["n_tasks"] / slots) * p["sleep_s"]


@pytest.mark.slow
def test_measure_suite_runs_the_chosen_pairs_through_the_harness(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_ASV_WORKLOADS", "delayed-sleep,ml-random-forest")
    monkeypatch.setenv("HARNESS_ASV_ENGINES", "dask-threads")

    cache = asvbench.measure_suite()

    key = ("delayed-sleep", "dask-threads")
    assert cache.failed == {}
    assert set(cache.values) == {key}
    m = cache.values[key]
    assert m.warm_wall_s is not None and m.warm_wall_s >= ideal_sleep_s(m.threads_per_worker)
    assert asvbench.startup_value(cache, "dask-threads") == m.startup_s
    reason = catalogue()["workloads"]["ml-random-forest"]["unsupported"]["dask-threads"]
    with pytest.raises(NotImplementedError) as exc:
        asvbench.skip_unmeasured(cache, ("ml-random-forest", "dask-threads"))
    assert str(exc.value) == reason
    with pytest.raises(NotImplementedError, match="HARNESS_ASV_WORKLOADS"):
        asvbench.skip_unmeasured(cache, ("csv-groupby", "dask-threads"))
    with pytest.raises(NotImplementedError, match="HARNESS_ASV_ENGINES"):
        asvbench.skip_engine_unmeasured(cache, "spark")
    # Every combination of the catalogue is accounted for, each exactly once.
    pairs = set(itertools.product(asvbench.WORKLOAD_NAMES, asvbench.ENGINE_NAMES))
    assert set(cache.values) | set(cache.skipped) == pairs
    assert list(Path(os.environ["HARNESS_RESULTS_DIR"]).glob("asv-*.jsonl"))  # records kept


@pytest.mark.slow
def test_measure_sweep_gives_each_point_its_engine_options() -> None:
    params = (["delayed-sleep", "noop"], ["dask-threads"], ["1", "2"])

    cache = asvbench.measure_sweep(params, ("workload", "engine", "threads_per_worker"))

    assert (cache.failed, cache.skipped) == ({}, {})
    assert set(cache.values) == set(itertools.product(*params))
    for threads in (1, 2):
        m = cache.values[("delayed-sleep", "dask-threads", str(threads))]
        assert (m.n_workers, m.threads_per_worker) == (1, threads)
        assert m.warm_wall_s is not None and m.warm_wall_s >= ideal_sleep_s(threads)


@pytest.mark.slow
def test_measure_sweep_applies_a_layout_axis_to_the_workload() -> None:
    key = ("csv-groupby", "dask-threads", "3")

    cache = asvbench.measure_sweep(([key[0]], [key[1]], [key[2]]),
                                   ("workload", "engine", "npartitions"))

    assert cache.failed == {}
    assert cache.values[key].params["npartitions"] == 3
    assert asvbench.measured_value(cache, key, "warm_wall_s") > 0


# ---------------------------------------------------------------------------------------------
# Opt-in: asv's own timer around one cell


def test_cell_timing_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not asvbench.cell_timing_enabled()
    monkeypatch.setenv("HARNESS_ASV_TIME", "0")
    assert not asvbench.cell_timing_enabled()
    monkeypatch.setenv("HARNESS_ASV_TIME", "1")
    assert asvbench.cell_timing_enabled()


@pytest.fixture
def pandas_cell(monkeypatch: pytest.MonkeyPatch, pandas_engine: Engine) -> asvbench.Cell:
    """delayed-sleep on the test session's pandas engine, not one more started for asvbench."""
    monkeypatch.setitem(asvbench._engines, ("pandas", EngineOptions()), pandas_engine)
    monkeypatch.setattr(asvbench, "_cells", {})
    return asvbench.cell("delayed-sleep", "pandas")


def test_cell_runs_checked_and_gives_the_right_answer(pandas_cell: asvbench.Cell) -> None:
    n = sleep_params()["n_tasks"]
    assert pandas_cell.run_checked() == sum(i * i for i in range(n))
    assert pandas_cell.size == "tiny"
    assert asvbench.cell("delayed-sleep", "pandas") is pandas_cell  # once per process


def test_a_wrong_expected_answer_fails_the_benchmark(pandas_cell: asvbench.Cell) -> None:
    wrong = dataclasses.replace(pandas_cell, expected=pandas_cell.expected + 1)
    with pytest.raises(AssertionError):
        wrong.run_checked()


def test_skip_unless_runnable_skips_an_unsupported_pair() -> None:
    asvbench.skip_unless_runnable("delayed-sleep", "pandas")  # no exception
    reason = catalogue()["workloads"]["ml-random-forest"]["unsupported"]["dask-threads"]
    with pytest.raises(NotImplementedError) as exc:
        asvbench.skip_unless_runnable("ml-random-forest", "dask-threads")
    assert str(exc.value) == reason
    with pytest.raises(NotImplementedError):
        asvbench.cell("ml-random-forest", "dask-sync")


def test_skip_unless_runnable_skips_an_engine_this_machine_lacks(no_java: None) -> None:
    with pytest.raises(NotImplementedError, match=r"(?i)java"):
        asvbench.skip_unless_runnable("delayed-sleep", "spark")
    asvbench.skip_unless_runnable("delayed-sleep", "pandas")  # others still run
