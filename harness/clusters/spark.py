"""A Spark standalone cluster as an operator starts one, through PySpark's own `spark-class`
(pip's PySpark ships no `sbin/start-master.sh`): a Master, then Workers that register with it.

`--workers N --threads T` are N Worker daemons of T cores each: an application gets one executor
per Worker, so N executor processes of T task slots, the shape of Dask's N workers x T threads.
SPARK_LOCAL_IP keeps the web UIs on loopback (they bind every interface otherwise); the master's
REST submission server (a fixed port, 6066) is off; a port already taken fails the start rather
than moving to the next one (`spark.port.maxRetries 0`). Executors run this interpreter
(PYSPARK_PYTHON), so the harness is importable in their Python workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.clusters.base import (
    LOOPBACK,
    Cluster,
    Launcher,
    Shape,
    StartFailure,
    check_port,
    free_port,
    starting,
)

MASTER_START_S = 120.0  # two JVMs on a busy 2-core machine: 6 s when idle
WORKERS_START_S = 120.0
JSON_TIMEOUT_S = 2.0
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# Straight to 127.0.0.1: an http_proxy in the environment must not carry these requests away.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
DAEMON_PROPERTIES = {
    "spark.master.rest.enabled": "false",
    "spark.port.maxRetries": "0",
}


def start(shape: Shape, folder: Path, *, port: int = 0, with_parent: bool = False,
          journal: Callable[[Cluster], None] | None = None) -> Cluster:
    """Start a Master and `shape.workers` Workers; return once all have registered."""
    check_port(port)
    cluster = Cluster("spark", "", shape, folder)
    return starting(cluster, with_parent, journal, lambda up: _bring_up(up, shape, port))


def _bring_up(up: Launcher, shape: Shape, port: int) -> None:
    cluster = up.cluster
    spark_class = _spark_class()
    props = cluster.folder / "spark-daemons.conf"
    props.write_text("".join(f"{k} {v}\n" for k, v in DAEMON_PROPERTIES.items()))
    port, ui_port = port or free_port(), free_port()
    cluster.address, cluster.ui = f"spark://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{ui_port}"
    up.launch("master", [spark_class, MASTER_CLASS, "--host", LOOPBACK, "--port", str(port),
                         "--webui-port", str(ui_port), "--properties-file", str(props)],
              _env(cluster.folder / "work"))
    up.wait(lambda: master_state(cluster.ui), MASTER_START_S, "the Spark master")
    for i in range(shape.workers):
        work = cluster.folder / f"work-{i + 1}"
        up.launch(f"worker-{i + 1}", worker_cmd(spark_class, cluster.address, shape, work, props),
                  _env(work))
    up.wait(lambda: _registered(cluster.ui, shape.workers), WORKERS_START_S,
            f"{shape.workers} Spark worker(s)")


def worker_cmd(spark_class: str, master: str, shape: Shape, work: Path,
               props: Path) -> list[str]:
    cmd = [spark_class, WORKER_CLASS, master, "--host", LOOPBACK, "--cores", str(shape.threads),
           "--work-dir", str(work), "--webui-port", "0", "--properties-file", str(props)]
    if shape.memory_limit is not None:
        cmd += ["--memory", f"{max(1, shape.memory_limit // 2**20)}m"]
    return cmd


def _spark_class() -> str:
    """PySpark's `bin/spark-class`, from the Spark home the driver uses too."""
    try:
        from pyspark.find_spark_home import _find_spark_home
    except ImportError:
        raise StartFailure("pyspark is not installed; pip install pyspark") from None
    path = Path(_find_spark_home()) / "bin" / "spark-class"
    if not path.is_file():
        raise StartFailure(f"no {path}: this Spark home has no spark-class; unset SPARK_HOME "
                           "to use pip's PySpark")
    return str(path)


def _env(work: Path) -> dict[str, str]:
    return {**os.environ, "SPARK_LOCAL_IP": LOOPBACK, "SPARK_WORKER_DIR": str(work),
            "PYSPARK_PYTHON": sys.executable, "SPARK_NO_DAEMONIZE": "1"}


def master_state(ui: str | None) -> dict[str, Any] | None:
    """The master's own account (its UI's /json), once it answers as ALIVE."""
    if ui is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        with _DIRECT.open(f"{ui}/json", timeout=JSON_TIMEOUT_S) as answer:
            state = json.load(answer)
        if isinstance(state, dict) and state.get("status") == "ALIVE":
            return state
    return None


def _registered(ui: str | None, n: int) -> bool | None:
    state = master_state(ui)
    alive = [w for w in (state or {}).get("workers", []) if w.get("state") == "ALIVE"]
    return True if len(alive) >= n else None
