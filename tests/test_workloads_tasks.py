"""Behaviour specific to the task-oriented workloads: bag-logs, custom-graph, task-diamond."""

from __future__ import annotations

import json
import time

import pytest

from harness.workloads import bag_logs, custom_graph, task_diamond
from harness.workloads.contract import Context
from tests.helpers import prepared

TWO_SLOTS = Context(slots=2, n_workers=1, threads_per_worker=2)


def test_bag_logs_data_is_seeded_and_well_formed() -> None:
    _, ds, _, params = prepared("bag-logs")
    again = bag_logs.WORKLOAD.prepare(params)
    assert [f.read_bytes() for f in ds.files] == [f.read_bytes() for f in again.files]
    assert len(ds.files) == params["files"]
    lines = ds.files[0].read_text().splitlines()
    assert len(lines) == params["records_per_file"]
    assert set(json.loads(lines[0])) == {"timestamp", "level", "message", "service"}


def test_bag_logs_levels_follow_the_declared_probabilities() -> None:
    _, _, exp, params = prepared("bag-logs")
    total = params["files"] * params["records_per_file"]
    for level, prob in zip(bag_logs.LEVELS, bag_logs.LEVEL_PROBS, strict=True):
        assert abs(exp["levels"][level] / total - prob) < 0.03, level


def test_bag_logs_answer_is_consistent() -> None:
    _, _, exp, params = prepared("bag-logs")
    total = params["files"] * params["records_per_file"]
    assert sum(exp["levels"].values()) == total == sum(exp["hours"].values())
    assert exp["errors"] == exp["levels"]["ERROR"]
    assert list(exp["hours"]) == list(range(24))
    assert all(type(v) is int for v in exp["hours"].values())


def test_bag_logs_check_names_the_part_that_differs() -> None:
    _, _, exp, _ = prepared("bag-logs")
    wrong = {**exp, "hours": {**exp["hours"], 0: exp["hours"][0] + 1}}
    result = bag_logs.check(exp, wrong)
    assert not result.ok and result.detail["differs"] == ["hours"]
    assert bag_logs.check(exp, exp).ok


def test_custom_graph_evaluator_runs_the_chapter_graph() -> None:
    dsk = custom_graph.chapter_graph()
    assert custom_graph.evaluate(dsk, ("x", "y", "z", "w")) == [1, 2, 12, 15]


def test_custom_graph_evaluator_agrees_with_dask_get() -> None:
    import dask

    p = custom_graph.prepare({"width": 3, "depth": 4, "sleep_s": 0.0})
    dsk = custom_graph.build_graph(p)
    keys = ("w", "total", "mix-2-1")
    assert custom_graph.evaluate(dsk, keys) == list(dask.get(dsk, list(keys)))


def test_custom_graph_shape_metrics_and_spark_reason() -> None:
    w = custom_graph.WORKLOAD
    p = w.prepare(w.params("tiny"))
    dsk = w.graph(p)
    assert isinstance(dsk, dict)
    assert len(dsk) == 4 + p["width"] * (p["depth"] + 1) + 1  # chapter + seeds, layers + total
    m = w.metrics(p, TWO_SLOTS)
    assert m["critical_path_s"] == pytest.approx(p["depth"] * p["sleep_s"])
    assert m["sequential_s"] == pytest.approx(p["width"] * p["depth"] * p["sleep_s"])
    assert "no Spark equivalent" in w.unsupported_reason("spark", "spark")


def test_task_diamond_answer_graph_and_bounds() -> None:
    w, p, exp, _ = prepared("task-diamond")
    assert exp == w.reference(p, Context(1, 1, 1)) == 47
    dsk = dict(w.graph(p).__dask_graph__())
    assert set(dsk) == {"A", "B", "C", "D"}
    m = w.metrics(p, TWO_SLOTS)
    assert m["critical_path_s"] == pytest.approx(p["a_s"] + p["c_s"] + p["d_s"])
    assert m["sequential_s"] == pytest.approx(sum(p.values()))
    assert w.metrics(p, Context(1, 1, 1))["ideal_s"] == m["sequential_s"]


def _diamond_wall(engine, a_s: float) -> float:
    p = {"a_s": a_s, "b_s": a_s, "c_s": 0.0, "d_s": 0.0}
    t0 = time.perf_counter()
    assert engine.run(task_diamond.WORKLOAD, p) == 47
    return time.perf_counter() - t0


def test_task_diamond_runs_a_and_b_together_on_threads(dask_threads_engine) -> None:
    _diamond_wall(dask_threads_engine, 0.0)  # the first compute in a process pays ~0.4 s of setup
    # Sequential would be 0.6 s; overlapped 0.3 s plus a few ms of scheduling.
    assert _diamond_wall(dask_threads_engine, 0.3) < 0.5


@pytest.mark.slow
def test_task_diamond_runs_a_and_b_together_on_spark(spark_engine) -> None:
    _diamond_wall(spark_engine, 0.0)  # the first job imports the harness in the Python workers
    # Sequential would be 2 s; overlapped 1 s plus Spark's ~0.3 s per job.
    assert _diamond_wall(spark_engine, 1.0) < 1.75
