"""Read the chapter CSV parts the same way on every engine (shared by the DataFrame workloads).

Not a workload: modules starting with "_" are skipped by the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from harness.datasets import Dataset, read_csv_pandas
from harness.workloads.base import CheckResult, check_frame

# Same dtypes as the reference reader; timestamps parsed as datetimes on every engine.
DASK_DTYPES = {"id": "int64", "value": "float64", "category": "object"}


def pandas_frame(ds: Dataset) -> pd.DataFrame:
    """Every part, concatenated, as the reference reads it."""
    return read_csv_pandas(ds)


def dask_frame(ds: Dataset) -> Any:
    """A lazy Dask DataFrame over the parts (one partition per block of each file)."""
    import dask.dataframe as dd

    return dd.read_csv(ds.glob, dtype=DASK_DTYPES, parse_dates=["timestamp"])


def spark_frame(spark: Any, ds: Dataset) -> Any:
    """A Spark DataFrame over the parts, with the explicit schema (no inference pass)."""
    from harness.spark_schema import CSV_SCHEMA

    return spark.read.csv(ds.glob, header=True, schema=CSV_SCHEMA)


def check_dict(expected: Mapping[str, float], actual: Mapping[str, float],
               rtol: float) -> CheckResult:
    """Same keys, every value within `rtol` (a dict answer compared as a one-column frame)."""
    return check_frame(_as_frame(expected), _as_frame(actual), rtol=rtol)


def _as_frame(numbers: Mapping[str, float]) -> pd.DataFrame:
    return pd.Series(dict(numbers), dtype="float64").sort_index().to_frame("value")
