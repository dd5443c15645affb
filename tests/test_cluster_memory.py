"""Cluster memory, measured where it lives: Dask workers sampled from inside, Spark executors
through their own metrics, recorded beside the driver's tree and shown in the report.

Where both views exist (LocalCluster, local[2]) they must agree; on the external loopback
clusters a known allocation (512 MiB held in one task) must read within 10 %.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from harness.engines import dask_memory, spark_memory
from harness.engines.base import EngineOptions
from harness.engines.cluster_memory import ClusterMemory, ClusterSampler, peak_of_sum, sampler_for
from harness.engines.dask import DaskDistributedEngine
from harness.execution.probe import TreeMeasurement
from harness.execution.session import _tree_fields
from harness.reporting import run_plots
from harness.reporting.run_rows import normalize
from harness.reporting.summary import display_table, summarize
from harness.results.schema import Record, read_records
from tests.conftest import StandaloneRun
from tests.helpers import measure_once

MiB = 2**20
ALLOCATE = {"mode": "allocate", "gib": 0.5, "hold_s": 1.0}
IDLE = {**ALLOCATE, "gib": 0.0}


# ---------------------------------------------------------------------------------------------
# the sum across workers, and what each view says


def test_peak_of_sum_adds_workers_at_the_same_moment() -> None:
    # Worker a peaks at t=1.0, worker b at t=2.0: their peaks never coincide.
    a = ([0.0, 1.0, 2.0, 3.0], [100, 900, 100, 100])
    b = ([0.01, 1.01, 2.01, 3.01], [100, 100, 700, 100])
    assert peak_of_sum([a, b], 0.5) == 900 + 100  # not 900 + 700, the sum of separate peaks
    together = ([0.02, 1.02, 2.02, 3.02], [100, 800, 100, 100])
    assert peak_of_sum([a, together], 0.5) == 900 + 800


def test_peak_of_sum_carries_a_worker_between_its_samples() -> None:
    # b samples less often (and starts later): its last value stands in its gaps, its first
    # before it began.
    a = ([0.0, 0.1, 0.2, 0.3, 0.4], [10, 10, 50, 10, 10])
    b = ([0.15, 0.35], [7, 3])
    assert peak_of_sum([a, b], 0.1) == 50 + 7
    assert peak_of_sum([], 0.1) is None and peak_of_sum([([], [])], 0.1) is None


def _series(sizes: list[int], pid: int, hwm: int | None = None) -> dict[str, Any]:
    times = [100.0 + 0.05 * i for i in range(len(sizes))]
    return {"pid": pid, "host": "h", "times": times, "sizes": sizes, "hwm_bytes": hwm,
            "cpu_s": 0.002}


def test_dask_summary_peak_of_sum_baseline_and_upper_bound() -> None:
    found = {"tcp://w1": _series([100, 300, 100], 1, hwm=350),
             "tcp://w2": _series([50, 60, 200], 2)}
    m = dask_memory.summarize(found, dict.fromkeys(found, 1), {}, 0.05)
    # At the same moments: 150, 360, 300; the peaks alone would add to 500.
    assert m.peak_rss_bytes == 300 + 60 and m.baseline_rss_bytes == 150
    assert m.sum_of_peaks_bytes == 350 + 200  # the exact high-water mark where there is one
    assert m.sampler_cpu_s == pytest.approx(0.004) and m.samples == 6 and m.note is None
    assert [(w["address"], w["peak_rss_bytes"], w["hwm_bytes"]) for w in m.workers] == [
        ("tcp://w1", 350, 350), ("tcp://w2", 200, None)]


def test_dask_summary_names_the_workers_it_missed() -> None:
    started = {"tcp://w1": 1, "tcp://gone": 2, "tcp://bad": 3}
    found = {"tcp://w1": _series([10, 20], 1), "tcp://new": None,
             "tcp://bad": ModuleNotFoundError("No module named 'harness'")}
    m = dask_memory.summarize(found, started, {}, 0.05)
    assert m.peak_rss_bytes == 20 and [w["address"] for w in m.workers] == ["tcp://w1"]
    assert m.note is not None
    for words in ("1 worker(s) left during the run, unmeasured: tcp://gone",
                  "1 worker(s) joined during the run", "No module named 'harness'"):
        assert words in m.note
    none = dask_memory.summarize({"tcp://x": None}, {"tcp://x": 1}, {}, 0.05)
    assert none.peak_rss_bytes is None and none.fields() == {"peak_cluster_rss_bytes": None}


def test_worker_sampler_sees_its_own_process_grow() -> None:
    """The function a worker runs, run here: it samples this process, and a new start ends
    a sampler that a dead run left behind."""
    dask_memory.start_sampling("left-behind", 0.01)
    pid = dask_memory.start_sampling("mine", 0.01)
    assert pid == os.getpid() and dask_memory.stop_sampling("left-behind") is None
    block = np.ones(64 * MiB // 8)
    time.sleep(0.1)
    del block
    found = dask_memory.stop_sampling("mine")
    assert found is not None and dask_memory.stop_sampling("mine") is None
    assert max(found["sizes"]) - found["sizes"][0] >= 60 * MiB
    assert found["cpu_s"] >= 0 and len(found["times"]) == len(found["sizes"]) > 5
    if found["hwm_bytes"] is not None:  # Linux: the exact peak since the start
        assert found["hwm_bytes"] >= max(found["sizes"]) - 4 * MiB


def test_spark_summary_takes_each_executors_heaviest_stage() -> None:
    def stage(**per_executor: tuple[int, int, int]) -> dict[str, Any]:
        return {e: {"peakMemoryMetrics": dict(zip(spark_memory.TREE_METRICS.values(), v,
                                                  strict=True))} for e, v in per_executor.items()}

    summaries = [stage(e1=(300, 100, 0), e2=(0, 0, 0)), stage(e1=(200, 500, 5)), {}]
    m = spark_memory.summarize(summaries, {"e1": "10.0.0.5:4000"}, jobs=2)
    # e2 had no poll inside its tasks: it is not measured, rather than measured as 0.
    assert [w["address"] for w in m.workers] == ["e1"]
    # The second stage's 705 (not 300 + 500 + 5: the JVM's peak of one stage and the Python
    # workers' of another never happened together).
    assert m.workers[0] == {"address": "e1", "host": "10.0.0.5", "peak_rss_bytes": 705,
                            "jvm_rss_bytes": 200, "python_rss_bytes": 500,
                            "other_rss_bytes": 5}
    assert m.peak_rss_bytes == 705 and m.note is None
    unpolled = spark_memory.summarize([stage(e1=(0, 0, 0))], {}, jobs=1)
    assert unpolled.peak_rss_bytes is None and "pollingInterval" in (unpolled.note or "")
    assert "no Spark job" in (spark_memory.summarize([], {}, jobs=0).note or "")


@pytest.mark.parametrize(("local_ip", "ui"), [(None, "true"), ("127.0.0.1", "true"),
                                              ("0.0.0.0", "false"), ("10.1.2.3", "false")])
def test_spark_ui_is_on_only_where_it_binds_loopback(local_ip: str | None, ui: str) -> None:
    conf = spark_memory.spark_conf(local_ip)
    assert conf["spark.ui.enabled"] == ui
    assert conf["spark.executor.processTreeMetrics.enabled"] == "true"
    if ui == "true":
        assert conf["spark.ui.killEnabled"] == "false" and conf["spark.ui.port"] == "0"


class _Broken(ClusterSampler):
    source = "broken"

    def _start(self) -> None:
        raise ConnectionError("scheduler gone")


def test_a_sampler_that_cannot_start_is_a_note_not_a_failed_run() -> None:
    with _Broken() as sampler:
        pass
    assert sampler.result.peak_rss_bytes is None
    assert sampler.result.note == "not measured: ConnectionError: scheduler gone"
    fields, metrics = _tree_fields(TreeMeasurement(), sampler)
    assert fields["peak_cluster_rss_bytes"] is None
    assert metrics["cluster_memory_note"].startswith("not measured")
    assert "cluster_baseline_rss_bytes" not in metrics  # absent, not zero


def test_engines_without_a_cluster_have_no_cluster_view(dask_threads_engine) -> None:
    assert sampler_for(dask_threads_engine) is None
    assert sampler_for(DaskDistributedEngine(EngineOptions())) is None  # not started
    record = measure_once(dask_threads_engine, "noop")
    assert record.peak_cluster_rss_bytes is None
    assert not any(k.startswith("cluster_") for k in record.metrics)


# ---------------------------------------------------------------------------------------------
# records and the report


def _record(engine: str, cluster: int | None, **over: Any) -> Record:
    return Record(run_id="r", workload="fault", engine=engine, size="tiny", status="ok",
                  wall_s=1.0, cpu_s=0.5, peak_tree_rss_bytes=300 * MiB,
                  baseline_tree_rss_bytes=100 * MiB,
                  peak_driver_rss_bytes=100 * MiB, peak_cluster_rss_bytes=cluster, **over)


def test_old_records_read_without_a_cluster_peak(tmp_path: Path) -> None:
    data = json.loads(_record("spark", None).to_json())
    del data["peak_cluster_rss_bytes"]
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(data) + "\n" + _record("spark", 700 * MiB).to_json() + "\n")
    old, new = read_records([path])
    assert old.peak_cluster_rss_bytes is None and new.peak_cluster_rss_bytes == 700 * MiB


def test_summary_shows_the_cluster_peak_only_when_measured() -> None:
    without = display_table(summarize([_record("dask-threads", None)]))
    assert "cluster peak" not in without.columns
    rows = summarize([_record("dask-threads", None), _record("dask-distributed", 700 * MiB)])
    table = display_table(rows)
    assert list(table["cluster peak"]) == ["", "700.0 MiB"]  # absent stays absent, not 0
    columns = list(table.columns)
    assert columns.index("cluster peak") == columns.index("driver peak") + 1


def test_memory_plot_marks_the_cluster_peak() -> None:
    rows = normalize(summarize([_record("dask-threads", None),
                                _record("dask-distributed", 5 * 2**30)]))
    fig = run_plots.memory_figure(rows, "t", "f")
    assert fig is not None
    ax = fig.axes[0]
    squares = [line for line in ax.lines if line.get_marker() == "s"]
    assert len(squares) == 1
    assert np.nanmax(squares[0].get_xdata()) == pytest.approx(5.0)  # GiB: the axis's unit
    assert ax.get_xlim()[1] >= 5.0
    texts = [t.get_text() for t in ax.texts]
    assert any(t.endswith("· 5.0 GiB") for t in texts) and "tree peak (upper bound) · driver · " \
        "cluster" in texts
    plain = run_plots.memory_figure(normalize(summarize([_record("dask-threads", None)])), "t", "f")
    assert plain is not None and not [ln for ln in plain.axes[0].lines if ln.get_marker() == "s"]


# ---------------------------------------------------------------------------------------------
# both views on the same workers: LocalCluster and local[2]


def _outside_rss(view_pids: set[int]) -> int:
    """RSS of this process's descendants outside the cluster view (the engines and clusters
    other tests of the session started, multiprocessing's helpers): idle, read after the run."""
    inside = set(view_pids)
    for pid in view_pids:
        try:
            inside |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        except psutil.Error:
            continue
    total = 0
    for proc in psutil.Process().children(recursive=True):
        if proc.pid not in inside:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
    return total


