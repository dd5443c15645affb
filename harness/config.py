"""Every engine and size setting lives here, so records can state exactly what ran."""

from __future__ import annotations

import os
from pathlib import Path

SIZES: tuple[str, ...] = ("tiny", "small", "seed")
SIZE_HELP = {
    "tiny": "seconds on every engine; for tests",
    "small": "the quick suite",
    "seed": "the chapter's own sizes (5 CSV files x 1,000,000 rows, 8 x 1 s sleeps)",
}

# Runs per cell that count: the first cold, the rest steady (the warm statistics). Engines
# that need it run warm-up runs between the two (Engine.warmup_runs), recorded, not counted.
DEFAULT_REPEAT = 3
WARMUP_RULE = "fixed per engine (Engine.warmup_runs), measured on warm-up curves"
DEFAULT_CELL_TIMEOUT_S = 600.0
MAX_WORKERS = 256
MAX_THREADS = 256
# Parallel slots (workers x threads) past the logical cores oversubscribe them: a run that does
# measures contention, which a sweep may want (sleeping tasks gain up to the task count), so it
# is warned about; past this many slots per core no workload of the harness gains, and a typo
# (--threads 1000) would start a run that measures only the scheduler: refused.
MAX_SLOTS_PER_CORE = 64
MAX_WARMUP = 100

# The memory probe's period. Each wake of the probe process costs 100-250 us of CPU here (cold
# caches after sleeping), so 20 ms took 1.1-2.0 % of a core over 5 processes and 50 ms takes
# 0.5-0.7 %. Exact per-process high-water marks bound what falls between samples.
MEMORY_SAMPLE_INTERVAL_S = 0.05

# Spark: Arrow batches of 10,000 rows made a 5M-row conversion 10x slower than 1,000,000.
SPARK_ARROW_BATCH_ROWS = 1_000_000
SPARK_DRIVER_MEMORY = "4g"


def logical_cores() -> int:
    return os.cpu_count() or 1


def cache_dir(variable: str, name: str) -> Path:
    """A folder under the user's cache (XDG_CACHE_HOME), or where `variable` says."""
    env = os.environ.get(variable)
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / name


def data_dir() -> Path:
    """Where generated datasets are cached; HARNESS_DATA_DIR overrides."""
    return cache_dir("HARNESS_DATA_DIR", "pydata-harness")


def results_dir() -> Path:
    return Path(os.environ.get("HARNESS_RESULTS_DIR", "results"))


def reports_dir() -> Path:
    return Path(os.environ.get("HARNESS_REPORTS_DIR", "reports"))
