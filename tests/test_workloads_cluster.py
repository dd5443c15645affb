"""The chapter's last lessons as workloads: adaptive-scale (cluster.adapt) and persist-reuse."""

from __future__ import annotations

import time

import psutil
import pytest

from harness.engines.base import EngineOptions
from harness.engines.cluster_memory import ClusterMemory, ClusterSampler
from harness.engines.dask import DaskDistributedEngine
from harness.engines.reference import PandasEngine
from harness.engines.registry import ENGINES
from harness.workloads import adaptive_scale, persist_reuse
from harness.workloads.contract import Context
from tests.helpers import measure_once, prepared

PERSIST_ENGINES = [pytest.param(name, marks=[pytest.mark.slow] if name in
                                ("spark", "dask-distributed", "dask-processes") else [])
                   for name in ENGINES]
ADAPTIVE = adaptive_scale.WORKLOAD
GiB = 2**30
# What the engine's cluster view writes into a record; none of it for adaptive-scale.
CLUSTER_METRICS = ("cluster_workers", "cluster_memory_source", "cluster_memory_samples")


def burst(**over: object) -> adaptive_scale.Burst:
    return ADAPTIVE.prepare(ADAPTIVE.params("tiny", dict(over)))


# ---------------------------------------------------------------------------------------------
# adaptive-scale: what the samples say, and where it runs


def test_timeline_notes_read_scale_up_and_down_from_the_samples() -> None:
    b = burst(minimum=2, maximum=4)
    # Two workers while the cluster starts, four 1.5 s after the submit, back to two 2 s after
    # the work is done (at 5 s).
    samples = [(9.0, 2), (10.0, 2), (11.0, 3), (11.5, 4), (13.0, 4), (16.0, 3), (17.0, 2)]
    notes = adaptive_scale.timeline_notes(b, samples, [(10.0, 15.0)])
    assert notes["workers_series"] == [[-1.0, 2], [1.0, 3], [1.5, 4], [6.0, 3], [7.0, 2]]
    assert notes["scale_up_s"] == pytest.approx(1.5)
    assert notes["scale_down_s"] == pytest.approx(2.0)
    assert notes["peak_workers"] == 4 and notes["burst_s"] == pytest.approx(5.0)
    assert notes["burst_worker_s"] == pytest.approx(2 * 1.0 + 3 * 0.5 + 4 * 3.5)


def test_timeline_notes_per_wave_and_never_reached() -> None:
    b = burst(minimum=1, maximum=3)
    samples = [(0.0, 1), (1.0, 3), (3.0, 1), (6.0, 2), (9.0, 2)]
    notes = adaptive_scale.timeline_notes(b, samples, [(0.0, 2.0), (5.0, 8.0)])
    # The second wave never got back to the maximum; the cluster never shrank after it.
    assert notes["wave_scale_up_s"] == [pytest.approx(1.0), None]
    assert notes["scale_down_s"] is None


def test_a_fixed_cluster_is_at_its_maximum_from_the_start() -> None:
    b = burst(mode="fixed", minimum=1, maximum=2)
    notes = adaptive_scale.timeline_notes(b, [(0.0, 2), (0.5, 2)], [(0.2, 0.4)])
    assert notes["scale_up_s"] == 0.0 and notes["scale_down_s"] is None


@pytest.mark.parametrize(("over", "words"), [({"mode": "elastic"}, "mode 'elastic'"),
                                             ({"minimum": 3, "maximum": 2}, "minimum <=")])
