"""The columns of every generated dataset, declared once: pandas, Dask and Spark read from here.

A `Table` gives each engine its reader's terms: the dtypes and date columns pandas' and Dask's
`read_csv` take, and the explicit Spark schema (no `inferSchema` pass over the data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

Kind = Literal["int", "float", "str", "timestamp"]
# String columns are read as object: the reference and every Dask scheduler then compare
# the same dtype, whatever pandas' string inference does.
PANDAS_DTYPES: dict[Kind, str] = {"int": "int64", "float": "float64", "str": "object"}
MANIFEST_DTYPES: dict[Kind, str] = {"int": "int64", "float": "float64", "str": "string",
                                    "timestamp": "datetime64[s]"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    """A dataset's columns, in file order."""

    columns: tuple[Column, ...]

    def read_kwargs(self) -> dict[str, Any]:
        """`dtype` and `parse_dates` for pandas' and Dask's `read_csv`."""
        return {"dtype": {c.name: PANDAS_DTYPES[c.kind] for c in self.columns
                          if c.kind != "timestamp"},
                "parse_dates": [c.name for c in self.columns if c.kind == "timestamp"]}

    def manifest(self) -> dict[str, str]:
        """The column types as a dataset's manifest states them."""
        return {c.name: MANIFEST_DTYPES[c.kind] for c in self.columns}

    def spark(self) -> StructType:
        """The explicit Spark schema."""
        from pyspark.sql.types import (
            DoubleType,
            LongType,
            StringType,
            StructField,
            StructType,
            TimestampType,
        )

        types = {"int": LongType, "float": DoubleType, "str": StringType,
                 "timestamp": TimestampType}
        return StructType([StructField(c.name, types[c.kind](), nullable=c.nullable)
                           for c in self.columns])


# The chapter's CSV parts: id, value, category (A-D), timestamp (1 s apart).
CSV = Table((Column("id", "int", nullable=False), Column("value", "float"),
             Column("category", "str"), Column("timestamp", "timestamp")))
# Exercise 5's parts: two value columns with NaNs (empty fields in the CSV).
CSV_NAN = Table((Column("id", "int", nullable=False), Column("value1", "float"),
                 Column("value2", "float"), Column("category", "str"),
                 Column("timestamp", "timestamp")))
# The JSON-lines logs of bag-logs.
LOGS = Table((Column("timestamp", "timestamp"), Column("level", "str"),
              Column("message", "str"), Column("service", "str")))
