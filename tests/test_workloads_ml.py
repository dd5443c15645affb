"""Dask-ML workloads of chapter 3.3: what is specific to them beyond 'engines agree'."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from harness.engines.registry import ENGINES
from harness.workloads import ml_grid_search, ml_logreg
from harness.workloads.common import ml
from harness.workloads.contract import Context
from harness.workloads.datasets import read_csv_pandas
from harness.workloads.registry import get_workload
from tests.helpers import measure_once, prepared

ML_WORKLOADS = ["ml-preprocess", "ml-logreg", "ml-grid-search", "ml-random-forest"]


def test_label_noise_is_exact_integer_hash_in_minus_one_one() -> None:
    ids = np.array([0, 1, 7, 4_999_999, 2**31])
    expected = [((int(i) * ml.HASH_MULT) % 2**32) / 2**32 * 2 - 1 for i in ids]
    assert ml.noise(ids).tolist() == expected
    eps = ml.noise(np.arange(200_000))
    assert eps.min() >= -1.0 and eps.max() < 1.0
    assert abs(eps.mean()) < 1e-3


def test_split_is_id_rule_and_label_is_balanced_and_noisy() -> None:
    _, ds, _, _ = prepared("ml-preprocess")
    raw = read_csv_pandas(ds)
    table = ml.features_partition(raw)
    assert (table["is_test"] == (raw["id"] % 5 == 0)).all()
    assert table["is_test"].mean() == pytest.approx(0.2)
    assert 0.45 < table["label"].mean() < 0.55
    # The noise makes the label differ from `value > 0` on ~18 % of rows: not separable.
    flipped = (table["label"] != (raw["value"] > 0)).mean()
    assert 0.14 < flipped < 0.23


def test_population_scale_converts_sparks_unbiased_std() -> None:
    scale = ml.population_scale(np.array([2.0, 0.0]), n=4)
    assert scale.tolist() == [2.0 * np.sqrt(3 / 4), 1.0]


@pytest.mark.parametrize("engine", ["dask-sync", "dask-threads", "dask-processes"])
def test_random_forest_needs_a_distributed_client(engine: str) -> None:
    workload = get_workload("ml-random-forest")
    assert "distributed Client" in workload.unsupported_reason(engine, "dask")


def test_missing_ml_extra_is_unsupported_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "dask_ml" else real(name, *a))
    for name in ML_WORKLOADS:
        reason = get_workload(name).unsupported_reason("dask-distributed", "dask")
        assert reason is not None and "[ml]" in reason and "dask_ml" in reason


def test_logreg_check_flags_a_worse_model() -> None:
    exp = {"accuracy": 0.815, "log_loss": 0.358, "n_test": 1000.0}
    assert ml_logreg.check(exp, {**exp, "accuracy": 0.80}).ok
    assert not ml_logreg.check(exp, {**exp, "accuracy": 0.78}).ok
    assert not ml_logreg.check(exp, {**exp, "log_loss": 0.40}).ok
    assert not ml_logreg.check(exp, {**exp, "n_test": 999.0}).ok


def test_grid_search_check_allows_another_choice_only_in_a_near_tie() -> None:
    exp = {"best_lambda": 0.01, "best_l1_ratio": 1.0, "best_cv_log_loss": 0.375,
           "accuracy": 0.817, "log_loss": 0.369, "n_test": 20_000.0}
    other = {**exp, "best_l1_ratio": 0.0}
    assert ml_grid_search.check(exp, {**other, "best_cv_log_loss": 0.3765}).ok
    assert not ml_grid_search.check(exp, {**other, "best_cv_log_loss": 0.380}).ok


def test_grid_choice_is_clear_at_tiny() -> None:
    """The check relies on a winner ahead of the next grid point by more than 0.002."""
    pytest.importorskip("sklearn")
    workload, ds, _, _ = prepared("ml-grid-search")
    ctx = Context(1, 1, 1)
    answer = workload.reference(ds, ctx)
    first, second = sorted(ctx.notes["cv_log_loss"])[:2]
    assert second - first > 0.002
    assert (answer["best_lambda"], answer["best_l1_ratio"]) == (0.01, 1.0)


@pytest.mark.slow
def test_local_engine_ignores_a_live_client(dask_distributed_engine, dask_sync_engine) -> None:
    """dask-glm would scatter to any live Client; on a local engine the fit must stay local."""
    pytest.importorskip("dask_ml")
    assert dask_distributed_engine.client is not None
    record = measure_once(dask_sync_engine, "ml-logreg")
    assert record.status == "ok", (record.error, record.check)
    assert record.metrics["loss_evaluations"] > 1


@pytest.mark.slow
def test_spark_features_equal_pandas_features(spark_engine) -> None:
    _, ds, _, _ = prepared("ml-preprocess")
    # Spark may read the parts in any order; value is unique, so it orders both sides.
    spark = ml.spark_table(spark_engine.session, ds).toPandas()
    ours = ml.features_partition(read_csv_pandas(ds))
    ours["label"] = ours["label"].astype("float64")
    pd.testing.assert_frame_equal(spark.sort_values("value", ignore_index=True),
                                  ours.sort_values("value", ignore_index=True),
                                  check_dtype=False)


def test_every_ml_workload_is_registered_with_the_extra() -> None:
    for name in ML_WORKLOADS:
        workload = get_workload(name)
        assert workload.extra == "ml" and set(workload.requires) == {"dask_ml", "sklearn"}
        assert set(workload.unsupported) <= set(ENGINES)
