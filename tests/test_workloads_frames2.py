"""Behaviour specific to map-partitions, row-apply, custom-agg and csv-to-parquet (size tiny)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.workloads import csv_to_parquet, custom_agg, map_partitions, row_apply
from harness.workloads.contract import Context
from harness.workloads.datasets import read_csv_pandas
from harness.workloads.schema import CSV_NAN
from tests.helpers import measure_once, prepared


def _frame(n: int = 1_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"value": rng.standard_normal(n) * 3 + 1,
                         "category": rng.choice(list("ABCD"), n)})


def test_custom_processing_adds_columns_without_touching_its_input() -> None:
    df = pd.DataFrame({"A": [-2.0, 3.0], "B": [0, -4]})
    out = map_partitions.custom_processing(df)
    assert list(df.columns) == ["A", "B"]
    assert out["A_squared"].tolist() == [4.0, 9.0]
    assert out["B_log1p"].tolist() == pytest.approx([0.0, np.log(5.0)])


def test_chan_combination_of_uneven_partials_equals_one_pass() -> None:
    df = _frame()
    pieces = [df.iloc[:7], df.iloc[7:400], df.iloc[400:]]  # one piece lacks some categories
    combined = custom_agg.combine(pd.concat([custom_agg.partial_stats(p) for p in pieces]))
    direct = custom_agg.normalize(df.groupby("category")["value"].agg(custom_agg.STATS))
    assert custom_agg.check(direct, combined).ok


def test_row_rule_agrees_row_wise_and_vectorized() -> None:
    df = _frame()
    row_wise = df.apply(row_apply.derive_row, axis=1)
    vectorized = row_apply.derive_vectorized(df["value"], df["category"])
    np.testing.assert_allclose(row_wise.to_numpy(), vectorized.to_numpy(), rtol=1e-15)


def test_row_apply_check_wants_every_way() -> None:
    exp = {"apply": 10.0, "vectorized": 10.0}
    assert row_apply.check(exp, {"apply": 10.0, "vectorized": 10.0}).ok
    assert not row_apply.check(exp, {"vectorized": 10.0}).ok
    assert not row_apply.check(exp, {"apply": 11.0, "vectorized": 10.0}).ok


def test_row_apply_notes_the_time_of_each_way(pandas_engine) -> None:
    record = measure_once(pandas_engine, "row-apply")
    assert record.status == "ok"
    assert record.metrics["apply_s"] > record.metrics["vectorized_s"] > 0


@pytest.mark.slow
def test_row_apply_on_spark_notes_three_ways(spark_engine) -> None:
    record = measure_once(spark_engine, "row-apply")
    assert record.status == "ok", record.check
    assert all(record.metrics[f"{w}_s"] > 0 for w in ("python_udf", "pandas_udf", "native"))


def test_nan_dataset_has_about_five_percent_nans_per_value_column() -> None:
    _, ds, _, _ = prepared("csv-to-parquet")
    df = read_csv_pandas(ds, CSV_NAN)
    assert len(ds.files) == 10
    for column in csv_to_parquet.VALUES:
        assert 0.03 < df[column].isna().mean() < 0.07


def test_csv_to_parquet_counts_rows_and_leaves_no_output(pandas_engine) -> None:
    for _ in range(2):
        record = measure_once(pandas_engine, "csv-to-parquet")
        assert record.status == "ok", record.check
        assert list(csv_to_parquet.output_root().iterdir()) == []
    before, after = record.metrics["rows_before_dropna"], record.metrics["rows_after_dropna"]
    assert before == 20_000 and 0.85 * before < after < before
    assert sum(record.check["partition_rows"].values()) == after


def test_csv_to_parquet_check_reads_the_written_files() -> None:
    _, ds, exp, _ = prepared("csv-to-parquet")
    answer = csv_to_parquet.reference(ds, Context(1, 1, 1))
    shutil.rmtree(Path(answer["output"]) / "category=B")  # a partition that never got written
    result = csv_to_parquet.check(exp, answer)
    assert not result.ok
    assert result.detail["rows_per_partition"]["problem"] == "index differs"
    assert not Path(answer["output"]).exists()


def test_stale_outputs_of_gone_processes_are_removed() -> None:
    root = csv_to_parquet.output_root()
    stale = root / "999999999-deadbeef"  # no such pid
    (stale / "category=A").mkdir(parents=True)
    fresh = csv_to_parquet.fresh_output()
    assert not stale.exists() and not fresh.exists() and fresh.parent == root


@pytest.mark.parametrize("engine_name", [
    "dask-threads", pytest.param("dask-distributed", marks=pytest.mark.slow),
    pytest.param("spark", marks=pytest.mark.slow)])
@pytest.mark.parametrize("workload_name", ["csv-groupby", "map-partitions"])
def test_sweep_partition_count_is_honoured_and_recorded(engine_by_name, engine_name: str,
                                                        workload_name: str) -> None:
    # 3 is not a multiple of the 2 files: Dask repartitions, Spark coalesces 4 splits into 3.
    record = measure_once(engine_by_name(engine_name), workload_name,
                          overrides={"npartitions": 3})
    assert record.status == "ok", (record.error, record.check)
    assert record.metrics["npartitions"] == 3
    assert record.metrics["partition_bytes"] == pytest.approx(record.metrics["data_bytes"] / 3)


def test_probes_run_after_the_body_and_a_failing_probe_leaves_no_note() -> None:
    ctx = Context(slots=1, n_workers=1, threads_per_worker=1)
    calls: list[str] = []
    ctx.note_later(lambda: calls.append("probe") or {"npartitions": 7})
    ctx.note_later(lambda: {"bad": 1 / 0})
    assert calls == [] and ctx.notes == {}
    ctx.settle()
    ctx.settle()
    assert calls == ["probe"] and ctx.notes == {"npartitions": 7}
