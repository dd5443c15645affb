"""asv views of the shipped sweeps: a few points of each axis, so a nightly `asv run` covers them.

Axis values come from harness/sweep/specs/*.toml through asvbench.sweep_axis (JSON strings, since
asv params must be plain values); `harness sweep NAME` runs the full grids. Every class's params
are (workload, engine, axis...): the points its setup_cache runs through the harness once.
"""

from harness import asvbench

SWEEP_ENGINES = ["dask-threads", "dask-processes", "dask-distributed"]
SETUP_CACHE_TIMEOUT = 900


class _Points:
    """Per-point warm wall times. Each subclass defines its own setup_cache: asv keys the cache
    by module and line, and each sweep must run its own points, once."""

    unit = "seconds"

    def setup(self, cache, *point):
        asvbench.skip_unmeasured(cache, point)

    def track_warm_wall(self, cache, *point):
        """Median wall time of the steady, checked runs at this point."""
        return asvbench.measured_value(cache, point, "warm_wall_s")


class WorkersThreads(_Points):
    """Compute time over workers x threads (one-level schedulers: their product)."""

    params = (["delayed-sleep", "csv-groupby"], SWEEP_ENGINES,
              asvbench.sweep_axis("workers-threads", "csv-groupby", "n_workers"),
              asvbench.sweep_axis("workers-threads", "csv-groupby", "threads_per_worker"))
    param_names = ("workload", "engine", "n_workers", "threads_per_worker")

    def setup_cache(self):
        return asvbench.measure_sweep(self.params, self.param_names)

    setup_cache.timeout = SETUP_CACHE_TIMEOUT


class ArrayChunks(_Points):
    """array-stats compute time from tiny chunks to one chunk."""

    params = (["array-stats"], ["dask-threads", "dask-distributed"],
              asvbench.sweep_axis("array-chunks", "array-stats", "chunks"))
    param_names = ("workload", "engine", "chunks")

    def setup_cache(self):
        return asvbench.measure_sweep(self.params, self.param_names)

    setup_cache.timeout = SETUP_CACHE_TIMEOUT


class FramePartitions(_Points):
    """csv-groupby compute time from one partition to many."""

    params = (["csv-groupby"], ["dask-threads", "dask-distributed"],
              asvbench.sweep_axis("frame-partitions", "csv-groupby", "npartitions"))
    param_names = ("workload", "engine", "npartitions")

    def setup_cache(self):
        return asvbench.measure_sweep(self.params, self.param_names)

    setup_cache.timeout = SETUP_CACHE_TIMEOUT


class DataScaling(_Points):
    """csv-groupby compute time as the data grows (the small end of the sweep)."""

    params = (["csv-groupby"], ["pandas", *SWEEP_ENGINES],
              asvbench.sweep_axis("data-scaling", "csv-groupby", "rows_per_file"))
    param_names = ("workload", "engine", "rows_per_file")

    def setup_cache(self):
        return asvbench.measure_sweep(self.params, self.param_names)

    setup_cache.timeout = SETUP_CACHE_TIMEOUT
