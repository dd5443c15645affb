"""ml-preprocess (chapter 3.3, Dask-ML): features from the CSV, a train/test split, StandardScaler.

Features, label and split are defined once in `common/ml.py` (the split is the deterministic rule
`id % 5 == 0` -> test, so every engine holds out the same rows; a random train_test_split
would not). The scaler is fitted on the training rows: dask-ml's StandardScaler on the Dask
engines, scikit-learn's in the reference, Spark ML's VectorAssembler + StandardScaler on Spark.

Answer: train/test row counts, positive labels in train, and the scaler's fitted mean and scale
per feature, as sklearn defines scale (population std, n; 1.0 for a constant feature).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.workloads.checks import CheckResult
from harness.workloads.common import ml
from harness.workloads.contract import Compute, Context
from harness.workloads.datasets import Dataset

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

COUNTS = ("n_train", "n_test", "train_positive")


def answer(counts: tuple[int, int, int], mean: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """One shape for every engine: counts, then mean_<feature> and scale_<feature>."""
    out = {k: float(v) for k, v in zip(COUNTS, counts, strict=True)}
    out |= {f"mean_{f}": float(m) for f, m in zip(ml.FEATURES, mean, strict=True)}
    out |= {f"scale_{f}": float(s) for f, s in zip(ml.FEATURES, scale, strict=True)}
    return out


def reference(ds: Dataset, ctx: Context) -> dict[str, float]:
    from sklearn.preprocessing import StandardScaler

    table = ml.pandas_table(ds)
    train = table[~table["is_test"]]
    scaler = StandardScaler().fit(train[list(ml.FEATURES)].to_numpy())
    counts = (len(train), int(table["is_test"].sum()), int(train["label"].sum()))
    return answer(counts, scaler.mean_, scaler.scale_)


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, float]:
    from dask_ml.preprocessing import StandardScaler

    (table,) = ml.persist(compute, ml.dask_table(ds))
    train = table[~table["is_test"]]
    counts = compute((~table["is_test"]).sum(), table["is_test"].sum(), train["label"].sum())
    with ml.on_engine(compute):
        scaler = StandardScaler().fit(train[list(ml.FEATURES)])
    ctx.note("partitions", table.npartitions)
    n_train, n_test, positive = (int(c) for c in counts)
    return answer((n_train, n_test, positive), scaler.mean_, scaler.scale_)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.sql import functions as F

    with ml.spark_split(spark, ds) as (train, test):
        n_train, positive = train.agg(F.count("*"), F.sum("label")).first()
        model, _, _ = ml.spark_scale(train, test)
        counts = (int(n_train), int(test.count()), int(positive))
        # Spark's std is the unbiased one (n - 1); sklearn's scale_ divides by n: convert exactly.
        scale = ml.population_scale(model.std.toArray(), int(n_train))
    return answer(counts, model.mean.toArray(), scale)


def check(exp: Mapping[str, float], act: Mapping[str, float]) -> CheckResult:
    # Counts must be equal. Means and scales are sums in engine-specific order: rtol 1e-6, and an
    # absolute 1e-9 for means near zero (value's mean is ~1e-3, where rtol alone is too strict).
    detail: dict[str, Any] = {"rtol": 1e-6, "atol_mean": 1e-9}
    bad = [k for k in COUNTS if exp[k] != act[k]]
    for key in exp:
        if key in COUNTS:
            continue
        atol = 1e-9 if key.startswith("mean_") else 0.0
        if not np.isclose(act[key], exp[key], rtol=1e-6, atol=atol):
            bad.append(key)
    detail["differs"] = {k: {"expected": exp[k], "actual": act[k]} for k in bad}
    return CheckResult(not bad, detail)


WORKLOAD = ml.ml_workload(
    name="ml-preprocess",
    title="Dask-ML: features, deterministic train/test split, StandardScaler",
    small_rows_per_file=40_000,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
)
