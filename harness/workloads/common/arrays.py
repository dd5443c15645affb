"""Seeded block-random arrays shared by the chapter's array workloads (not a workload itself).

Every block is made by `block(seed, block_index, shape)` from its own seeded stream, so a NumPy
loop, a Dask array and a Spark RDD over the same block grid see identical numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from harness.workloads.contract import Context

Chunks = tuple[tuple[int, ...], ...]
Index = tuple[int, ...]
# make(seed, block_index, shape) -> block; a module-level function (or a partial of one).
MakeBlock = Callable[[int, Sequence[int], Sequence[int]], np.ndarray]


def block(seed: int, block_index: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """Uniform [0, 1) float64 block `block_index` of the array seeded by `seed`."""
    return np.random.default_rng([seed, *block_index]).random(tuple(shape))


def grid(shape: Sequence[int], chunk_shape: Sequence[int]) -> Chunks:
    """Chunk sizes per axis, Dask style: full chunks, then a smaller last one."""
    return tuple(
        (c,) * (n // c) + ((n % c,) if n % c else ())
        for n, c in zip(shape, chunk_shape, strict=True)
    )


def block_indices(chunks: Chunks) -> Iterator[Index]:
    """Every block index of the grid, in C order."""
    return itertools.product(*(range(len(c)) for c in chunks))


def block_shape(chunks: Chunks, index: Index) -> tuple[int, ...]:
    return tuple(c[i] for c, i in zip(chunks, index, strict=True))


def n_blocks(chunks: Chunks) -> int:
    return math.prod(len(c) for c in chunks)


def assemble(seed: int, chunks: Chunks, make: MakeBlock = block) -> np.ndarray:
    """The whole array in memory, block by block (the NumPy reference's input)."""
    out = np.empty(tuple(sum(c) for c in chunks))
    for index in block_indices(chunks):
        starts = [sum(c[:i]) for c, i in zip(chunks, index, strict=True)]
        shape = block_shape(chunks, index)
        where = tuple(slice(s, s + n) for s, n in zip(starts, shape, strict=True))
        out[where] = make(seed, index, shape)
    return out


def _dask_block(seed: int, make: MakeBlock,
                block_info: dict[Any, Any] | None = None) -> np.ndarray:
    """map_blocks adapter: the block at this chunk's location."""
    info = block_info[None]  # type: ignore[index]
    return make(seed, info["chunk-location"], info["chunk-shape"])


def dask_array(seed: int, chunks: Chunks, make: MakeBlock = block) -> Any:
    """The same array as a lazy Dask array, one task per block."""
    import dask.array as da

    return da.map_blocks(_dask_block, seed=seed, make=make, chunks=chunks, dtype="float64",
                         meta=np.empty((0,) * len(chunks)), token="block")


def note_chunks(ctx: Context, chunks: Chunks) -> None:
    """Record the chunk shape (largest block) and how many blocks the array has."""
    ctx.note("chunk_shape", [max(c) for c in chunks])
    ctx.note("n_chunks", n_blocks(chunks))
