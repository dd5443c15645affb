"""asv benchmarks: a thin mapping from asv params to harness measures; all logic lives in harness/.

One harness run of the quick suite (asvbench.measure_suite: a session per engine for every
workload, each engine's warm-ups, checked answers) feeds all three classes through one shared
setup_cache; asv's per-combination processes only look their numbers up. `track_` benchmarks
report what asv cannot measure itself in a fresh process: steady (warm) compute time, the whole
process tree's memory (driver + Dask workers + Spark JVM) and engine start-up.
"""

from harness import asvbench

PARAMS = (asvbench.WORKLOAD_NAMES, asvbench.ENGINE_NAMES)
PARAM_NAMES = ["workload", "engine"]


class _Suite:
    """The one harness run behind Compute, TreeMemory and Startup: asv keys setup_cache by its
    module and line, so the three classes inheriting this method share one run."""

    def setup_cache(self):
        return asvbench.measure_suite()

    # About 9 minutes at `small` on 2 cores (from the quick suite's records at 2 repeats).
    setup_cache.timeout = 1800


class _Pairs(_Suite):
    params = PARAMS
    param_names = PARAM_NAMES

    def setup(self, cache, workload, engine):
        # asv skips a combination only when setup raises NotImplementedError; raised in a
        # track_ method it would count as a failure.
        asvbench.skip_unmeasured(cache, (workload, engine))


class Compute(_Pairs):
    """Compute time on a warm engine, start-up excluded."""

    unit = "seconds"

    def track_warm_wall(self, cache, workload, engine):
        """Median wall time of the steady, checked runs (after the cold run and warm-ups)."""
        return asvbench.measured_value(cache, (workload, engine), "warm_wall_s")


class TreeMemory(_Pairs):
    """Peak memory of the whole process tree during a run, from the harness's own sampler."""

    unit = "bytes"

    def track_peak_tree_rss(self, cache, workload, engine):
        """Sampled sum over driver and descendants (a lower bound on the true peak)."""
        return asvbench.measured_value(cache, (workload, engine), "peak_tree_rss_bytes")

    def track_peak_tree_hwm(self, cache, workload, engine):
        """Sum of per-process high-water marks (an upper bound on the true peak)."""
        return asvbench.measured_value(cache, (workload, engine), "peak_tree_hwm_bytes")

    def track_peak_driver_rss(self, cache, workload, engine):
        """The driver process alone: what asv's peakmem_ would see."""
        return asvbench.measured_value(cache, (workload, engine), "peak_driver_rss_bytes")


class Startup(_Suite):
    """Seconds from engine start to ready (timed apart from compute)."""

    params = asvbench.ENGINE_NAMES
    param_names = ("engine",)
    unit = "seconds"

    def setup(self, cache, engine):
        asvbench.skip_engine_unmeasured(cache, engine)

    def track_startup(self, cache, engine):
        return asvbench.startup_value(cache, engine)


if asvbench.cell_timing_enabled():

    class CellTime:
        """Opt-in (HARNESS_ASV_TIME=1): asv's own timer around one checked run of one cell, the
        engine started in the combination's process. Choose cells with --bench."""

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
