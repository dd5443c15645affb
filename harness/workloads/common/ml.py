"""Shared pieces of the Dask-ML workloads (chapter 3.3): one feature and label definition.

Every engine builds the same table from the chapter CSV (id, value, category, timestamp):

- features: `hour` and `dayofweek` (Monday = 0) of the timestamp, `code` (category A-D as 0-3)
  and `value`;
- label: `value + noise > 0`, where `noise` in [-1, 1) is a deterministic function of `id` (a
  Knuth multiplicative hash, computed in exact integer arithmetic by pandas, Dask and Spark
  alike). The chapter's plain `value > 0` would be a deterministic function of a feature:
  separable data, accuracy 1.0 and an unregularized optimum at infinity, which says nothing
  about a solver. With the noise the best possible accuracy is about 0.815 and the fitted
  model is finite and unique, so accuracy and log-loss are well defined and stable;
- split: rows with `id % 5 == 0` are the test set (20 %). A deterministic rule, not a random
  `train_test_split`: sklearn's, dask-ml's and Spark's random splits draw different rows even
  with the same seed, and the check needs the same rows on every engine.

`hour`, `dayofweek` and `code` carry no information about the label (the CSV draws value and
category independently, and the timestamp is a function of id): they are the usual mix of
useless columns a model must learn to ignore.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.workloads.common.frames import prepare_csv
from harness.workloads.common.spark import cached
from harness.workloads.contract import Compute, Workload
from harness.workloads.datasets import CATEGORIES, Dataset, read_csv_pandas
from harness.workloads.schema import CSV

FEATURES = ("hour", "dayofweek", "code", "value")
TEST_EVERY = 5  # id % 5 == 0 -> test
HASH_MULT = 2654435761  # Knuth's multiplicative hash constant (2^32 / golden ratio)
HASH_MOD = 2**32
REQUIRES = ("dask_ml", "sklearn")


def ml_workload(*, small_rows_per_file: int, **fields: Any) -> Workload[Dataset, Any]:
    """A §3.3 workload over this module's table: the sizes differ only at `small`, where each
    model gets the rows it fits in about a second."""
    sizes = {
        "tiny": {"files": 2, "rows_per_file": 2_500},
        "small": {"files": 5, "rows_per_file": small_rows_per_file},
        "seed": {"files": 5, "rows_per_file": 1_000_000},
    }
    return Workload(section="3.3", sizes=sizes, prepare=prepare_csv, graph=dask_table,
                    requires=REQUIRES, extra="ml", **fields)


def noise(ids: pd.Series | np.ndarray) -> np.ndarray:
    """Uniform-looking noise in [-1, 1) from id, exact in int64 (id * MULT < 2^63 for id < 3e9)."""
    return ((np.asarray(ids, dtype="int64") * HASH_MULT) % HASH_MOD) / HASH_MOD * 2.0 - 1.0


def features_partition(df: pd.DataFrame) -> pd.DataFrame:
    """Features, label and split flag of one pandas partition (the pandas and Dask definition)."""
    codes = {c: i for i, c in enumerate(CATEGORIES)}
    out = pd.DataFrame({
        "hour": df["timestamp"].dt.hour.astype("float64"),
        "dayofweek": df["timestamp"].dt.dayofweek.astype("float64"),
        "code": df["category"].map(codes).astype("float64"),
        "value": df["value"].astype("float64"),
    }, index=df.index)
    out["label"] = (df["value"].to_numpy() + noise(df["id"])) > 0
    out["is_test"] = (df["id"] % TEST_EVERY) == 0
    return out


FEATURES_META = pd.DataFrame({**{f: pd.Series(dtype="float64") for f in FEATURES},
                              "label": pd.Series(dtype="bool"),
                              "is_test": pd.Series(dtype="bool")})


def pandas_table(ds: Dataset) -> pd.DataFrame:
    """The reference: every CSV part read with pandas, then the shared features."""
    return features_partition(read_csv_pandas(ds))


def pandas_split(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test) as NumPy arrays, unscaled."""
    table = pandas_table(ds)
    train, test = table[~table["is_test"]], table[table["is_test"]]
    cols = list(FEATURES)
    return (train[cols].to_numpy(), train["label"].to_numpy(),
            test[cols].to_numpy(), test["label"].to_numpy())


def dask_table(ds: Dataset) -> Any:
    """The same table as a lazy Dask DataFrame, one partition per CSV block."""
    import dask.dataframe as dd

    ddf = dd.read_csv(ds.glob, **CSV.read_kwargs())
    return ddf.map_partitions(features_partition, meta=FEATURES_META)


def dask_split(compute: Compute, ds: Dataset) -> tuple[Any, Any, Any, Any]:
    """(X_train, y_train, X_test, y_test) as Dask arrays with known chunks, over a table
    persisted on the engine (so an iterative fit does not re-read the CSV every step)."""
    (table,) = persist(compute, dask_table(ds))
    train, test = table[~table["is_test"]], table[table["is_test"]]
    cols = list(FEATURES)
    with on_engine(compute):
        return tuple(part[c].to_dask_array(lengths=True)
                     for part in (train, test) for c in (cols, "label"))