def test_adaptive_scale_refuses_bad_params(over: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        burst(**over)


def test_adaptive_scale_runs_on_dask_distributed_only() -> None:
    reasons = {name: ADAPTIVE.unsupported_reason(name, cls.kind) for name, cls in ENGINES.items()}
    assert reasons.pop("dask-distributed") is None
    assert all(reasons.values()), reasons
    assert "LocalCluster" in reasons["dask-threads"] and "cluster manager" in reasons["spark"]


class OneGiBCluster(ClusterSampler):
    """A cluster view that always saw one worker of 1 GiB."""

    source = "stub"

    def _stop(self) -> ClusterMemory:
        return ClusterMemory(self.source, peak_rss_bytes=GiB,
                             workers=[{"address": "tcp://w:1", "peak_rss_bytes": GiB}])


class ClusterViewPandas(PandasEngine):
    """The reference engine with a cluster-memory view, as dask-distributed has one."""

    def cluster_sampler(self) -> ClusterSampler:
        return OneGiBCluster()


def test_a_run_on_its_own_cluster_records_no_cluster_memory_of_the_engine(harness_dirs) -> None:
    assert ADAPTIVE.own_cluster and not persist_reuse.WORKLOAD.own_cluster
    with ClusterViewPandas(EngineOptions()) as engine:
        other = measure_once(engine, "delayed-sleep")
        # The reference body: the same record path as dask-distributed's, without a cluster.
        own = measure_once(engine, "adaptive-scale", overrides={"tasks_per_wave": 2,
                                                                "task_s": 0.0})
    assert other.peak_cluster_rss_bytes == GiB and other.metrics["cluster_workers"]
    assert own.status == "ok", (own.error, own.check)
    assert own.peak_cluster_rss_bytes is None
    assert not set(CLUSTER_METRICS) & set(own.metrics)


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.slow
def test_adaptive_cluster_scales_up_past_its_minimum_and_back(dask_distributed_engine) -> None:
    before = _children()
    record = measure_once(dask_distributed_engine, "adaptive-scale")
    assert record.status == "ok", (record.error, record.check)
    m, p = record.metrics, record.params
    assert p["mode"] == "adaptive" and m["peak_workers"] > p["minimum"]
    assert m["workers_series"][-1][1] == p["minimum"]  # wound down before the cluster closed
    assert m["scale_up_s"] is not None and m["scale_down_s"] is not None
    assert isinstance(m["cluster_start_s"], float) and len(m["wave_s"]) == p["waves"]
    assert _children() <= before  # its cluster's workers are gone with the run


@pytest.mark.slow
def test_a_failing_run_closes_its_cluster(dask_distributed_engine) -> None:
    before = _children()
    # time.sleep(-1) raises in the workers: the gather fails mid-wave.
    record = measure_once(dask_distributed_engine, "adaptive-scale", overrides={"task_s": -1.0})
    assert record.status == "error" and "ValueError" in (record.error or "")
    assert _children() <= before


@pytest.mark.slow
def test_fixed_cluster_holds_the_maximum_throughout(dask_distributed_engine) -> None:
    record = measure_once(dask_distributed_engine, "adaptive-scale", overrides={"mode": "fixed"})
    assert record.status == "ok", (record.error, record.check)
    series = record.metrics["workers_series"]
    assert {n for _, n in series} == {record.params["maximum"]}
    assert record.metrics["scale_down_s"] is None
    # The engine's own workers sat idle: their memory is not this cluster's.
    assert record.peak_cluster_rss_bytes is None
    assert not set(CLUSTER_METRICS) & set(record.metrics)


@pytest.mark.slow
def test_adaptive_scale_is_refused_against_an_external_scheduler(
        dask_distributed_engine) -> None:
    address = dask_distributed_engine.client.scheduler.address
    with DaskDistributedEngine(EngineOptions(dask_address=address)) as engine:
        record = measure_once(engine, "adaptive-scale")
    assert record.status == "error" and "--dask-address" in (record.error or "")


# ---------------------------------------------------------------------------------------------
# persist-reuse


def test_persist_is_a_tunable_and_a_sweep_may_give_it_as_a_number() -> None:
    w = persist_reuse.WORKLOAD
    assert w.params("tiny")["persist"] is True and "persist" in w.tunables
    assert w.prepare(w.params("tiny", {"persist": 0})).persist is False


def test_persist_reuse_check_names_the_computation_that_differs() -> None:
    _, inputs, exp, _ = prepared("persist-reuse")
    wrong = {**exp, "by_hour": exp["by_hour"] * 1.01}
    result = persist_reuse.check(exp, wrong)
    assert not result.ok and result.detail["by_hour"]["max_rel_diff"] > 1e-9
    assert result.detail["by_category"]["max_rel_diff"] == 0.0
    assert persist_reuse.reference(inputs, Context(1, 1, 1)).keys() == exp.keys()


@pytest.mark.parametrize("engine_name", PERSIST_ENGINES)
def test_persisted_and_recomputed_runs_agree(engine_by_name, engine_name: str) -> None:
    engine = engine_by_name(engine_name)
    workload, _, exp, params = prepared("persist-reuse")
    answers, notes = {}, {}
    for persist in (False, True):
        answers[persist] = engine.run(workload, workload.prepare({**params, "persist": persist}))
        engine.settle()
        notes[persist] = engine.last_context.notes
    assert persist_reuse.check(answers[False], answers[True]).ok
    assert persist_reuse.check(exp, answers[True]).ok
    assert len(notes[False]["reuse_s"]) == len(notes[True]["reuse_s"]) == 3
    assert "persist_s" not in notes[False]
    if engine_name != "pandas":  # the reference computes once; the others keep the frame
        assert isinstance(notes[True]["persist_s"], float) and notes[True]["persisted_bytes"] > 0


@pytest.mark.slow
def test_a_persisted_run_leaves_nothing_on_the_workers(dask_distributed_engine) -> None:
    client = dask_distributed_engine.client
    record = measure_once(dask_distributed_engine, "persist-reuse", overrides={"persist": True})
    assert record.status == "ok" and record.metrics["persisted_bytes"] > 0
    deadline = time.monotonic() + 10  # cancelling is a message: the workers forget soon after
    while any(client.has_what().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.has_what().values())


@pytest.mark.slow
def test_a_cached_run_leaves_nothing_cached(spark_engine) -> None:
    record = measure_once(spark_engine, "persist-reuse", overrides={"persist": True})
    assert record.status == "ok" and record.metrics["persisted_bytes"] > 0
    jvm_session = spark_engine.session._jsparkSession
    assert jvm_session.sharedState().cacheManager().isEmpty()
    assert spark_engine.session.sparkContext._jsc.getPersistentRDDs().isEmpty()
