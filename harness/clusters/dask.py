"""A Dask cluster as an operator starts one: `dask scheduler`, then `dask worker` processes that
find it through a scheduler file, every server on 127.0.0.1.

The scheduler's dashboard listens on a free loopback port (when bokeh is installed); the
workers' HTTP servers (health, metrics; no dashboard) too, since `dask worker` would otherwise
bind them on every interface.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.clusters.base import LOOPBACK, Cluster, Launcher, Shape, check_port, starting

SCHEDULER_START_S = 60.0
WORKERS_START_S = 90.0


def start(shape: Shape, folder: Path, *, port: int = 0, with_parent: bool = False,
          journal: Callable[[Cluster], None] | None = None) -> Cluster:
    """Start a scheduler and `shape.workers` workers; return once all have registered."""
    check_port(port)
    cluster = Cluster("dask", "", shape, folder)
    return starting(cluster, with_parent, journal, lambda up: _bring_up(up, shape, port))


def _bring_up(up: Launcher, shape: Shape, port: int) -> None:
    cluster = up.cluster
    scheduler_file = cluster.folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    env = dict(os.environ)
    up.launch("scheduler", scheduler_cmd(scheduler_file, port), env)
    info = up.wait(lambda: _scheduler_info(scheduler_file), SCHEDULER_START_S,
                   "the dask scheduler")
    cluster.address = str(info["address"])
    dashboard = info.get("services", {}).get("dashboard")
    cluster.ui = f"http://{LOOPBACK}:{dashboard}/status" if dashboard else None
    up.launch("workers", worker_cmd(scheduler_file, shape, cluster.folder / "workers"), env)
    _wait_for_workers(up, shape.workers)


def scheduler_cmd(scheduler_file: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "dask", "scheduler", "--host", LOOPBACK, "--port", str(port),
            "--scheduler-file", str(scheduler_file),
            "--dashboard-address", f"{LOOPBACK}:0"]


def worker_cmd(scheduler_file: Path, shape: Shape, local_dir: Path) -> list[str]:
    cmd = [sys.executable, "-m", "dask", "worker", "--scheduler-file", str(scheduler_file),
           "--host", LOOPBACK, "--nworkers", str(shape.workers),
           "--nthreads", str(shape.threads), "--no-dashboard",
           "--dashboard-address", f"{LOOPBACK}:0", "--local-directory", str(local_dir)]
    if shape.memory_limit is not None:
        cmd += ["--memory-limit", str(shape.memory_limit)]
    return cmd


def _scheduler_info(scheduler_file: Path) -> dict[str, Any] | None:
    """The scheduler file's content once the scheduler has written it whole."""
    try:
        info = json.loads(scheduler_file.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("address") else None


def _wait_for_workers(up: Launcher, n: int) -> None:
    """Until the scheduler counts `n` workers (asked through a Client, as a user would)."""
    from distributed import Client

    with Client(up.cluster.address, timeout=SCHEDULER_START_S) as client:
        up.wait(lambda: _counted(client, n), WORKERS_START_S, f"{n} dask worker(s)")


def _counted(client: Any, n: int) -> bool | None:
    with contextlib.suppress(Exception):  # the scheduler is busy registering: ask again
        if len(client.scheduler_info(n_workers=-1)["workers"]) >= n:
            return True
    return None