def _tree_workers(record: Record, view_pids: set[int]) -> int:
    """The tree's part that the cluster view covers: the tree less the driver and the rest."""
    assert record.peak_tree_rss_bytes and record.peak_driver_rss_bytes
    return record.peak_tree_rss_bytes - record.peak_driver_rss_bytes - _outside_rss(view_pids)


def _growth(record: Record) -> int:
    assert record.peak_cluster_rss_bytes is not None
    return record.peak_cluster_rss_bytes - record.metrics["cluster_baseline_rss_bytes"]


@pytest.mark.slow
def test_localcluster_tree_and_workers_agree(dask_distributed_engine) -> None:
    """The LocalCluster's worker processes, seen by the tree probe and from inside: within
    10 % idle and with 512 MiB held in one worker, which both see grow by 512 MiB."""
    for params in (IDLE, ALLOCATE):
        record = measure_once(dask_distributed_engine, "fault", overrides=params)
        assert record.status == "ok", record.error
        workers = record.metrics["cluster_workers"]
        assert len(workers) == 2 and record.metrics["cluster_memory_source"] == "dask-workers"
        tree = _tree_workers(record, {w["pid"] for w in workers})
        cluster = record.peak_cluster_rss_bytes
        assert cluster is not None and abs(cluster - tree) <= 0.10 * tree, (params, cluster, tree)
        assert record.metrics["cluster_sampler_cpu_s"] >= 0
    assert abs(_growth(record) - 512 * MiB) <= 0.10 * 512 * MiB, _growth(record)
    assert record.metrics["cluster_sum_of_peaks_bytes"] >= cluster


