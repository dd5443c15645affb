"""Loopback clusters (`harness cluster`, the conftest fixtures): every workload runs against a
real `dask scheduler` + `dask worker` and a real Spark standalone master + worker, answers
checked; every socket is on loopback; nothing is left after `down`, or after a failed `up`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.cli import main
from harness.clusters import Cluster, Shape, shape_for, state
from harness.clusters import dask as dask_cluster
from harness.clusters.base import (
    Launcher,
    Member,
    StartFailure,
    is_loopback,
    last_error,
    listening,
    processes,
)
from harness.clusters.spark import master_state
from harness.engines.registry import ENGINES
from harness.errors import UsageError
from harness.results.schema import Record, read_records
from harness.workloads.registry import WORKLOADS
from tests.conftest import StandaloneRun, Watch
from tests.test_run_e2e import MARKER_VAR, assert_nothing_left

# Workloads that start a LocalCluster of their own: against an external scheduler they refuse.
OWN_CLUSTER = {"adaptive-scale"}


@pytest.fixture
def cluster_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Cluster state in a temp dir: never a user's running cluster, never the fixtures'."""
    folder = tmp_path / "clusters"
    monkeypatch.setenv(state.STATE_VARIABLE, str(folder))
    return folder


# --- pieces ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "loopback"), [
    ("127.0.0.1", True), ("127.0.1.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("::ffff:10.1.2.3", False)])
def test_loopback_addresses(ip: str, loopback: bool) -> None:
    assert is_loopback(ip) is loopback


def test_last_error_names_the_failing_line(tmp_path: Path) -> None:
    log = tmp_path / "master.log"
    log.write_text("INFO starting\njava.net.BindException: Address already in use\n"
                   "\tat sun.nio.ch.Net.bind0(Native Method)\nINFO shutdown hook called\n")
    assert last_error(log) == "java.net.BindException: Address already in use"
    assert "no log" in last_error(tmp_path / "missing.log")


def test_shapes_default_per_kind_and_refuse_bad_counts() -> None:
    assert shape_for("dask", None, None, None) == Shape(2, 1, None)
    assert shape_for("spark", None, None, "auto") == Shape(1, 2, None)
    assert shape_for("dask", 3, 2, "2GiB") == Shape(3, 2, 2 * 2**30)
    for workers, threads, memory in ((0, None, None), (None, 0, None), (None, None, "lots"),
                                     (None, None, "12")):
        with pytest.raises(UsageError):
            shape_for("dask", workers, threads, memory)


@pytest.mark.parametrize("argv", [
    ["cluster", "up", "flink"],
    ["cluster", "up", "dask", "--workers", "0"],
    ["cluster", "up", "spark", "--memory-limit", "plenty"],
    ["cluster", "up", "dask", "--port", "70000"],
    ["cluster", "down", "yarn"],
])
def test_bad_cluster_input_is_one_line(cluster_dir: Path, capsys: pytest.CaptureFixture[str],
                                       argv: list[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error: ") and err.count("\n") == 1
    assert not (cluster_dir / "dask.json").exists() and not (cluster_dir / "spark.json").exists()


def test_a_taken_port_is_refused_before_anything_starts(
        cluster_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["cluster", "up", "dask", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is taken" in err and err.count("\n") == 1
    assert state.status() == []


def _fake_cluster(folder: Path, cmd: list[str]) -> Cluster:
    """A 'cluster' of one launched process (a shell and what it starts), recorded as up."""
    cluster = Cluster("dask", "tcp://127.0.0.1:1", Shape(1, 1), folder / "dask")
    Launcher(cluster, with_parent=True).launch("scheduler", cmd, dict(os.environ))
    state._save(cluster, starting=False)
    return cluster


def test_down_stops_the_whole_process_group(cluster_dir: Path) -> None:
    cluster_dir.mkdir()
    # The background sleep is a grandchild: found through the group, not the pid alone.
    cluster = _fake_cluster(cluster_dir, ["sh", "-c", "sleep 60 & sleep 60; wait"])
    deadline = time.monotonic() + 10  # for the shell to start its two sleeps
    while len(cluster.pids()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(cluster.pids()) == 3
    [said] = state.down()
    assert said.startswith("dask cluster at tcp://127.0.0.1:1 stopped")
    assert cluster.pids() == []
    assert not state.state_path("dask").exists() and state.status() == []


def test_a_recorded_cluster_whose_processes_died_is_cleaned(cluster_dir: Path) -> None:
    cluster_dir.mkdir()
    cluster = _fake_cluster(cluster_dir, ["sleep", "60"])
    cluster.stop(grace_s=1.0)
    assert state.state_path("dask").exists()
    assert state.status() == []
    assert not state.state_path("dask").exists()
    assert state.down() == []


def test_a_recycled_pid_is_not_taken_for_a_member() -> None:
    # This process, under a start time that is not its own: a member long gone whose pid
    # was given to another process. Nothing of it may be signalled.
    stranger = Member("scheduler", os.getpid(), 1.0, "")
    assert stranger.leader() is None and not stranger.group_is_ours()
    assert processes([stranger]) == []


@pytest.mark.slow
def test_a_process_dying_at_start_leaves_nothing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A port taken after the check (a race): the scheduler exits, and up says why.
    monkeypatch.setattr(dask_cluster, "check_port", lambda port: None)
    seen: list[Cluster] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartFailure, match="scheduler exited at start") as failed:
            dask_cluster.start(Shape(1, 1), tmp_path, port=port, with_parent=True,
                               journal=seen.append)
    assert "\n" not in str(failed.value)
    assert seen and seen[0].members and seen[0].pids() == []


# --- the CLI, one cycle per kind ---------------------------------------------------------------

def _harness(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.fixture
def cli_env(cluster_dir: Path) -> Iterator[dict[str, str]]:
    """The environment of `harness cluster` subprocesses; every process they start carries
    the marker, so anything left behind is found."""
    marker = uuid.uuid4().hex
    yield {**os.environ, MARKER_VAR: marker}
    assert_nothing_left(marker)


def _status(env: dict[str, str]) -> list[dict[str, Any]]:
    done = _harness("cluster", "status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "flags"), [
    ("dask", ["--workers", "2", "--threads", "1", "--memory-limit", "1GiB"]),
    ("spark", ["--workers", "1", "--threads", "1", "--memory-limit", "1GiB"]),
])
def test_cluster_up_status_down(cli_env: dict[str, str], kind: str, flags: list[str]) -> None:
    up = _harness("cluster", "up", kind, *flags, env=cli_env)
    assert up.returncode == 0, up.stderr
    [view] = _status(cli_env)
    address = str(view["address"])
    assert view["kind"] == kind and view["state"] == "up"
    assert f"harness run {view['run_flags']}" in up.stdout and address in up.stdout
    pids = view["pids"]
    found = listening(pids)
    assert found and all(is_loopback(ip) for _, ip, _ in found), found
    if kind == "spark":
        [worker] = master_state(view["ui"])["workers"]
        assert (worker["cores"], worker["memory"], worker["host"]) == (1, 1024, "127.0.0.1")
    else:
        assert len(pids) >= 4  # scheduler, the workers' host (nannies), 2 worker processes

    again = _harness("cluster", "up", kind, env=cli_env)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert f"already up at {address}" in again.stderr

    down = _harness("cluster", "down", env=cli_env)
    assert down.returncode == 0 and f"{kind} cluster at {address} stopped" in down.stdout
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                   for p in pids)
    assert _status(cli_env) == []
    once_more = _harness("cluster", "down", kind, env=cli_env)
    assert once_more.returncode == 0 and "nothing to stop" in once_more.stdout


# --- every workload against the loopback clusters ----------------------------------------------

def _workloads_of(engine: str) -> list[str]:
    kind = ENGINES[engine].kind
    return [w for w, spec in WORKLOADS.items() if spec.unsupported_reason(engine, kind) is None]


def _run_everything(engine: str, flags: list[str], cluster: Cluster, tmp_path: Path,
                    ) -> tuple[list[Record], Watch]:
    """Every workload of `engine` at tiny, one session, against `cluster`."""
    out = tmp_path / f"{engine}.jsonl"
    names = _workloads_of(engine)
    argv = ["run", "-e", engine, *flags, "--size", "tiny", "--repeat", "1", "--no-report",
            "--out", str(out), *[a for w in names for a in ("-w", w)]]
    with Watch(cluster) as watch:
        main(argv)
    records = read_records([out])
    assert sorted(r.workload for r in records) == sorted(names)
    return records, watch


def _assert_answers(records: list[Record], flag: str) -> None:
    """Each workload's answer is the reference's; those that start their own cluster say
    they do not run against an external one."""
    for record in records:
        if record.workload in OWN_CLUSTER:
            assert record.status != "ok" and record.error and flag in record.error, (
                record.workload, record.status, record.error)
            continue
        assert record.status == "ok", (record.workload, record.status, record.error)
        assert record.check["ok"] is True, (record.workload, record.check)


@pytest.mark.slow
def test_every_dask_workload_runs_on_the_loopback_cluster(
        dask_loopback_cluster: Cluster, tmp_path: Path) -> None:
    cluster = dask_loopback_cluster
    # --threads 3 is not how the cluster runs: the records must say how it does (2 x 1).
    records, watch = _run_everything(
        "dask-distributed", ["--dask-address", cluster.address, "--threads", "3"], cluster,
        tmp_path)
    _assert_answers(records, "--dask-address")
    ran = [r for r in records if r.status == "ok"]
    assert {r.engine_config["address"] for r in ran} == {cluster.address}
    assert {(r.n_workers, r.threads_per_worker) for r in ran} == {(2, 1)}
    assert watch.sockets and all(is_loopback(ip) for ip, _ in watch.sockets), watch.sockets
    _assert_worked(cluster)


def _assert_worked(cluster: Cluster) -> None:
    """The cluster's workers, not some other scheduler, ran the tasks: the scheduler counts
    the transitions of every task it ever saw."""
    from distributed import Client

    with Client(cluster.address, timeout=30, set_as_default=False) as client:
        counter = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
        worker_pids = set(client.run(os.getpid).values())
    assert counter > 1000
    assert worker_pids <= set(cluster.pids()) and len(worker_pids) == 2


@pytest.mark.slow
def test_every_spark_workload_runs_on_the_standalone_cluster(
        spark_loopback_cluster: Cluster, spark_standalone_run: StandaloneRun) -> None:
    """The session's one application on the standalone cluster (conftest): every workload
    Spark runs, at tiny, through the session API of `harness run`, answers checked."""
    cluster, run = spark_loopback_cluster, spark_standalone_run
    records, watch = run.records, run.watch
    assert sorted(r.workload for r in records) == sorted(run.workloads), run.stderr[-2000:]
    _assert_answers(records, "--spark-master")
    assert {r.engine_config["spark_conf"]["spark.master"] for r in records} == {cluster.address}
    assert {(r.n_workers, r.threads_per_worker) for r in records} == {(1, 2)}
    assert watch.sockets and all(is_loopback(ip) for ip, _ in watch.sockets), watch.sockets
    commands = list(watch.commands.values())
    # The application's executor ran under the standalone Worker, with Python workers of this
    # interpreter (PYSPARK_PYTHON), which can import the harness.
    assert any("CoarseGrainedExecutorBackend" in " ".join(c) for c in commands)
    assert any(c[:1] == [sys.executable] and "pyspark.daemon" in c for c in commands), commands
    apps = master_state(cluster.ui)["completedapps"]
    assert [a["name"] for a in apps] == ["pydata-harness"]