def dask_numpy_split(compute: Compute,
                     ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pandas_split() through the engine: the table built by Dask, brought back as NumPy."""
    table = dask_table(ds)
    train, test = table[~table["is_test"]], table[table["is_test"]]
    cols = list(FEATURES)
    parts = compute(train[cols], train["label"], test[cols], test["label"])
    return tuple(p.to_numpy() for p in parts)


def spark_table(spark: Any, ds: Dataset) -> Any:
    """The same table in Spark SQL: identical integer hash, weekday() is Monday = 0 like pandas."""
    from pyspark.sql import functions as F

    df = spark.read.csv(ds.glob, header=True, schema=CSV.spark())
    code = F.create_map(*[F.lit(x) for i, c in enumerate(CATEGORIES) for x in (c, i)])
    hashed = (F.col("id") * F.lit(HASH_MULT)) % F.lit(HASH_MOD)
    eps = hashed.cast("double") / float(HASH_MOD) * 2.0 - 1.0
    return df.select(
        F.hour("timestamp").cast("double").alias("hour"),
        F.weekday("timestamp").cast("double").alias("dayofweek"),
        code[F.col("category")].cast("double").alias("code"),
        F.col("value"),
        ((F.col("value") + eps) > 0).cast("double").alias("label"),
        ((F.col("id") % TEST_EVERY) == 0).alias("is_test"),
    )


@contextlib.contextmanager
def spark_split(spark: Any, ds: Dataset) -> Iterator[tuple[Any, Any]]:
    """(train, test) Spark DataFrames with an assembled `raw` feature vector, cached for the
    body's `with` block and unpersisted when it ends, also when a fit raises."""
    from pyspark.ml.feature import VectorAssembler

    table = VectorAssembler(inputCols=list(FEATURES), outputCol="raw").transform(
        spark_table(spark, ds))
    train = table.filter(~table["is_test"]).select("raw", "label")
    test = table.filter(table["is_test"]).select("raw", "label")
    with cached(train, test):
        yield train, test


def spark_scale(train: Any, test: Any) -> tuple[Any, Any, Any]:
    """Spark's StandardScaler fitted on train: (model, scaled train, scaled test)."""
    from pyspark.ml.feature import StandardScaler

    model = StandardScaler(inputCol="raw", outputCol="features", withMean=True,
                           withStd=True).fit(train)
    return model, model.transform(train), model.transform(test)


def population_scale(spark_std: np.ndarray, n: int) -> np.ndarray:
    """Spark's unbiased std (n - 1) as sklearn's scale_ (n), with sklearn's 1.0 for constants."""
    scale = np.asarray(spark_std, dtype="float64") * math.sqrt((n - 1) / n)
    return np.where(scale == 0.0, 1.0, scale)


class EngineGet:
    """A dask `get` on the engine's scheduler that counts its calls (one per dask.compute)."""

    def __init__(self, compute: Compute) -> None:
        self.compute = compute
        self.calls = 0

    def __call__(self, dsk: Mapping[Any, Any], keys: Any, **kwargs: Any) -> Any:
        # Extras dask-ml passes (num_workers) are ignored: the engine fixed its workers already.
        # dask.compute/persist hand a scheduler an expression; compute.get takes a graph dict.
        self.calls += 1
        if hasattr(dsk, "__dask_graph__"):
            dsk = dsk.__dask_graph__()
        return self.compute.get(dsk, keys)


@contextlib.contextmanager
def on_engine(compute: Compute) -> Iterator[EngineGet]:
    """Route dask-ml's own dask.compute/persist calls to this engine (and count their tasks).

    dask-glm's lbfgs also asks distributed for *any* live Client and scatters to it whatever
    scheduler is configured; on a local engine it is told there is none, so a Client left
    alive in the same process (tests) is not silently used.
    """
    import dask
    from dask_glm import algorithms

    get = EngineGet(compute)
    client = compute.client
    with (dask.config.set(scheduler=get),
          _patched(algorithms, "get_distributed_client", lambda: client)):
        yield get


def persist(compute: Compute, *collections: Any) -> tuple[Any, ...]:
    """Persist on the engine, the usual advice before an iterative fit: on a cluster the chunks
    stay on the workers (client.persist); locally they are computed into this process."""
    import dask

    if compute.client is not None:
        return tuple(compute.client.persist(list(collections)))
    with on_engine(compute):
        return dask.persist(*collections)


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def log_loss(y: np.ndarray, p1: np.ndarray) -> float:
    """Mean binary log-loss with probabilities clipped like sklearn (eps = float64 eps)."""
    eps = np.finfo("float64").eps
    p = np.clip(np.asarray(p1, dtype="float64"), eps, 1 - eps)
    y = np.asarray(y, dtype="float64")
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def quality(y: np.ndarray, p1: np.ndarray) -> dict[str, float]:
    """Accuracy (threshold 0.5) and log-loss of predicted P(label = 1) on the test split."""
    y = np.asarray(y, dtype=bool)
    return {"accuracy": float(np.mean((np.asarray(p1) > 0.5) == y)), "log_loss": log_loss(y, p1),
            "n_test": float(len(y))}


def spark_quality(predictions: Any) -> dict[str, float]:
    """quality() of a Spark prediction frame: P(label = 1) is the probability vector's [1]."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    pdf = predictions.select(F.col("label"),
                             vector_to_array(F.col("probability"))[1].alias("p1")).toPandas()
    return quality(pdf["label"].to_numpy() > 0.5, pdf["p1"].to_numpy())
