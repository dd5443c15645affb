"""Shared fixtures: isolated data/results/report dirs and engines started once per test session.

Starting Spark (a JVM) and a LocalCluster costs seconds, so each is started once, on first use,
and stopped at the end of the session. Tests that use them are marked slow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.engines.base import Engine, EngineOptions
from harness.engines.dask import (
    DaskDistributedEngine,
    DaskProcessesEngine,
    DaskSyncEngine,
    DaskThreadsEngine,
)
from harness.engines.reference import PandasEngine
from harness.engines.spark import SparkEngine

ENV_DIRS = {
    "HARNESS_DATA_DIR": "data",
    "HARNESS_RESULTS_DIR": "results",
    "HARNESS_REPORTS_DIR": "reports",
}


@pytest.fixture(scope="session", autouse=True)
def harness_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Point every harness directory at a session temp dir, through os.environ so that child
    processes (sessions, workers, JVMs) see the same settings; nothing is written into the repo."""
    saved = {name: os.environ.get(name) for name in ENV_DIRS}
    dirs = {name: tmp_path_factory.mktemp(sub) for name, sub in ENV_DIRS.items()}
    for name, path in dirs.items():
        os.environ[name] = str(path)
    yield dirs
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _started(engine: Engine) -> Iterator[Engine]:
    with engine:
        yield engine


@pytest.fixture(scope="session")
def pandas_engine(harness_dirs: dict[str, Path]) -> Iterator[Engine]:
    yield from _started(PandasEngine(EngineOptions()))


@pytest.fixture(scope="session")
def dask_sync_engine(harness_dirs: dict[str, Path]) -> Iterator[Engine]:
    yield from _started(DaskSyncEngine(EngineOptions()))


@pytest.fixture(scope="session")
def dask_threads_engine(harness_dirs: dict[str, Path]) -> Iterator[Engine]:
    yield from _started(DaskThreadsEngine(EngineOptions(threads=2)))


@pytest.fixture(scope="session")
def dask_processes_engine(harness_dirs: dict[str, Path]) -> Iterator[Engine]:
    yield from _started(DaskProcessesEngine(EngineOptions(workers=2)))


@pytest.fixture(scope="session")
def dask_distributed_engine(harness_dirs: dict[str, Path]) -> Iterator[DaskDistributedEngine]:
    """One LocalCluster (2 workers x 1 thread) for the whole test session."""
    engine = DaskDistributedEngine(EngineOptions(workers=2, threads=1))
    with engine:
        yield engine


@pytest.fixture(scope="session")
def spark_engine(harness_dirs: dict[str, Path]) -> Iterator[Engine]:
    """One SparkSession (one JVM) for the whole test session."""
    reason = SparkEngine.unavailable_reason()
    if reason:
        pytest.skip(reason)
    yield from _started(SparkEngine(EngineOptions(workers=2, threads=1)))


ENGINE_FIXTURES = {
    "pandas": "pandas_engine",
    "dask-sync": "dask_sync_engine",
    "dask-threads": "dask_threads_engine",
    "dask-processes": "dask_processes_engine",
    "dask-distributed": "dask_distributed_engine",
    "spark": "spark_engine",
}


@pytest.fixture
def engine_by_name(request: pytest.FixtureRequest):
    """Look up a session engine by its registry name: engine_by_name("spark")."""

    def get(name: str) -> Engine:
        return request.getfixturevalue(ENGINE_FIXTURES[name])

    return get


@pytest.fixture
def no_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No java on PATH and no JAVA_HOME: what a machine without Java looks like to Spark."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.delenv("JAVA_HOME", raising=False)
