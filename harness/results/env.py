"""The environment a run happened in: versions, Java, CPU, memory, thread limits, git commit.

Gathered once per run and written into every record's `env`, so a verdict can say what changed.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

LIBRARIES = ("python", "dask", "distributed", "pandas", "numpy", "pyarrow", "pyspark", "scipy",
             "scikit-learn", "dask-ml")
# The allow-list: the only environment variables whose values a record holds (env.thread_env;
# HARNESS_COMMIT only as the commit). Nothing reads os.environ wholesale, so tokens, keys and
# passwords in the environment never reach a results file or a report.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def collect_env() -> dict[str, Any]:
    """Host and library facts, gathered once per run."""
    versions = {name: _version(name) for name in LIBRARIES}
    versions["python"] = platform.python_version()
    return {
        **versions,
        "java": java_version(),
        "cpu_model": _cpu_model(),
        "logical_cores": psutil.cpu_count(logical=True),
        "total_memory_bytes": psutil.virtual_memory().total,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "hostname": platform.node(),
        "harness_version": _version("pydata-parallel-harness"),
        "harness_commit": git_commit(),
        "thread_env": thread_env(),
    }


def child_thread_env() -> dict[str, str]:
    """One BLAS/OpenMP thread per process unless the user says otherwise.

    An engine's parallelism should come from its workers and threads, not from hidden BLAS
    threads: otherwise the one-core reference is not one core, and 2 BLAS threads per worker
    oversubscribe this machine's cores. Recorded in every record's env.
    """
    return dict.fromkeys(THREAD_ENV_VARS, "1")


def thread_env() -> dict[str, str]:
    """The BLAS/OpenMP thread limits that engine sessions run with."""
    return {**child_thread_env(), **{k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ}}


def java_path() -> str | None:
    """The java binary Spark will use: JAVA_HOME first, then PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def java_version() -> str | None:
    """The first line `java -version` prints, or None without a working Java."""
    java = java_path()
    return None if java is None else _java_banner(java, _mtime(java))


@functools.lru_cache(maxsize=8)
def _java_banner(java: str, mtime: float) -> str | None:
    """Asked once per binary (and its mtime): a JVM takes 50-100 ms to say its version."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (out.stderr or out.stdout).splitlines()
    # The version line, not a "Picked up JAVA_TOOL_OPTIONS: ..." the JVM prints before it.
    banner = next((line for line in lines if 'version "' in line), lines[0] if lines else None)
    return banner.strip() if banner is not None and out.returncode == 0 else None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def java_major(banner: str | None) -> int | None:
    """The feature release in a `java -version` banner: 17 of "17.0.15", 8 of "1.8.0_392"."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', banner or "")
    if match is None:
        return None
    first = int(match.group(1))
    return int(match.group(2) or 0) if first == 1 else first


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    """The harness's commit: HARNESS_COMMIT if set, else the checkout around the code or cwd."""
    if os.environ.get("HARNESS_COMMIT"):
        return os.environ["HARNESS_COMMIT"]
    for where in (Path(__file__).resolve().parent, Path.cwd()):
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                                 text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0:
            return out.stdout.strip()
    return None