@pytest.mark.slow
def test_local_spark_tree_and_executor_agree(spark_engine) -> None:
    """local[2]: the driver JVM is the executor; its process tree (JVM + Python workers) as
    Spark's poller saw it, and as the tree probe saw it, agree within 10 %."""
    from pyspark import SparkContext

    jvm = SparkContext._gateway.proc.pid  # type: ignore[union-attr]
    peaks = []
    for params in (IDLE, ALLOCATE):
        record = measure_once(spark_engine, "fault", overrides=params)
        assert record.status == "ok", record.error
        [executor] = record.metrics["cluster_workers"]
        assert executor["address"] == "driver" and executor["python_rss_bytes"] > 0
        tree = _tree_workers(record, {jvm})
        cluster = record.peak_cluster_rss_bytes
        assert cluster is not None and abs(cluster - tree) <= 0.10 * tree, (params, cluster, tree)
        peaks.append(executor)
    idle, held = peaks
    assert abs(held["python_rss_bytes"] - idle["python_rss_bytes"] - 512 * MiB) <= 0.10 * 512 * MiB


# ---------------------------------------------------------------------------------------------
# 512 MiB inside a remote worker: the external loopback clusters


@pytest.mark.slow
def test_512_mib_in_a_worker_of_an_external_dask_cluster(dask_loopback_cluster) -> None:
    """The idle run first: a fresh worker's first task imports numpy and the workload
    (about 130 MiB here), which is not the allocation."""
    engine = DaskDistributedEngine(EngineOptions(dask_address=dask_loopback_cluster.address))
    with engine:
        idle, record = (measure_once(engine, "fault", overrides=p) for p in (IDLE, ALLOCATE))
    assert idle.status == record.status == "ok", (idle.error, record.error)
    assert abs(_growth(record) - 512 * MiB) <= 0.10 * 512 * MiB, _growth(record)
    assert idle.peak_cluster_rss_bytes and record.peak_cluster_rss_bytes
    by_idle = record.peak_cluster_rss_bytes - idle.peak_cluster_rss_bytes
    assert abs(by_idle - 512 * MiB) <= 0.10 * 512 * MiB, by_idle
    workers = record.metrics["cluster_workers"]
    assert {w["pid"] for w in workers} <= set(dask_loopback_cluster.pids())
    grew = [w["peak_rss_bytes"] - w["baseline_rss_bytes"] for w in workers]
    assert max(grew) >= 0.9 * 512 * MiB and min(grew) < 64 * MiB  # one worker held it


