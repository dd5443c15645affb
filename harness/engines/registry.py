"""The engine registry: every engine by the name users type, in report order."""

from __future__ import annotations

from harness import config
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


def validate_options(options: EngineOptions) -> None:
    """Reject worker and thread counts no engine can honour."""
    for flag, value, limit in (("--workers", options.workers, config.MAX_WORKERS),
                               ("--threads", options.threads, config.MAX_THREADS)):
        if value is not None and not 1 <= value <= limit:
            raise UsageError(f"{flag} must be between 1 and {limit}, got {value}")
