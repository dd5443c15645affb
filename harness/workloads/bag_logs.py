"""bag-logs (chapter 3.4, dask.bag): JSON-lines logs; level counts, ERROR count, hourly counts."""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.workloads.checks import CheckResult
from harness.workloads.contract import Compute, Context, Workload
from harness.workloads.datasets import Dataset, materialize
from harness.workloads.schema import LOGS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOGS_VERSION = 1
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LEVEL_PROBS = (0.30, 0.50, 0.15, 0.05)
SERVICES = ("api", "auth", "billing", "search", "worker")
ACTIONS = ("GET /orders", "GET /users", "POST /payments", "query index", "refresh token")
START = pd.Timestamp("2024-01-01 00:00:00")
SPAN_S = 7 * 24 * 3600  # one week of logs, so every hour of the day occurs
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


def log_part(files_seed: int, index: int, n: int) -> list[str]:
    """Part `index` as JSON lines, from its own seeded stream (sorted in time, like a real log)."""
    rng = np.random.default_rng([files_seed, index])
    stamps = (START + pd.to_timedelta(np.sort(rng.integers(0, SPAN_S, n)), unit="s"))
    levels = np.asarray(LEVELS)[rng.choice(len(LEVELS), n, p=LEVEL_PROBS)]
    services = np.asarray(SERVICES)[rng.integers(0, len(SERVICES), n)]
    actions = np.asarray(ACTIONS)[rng.integers(0, len(ACTIONS), n)]
    millis = rng.integers(1, 2_000, n)
    return [
        json.dumps({"timestamp": ts, "level": lvl, "message": f"{act} took {ms} ms",
                    "service": svc})
        for ts, lvl, act, ms, svc in zip(stamps.strftime(TIMESTAMP_FORMAT), levels, actions,
                                         millis, services, strict=True)
    ]


def _write_parts(files: int, records: int, seed: int, target: Path) -> list[dict]:
    entries = []
    for i in range(files):
        path = target / f"part-{i:03d}.jsonl"
        data = ("\n".join(log_part(seed, i, records)) + "\n").encode()
        path.write_bytes(data)
        entries.append({"name": path.name, "rows": records,
                        "sha256": hashlib.sha256(data).hexdigest()})
    return entries


def prepare(params: Mapping[str, Any]) -> Dataset:
    files, records, seed = params["files"], params["records_per_file"], params.get("seed", 42)
    name = f"logs-f{files}-r{records}-s{seed}-v{LOGS_VERSION}"
    meta = {"files_count": files, "records_per_file": records, "seed": seed,
            "levels": dict(zip(LEVELS, LEVEL_PROBS, strict=True)), "format": "json-lines"}
    return materialize("logs", name, functools.partial(_write_parts, files, records, seed), meta)


def logs_glob(ds: Dataset) -> str:
    return str(ds.path / "part-*.jsonl")


def is_error(record: Mapping[str, Any]) -> bool:
    return record["level"] == "ERROR"


def hour_of(record: Mapping[str, Any]) -> int:
    """Hour of the day of a record's (naive, UTC) ISO timestamp."""
    return datetime.fromisoformat(record["timestamp"]).hour


def normalize(levels: Iterable[tuple[Any, Any]], errors: Any,
              hours: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """One shape for every engine: plain str/int keys and int counts, keys sorted."""
    return {
        "levels": {str(k): int(v) for k, v in sorted(levels, key=lambda kv: str(kv[0]))},
        "errors": int(errors),
        "hours": {int(k): int(v) for k, v in sorted(hours, key=lambda kv: int(kv[0]))},
    }


def reference(ds: Dataset, ctx: Context) -> dict[str, Any]:
    levels: Counter[str] = Counter()
    hours: Counter[int] = Counter()
    errors = 0
    for path in ds.files:
        with path.open() as fh:
            for line in fh:
                record = json.loads(line)
                levels[record["level"]] += 1
                hours[hour_of(record)] += 1
                errors += is_error(record)
    return normalize(levels.items(), errors, hours.items())


def lazy_counts(ds: Dataset) -> tuple[Any, Any, Any]:
    """Three bag reductions over one shared read: level frequencies, ERROR count, hours."""
    import dask.bag as db

    records = db.read_text(logs_glob(ds)).map(json.loads)
    return (records.pluck("level").frequencies(), records.filter(is_error).count(),
            records.map(hour_of).frequencies())


def dask_body(ds: Dataset, compute: Compute, ctx: Context) -> dict[str, Any]:
    levels, errors, hours = compute(*lazy_counts(ds))
    return normalize(levels, errors, hours)


def spark_body(ds: Dataset, spark: SparkSession, ctx: Context) -> dict[str, Any]:
    from pyspark.sql import functions as F

    # One scan and one small shuffle: counts per (level, hour); the three answers are its margins.
    df = spark.read.json(logs_glob(ds), schema=LOGS.spark())
    rows = (df.groupBy("level", F.hour("timestamp").alias("hour")).count().collect())
    levels: Counter[str] = Counter()
    hours: Counter[int] = Counter()
    for row in rows:
        levels[row["level"]] += row["count"]
        hours[row["hour"]] += row["count"]
    return normalize(levels.items(), levels["ERROR"], hours.items())


def check(exp: dict[str, Any], actual: dict[str, Any]) -> CheckResult:
    # Counts are integers: exact equality, no tolerance.
    differs = [part for part in ("levels", "errors", "hours") if exp.get(part) != actual.get(part)]
    detail: dict[str, Any] = {"tolerance": "exact", "records": sum(exp["levels"].values()),
                              "errors": exp["errors"], "differs": differs}
    if differs:
        detail["actual"] = {p: _jsonable(actual.get(p)) for p in differs}
        detail["expected"] = {p: _jsonable(exp.get(p)) for p in differs}
    return CheckResult(not differs, detail)


def _jsonable(value: Any) -> Any:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else value


WORKLOAD = Workload(
    name="bag-logs",
    section="3.4",
    title="dask.bag over JSON-lines logs: level counts, ERROR count, hourly distribution",
    sizes={
        "tiny": {"files": 2, "records_per_file": 2_000},
        "small": {"files": 4, "records_per_file": 25_000},
        # The chapter's log sizes are not given: 1M records (~100 MB) in 10 files.
        "seed": {"files": 10, "records_per_file": 100_000},
    },
    prepare=prepare,
    reference=reference,
    dask=dask_body,
    spark=spark_body,
    check=check,
    graph=lazy_counts,
)
