"""Every engine returns the reference answer for every workload at size tiny."""

from __future__ import annotations

import pytest

from harness.engines.registry import ENGINES
from harness.workloads.registry import WORKLOADS
from tests.helpers import measure_once, prepared

# Engines whose work runs in processes other than the driver.
MULTI_PROCESS = {"spark", "dask-distributed", "dask-processes"}
SLOW_ENGINES = {"spark", "dask-distributed", "dask-processes"}
# Workloads that run their tasks on a cluster of their own, whose graphs the engine never sees.
OWN_CLUSTER = {"adaptive-scale"}

CASES = [
    pytest.param(engine, workload, id=f"{engine}-{workload}",
                 marks=[pytest.mark.slow] if engine in SLOW_ENGINES else [])
    for engine in ENGINES
    for workload in WORKLOADS
]


def test_cases_cover_registry() -> None:
    assert set(ENGINES) >= {"pandas", "dask-sync", "dask-threads", "dask-processes",
                            "dask-distributed", "spark"}
    assert set(WORKLOADS) >= {"csv-groupby", "delayed-sleep"}


@pytest.mark.parametrize(("engine_name", "workload_name"), CASES)
def test_engine_returns_reference_answer(engine_by_name, engine_name: str,
                                         workload_name: str) -> None:
    reason = WORKLOADS[workload_name].unsupported_reason(engine_name, ENGINES[engine_name].kind)
    if reason:
        pytest.skip(f"unsupported: {reason}")
    engine = engine_by_name(engine_name)
    record = measure_once(engine, workload_name)

    assert record.status == "ok", (record.status, record.error, record.check)
    assert record.check["ok"] is True
    assert record.error is None
    assert record.engine == engine_name and record.workload == workload_name
    assert record.wall_s is not None and record.wall_s > 0
    if engine_name.startswith("dask-") and workload_name not in OWN_CLUSTER:
        assert record.n_tasks is not None and record.n_tasks > 0
    assert record.peak_tree_rss_bytes is not None and record.peak_tree_rss_bytes > 0
    assert record.peak_driver_rss_bytes is not None and record.peak_driver_rss_bytes > 0
    if engine_name in MULTI_PROCESS:
        # The engine's workers / JVM are descendants of this process and must be counted.
        assert record.peak_tree_rss_bytes > 1.5 * record.peak_driver_rss_bytes
        assert record.metrics["max_processes"] > 1
    assert record.peak_tree_hwm_bytes is not None
    assert record.peak_tree_hwm_bytes >= record.peak_tree_rss_bytes


def test_task_count_is_taken_after_the_run(dask_threads_engine) -> None:
    # Counting re-optimizes the graph; inside `run` it would be timed as the workload's.
    workload, inputs, _, _ = prepared("array-transpose")
    dask_threads_engine.run(workload, inputs)
    assert dask_threads_engine.n_tasks is None
    dask_threads_engine.settle()
    assert dask_threads_engine.n_tasks and dask_threads_engine.n_tasks > 1
