"""The engine registry: every engine by the name users type, in report order."""

from __future__ import annotations

from harness import config
from harness.engines.addresses import dask_endpoint, probe, spark_endpoints
from harness.engines.base import Engine, EngineOptions
from harness.engines.dask import (
    DaskDistributedEngine,
    DaskProcessesEngine,
    DaskSyncEngine,
    DaskThreadsEngine,
)
from harness.engines.reference import PandasEngine
from harness.engines.spark import SparkEngine
from harness.errors import UsageError

# The sequential reference every other engine's speed is compared with.
REFERENCE_ENGINE = PandasEngine.name

ENGINES: dict[str, type[Engine]] = {
    cls.name: cls
    for cls in (PandasEngine, DaskSyncEngine, DaskThreadsEngine, DaskProcessesEngine,
                DaskDistributedEngine, SparkEngine)
}


def get_engine(name: str) -> type[Engine]:
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(ENGINES)
        raise UsageError(f"unknown engine {name!r}; choose one of: {known}") from None


def validate_options(options: EngineOptions) -> list[str]:
    """Reject counts and addresses no engine can honour; warn of what oversubscribes the cores."""
    for flag, value, limit in (("--workers", options.workers, config.MAX_WORKERS),
                               ("--threads", options.threads, config.MAX_THREADS)):
        if value is not None and not 1 <= value <= limit:
            raise UsageError(f"{flag} must be between 1 and {limit}, got {value}")
    if options.dask_address is not None:
        dask_endpoint(options.dask_address)
    if options.spark_master is not None:
        spark_endpoints(options.spark_master)
    return _slot_warnings(options)


def _slot_warnings(options: EngineOptions) -> list[str]:
    """A warning when the most slots any engine would run (an unset count is its default)
    exceed the logical cores; a UsageError when they exceed MAX_SLOTS_PER_CORE of them."""
    if options.workers is None and options.threads is None:
        return []
    cores = config.logical_cores()
    workers, threads = options.workers or cores, options.threads or 1
    slots = workers * threads
    given = f"--workers/--threads: {workers} worker(s) x {threads} thread(s) = {slots} slots"
    limit = config.MAX_SLOTS_PER_CORE * cores
    if slots > limit:
        raise UsageError(f"{given} is more than {config.MAX_SLOTS_PER_CORE} per logical core "
                         f"({limit} on this machine's {cores}): such a run measures only "
                         f"contention; use at most {limit} slots")
    if slots > cores:
        return [f"warning: {given} on {cores} logical cores: oversubscribed, so timings "
                "include contention"]
    return []


def probe_addresses(options: EngineOptions, engines: list[str]) -> None:
    """An address given for an engine that will run must have something listening there."""
    if options.dask_address and DaskDistributedEngine.name in engines:
        probe([dask_endpoint(options.dask_address)], "--dask-address", options.dask_address,
              "Dask scheduler")
    if options.spark_master and SparkEngine.name in engines:
        probe(spark_endpoints(options.spark_master), "--spark-master", options.spark_master,
              "Spark master")
