"""One engine session: start the engine once, then measure and check every requested run.

Runs in a child process under `harness run` (see runner.py and child.py) and in-process under
asv and tests.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.config import WARMUP_RULE, data_dir
from harness.engines.base import Engine, EngineFailure, EngineOptions
from harness.engines.cluster_memory import ClusterSampler, sampler_for
from harness.engines.registry import get_engine
from harness.errors import UsageError
from harness.execution import diagnostics
from harness.execution.probe import TreeMeasurement
from harness.execution.sampler import Probe, TreeSampler
from harness.results.schema import Record
from harness.workloads.contract import Workload, one_core
from harness.workloads.datasets import GENERATOR_VERSION

Emit = Callable[[dict[str, Any]], None]
# What the harness does around a timed run besides timing it, each of which can be switched off
# to measure what it costs: the memory probe, the garbage collection before the run (and the
# JVM's), and the measures taken after the clock stops (task counts, Spark partitions).
INSTRUMENTS = ("sampler", "gc", "probes")
# Starts of an engine before its cells are written off: a JVM killed during start-up is worth
# a second, fresh one; more would only delay the verdict on an engine that cannot start.
START_ATTEMPTS = 2
# Spark's errors whose first line is a header over a Python worker's traceback (or a Java one):
# the cause is on their last line.
HEADED_ERRORS = ("PythonException", "Py4JJavaError")


@dataclass(frozen=True)
class SessionSpec:
    """Everything a session needs; JSON-serializable so a child process can receive it."""

    run_id: str
    engine: str
    workloads: tuple[str, ...]
    size: str
    repeats: int  # runs that count per workload: the cold one and the steady ones
    options: EngineOptions
    env: dict[str, Any]
    # A sweep cell's axis values in place of the size's defaults, and its record tag.
    overrides: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, Any] | None = None
    # A suite's own values for some workloads' parameters (`[params.NAME]`), over the size's.
    workload_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    warmups: int = 0
    warmup_rule: str = WARMUP_RULE
    # `harness calibrate`: the instruments switched off in each steady run, in order (an empty
    # tuple: all on), so the runs of every condition interleave with the others'.
    rotation: tuple[tuple[str, ...], ...] = ()
    rounds: int = 1  # how many runs of each condition the rotation holds
    # --diagnostics: the folder of this run's diagnostics (harness.execution.diagnostics).
    diagnostics: str | None = None

    def params(self, workload: Workload[Any, Any]) -> dict[str, Any]:
        return workload.params(self.size, {**self.workload_params.get(workload.name, {}),
                                           **self.overrides})

    @property
    def runs(self) -> int:
        """Runs per workload: one cold, the warm-ups, then the steady ones."""
        return self.repeats + self.warmups

    def instruments_off(self, repeat: int) -> frozenset[str]:
        """The instruments switched off for this run: none, outside a calibration."""
        if not self.rotation or self.phase(repeat) != "steady":
            return frozenset()
        return frozenset(self.rotation[self._steady_index(repeat) % len(self.rotation)])

    def _steady_index(self, repeat: int) -> int:
        return repeat - 1 - self.warmups

    def calibration(self, repeat: int) -> dict[str, Any] | None:
        """The calibration tag of a run: what was off, and which round it belongs to (None
        for the cold and warm-up runs, which have every instrument on)."""
        if not self.rotation:
            return None
        if self.phase(repeat) != "steady":
            return {"off": [], "round": None}
        index = self._steady_index(repeat) % len(self.rotation)
        per_round = len(self.rotation) // self.rounds
        return {"off": sorted(self.instruments_off(repeat)), "round": index // per_round}

    def phase(self, repeat: int) -> str:
        if repeat == 0:
            return "cold"
        return "warmup" if repeat <= self.warmups else "steady"

    def to_json(self) -> str:
        data = {**self.__dict__, "options": self.options.__dict__}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> SessionSpec:
        data = json.loads(text)
        data["options"] = EngineOptions(**data["options"])
        data["workloads"] = tuple(data["workloads"])
        data["rotation"] = tuple(tuple(off) for off in data.get("rotation", ()))
        return cls(**data)


def one_line(exc: BaseException) -> str:
    """An exception as its type and its most telling line: the first, except where Spark puts
    a header over the cause (a Python worker's traceback, a Java exception)."""
    try:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    except Exception:  # py4j formats a Java error by asking the JVM, which may be gone
        lines = []
    if not lines:
        return type(exc).__name__
    line = lines[0]
    if len(lines) > 1 and line.endswith(":") and type(exc).__name__ in HEADED_ERRORS:
        line = lines[-1]
    elif len(lines) > 1 and line.startswith("An error occurred while calling"):  # py4j
        line = lines[1].lstrip(": ")
    return f"{type(exc).__name__}: {line}"[:500]


def describe(exc: BaseException) -> str:
    """An error in one line: an engine's failure in its own plain words, others with their type."""
    return str(exc) if isinstance(exc, EngineFailure) else one_line(exc)


def expected_answer(workload: Workload[Any, Any], params: dict[str, Any], inputs: Any) -> Any:
    """The reference answer, cached on disk beside the data so each engine need not recompute it."""
    if workload.expected is not None:
        return workload.expected(inputs)
    # Layout knobs cut the same data differently; they never change the answer.
    data_params = {k: v for k, v in params.items() if k not in workload.tunables}
    # Environments share one data folder (harness ab): an answer is pickled by, and computed
    # with, the versions that read it.
    key = hashlib.sha256(json.dumps([workload.name, data_params, GENERATOR_VERSION,
                                     _answer_libraries()],
                                    sort_keys=True).encode()).hexdigest()[:16]
    path = data_dir() / "expected" / f"{workload.name}-{key}.pkl"
    with contextlib.suppress(FileNotFoundError, pickle.UnpicklingError, EOFError, AttributeError,
                             ImportError, TypeError, ValueError):
        return pickle.loads(path.read_bytes())
    answer = workload.reference(inputs, one_core())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{time.monotonic_ns()}.tmp")
    tmp.write_bytes(pickle.dumps(answer))
    tmp.replace(path)
    return answer


@functools.cache
def _answer_libraries() -> list[str]:
    found = []
    for name in ("numpy", "pandas", "pyarrow", "scikit-learn"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name}=={importlib.metadata.version(name)}")
    return [sys.version.split()[0], *found]


def base_record(spec: SessionSpec, engine: Engine | None, workload: str, repeat: int,
                params: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "run_id": spec.run_id, "workload": workload, "engine": spec.engine, "size": spec.size,
        "params": params, "repeat": repeat, "env": spec.env, "sweep": spec.sweep,
        "phase": spec.phase(repeat), "calibration": spec.calibration(repeat),
        "warmup": {"runs": spec.warmups, "rule": spec.warmup_rule},
    }
    if engine is None:  # a run that never started: state what would have run
        engine = get_engine(spec.engine)(spec.options)
        diagnostics.prepare(engine, spec.diagnostics)
    config = engine.config() | diagnostics.mark(spec.engine, spec.diagnostics)
    return fields | {"n_workers": engine.n_workers, "threads_per_worker": engine.threads_per_worker,
                     "startup_s": engine.startup_s, "engine_config": config}


def measure(engine: Engine, workload: Workload[Any, Any], inputs: Any, expected: Any,
            fields: dict[str, Any], probe: Probe | None = None,
            off: frozenset[str] = frozenset(), diagnostics_dir: str | None = None) -> Record:
    """Run the workload once on a started engine; time it, sample the tree, check the answer.

    `off` switches instruments off for this run (see INSTRUMENTS), to measure what they cost;
    `diagnostics_dir` collects the engine's diagnostics around it (outside the clock).
    """
    outer = time.perf_counter()
    sampler = TreeSampler(probe) if "sampler" not in off else None
    # The workers' own memory where they run: one instrument with the tree sampler. Not
    # where the workload runs on a cluster of its own: the engine's workers sit idle then.
    cluster = sampler_for(engine) if "sampler" not in off and not workload.own_cluster else None
    diag = diagnostics.RunDiagnostics(diagnostics_dir, engine, fields)
    try:
        if "gc" not in off:
            engine.quiesce(new_workload=fields["repeat"] == 0)
        with diag, cluster or contextlib.nullcontext(), sampler or contextlib.nullcontext():
            t0 = time.perf_counter()
            answer = engine.run(workload, inputs)
            wall = time.perf_counter() - t0
    except Exception as exc:
        # A dead engine's socket error says nothing; its failure says what happened.
        return Record(status="error", error=engine.failure() or one_line(exc),
                      metrics=engine.incidents() | diag.as_metrics(), **fields)
    if "probes" not in off:
        engine.settle()
    check = workload.check(expected, answer)
    ctx = engine.last_context or engine.context()
    extra = workload.metrics(fields["params"], ctx) if workload.metrics else {}
    extra |= ctx.notes | diag.as_metrics()
    extra["harness_overhead_s"] = time.perf_counter() - outer - wall
    extra |= engine.incidents()  # after the overhead: it may wait for a lost worker's return
    tree, tree_metrics = _tree_fields(sampler.result, cluster) if sampler is not None else ({}, {})
    return Record(
        status="ok" if check.ok else "mismatch",
        error=None if check.ok else "answer differs from the reference",
        wall_s=wall, n_tasks=engine.n_tasks, check={"ok": check.ok, **check.detail},
        metrics={**extra, **tree_metrics}, **tree, **fields,
    )


def _tree_fields(m: TreeMeasurement, cluster: ClusterSampler | None = None,
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tree measurement, and the cluster's where the engine has one, as record fields and
    as metrics."""
    fields = {"cpu_s": m.cpu_s, "peak_tree_rss_bytes": m.peak_tree_rss_bytes,
              "peak_tree_hwm_bytes": m.peak_tree_hwm_bytes,
              "baseline_tree_rss_bytes": m.baseline_tree_rss_bytes,
              "peak_driver_rss_bytes": m.peak_driver_rss_bytes}
    metrics = {"max_processes": m.max_processes, "memory_samples": m.samples,
               "sampler_cpu_s": m.sampler_cpu_s, "hwm_exact": m.hwm_exact}
    if cluster is not None:
        fields |= cluster.result.fields()
        metrics |= cluster.result.metrics()
    return fields, metrics


def run_workload(spec: SessionSpec, engine: Engine, name: str, emit: Emit,
                 probe: Probe | None = None) -> Iterator[Record]:
    """Prepare one workload's inputs, then yield one record per repeat; a run that kills the
    engine ends the workload (its later runs are recorded as not run)."""
    # Imported here, not at the top: the child's module is re-imported by every process a
    # spawn-based pool starts (dask-processes, LocalCluster), which must not load all workloads.
    from harness.workloads.registry import get_workload

    workload = get_workload(name)
    params = spec.params(workload)
    emit({"event": "prepare", "workload": name})
    try:
        inputs = workload.prepare(params)
        expected = expected_answer(workload, params, inputs)
    except Exception as exc:
        for repeat in range(spec.runs):
            yield Record(status="error", error=f"preparing inputs: {one_line(exc)}",
                         **base_record(spec, engine, name, repeat, params))
        return
    for repeat in range(spec.runs):
        emit({"event": "cell", "workload": name, "repeat": repeat})
        record = measure(engine, workload, inputs, expected,
                         base_record(spec, engine, name, repeat, params), probe,
                         spec.instruments_off(repeat), spec.diagnostics)
        yield record
        reason = engine.failure() if record.status == "error" else None
        if reason is not None:
            # Not run on the fresh engine the next workload gets: its runs there would be cold
            # runs, whatever their phase says.
            for later in range(repeat + 1, spec.runs):
                yield Record(status="error", error=f"not run: in repeat {repeat} {reason}",
                             **base_record(spec, engine, name, later, params))
            return


def run_session(spec: SessionSpec, emit: Emit) -> None:
    """Start the engine once and run every workload of the spec, emitting each record; an
    engine found dead after a workload is started afresh for the next one."""
    emit({"event": "starting"})
    engine = get_engine(spec.engine)(spec.options)
    diagnostics.prepare(engine, spec.diagnostics)
    if not start_engine(engine, emit):
        return
    try:
        emit({"event": "started", "startup_s": engine.startup_s})
        with Probe() as probe:  # one memory probe process for the whole session
            for name in spec.workloads:
                if not alive_or_restarted(engine, emit):
                    break
                for record in run_workload(spec, engine, name, emit, probe):
                    emit({"event": "record", "record": json.loads(record.to_json())})
    finally:
        emit({"event": "stopping"})
        engine.__exit__(None, None, None)
    emit({"event": "done"})


def start_engine(engine: Engine, emit: Emit) -> bool:
    """Start the engine, trying a failed start once more with fresh processes (a JVM killed
    during start-up) but not a refused one (bad configuration); False after saying why."""
    error, attempt = "", 0
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            engine.__enter__()
            return True
        except UsageError as exc:  # a second attempt would be refused alike
            error = describe(exc)
            break
        except Exception as exc:
            error = describe(exc)
            if attempt < START_ATTEMPTS:
                emit({"event": "start-retry", "error": error})
    emit({"event": "start-failed", "error": error, "attempts": attempt})
    return False


def alive_or_restarted(engine: Engine, emit: Emit) -> bool:
    """Whether the engine can take the next workload: alive, or dead and started afresh (the
    new start-up in its `startup_s`); False when the fresh start failed too."""
    reason = engine.failure()
    if reason is None:
        return True
    emit({"event": "restarting", "reason": reason})
    engine.__exit__(None, None, None)  # what is left of the dead one
    if not start_engine(engine, emit):
        return False
    emit({"event": "restarted", "startup_s": engine.startup_s})
    return True
