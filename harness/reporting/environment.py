"""Environment facts as a reader wants them: versions, machine, memory, Java, and the footer
every plot carries, from the records' `env`."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from harness.fmt import fmt_bytes
from harness.results.schema import Record

ENV_ROWS = [("python", "Python"), ("dask", "dask"), ("distributed", "distributed"),
            ("pandas", "pandas"), ("numpy", "numpy"), ("pyarrow", "pyarrow"),
            ("pyspark", "pyspark"), ("java", "Java"), ("cpu_model", "CPU model"),
            ("logical_cores", "logical cores"), ("total_memory_bytes", "total memory"),
            ("os", "OS"), ("machine", "architecture"), ("harness_version", "harness version"),
            ("harness_commit", "harness commit")]


def env_values(records: list[Record], key: str) -> list[str]:
    """Distinct recorded values of one env key, in first-seen order."""
    seen = [_env_text(key, r.env.get(key)) for r in records]
    return list(dict.fromkeys(seen))


def _env_text(key: str, value: Any) -> str:
    """One env value as a reader wants it: memory in GiB, Java as its version number."""
    if value is None or value == "":
        return "not recorded"
    if key == "total_memory_bytes":
        return fmt_bytes(float(value))
    if key == "java":
        match = re.search(r'"([^"]+)"', str(value))
        return match.group(1) if match else str(value)
    return str(value)


def env_fact(records: list[Record], key: str) -> str:
    """Every recorded value of one env key, joined with ' / '."""
    return " / ".join(env_values(records, key))


def machine_footer(records: list[Record]) -> str:
    """Two lines naming the machine and the versions, printed under every plot."""
    f = lambda key: env_fact(records, key)  # noqa: E731
    machine = (f"{f('cpu_model')}, {f('logical_cores')} logical cores, "
               f"{f('total_memory_bytes')} RAM, {f('os')}")
    versions = (f"Python {f('python')} · pandas {f('pandas')} · dask {f('dask')} · "
                f"distributed {f('distributed')} · pyspark {f('pyspark')} · Java {f('java')}")
    return f"{machine}\n{versions}"


def repeats_text(frame: pd.DataFrame) -> str:
    """How many runs of each phase a cell had, per engine: '1 cold + 2 steady (pandas,
    dask-threads); 1 cold + 4 warm-up + 2 steady (spark)'."""
    keys = ["run_id", "workload", "size", "engine", "n_workers", "threads_per_worker"]
    # Cells that differ only in params are counted apart (tidy frames carry their key text).
    keys += ["params"] if "params" in frame else []
    shapes: dict[str, list[str]] = {}
    ran = frame[frame["status"] != "unsupported"]  # refused pairs record counted runs only
    for key, cell in ran.groupby(keys, dropna=False, sort=False):
        counts = cell["phase"].value_counts()
        parts = [f"{counts[p]} {word}" for p, word in
                 (("cold", "cold"), ("warmup", "warm-up"), ("steady", "steady")) if p in counts]
        engines = shapes.setdefault(" + ".join(parts), [])
        if key[3] not in engines:
            engines.append(key[3])
    return "; ".join(f"{shape} ({', '.join(engines)})" for shape, engines in shapes.items())
