"""Explicit Spark schemas for the generated datasets (no inferSchema pass over the data)."""

from __future__ import annotations

from pyspark.sql.types import (
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

CSV_SCHEMA = StructType(
    [
        StructField("id", LongType(), nullable=False),
        StructField("value", DoubleType(), nullable=True),
        StructField("category", StringType(), nullable=True),
        StructField("timestamp", TimestampType(), nullable=True),
    ]
)
