"""asv views of the shipped sweeps: a few points of each axis, so a nightly `asv run` covers them.

Axis values come from harness/sweep/specs/*.toml through asvbench.sweep_axis (JSON strings, since
asv params must be plain values); `harness sweep NAME` runs the full grids.
"""

from harness import asvbench

SWEEP_ENGINES = ["dask-threads", "dask-processes", "dask-distributed"]


class _SweepTime:
    number = 1
    repeat = (1, 3, 60.0)
    rounds = 1
    warmup_time = 0
    timeout = 600


class WorkersThreads(_SweepTime):
    """Compute time over workers x threads (one-level schedulers: their product)."""

    params = (["delayed-sleep", "csv-groupby"], SWEEP_ENGINES,
              asvbench.sweep_axis("workers-threads", "csv-groupby", "n_workers"),
              asvbench.sweep_axis("workers-threads", "csv-groupby", "threads_per_worker"))
    param_names = ("workload", "engine", "n_workers", "threads_per_worker")

    def setup(self, workload, engine, n_workers, threads):
        self.cell = asvbench.sweep_cell(workload, engine, n_workers=n_workers,
                                        threads_per_worker=threads)

    def time_compute(self, workload, engine, n_workers, threads):
        self.cell.run_checked()


class _OneAxis(_SweepTime):
    """One workload over one sweep axis, per engine: subclasses name the workload and axis."""

    workload = ""
    axis = ""

    def setup(self, engine, value):
        self.cell = asvbench.sweep_cell(self.workload, engine, **{self.axis: value})

    def time_compute(self, engine, value):
        self.cell.run_checked()


class ArrayChunks(_OneAxis):
    """array-stats compute time from tiny chunks to one chunk."""

    workload, axis = "array-stats", "chunks"
    params = (["dask-threads", "dask-distributed"],
              asvbench.sweep_axis("array-chunks", workload, axis))
    param_names = ("engine", axis)


class FramePartitions(_OneAxis):
    """csv-groupby compute time from one partition to many."""

    workload, axis = "csv-groupby", "npartitions"
    params = (["dask-threads", "dask-distributed"],
              asvbench.sweep_axis("frame-partitions", workload, axis))
    param_names = ("engine", axis)


class DataScaling(_OneAxis):
    """csv-groupby compute time as the data grows (the small end of the sweep)."""

    workload, axis = "csv-groupby", "rows_per_file"
    params = (["pandas", *SWEEP_ENGINES], asvbench.sweep_axis("data-scaling", workload, axis))
    param_names = ("engine", axis)
