"""ml-logreg (chapter 3.3, Dask-ML): L2 logistic regression on the standardized features.

Data, label (`value + noise > 0`, see `common/ml.py`) and the deterministic test split are shared by
every engine; features are standardized on the training rows first. Models:

- reference: scikit-learn LogisticRegression(C=1, lbfgs), on one core;
- Dask: dask-ml LogisticRegression(C=1, solver="lbfgs"), data as persisted Dask arrays. Its
  objective (dask-glm) is sum(log-loss) + 1/C * ||beta||^2 / 2, sklearn's, except that it also
  penalizes the intercept (which moves it by ~1e-5 at `tiny`, less when larger). dask-glm's
  own input normalization is off (`normalize=False`): the features are standardized already,
  and it refuses data with a constant column besides the intercept (day of week at `tiny`);
- Spark: MLlib LogisticRegression with regParam = 1 / (C * n_train), elasticNetParam = 0 (the
  same objective divided by C * n_train) and standardization=False (standardized already).

Answer: accuracy and log-loss on the test rows. The solvers stop at different tolerances and
MLlib scales with the unbiased std, so answers agree to a tolerance, not bitwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from harness.workloads.checks import CheckResult, check_quality
from harness.workloads.common import ml
from harness.workloads.contract import Compute, Context
from harness.workloads.datasets import Dataset

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

C = 1.0
MAX_ITER = 100


def reference(ds: Dataset, ctx: Context) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X_train, y_train, X_test, y_test = ml.pandas_split(ds)
    scaler = StandardScaler().fit(X_train)
    model = LogisticRegression(C=C, solver="lbfgs", max_iter=MAX_ITER)
    model.fit(scaler.transform(X_train), y_train)
    ctx.note("n_iter", int(model.n_iter_[0]))
    ctx.note("coef", [round(float(c), 6) for c in model.coef_[0]])
    return ml.quality(y_test, model.predict_proba(scaler.transform(X_test))[:, 1])


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, float]:
    from dask_ml.linear_model import LogisticRegression
    from dask_ml.preprocessing import StandardScaler

    X_train, y_train, X_test, y_test = ml.dask_split(compute, ds)
    with ml.on_engine(compute) as get:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = ml.persist(compute, scaler.transform(X_train),
                                      scaler.transform(X_test))
        before = get.calls
        model = LogisticRegression(C=C, solver="lbfgs", max_iter=MAX_ITER,
                                   solver_kwargs={"normalize": False}).fit(X_train, y_train)
        # dask-glm keeps no n_iter; each loss-and-gradient evaluation is one compute.
        ctx.note("loss_evaluations", get.calls - before)
    p1, y = compute(model.predict_proba(X_test)[:, 1], y_test)
    ctx.note("coef", [round(float(c), 6) for c in model.coef_])
    ctx.note("chunks", len(X_train.chunks[0]))
    return ml.quality(y, p1)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, float]:
    from pyspark.ml.classification import LogisticRegression

    with ml.spark_split(spark, ds) as (train, test):
        _, train_s, test_s = ml.spark_scale(train, test)
        n_train = train.count()
        model = LogisticRegression(regParam=1.0 / (C * n_train), elasticNetParam=0.0,
                                   standardization=False, maxIter=MAX_ITER, tol=1e-6).fit(train_s)
        ctx.note("n_iter", int(model.summary.totalIterations))
        ctx.note("coef", [round(float(c), 6) for c in model.coefficients.toArray()])
        answer = ml.spark_quality(model.transform(test_s))
    return answer


def check(exp: Mapping[str, float], act: Mapping[str, float]) -> CheckResult:
    # Same model up to solver tolerance and the n vs n-1 scaling: metrics within 0.02 absolute
    # (measured differences are ~1e-4; the 0.02 bound would flag a different model, not noise).
    return check_quality(exp, act, {"accuracy": 0.02, "log_loss": 0.02})


WORKLOAD = ml.ml_workload(
    name="ml-logreg",
    title="Dask-ML: logistic regression (L2, lbfgs) on standardized features",
    small_rows_per_file=40_000,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
)
