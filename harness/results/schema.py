"""The result record: one versioned JSON object per line, written and read only by this module."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import math
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
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


class SchemaVersionError(ValueError):
    """A record of a schema version this harness cannot read."""


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
    # The peak of the workers' (executors') summed RSS, measured where they run, beside the
    # driver's tree: against an external cluster the tree sees only the driver. None where the
    # engine has no cluster of its own; per-worker detail in metrics["cluster_workers"].
    peak_cluster_rss_bytes: int | None = None
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
            raise SchemaVersionError(f"schema_version {version!r}, this harness reads "
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


# The fix a failed write of records suggests, by errno.
WRITE_FIXES = {errno.ENOSPC: "free space or pass --out elsewhere",
               errno.EDQUOT: "free some of your disk quota or pass --out elsewhere",
               errno.EFBIG: "raise the file size limit (ulimit -f) or pass --out elsewhere"}


class RecordsWriteError(UsageError):
    """Records that could not be written (full disk, file size limit): one line, exit 2."""

    def __init__(self, path: Path, exc: OSError, lines_before: int | None) -> None:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        fix = WRITE_FIXES.get(exc.errno or 0, "pass --out elsewhere")
        kept = "" if lines_before is None else f" (the {lines_before} records before are intact)"
        super().__init__(f"cannot write records to {path}: {reason}; {fix}{kept}")


def append_records(path: Path, records: list[Record],
                   hold: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
                   ) -> None:
    """Append whole lines under an exclusive lock, so that runs writing the same file at once
    never interleave; a write that fails (a full disk) is undone, leaving earlier lines intact.
    `hold` is around the writes only (a section interrupts wait for): waiting for another
    writer's lock stays interruptible."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0o666: the user's umask decides who may read the records, as for any file they make.
        # Write-only: a file --out may append to but not read takes records too.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise RecordsWriteError(path, exc, None) from None
    try:
        # flock on the file itself: no lock file is left beside the records, and the lock
        # goes with the process (a SIGKILLed writer never holds it forever).
        fcntl.flock(fd, fcntl.LOCK_EX)
        with hold():
            before = os.fstat(fd).st_size
            try:
                _append(fd, path, before, records)
            except OSError as exc:
                with contextlib.suppress(OSError):  # if even this fails, a reader names the line
                    os.ftruncate(fd, before)
                raise RecordsWriteError(path, exc, _count_lines(path, before)) from None
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def _reader(path: Path) -> Iterator[int | None]:
    """A read-only descriptor of the records file, or None where it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _append(fd: int, path: Path, before: int, records: list[Record]) -> None:
    """Each record with one write (a crash leaves whole lines), then fsync."""
    # A line torn by an earlier crash stays a line of its own: never glued to a good record
    # (a file that cannot be read is not checked).
    with _reader(path) as reader:
        torn = bool(before) and reader is not None and os.pread(reader, 1, before - 1) != b"\n"
    if torn:
        _write_all(fd, b"\n")
    for record in records:
        _write_all(fd, (record.to_json() + "\n").encode())
    os.fsync(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of `data`; a write that makes no progress is a full disk."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _count_lines(path: Path, size: int) -> int | None:
    """Complete lines in the first `size` bytes of the file (None where it cannot be read)."""
    count, offset = 0, 0
    with _reader(path) as reader:
        while reader is not None and offset < size:
            chunk = os.pread(reader, min(1 << 20, size - offset), offset)
            if not chunk:
                break
            count += chunk.count(b"\n")
            offset += len(chunk)
    return None if reader is None else count


# Whether a reader skips bad lines of a results file (with a warning) or stops at the first
# (an error); None where the command offers no --skip-bad-lines, so the error does not name it.
_SKIP_BAD_LINES: ContextVar[bool | None] = ContextVar("skip_bad_lines", default=None)


@contextmanager
def bad_lines(skip: bool | None) -> Iterator[None]:
    """Within: results files are read skipping bad lines (True) or refusing them (False)."""
    token = _SKIP_BAD_LINES.set(skip)
    try:
        yield
    finally:
        _SKIP_BAD_LINES.reset(token)


def read_records(paths: list[Path]) -> list[Record]:
    """Every record in the files; a file that is missing or unreadable, or a bad line, is a
    UsageError naming it (under `bad_lines(True)` a bad line is skipped with a warning)."""
    records: list[Record] = []
    for path in paths:
        records += _read_file(path)
    return records


def _read_file(path: Path) -> list[Record]:
    """The records of one file; its bad lines are refused or skipped."""
    if not path.is_file():
        raise UsageError(f"results file {path} does not exist; pass a .jsonl written by "
                         "`harness run`")
    try:
        with path.open("rb") as handle:
            # Shared: never in the middle of another run's append, or of its undo.
            with contextlib.suppress(OSError):  # a file system without locks is read as is
                fcntl.flock(handle, fcntl.LOCK_SH)
            data = handle.read()
    except OSError as exc:
        raise UsageError(f"results file {path} cannot be read ({exc.strerror}); pass a "
                         ".jsonl written by `harness run`") from None
    lines = data.split(b"\n")
    records: list[Record] = []
    bad: list[tuple[int, str]] = []
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append(Record.from_dict(json.loads(raw.decode())))
        except (ValueError, TypeError) as exc:
            bad.append((lineno, _why(exc, torn=lineno == len(lines))))
    if bad:
        _bad(path, bad)
    return records


def _why(exc: Exception, torn: bool) -> str:
    """Why a line is not a record, in words; `torn`: it is the last line, without a newline."""
    if torn and isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return "the last line is cut short (a write that did not finish)"
    if isinstance(exc, UnicodeDecodeError):
        return "not text (binary bytes)"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg})"
    if isinstance(exc, SchemaVersionError):
        return f"a record of another harness version ({exc})"
    return f"not a valid harness record ({exc})"


def _bad(path: Path, bad: list[tuple[int, str]]) -> None:
    """Refuse the file at its first bad line, or skip the bad lines with one warning."""
    skip = _SKIP_BAD_LINES.get()
    lineno, why = bad[0]
    if skip:
        print(f"harness: warning: {path}: skipped {len(bad)} bad line(s); the first, line "
              f"{lineno}: {why}", file=sys.stderr)
        return
    fix = "remove that line" + (", or pass --skip-bad-lines" if skip is False else "")
    raise UsageError(f"{path}:{lineno}: {why}; {fix}")


# Worst first: a group of records is as bad as its worst one.
STATUS_SEVERITY = ("error", "timeout", "over-memory", "mismatch", "unsupported", "ok")
# What makes `harness sweep` exit 1; `harness run` also counts over-memory (a budget the user
# set that a cell broke), while a sweep's budget stopping a cell is the sweep finding where an
# engine stops fitting, not a failed run.
FAILURES = frozenset({"error", "timeout", "mismatch"})


def worst_status(statuses: Iterable[str]) -> str:
    """The most severe of the statuses ('ok' for none)."""
    present = set(statuses)
    return next((s for s in STATUS_SEVERITY if s in present), "ok")
