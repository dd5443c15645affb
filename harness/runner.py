"""Runs a plan: one child process per engine session, records appended as they arrive.

Each session runs in its own process group, so a timeout, a crash or Ctrl-C ends every worker,
nanny and JVM it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from harness.config import DEFAULT_CELL_TIMEOUT_S
from harness.engines import EngineOptions, get_engine
from harness.records import Record, append_records
from harness.session import SessionSpec, base_record
from harness.workloads import get_workload

STARTUP_TIMEOUT_S = 300.0
STOP_GRACE_S = 15.0
MEMORY_POLL_S = 0.25  # how often a memory budget is checked against the session's tree
ProgressFn = Callable[[str, int], None]  # (description, cells finished by this event)


@dataclass(frozen=True)
class Plan:
    """What `harness run` will do."""

    run_id: str
    workloads: tuple[str, ...]
    engines: tuple[str, ...]
    size: str
    repeats: int
    options: EngineOptions
    env: dict[str, Any]
    out: Path
    log_dir: Path
    cell_timeout_s: float = DEFAULT_CELL_TIMEOUT_S
    # Set by `harness sweep` for one cell: axis values, the records' tag, a memory ceiling.
    overrides: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, Any] | None = None
    memory_budget_bytes: int | None = None

    @property
    def total_cells(self) -> int:
        return len(self.workloads) * len(self.engines) * self.repeats


@dataclass
class _Child:
    """A running session process and what it is doing now."""

    proc: subprocess.Popen
    events: queue.Queue = field(default_factory=queue.Queue)
    current: tuple[str, int] | None = None
    phase: str = "starting"
    deadline: float = 0.0


def run_plan(plan: Plan, progress: ProgressFn,
             sink: Callable[[list[Record]], None] | None = None) -> list[Record]:
    """Run every (engine, workload, repeat) of the plan; every cell ends up as a record.

    Records go to `sink` as they arrive (default: appended to plan.out at once).
    """
    records: list[Record] = []
    write = sink or (lambda new: append_records(plan.out, new))

    def keep(new: list[Record]) -> None:
        write(new)
        records.extend(new)

    for engine in plan.engines:
        supported, refused = _split_supported(plan, engine)
        keep(refused)
        progress(f"{engine}: unsupported", len(refused))
        _run_engine(plan, engine, supported, keep, progress)
    return records


def _split_supported(plan: Plan, engine: str) -> tuple[list[str], list[Record]]:
    kind = get_engine(engine).kind
    supported, refused = [], []
    for name in plan.workloads:
        workload = get_workload(name)
        reason = workload.unsupported_reason(engine, kind)
        if reason is None:
            supported.append(name)
            continue
        spec = _spec(plan, engine, (name,))
        refused += [Record(status="unsupported", error=reason,
                           **base_record(spec, None, name, r, spec.params(workload)))
                    for r in range(plan.repeats)]
    return supported, refused


def _spec(plan: Plan, engine: str, workloads: tuple[str, ...]) -> SessionSpec:
    return SessionSpec(run_id=plan.run_id, engine=engine, workloads=workloads, size=plan.size,
                       repeats=plan.repeats, options=plan.options, env=plan.env,
                       overrides=dict(plan.overrides), sweep=plan.sweep)


def _run_engine(plan: Plan, engine: str, pending: list[str],
                keep: Callable[[list[Record]], None], progress: ProgressFn) -> None:
    """Run sessions until every pending workload is recorded; a dead session is replaced."""
    while pending:
        spec = _spec(plan, engine, tuple(pending))
        done = _run_child(plan, spec, keep, progress)
        pending = [w for w in pending if w not in done]


def _run_child(plan: Plan, spec: SessionSpec, keep: Callable[[list[Record]], None],
               progress: ProgressFn) -> set[str]:
    """One child session; returns the workloads it finished (or gave up on)."""
    log_path = plan.log_dir / f"{plan.run_id}-{spec.engine}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        child = _spawn(spec, log)
        try:
            return _follow(plan, spec, child, keep, progress, log_path)
        finally:
            stop_process_group(child.proc)


def _spawn(spec: SessionSpec, log: IO[str]) -> _Child:
    env = {**child_thread_env(), **os.environ, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness.child"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                            start_new_session=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(spec.to_json())
    proc.stdin.close()
    child = _Child(proc=proc, deadline=time.monotonic() + STARTUP_TIMEOUT_S)
    threading.Thread(target=_pump, args=(proc.stdout, child.events), daemon=True).start()
    return child


def child_thread_env() -> dict[str, str]:
    """One BLAS/OpenMP thread per process unless the user says otherwise.

    An engine's parallelism should come from its workers and threads, not from hidden BLAS
    threads: otherwise the one-core reference is not one core, and 2 BLAS threads per worker
    oversubscribe this machine's cores. Recorded in every record's env.
    """
    return {name: "1" for name in THREAD_ENV_VARS}


THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _pump(stream: IO[str], events: queue.Queue) -> None:
    for line in stream:
        try:
            events.put(json.loads(line))
        except json.JSONDecodeError:
            continue
    events.put(None)


def _follow(plan: Plan, spec: SessionSpec, child: _Child,
            keep: Callable[[list[Record]], None], progress: ProgressFn, log_path: Path) -> set[str]:
    done: set[str] = set()
    recorded: dict[str, int] = {}
    while True:
        timeout = max(0.0, child.deadline - time.monotonic())
        if plan.memory_budget_bytes is not None:
            timeout = min(timeout, MEMORY_POLL_S)
            # The budget judges the measured runs only: preparing inputs (generating data,
            # computing the reference answer once) is the harness's work, not the engine's.
            over = child.phase == "cell" and _over_budget(child.proc.pid,
                                                           plan.memory_budget_bytes)
            if over:
                return done | _fail_current(plan, spec, child, keep, progress, "over-memory",
                                            over, recorded)
        try:
            event = child.events.get(timeout=timeout)
        except queue.Empty:
            if time.monotonic() < child.deadline:
                continue
            return done | _fail_current(plan, spec, child, keep, progress, "timeout",
                                        f"no progress after {_phase_limit(plan, child):.0f} s "
                                        f"({child.phase}); see {log_path}", recorded)
        if event is None:
            child.proc.wait()
            if child.phase == "done":
                return done
            return done | _fail_current(plan, spec, child, keep, progress, "error",
                                        f"session process died ({child.phase}, exit "
                                        f"{child.proc.returncode}); see {log_path}", recorded)
        _handle(plan, spec, child, event, keep, progress, done, recorded)


def _over_budget(pid: int, budget: int) -> str | None:
    """Why the session's tree is over its memory budget, or None while it is within it."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    rss = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            rss += proc.memory_info().rss
    if rss <= budget:
        return None
    return (f"process tree RSS {rss / 2**30:.2f} GiB passed the memory budget of "
            f"{budget / 2**30:.2f} GiB; stopped")


