"""The result record: one versioned JSON object per line, written and read only by this module."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import UsageError

# 2 added `phase`: a version-1 reader would count warm-up runs as warm.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
# over-memory: a sweep cell whose process tree passed the sweep's memory budget and was stopped.
STATUSES = ("ok", "mismatch", "error", "timeout", "unsupported", "over-memory")
# cold: repeat 0, the first run after the engine started; warmup: the engine's warm-up runs,
# recorded but left out of the warm statistics; steady: the runs the warm statistics count.
PHASES = ("cold", "warmup", "steady")


@dataclass
class Record:
    """One measured (or refused) run of one workload on one engine."""

    run_id: str
    workload: str
    engine: str
    size: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    n_workers: int = 1
    threads_per_worker: int = 1
    repeat: int = 0
    # None on reading a version-1 record: derived from `repeat` (it had no warm-up runs).
    phase: str | None = None
    # How many warm-up runs the cell had, and the rule that chose the number.
    warmup: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_s: float | None = None
    startup_s: float | None = None
    cpu_s: float | None = None
    peak_tree_rss_bytes: int | None = None
    peak_tree_hwm_bytes: int | None = None
    baseline_tree_rss_bytes: int | None = None
    peak_driver_rss_bytes: int | None = None
    n_tasks: int | None = None
    check: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    engine_config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    # Set on records written by `harness sweep`: {"name", "cell", "role", "axes",
    # "memory_budget_bytes", "cell_s"} (see harness/sweep/spec.py and run.py).
    sweep: dict[str, Any] | None = None
    # Set on records written by `harness calibrate`: {"off": instruments switched off for this
    # run, "round": its round}; the report compares each condition with all instruments on.
    calibration: dict[str, Any] | None = None
    timestamp: str = field(default_factory=lambda: now_iso())
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.phase is None:
            self.phase = "cold" if self.repeat == 0 else "steady"
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {self.phase!r}")

    def to_json(self) -> str:
        return json.dumps(_finite(dataclasses.asdict(self)), sort_keys=True, default=_jsonable,
                          allow_nan=False)

    @property
    def tag(self) -> dict[str, Any]:
        """The sweep tag of a record that `harness sweep` wrote (a ValueError on others)."""
        if self.sweep is None:
            raise ValueError(f"record of {self.workload} on {self.engine} is not a sweep record")
        return self.sweep

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        if not isinstance(data, dict):
            raise ValueError(f"a record is a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        missing = required - data.keys()
        if missing:
            raise ValueError(f"missing fields {sorted(missing)}")
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise ValueError(f"schema_version {version!r}, this harness reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))}")
        return cls(**{k: v for k, v in data.items() if k in names})


def _finite(value: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    """numpy scalars and other stragglers; NaN/inf become null, never invalid JSON."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def append_records(path: Path, records: list[Record]) -> None:
    """Append whole lines with one write each, so a crash never leaves half a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for record in records:
            os.write(fd, (record.to_json() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(paths: list[Path]) -> list[Record]:
    """Every record in the files; a file that is missing or corrupt is a UsageError naming it."""
    records: list[Record] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"results file {path} does not exist; pass a .jsonl written by "
                             "`harness run`")
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"results file {path} cannot be read as text ({exc}); pass a "
                             ".jsonl written by `harness run`") from None
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(Record.from_dict(json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise UsageError(f"{path}:{lineno} is not a valid harness record ({exc}); "
                                 "remove that line or re-run `harness run`") from None
    return records


# Worst first: a group of records is as bad as its worst one.
STATUS_SEVERITY = ("error", "timeout", "over-memory", "mismatch", "unsupported", "ok")
# What makes `harness run` and `harness sweep` exit 1. A sweep's memory budget stopping a cell
# (over-memory) is the sweep finding where an engine stops fitting, not a failed run.
FAILURES = frozenset({"error", "timeout", "mismatch"})


def worst_status(statuses: Iterable[str]) -> str:
    """The most severe of the statuses ('ok' for none)."""
    present = set(statuses)
    return next((s for s in STATUS_SEVERITY if s in present), "ok")
