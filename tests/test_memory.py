"""TreeSampler sees memory held by descendants of the measured process, not just the driver."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy
import psutil
import pytest

from harness.engines.spark import SparkEngine
from harness.execution.proctree import live_tree
from harness.execution.sampler import Probe, TreeSampler

MiB = 1024 * 1024
ALLOC_BYTES = 512 * MiB
TOLERANCE = 0.05

# A child that imports numpy first, then allocates only when told to: the measured interval
# covers the allocation alone, not the interpreter's own start-up.
CHILD = f"""
import sys, time
import numpy
print("ready", flush=True)
sys.stdin.readline()
a = numpy.ones({ALLOC_BYTES // 8})  # float64 ones: every page written
print("allocated", flush=True)
sys.stdin.readline()
"""


def _within_tolerance(delta: int) -> bool:
    return abs(delta - ALLOC_BYTES) <= TOLERANCE * ALLOC_BYTES


def test_sampler_sees_child_subprocess_memory() -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        with TreeSampler() as sampler:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "allocated"
            time.sleep(0.3)  # let the probe take a few samples too
        proc.stdin.write("exit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    m = sampler.result
    delta = m.peak_tree_rss_bytes - m.baseline_tree_rss_bytes
    assert _within_tolerance(delta), f"saw {delta / MiB:.1f} MiB, allocated 512 MiB"
    assert m.max_processes >= 2
    # The child's memory is not the driver's.
    assert m.peak_driver_rss_bytes < m.peak_tree_rss_bytes - ALLOC_BYTES // 2
    if m.peak_tree_hwm_bytes is not None:
        assert m.peak_tree_hwm_bytes >= m.peak_tree_rss_bytes


@pytest.mark.slow
def test_sampler_sees_distributed_worker_memory(dask_distributed_engine) -> None:
    from distributed import wait

    client = dask_distributed_engine.client
    driver_before = psutil.Process().memory_info().rss
    with TreeSampler() as sampler:
        # numpy.ones is importable on the worker; the result stays in the worker's memory.
        future = client.submit(numpy.ones, ALLOC_BYTES // 8, pure=False)
        wait(future)
        assert future.status == "finished"
        time.sleep(0.3)  # let the probe take a few samples too
    future.release()
    del future

    m = sampler.result
    delta = m.peak_tree_rss_bytes - m.baseline_tree_rss_bytes
    assert _within_tolerance(delta), f"saw {delta / MiB:.1f} MiB in the workers, allocated 512 MiB"
    # Nothing of that size came back to the driver (whose own size depends on earlier tests).
    assert m.peak_driver_rss_bytes - driver_before < ALLOC_BYTES // 2


@pytest.mark.slow
def test_sampler_sees_jvm_memory(spark_engine) -> None:
    """512 MiB allocated inside Spark's JVM (a direct buffer: fresh pages, all written)."""
    jvm = spark_engine.session._jvm
    with TreeSampler() as sampler:
        buffer = jvm.java.nio.ByteBuffer.allocateDirect(ALLOC_BYTES)
        time.sleep(0.3)  # let the probe take a few samples too
    m = sampler.result
    del buffer
    jvm.System.gc()  # the buffer's memory goes back when the JVM collects it
    delta = m.peak_tree_rss_bytes - m.baseline_tree_rss_bytes
    assert _within_tolerance(delta), f"saw {delta / MiB:.1f} MiB in the JVM, allocated 512 MiB"
    assert m.peak_driver_rss_bytes < m.peak_tree_rss_bytes - ALLOC_BYTES // 2


def test_the_probe_measures_its_own_cost_and_leaves_itself_out() -> None:
    """The probe is a child of the driver, but neither its memory nor its CPU is the tree's."""
    with Probe() as probe:
        with TreeSampler(probe) as sampler:
            time.sleep(0.5)
        tree = [p.pid for p in live_tree(psutil.Process())]  # with session fixtures' children
    m = sampler.result
    assert probe.proc.pid in tree
    assert m.samples >= 5
    assert m.sampler_cpu_s > 0  # recorded in every record's metrics
    assert m.max_processes == len(tree) - 1  # everything but the probe


def _zombie_child() -> subprocess.Popen:
    """A child that has exited but is not yet reaped (what spark-class leaves under its JVM)."""
    proc = subprocess.Popen(["true"])
    deadline = time.monotonic() + 30
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "child did not exit"
        time.sleep(0.01)
    return proc


def test_sampler_hwm_survives_a_zombie_in_the_tree() -> None:
    proc = _zombie_child()
    try:
        with TreeSampler() as sampler:
            time.sleep(0.05)
    finally:
        proc.wait()
    assert sampler.result.peak_tree_hwm_bytes is not None
    assert sampler.result.peak_tree_hwm_bytes >= sampler.result.peak_tree_rss_bytes


def test_sampler_hwm_without_zombies() -> None:
    """Control for the test above: with no zombie the high-water mark is read."""
    with TreeSampler() as sampler:
        ballast = numpy.ones(64 * MiB // 8)
        del ballast
    m = sampler.result
    assert m.peak_tree_hwm_bytes is not None
    # The driver's 64 MiB spike was freed before the last sample but the high-water mark saw it.
    assert m.peak_tree_hwm_bytes >= m.baseline_tree_rss_bytes + 60 * MiB


def jvm_heap_after_quiesce(engine: SparkEngine, new_workload: bool) -> tuple[float, float]:
    """JVM heap in use (MiB) after a job that grows it, and after quiesce()."""
    runtime = engine.session._jvm.java.lang.Runtime.getRuntime()

    def used_mib() -> float:
        return (runtime.totalMemory() - runtime.freeMemory()) / MiB

    engine.session.range(0, 3_000_000).selectExpr("cast(id as string) s") \
        .groupBy("s").count().count()
    before = used_mib()
    engine.quiesce(new_workload=new_workload)
    return before, used_mib()


@pytest.mark.slow
def test_spark_quiesce_frees_what_earlier_workloads_left_in_the_jvm(spark_engine) -> None:
    # Otherwise a JVM heap grown by one workload is charged to every later one.
    before, after = jvm_heap_after_quiesce(spark_engine, new_workload=True)
    assert after < 0.5 * before, (before, after)


@pytest.mark.slow
def test_spark_keeps_its_heap_between_runs_of_one_workload(spark_engine) -> None:
    """Control for the test above: between runs of the same workload there is no full GC
    (measured by `harness calibrate`: one before every run slowed the runs by 5-32 %)."""
    before, after = jvm_heap_after_quiesce(spark_engine, new_workload=False)
    assert after > 0.5 * before, (before, after)
