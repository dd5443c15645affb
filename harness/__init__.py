"""Benchmark and comparison harness for pandas, Dask's schedulers and PySpark."""

__version__ = "0.1.0"
