"""Runs a plan: one child process per engine session, records appended as they arrive.

Each session runs in its own process group, so a timeout, a crash or Ctrl-C ends every worker,
nanny and JVM it started. A session that dies is recorded and replaced by a fresh one for the
workloads it had not finished.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from harness import config
from harness.engines.base import EngineOptions
from harness.engines.registry import get_engine
from harness.execution.proctree import stop_session, tree_rss
from harness.execution.session import SessionSpec, base_record
from harness.fmt import fmt_gib
from harness.lifeline import lifeline_env, uninterrupted
from harness.results.env import child_thread_env, collect_env
from harness.results.schema import Record, append_records, new_run_id
from harness.workloads.registry import get_workload

STARTUP_TIMEOUT_S = 300.0
# Session events after which the session may take start-up time: (re)starting, stopping.
SLOW_EVENTS = ("starting", "start-retry", "restarting", "stopping")
MEMORY_POLL_S = 0.25  # how often a memory budget is checked against the session's tree
DRAIN_S = 5.0  # how long the events a stopped session sent may take to be read to their end
ProgressFn = Callable[[str, int], None]  # (description, cells finished by this event)
Sink = Callable[[list[Record]], None]


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
    cell_timeout_s: float = config.DEFAULT_CELL_TIMEOUT_S
    # Set by `harness sweep` for one cell: axis values, the records' tag, a memory ceiling.
    overrides: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, Any] | None = None
    memory_budget_bytes: int | None = None
    # A suite's `[params.NAME]` tables: parameter values of named workloads.
    workload_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Warm-up runs per cell on every engine (--warmup); None: each engine's own warmup_runs.
    warmups: int | None = None
    # `harness calibrate`: instruments off in each steady run, `rounds` runs per condition.
    rotation: tuple[tuple[str, ...], ...] = ()
    rounds: int = 1
    # --diagnostics: where this run's engine diagnostics go (None: off, nothing written).
    diagnostics: Path | None = None

    @classmethod
    def new(cls, workloads: list[str], engines: list[str], size: str, repeats: int,
            options: EngineOptions, out: Path | None = None,
            cell_timeout_s: float = config.DEFAULT_CELL_TIMEOUT_S,
            warmups: int | None = None, env: dict[str, Any] | None = None,
            workload_params: dict[str, dict[str, Any]] | None = None) -> Plan:
        """A fresh run: a new run id, this machine's environment (collected unless given),
        records under results/."""
        run_id = new_run_id()
        results = config.results_dir()
        return cls(run_id=run_id, workloads=tuple(workloads), engines=tuple(engines),
                   size=size, repeats=repeats, options=options, env=env or collect_env(),
                   out=out or results / f"run-{run_id}.jsonl", log_dir=results / "logs",
                   cell_timeout_s=cell_timeout_s, warmups=warmups,
                   workload_params=dict(workload_params or {}))

    @property
    def total_cells(self) -> int:
        """Records the plan will write: every run of every workload on every engine (an
        unsupported pair records only its counted runs: nothing warms up)."""
        return sum(self.spec(e, ()).runs if _supported(w, e) else self.repeats
                   for e in self.engines for w in self.workloads)

    def spec(self, engine: str, workloads: tuple[str, ...]) -> SessionSpec:
        """What one session of `engine` runs."""
        warmups, rule = warmup_runs(engine, self.repeats, self.warmups)
        return SessionSpec(run_id=self.run_id, engine=engine, workloads=workloads,
                           size=self.size, repeats=self.repeats, options=self.options,
                           env=self.env, overrides=dict(self.overrides), sweep=self.sweep,
                           workload_params=self.workload_params, warmups=warmups,
                           warmup_rule=rule, rotation=self.rotation, rounds=self.rounds,
                           diagnostics=str(self.diagnostics) if self.diagnostics else None)

    def failed(self, spec: SessionSpec, name: str, first_repeat: int, status: str,
               error: str) -> list[Record]:
        """Records for the repeats of `name` from `first_repeat` on that did not run."""
        params = spec.params(get_workload(name))
        return [Record(status=status, error=error, **base_record(spec, None, name, r, params))
                for r in range(first_repeat, spec.runs)]


def warmup_runs(engine: str, repeats: int, override: int | None) -> tuple[int, str]:
    """How many warm-up runs a cell of `engine` gets, and the rule that says so."""
    if repeats == 1:  # the cold run alone: no steady run to warm up for
        return 0, "none: the cold run only"
    if override is not None:
        return override, "set by --warmup"
    return get_engine(engine).warmup_runs, config.WARMUP_RULE


def run_plan(plan: Plan, progress: ProgressFn, sink: Sink | None = None) -> list[Record]:
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
        while supported:  # a session that died is replaced for what it did not finish
            done = Session(plan, plan.spec(engine, tuple(supported)), keep, progress).run()
            supported = [w for w in supported if w not in done]
    return records


def _supported(workload: str, engine: str) -> bool:
    return get_workload(workload).unsupported_reason(engine, get_engine(engine).kind) is None


def _split_supported(plan: Plan, engine: str) -> tuple[list[str], list[Record]]:
    """The workloads `engine` can run, and `unsupported` records for the others."""
    kind = get_engine(engine).kind
    supported, refused = [], []
    for name in plan.workloads:
        reason = get_workload(name).unsupported_reason(engine, kind)
        if reason is None:
            supported.append(name)
        else:
            # Nothing runs, so nothing warms up: the counted runs are recorded as refused.
            spec = replace(plan.spec(engine, (name,)), warmups=0, warmup_rule="none: not run")
            refused += plan.failed(spec, name, 0, "unsupported", reason)
    return supported, refused


class Session:
    """One child session process: follows its events, records what it finishes, and records
    what it cannot finish (a timeout, a crash, a passed memory budget) as failed."""

    def __init__(self, plan: Plan, spec: SessionSpec, keep: Sink, progress: ProgressFn) -> None:
        self.plan, self.spec, self.keep, self.progress = plan, spec, keep, progress
        self.log_path = plan.log_dir / f"{plan.run_id}-{spec.engine}.log"
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.current: str | None = None  # the workload in flight
        self.phase = "starting"
        self.deadline = time.monotonic() + STARTUP_TIMEOUT_S
        self.done: set[str] = set()
        self.recorded: dict[str, int] = {}
        self.proc: subprocess.Popen[str]  # started by run()
        self.pump: threading.Thread | None = None  # reads its events into self.events

    def run(self) -> set[str]:
        """Run the session to its end; return the workloads it finished (or gave up on)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            self.proc = self._spawn(log)
            try:
                return self._follow()
            finally:
                with uninterrupted():
                    stop_session(self.proc)
                    self._drain()  # records it sent just before a Ctrl-C are kept too

    def _spawn(self, log: IO[str]) -> subprocess.Popen[str]:
        # The session dies with this process (lifeline_env): a driver killed outright (a CI
        # runner's timeout) cannot stop it, and it runs in a session of its own.
        env = lifeline_env({**child_thread_env(), **os.environ, "SPARK_LOCAL_IP": "127.0.0.1",
                            "PYTHONUNBUFFERED": "1"})
        proc = subprocess.Popen([sys.executable, "-m", "harness.execution.child"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                text=True, env=env, start_new_session=True)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(self.spec.to_json())
        proc.stdin.close()
        self.pump = threading.Thread(target=_pump, args=(proc.stdout, self.events), daemon=True)
        self.pump.start()
        return proc

    def _follow(self) -> set[str]:
        while True:
            budget = self.plan.memory_budget_bytes
            timeout = max(0.0, self.deadline - time.monotonic())
            if budget is not None:
                timeout = min(timeout, MEMORY_POLL_S)
                # The budget judges the measured runs only: preparing inputs (generating data,
                # computing the reference answer once) is the harness's work, not the engine's.
                over = self.phase == "cell" and _over_budget(self.proc.pid, budget)
                if over:
                    return self._fail_current("over-memory", over)
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                if time.monotonic() < self.deadline:
                    continue
                return self._fail_current("timeout", f"no progress after {self._limit():.0f} s "
                                          f"({self.phase}); see {self.log_path}")
            if event is None:
                self.proc.wait()
                if self.phase == "done":
                    return self.done
                return self._fail_current("error", f"session process died ({self.phase}, exit "
                                          f"{self.proc.returncode}); see {self.log_path}")
            self._handle(event)

    def _limit(self) -> float:
        return STARTUP_TIMEOUT_S if self.phase in SLOW_EVENTS else self.plan.cell_timeout_s

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        self.phase = kind
        self.deadline = time.monotonic() + (
            STARTUP_TIMEOUT_S if kind in SLOW_EVENTS else self.plan.cell_timeout_s)
        engine = self.spec.engine
        if kind == "start-failed":
            self._start_failed(event["error"], event.get("attempts", 1))
        elif kind in ("start-retry", "restarting"):
            what = "starting again" if kind == "start-retry" else "restarting the engine"
            self.progress(f"{engine} · {what}: {event.get('error') or event.get('reason')}", 0)
        elif kind == "prepare":
            self.current = event["workload"]
            self.progress(f"{engine} · {event['workload']} · preparing inputs", 0)
        elif kind == "cell":
            self.current = event["workload"]
            repeat = event["repeat"]
            self.progress(f"{engine} · {event['workload']} · repeat {repeat + 1}/"
                          f"{self.spec.runs} ({self.spec.phase(repeat)})", 0)
        elif kind == "record":
            self._keep(Record.from_dict(event["record"]))

    def _start_failed(self, error: str, attempts: int) -> None:
        """The engine would not start (or start afresh after dying): every workload it has
        not finished fails with it."""
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        for name in self.spec.workloads:
            if name not in self.done:
                self._fail_workload(name, self.recorded.get(name, 0), "error",
                                    f"engine start failed{tries}: {error}")
        self.done |= set(self.spec.workloads)
        self.phase = "done"

    def _keep(self, record: Record) -> None:
        self.keep([record])
        self.progress(f"{self.spec.engine} · {record.workload} · {record.status}", 1)
        self.recorded[record.workload] = self.recorded.get(record.workload, 0) + 1
        if self.recorded[record.workload] == self.spec.runs:
            self.done.add(record.workload)

    def _fail_current(self, status: str, error: str) -> set[str]:
        """Stop the session; record the cell in flight (and the rest of its workload) as
        failed. One held section: a Ctrl-C during the stop (up to 35 s) keeps the record."""
        with uninterrupted():
            return self._stop_and_fail(status, error)

    def _stop_and_fail(self, status: str, error: str) -> set[str]:
        stop_session(self.proc)
        self._drain()  # what it finished before it stopped is not failed
        if self.current is None:
            # Died before any workload began: every workload of this session fails with it.
            for name in self.spec.workloads:
                if self.recorded.get(name, 0) == 0:
                    self._fail_workload(name, 0, status, error)
            return self.done | set(self.spec.workloads)
        self._fail_workload(self.current, self.recorded.get(self.current, 0), status, error)
        return self.done | {self.current}

    def _fail_workload(self, name: str, first_repeat: int, status: str, error: str) -> None:
        failed = self.plan.failed(self.spec, name, first_repeat, status, error)
        self.keep(failed)
        self.progress(f"{self.spec.engine} · {name} · {status}", len(failed))

    def _drain(self) -> None:
        """Keep the records a stopped session sent that were not read yet (its output is read
        to its end first)."""
        if self.pump is not None:
            self.pump.join(timeout=DRAIN_S)
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if event is not None and event["event"] == "record":
                self._keep(Record.from_dict(event["record"]))


def _pump(stream: IO[str], events: queue.Queue[dict[str, Any] | None]) -> None:
    for line in stream:
        try:
            events.put(json.loads(line))
        except json.JSONDecodeError:
            continue
    events.put(None)


def _over_budget(pid: int, budget: int) -> str | None:
    """Why the session's tree is over its memory budget, or None while it is within it."""
    rss = tree_rss(pid)
    if rss is None or rss <= budget:
        return None
    return (f"process tree RSS {fmt_gib(rss)} passed the memory budget of "
            f"{fmt_gib(budget)}; stopped")
