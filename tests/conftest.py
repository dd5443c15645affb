"""Shared fixtures: isolated data/results/report dirs and engines started once per test session.

Starting Spark (a JVM) and a LocalCluster costs seconds, so each is started once, on first use,
and stopped at the end of the session. Tests that use them are marked slow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from harness.clusters import Cluster, Shape, start
from harness.clusters.base import listening
from harness.engines.base import Engine, EngineOptions
from harness.engines.dask import (
    DaskDistributedEngine,
    DaskProcessesEngine,
    DaskSyncEngine,
    DaskThreadsEngine,
)
from harness.engines.reference import PandasEngine
from harness.engines.spark import SparkEngine
from harness.results.env import child_thread_env
from harness.results.schema import Record
from harness.workloads.registry import WORKLOADS

REPO = Path(__file__).resolve().parents[1]
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


# --- loopback clusters (issue 15): started the way operators start them -----------------------

def _loopback_cluster(kind: str, shape: Shape, folder: Path) -> Iterator[Cluster]:
    """A real cluster on 127.0.0.1 for the test session; its processes die with this one if
    the session is killed, and are all gone when it ends."""
    cluster = start(kind, shape, folder, with_parent=True)
    try:
        yield cluster
    finally:
        left = cluster.stop()
        assert not left, f"{kind} loopback cluster left processes {left}"


@pytest.fixture(scope="session")
def dask_loopback_cluster(harness_dirs: dict[str, Path],
                          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`dask scheduler` + `dask worker --nworkers 2 --nthreads 1` on 127.0.0.1: `.address`
    (tcp://127.0.0.1:PORT), `.pids()` (scheduler, nanny host, worker processes), `.stop()`."""
    yield from _loopback_cluster("dask", Shape(workers=2, threads=1),
                                 tmp_path_factory.mktemp("dask-cluster"))


@pytest.fixture(scope="session")
def spark_loopback_cluster(harness_dirs: dict[str, Path],
                           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Spark standalone Master + one Worker of 2 cores on 127.0.0.1 (an application gets
    one executor of 2 task slots, the shape of local[2]): `.address` (spark://127.0.0.1:PORT),
    `.pids()` (master, worker, and the executors and Python workers of a running app)."""
    reason = SparkEngine.unavailable_reason()
    if reason:
        pytest.skip(reason)
    yield from _loopback_cluster("spark", Shape(workers=1, threads=2),
                                 tmp_path_factory.mktemp("spark-cluster"))


class Watch:
    """Samples a cluster while a run goes on: every process of it, and every listening socket."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.commands: dict[int, list[str]] = {}
        self.sockets: set[tuple[str, int]] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            pids = self.cluster.pids()
            self.sockets.update((ip, port) for _, ip, port in listening(pids))
            for pid in pids:
                if pid not in self.commands:
                    try:
                        self.commands[pid] = psutil.Process(pid).cmdline()
                    except psutil.Error:
                        continue
            if self._done.wait(0.5):
                return


# One SparkContext per process, and the test session may hold a local[2] one: the standalone
# application runs in a child. It is the session's only application on the standalone cluster
# (an application costs a driver JVM and an executor JVM, 13-17 s here): first the memory check
# (the fault workload idle, then holding 512 MiB in one task), then every workload Spark runs,
# each through the session API a `harness run` session uses (run_workload), one run each.
STANDALONE_APP = """
import json, sys
from harness.engines.base import EngineOptions
from harness.engines.spark import SparkEngine
from harness.execution.sampler import Probe
from harness.execution.session import SessionSpec, run_workload
from tests.helpers import measure_once

master, names = sys.argv[1], tuple(sys.argv[2:])
options = EngineOptions(spark_master=master, workers=1, threads=2)
spec = SessionSpec(run_id="standalone", engine="spark", workloads=names, size="tiny",
                   repeats=1, options=options, env={})

def out(part, record):
    print(json.dumps({"part": part, "record": json.loads(record.to_json())}), flush=True)

with SparkEngine(options) as engine:
    for gib in (0.0, 0.5):
        params = {"mode": "allocate", "gib": gib, "hold_s": 1.0}
        out("memory", measure_once(engine, "fault", overrides=params))
    with Probe() as probe:
        for name in names:
            for record in run_workload(spec, engine, name, lambda event: None, probe):
                out("workload", record)
"""


@dataclass
class StandaloneRun:
    """What the session's one application on the standalone Spark cluster did."""

    workloads: list[str]  # every workload Spark runs
    records: list[Record]  # one run of each, at tiny, answers checked against the reference
    memory: list[Record]  # fault: idle, then holding 512 MiB in one task
    watch: Watch  # the cluster's processes and listening sockets meanwhile
    stderr: str


def _session_env(marker: str) -> dict[str, str]:
    """The environment `harness run` gives its session processes (one BLAS thread each unless
    the user says otherwise, SPARK_LOCAL_IP on loopback), marked so leftovers are found."""
    from tests.test_run_e2e import MARKER_VAR

    return {**child_thread_env(), **os.environ, "SPARK_LOCAL_IP": "127.0.0.1",
            MARKER_VAR: marker}


@pytest.fixture(scope="session")
def spark_standalone_run(spark_loopback_cluster: Cluster) -> StandaloneRun:
    """Every Spark workload and the 512 MiB check, run once in one application on the
    standalone cluster, from a child process whose every process (driver JVM, its Python
    workers) is gone when it ends."""
    from tests.test_run_e2e import assert_nothing_left

    cluster = spark_loopback_cluster
    names = [w for w, spec in WORKLOADS.items()
             if spec.unsupported_reason("spark", SparkEngine.kind) is None]
    marker = uuid.uuid4().hex
    with Watch(cluster) as watch:
        done = subprocess.run([sys.executable, "-c", STANDALONE_APP, cluster.address, *names],
                              cwd=REPO, env=_session_env(marker),
                              capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_nothing_left(marker)
    parts: dict[str, list[Record]] = {"memory": [], "workload": []}
    for line in done.stdout.splitlines():
        if line.startswith('{"part"'):
            event = json.loads(line)
            parts[event["part"]].append(Record.from_dict(event["record"]))
    return StandaloneRun(names, parts["workload"], parts["memory"], watch, done.stderr)


@pytest.fixture
def own_handlers() -> Iterator[None]:
    """Give pytest its signal handlers and the interrupt latch its zero counts back afterwards
    (tests that call the CLI in-process install the harness's own)."""
    from harness import lifeline

    saved = {sig: signal.getsignal(sig) for sig in lifeline.INTERRUPTS}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    lifeline._Interrupts.received = 0
    lifeline._Interrupts.held = False
    lifeline._Interrupts.holding = 0

