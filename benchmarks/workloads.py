"""asv benchmarks: a thin mapping from asv params to harness cells; all logic lives in harness/.

`time_` benchmarks time the compute only (the engine starts once per process, in setup);
`track_` benchmarks report what asv's own `peakmem_` cannot see: the whole process tree
(driver + Dask workers + Spark JVM) and engine start-up.
"""

from harness import asvbench

PARAMS = (asvbench.WORKLOAD_NAMES, asvbench.ENGINE_NAMES)
PARAM_NAMES = ["workload", "engine"]


class Compute:
    """Wall time of one checked run on a warm engine."""

    params = PARAMS
    param_names = PARAM_NAMES
    number = 1
    repeat = (1, 5, 60.0)
    rounds = 1
    warmup_time = 0
    timeout = 600

    def setup(self, workload, engine):
        self.cell = asvbench.cell(workload, engine)

    def time_compute(self, workload, engine):
        self.cell.run_checked()


class _SuiteMeasures:
    """Shares one harness run among the track_ classes (asv keys setup_cache by its code)."""

    timeout = 1800

    def setup_cache(self):
        return asvbench.measure_suite()

    setup_cache.timeout = 1800


class TreeMemory(_SuiteMeasures):
    """Peak memory of the whole process tree during a run, from the harness's own sampler."""

    params = PARAMS
    param_names = PARAM_NAMES
    unit = "bytes"

    def setup(self, cache, workload, engine):
        # asv skips a combination only when setup raises NotImplementedError; raised in a
        # track_ method it would count as a failure.
        asvbench.skip_unless_runnable(workload, engine)

    def track_peak_tree_rss(self, cache, workload, engine):
        """Sampled sum over driver and descendants (a lower bound on the true peak)."""
        return asvbench.suite_value(cache, workload, engine, "peak_tree_rss_bytes")

    def track_peak_tree_hwm(self, cache, workload, engine):
        """Sum of per-process high-water marks (an upper bound on the true peak)."""
        return asvbench.suite_value(cache, workload, engine, "peak_tree_hwm_bytes")

    def track_peak_driver_rss(self, cache, workload, engine):
        """The driver process alone: what asv's peakmem_ would see."""
        return asvbench.suite_value(cache, workload, engine, "peak_driver_rss_bytes")


class Startup(_SuiteMeasures):
    """Seconds from engine start to ready (timed apart from compute)."""

    params = asvbench.ENGINE_NAMES
    param_names = ("engine",)
    unit = "seconds"

    def setup(self, cache, engine):
        asvbench.skip_unless_available(engine)

    def track_startup(self, cache, engine):
        return asvbench.startup_from_suite(cache, engine)
