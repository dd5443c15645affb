"""Spark caching cannot outlive the body that asked for it, also when the body raises."""

from __future__ import annotations

from typing import Any

import pytest

from harness.workloads.common.spark import cached
from tests.helpers import measure_once

pytestmark = pytest.mark.slow


def nothing_cached(spark: Any) -> bool:
    """No cached DataFrame in the session and no persisted RDD in the context."""
    frames_empty = spark._jsparkSession.sharedState().cacheManager().isEmpty()
    return bool(frames_empty) and spark.sparkContext._jsc.getPersistentRDDs().isEmpty()


def test_cached_frames_are_unpersisted_when_the_body_raises(spark_engine) -> None:
    spark = spark_engine.session
    assert nothing_cached(spark)
    with pytest.raises(RuntimeError, match="fit failed"), \
            cached(spark.range(1000), spark.sparkContext.parallelize(range(10))) as (df, rdd):
        assert df.count() == 1000 and rdd.count() == 10
        assert not nothing_cached(spark)  # control: the cache is really there
        raise RuntimeError("fit failed")
    assert nothing_cached(spark)


@pytest.mark.parametrize("workload", ["ml-logreg", "matmul", "csv-to-parquet"])
def test_workloads_that_cache_leave_nothing_cached(spark_engine, workload: str) -> None:
    record = measure_once(spark_engine, workload)
    assert record.status == "ok", record.error
    assert nothing_cached(spark_engine.session)