def _phase_limit(plan: Plan, child: _Child) -> float:
    return STARTUP_TIMEOUT_S if child.phase == "starting" else plan.cell_timeout_s


def _handle(plan: Plan, spec: SessionSpec, child: _Child, event: dict[str, Any],
            keep: Callable[[list[Record]], None], progress: ProgressFn, done: set[str],
            recorded: dict[str, int]) -> None:
    kind = event["event"]
    child.phase = kind
    child.deadline = time.monotonic() + (
        STARTUP_TIMEOUT_S if kind in ("starting", "stopping") else plan.cell_timeout_s)
    if kind == "start-failed":
        for name in spec.workloads:
            _fail_workload(plan, spec, name, 0, "error", f"engine start failed: {event['error']}",
                           keep, progress)
            done.add(name)
        child.phase = "done"
    elif kind == "prepare":
        child.current = (event["workload"], 0)
        progress(f"{spec.engine} · {event['workload']} · preparing inputs", 0)
    elif kind == "cell":
        child.current = (event["workload"], event["repeat"])
        progress(f"{spec.engine} · {event['workload']} · repeat {event['repeat'] + 1}"
                 f"/{plan.repeats}", 0)
    elif kind == "record":
        record = Record.from_dict(event["record"])
        keep([record])
        progress(f"{spec.engine} · {record.workload} · {record.status}", 1)
        recorded[record.workload] = recorded.get(record.workload, 0) + 1
        if recorded[record.workload] == plan.repeats:
            done.add(record.workload)


def _fail_current(plan: Plan, spec: SessionSpec, child: _Child,
                  keep: Callable[[list[Record]], None], progress: ProgressFn, status: str,
                  error: str, recorded: dict[str, int]) -> set[str]:
    """Record the cell in flight (and the rest of its workload) as failed."""
    stop_process_group(child.proc)
    if child.current is None:
        # Died before any workload began: every workload of this session fails with it.
        for name in spec.workloads:
            if recorded.get(name, 0) == 0:
                _fail_workload(plan, spec, name, 0, status, error, keep, progress)
        return set(spec.workloads)
    name, _ = child.current
    _fail_workload(plan, spec, name, recorded.get(name, 0), status, error, keep, progress)
    return {name}


def _fail_workload(plan: Plan, spec: SessionSpec, name: str, first_repeat: int, status: str,
                   error: str, keep: Callable[[list[Record]], None], progress: ProgressFn) -> None:
    params = spec.params(get_workload(name))
    failed = [Record(status=status, error=error, **base_record(spec, None, name, r, params))
              for r in range(first_repeat, plan.repeats)]
    keep(failed)
    progress(f"{spec.engine} · {name} · {status}", len(failed))


def stop_process_group(proc: subprocess.Popen) -> None:
    """End a session process and everything in its process group: SIGTERM, then SIGKILL."""
    pgid = proc.pid
    if proc.poll() is None:
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_GRACE_S)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()
    for leftover in _group_members(pgid):
        leftover.kill()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members
