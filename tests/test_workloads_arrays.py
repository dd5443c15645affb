"""The chapter's array workloads: seeded blocks, the combines, the checks and the notes."""

from __future__ import annotations

import numpy as np
import pytest

from harness.reporting.graphs import task_graph
from harness.workloads import array_multi_sum, array_stats, matmul, svd_compressed
from harness.workloads.common.arrays import assemble, block, dask_array, grid
from tests.helpers import measure_once, prepared


def test_grid_has_dask_shaped_edge_chunks() -> None:
    assert grid((5, 7, 3), (2, 3, 3)) == ((2, 2, 1), (3, 3, 1), (3,))


def test_dask_array_and_numpy_loop_see_the_same_numbers() -> None:
    chunks = grid((5, 7, 3), (2, 3, 2))
    lazy = dask_array(7, chunks)
    assert lazy.chunks == chunks
    np.testing.assert_array_equal(lazy.compute(scheduler="synchronous"), assemble(7, chunks))


def test_chan_combine_matches_numpy_over_uneven_blocks() -> None:
    p = array_stats.prepare({"shape": [30, 20, 7], "chunks": [8, 20, 3], "seed": 1})
    whole = assemble(p["seed"], p["chunks"])
    got = array_stats.reference(p, None)  # type: ignore[arg-type]
    assert got["max"] == whole.max()
    assert got["mean"] == pytest.approx(whole.mean(), rel=1e-13)
    assert got["std"] == pytest.approx(whole.std(), rel=1e-13)


def test_spark_blocks_are_laid_out_column_major() -> None:
    pytest.importorskip("pyspark")
    chunks = grid((5, 4), (3, 4))
    index, matrix = matmul.dense_block(9, chunks, (1, 0))
    assert index == (1, 0)
    np.testing.assert_array_equal(matrix.toArray(), block(9, (1, 0), (2, 4)))


def test_matmul_checksum_catches_a_transposed_product() -> None:
    p = matmul.prepare(matmul.WORKLOAD.params("tiny"))
    good = matmul.reference(p, None)  # type: ignore[arg-type]
    a, b = (assemble(seed, p["chunks"]) for seed in p["seeds"])
    c = (a @ b).T
    w = matmul.row_weights(0, c.shape[0])
    wrong = matmul.summary(c.sum(), np.vdot(c, c), w @ c.sum(axis=1))
    assert not matmul.check(good, wrong).ok
    assert matmul.check(good, good).ok


def test_svd_expected_from_factors_matches_full_svd() -> None:
    p = svd_compressed.prepare(svd_compressed.WORKLOAD.params("tiny"))
    exact = svd_compressed.expected(p)
    assert svd_compressed.check(exact, svd_compressed.reference(p, None)).ok  # type: ignore[arg-type]
    values = list(exact.values())
    assert values == sorted(values, reverse=True) and values[-1] > 0


def test_spark_rows_are_the_blocks_side_by_side() -> None:
    p = svd_compressed.prepare({**svd_compressed.WORKLOAD.params("tiny"), "chunk": [100, 25]})
    rows = np.array(list(svd_compressed.block_rows(p, 1)))
    whole = assemble(p["seed"], p["chunks"], svd_compressed.maker(p))
    np.testing.assert_array_equal(rows, whole[100:200])


@pytest.mark.parametrize("name", ["array-stats", "array-transpose"])
def test_graph_is_small_at_tiny(name: str) -> None:
    workload, inputs, _, _ = prepared(name)
    assert 0 < len(task_graph(workload.graph(inputs))) <= 200


def test_array_stats_notes_its_chunks(dask_sync_engine) -> None:
    record = measure_once(dask_sync_engine, "array-stats")
    assert record.status == "ok", record.check
    assert record.metrics["chunk_shape"] == [100, 100, 5]
    assert record.metrics["n_chunks"] == 8
    assert record.metrics["chunk_bytes"] == 8 * 100 * 100 * 5


@pytest.mark.slow
def test_multi_sum_times_both_phases_with_futures(dask_distributed_engine) -> None:
    record = measure_once(dask_distributed_engine, "array-multi-sum")
    assert record.status == "ok", record.check
    assert record.metrics["together_s"] > 0 and record.metrics["one_by_one_s"] > 0
    assert record.metrics["one_by_one_max_rel_diff"] <= 1e-12
    # The futures are counted too: one graph of five sums plus five graphs of one sum each.
    _, inputs, _, _ = prepared("array-multi-sum")
    sums = array_multi_sum.lazy_sums(inputs)
    assert record.n_tasks == len(task_graph(tuple(sums))) + sum(len(task_graph(s)) for s in sums)
