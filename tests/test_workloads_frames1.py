"""DataFrame workloads of chapters 3.1-3.2: what is specific to each beyond 'engines agree'."""

from __future__ import annotations

import dask
import pandas as pd
import pytest

from harness.reporting.graphs import task_graph
from harness.workloads import multi_aggregate, repartition_index, resample_daily
from harness.workloads.checks import check_dict
from harness.workloads.contract import Context
from harness.workloads.datasets import START
from tests.helpers import measure_once, prepared

DIVISION_PASSES = ["resample-daily", "repartition-index"]


def _refuse_default_scheduler(dsk, keys, **kwargs):
    raise AssertionError("a compute ran on the default scheduler, not the engine's")


class SyncCompute:
    """A Dask engine's `compute` on the synchronous scheduler, counting its calls."""

    scheduler = "synchronous"
    client = None

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *collections):
        self.calls += 1
        return dask.compute(*collections, scheduler="synchronous")


@pytest.mark.parametrize("name", DIVISION_PASSES)
def test_divisions_pass_runs_on_the_engine_scheduler(name: str) -> None:
    """set_index would compute divisions on the default scheduler; ours go through `compute`."""
    workload, inputs, expected, _ = prepared(name)
    compute, ctx = SyncCompute(), Context(1, 1, 1)
    # The session's LocalCluster is the default client here, which would make Dask pick p2p.
    with dask.config.set({"scheduler": _refuse_default_scheduler,
                          "dataframe.shuffle.method": "disk"}):
        answer = workload.dask(inputs, compute, ctx)
    assert compute.calls == 2  # the divisions pass, then the work
    assert ctx.notes["divisions_s"] > 0
    assert workload.check(expected, answer).ok


def test_resample_sizes_span_days_and_days_are_utc_dates() -> None:
    for size, at_least in (("tiny", 2), ("small", 5)):
        params = resample_daily.WORKLOAD.params(size)
        seconds = params["files"] * params["rows_per_file"]
        assert seconds / 86_400 > at_least
    _, _, expected, _ = prepared("resample-daily")
    assert expected.index[0] == START.strftime("%Y-%m-%d")
    assert list(expected.index) == sorted(expected.index) and len(expected) >= 3


def test_sorted_divisions_refuses_unsorted_partitions() -> None:
    import dask.dataframe as dd

    ts = pd.date_range(START, periods=6, freq="s")
    frame = pd.DataFrame({"timestamp": ts[[3, 4, 5, 0, 1, 2]], "value": range(6)})
    with pytest.raises(ValueError, match="not in timestamp order"):
        resample_daily.sorted_divisions(dd.from_pandas(frame, npartitions=2, sort=False),
                                        SyncCompute())


@pytest.mark.parametrize("engine_name", ["pandas", "dask-sync",
                                         pytest.param("spark", marks=pytest.mark.slow)])
def test_multi_aggregate_times_both_phases(engine_by_name, engine_name: str) -> None:
    record = measure_once(engine_by_name(engine_name), "multi-aggregate")
    assert record.status == "ok", record.error
    assert record.metrics["shared_s"] > 0 and record.metrics["separate_s"] > 0
    assert record.metrics["shared_s"] + record.metrics["separate_s"] <= record.wall_s


def test_multi_aggregate_rejects_disagreeing_phases() -> None:
    ctx = Context(1, 1, 1)
    with pytest.raises(ValueError, match="disagree"):
        multi_aggregate.both_phases(ctx, lambda: {"mean": 1.0}, lambda: {"mean": 1.1})
    assert multi_aggregate.both_phases(ctx, lambda: {"mean": 1.0},
                                       lambda: {"mean": 1.0}) == {"mean": 1.0}


@pytest.mark.parametrize("engine_name", ["pandas", "dask-sync",
                                         pytest.param("spark", marks=pytest.mark.slow)])
def test_repartition_notes_partition_sizes(engine_by_name, engine_name: str) -> None:
    record = measure_once(engine_by_name(engine_name), "repartition-index")
    assert record.status == "ok", record.error
    sizes = record.metrics["partition_sizes"]
    assert sum(sizes) == prepared("repartition-index")[2]["rows"] > 0
    if engine_name == "spark":  # hash partitioning into exactly P partitions
        assert len(sizes) == repartition_index.WORKLOAD.params("tiny")["partitions"]
    if engine_name == "dask-sync":  # one partition per category (4 categories)
        assert len(sizes) == 4 and all(n > 0 for n in sizes)


def test_repartition_answer_detects_split_and_unsorted_partitions() -> None:
    whole = pd.concat([repartition_index.summarize(pd.Index(["A", "A", "B"]), 0),
                       repartition_index.summarize(pd.Index(["C"]), 1)])
    assert repartition_index.as_answer(whole) == {
        "rows": 4.0, "rows_A": 2.0, "rows_B": 1.0, "rows_C": 1.0,
        "split_categories": 0.0, "unordered_partitions": 0.0}
    split = pd.concat([repartition_index.summarize(pd.Index(["B", "A"]), 0),
                       repartition_index.summarize(pd.Index(["A"]), 1)])
    answer = repartition_index.as_answer(split)
    assert answer["split_categories"] == 1.0 and answer["unordered_partitions"] == 1.0
    assert not check_dict(repartition_index.as_answer(whole), answer, rtol=0.0).ok


def test_frame_mean_prepare_is_seeded_and_split_as_asked() -> None:
    workload, inputs, _, params = prepared("frame-mean")
    again = workload.prepare(params)
    pd.testing.assert_frame_equal(inputs["frame"], again["frame"])
    assert len(inputs["frame"]) == params["rows"]
    # from_pandas is part of the timed body's graph, one task per partition.
    keys = task_graph(workload.graph(inputs))
    parts = [k for k in keys if isinstance(k, tuple) and k[0].startswith("frompandas")]
    assert len(parts) == params["npartitions"]
