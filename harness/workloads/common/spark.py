"""Spark pieces several workloads share: caching that cannot outlive the body that asked for it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def cached(*frames: T) -> Iterator[tuple[T, ...]]:
    """Cache Spark DataFrames, RDDs or BlockMatrices for one body; unpersisted however it ends.

    A cached frame left behind (say, by an ML fit that raised) holds executor memory that every
    later run in the same JVM would pay for and be charged with.
    """
    for frame in frames:
        frame.cache()  # type: ignore[attr-defined]
    try:
        yield frames
    finally:
        for frame in frames:
            with contextlib.suppress(Exception):  # a JVM that is gone holds no cache either
                _unpersist(frame)


def _unpersist(frame: Any) -> None:
    if hasattr(frame, "unpersist"):
        frame.unpersist()
        return
    # pyspark's BlockMatrix has cache() but no unpersist(): its cached blocks live in the JVM,
    # beside the block-shape RDD that multiply() caches on its own (Scala's `blockInfo`).
    matrix = frame._java_matrix_wrapper._java_model
    matrix.blocks().unpersist(False)
    matrix.blockInfo().unpersist(False)