@pytest.mark.slow
def test_512_mib_in_an_executor_of_spark_standalone(spark_standalone_run: StandaloneRun) -> None:
    """The session's one application on the standalone cluster (conftest) ran the fault
    workload idle and then holding 512 MiB in one task, before its other workloads."""
    idle, held = spark_standalone_run.memory
    for record in (idle, held):
        assert record.status == "ok", record.error
        assert record.params["mode"] == "allocate"
        [executor] = record.metrics["cluster_workers"]
        assert executor["address"] != "driver"  # an executor of the standalone Worker
    assert (idle.params["gib"], held.params["gib"]) == (0.0, 0.5)
    assert idle.peak_cluster_rss_bytes and held.peak_cluster_rss_bytes
    growth = held.peak_cluster_rss_bytes - idle.peak_cluster_rss_bytes
    assert abs(growth - 512 * MiB) <= 0.10 * 512 * MiB, growth


def test_cluster_memory_metrics_are_plain_json() -> None:
    m = ClusterMemory("dask-workers", peak_rss_bytes=5, baseline_rss_bytes=1,
                      workers=[{"address": "a", "host": "h", "peak_rss_bytes": 5}])
    record = _record("dask-distributed", 5, metrics=m.metrics())
    back = Record.from_dict(json.loads(record.to_json()))
    assert back.metrics["cluster_workers"] == [{"address": "a", "host": "h", "peak_rss_bytes": 5}]
    assert "cluster_memory_note" not in back.metrics and "cluster_sampler_cpu_s" not in back.metrics
