"""Support for the thin asv layer in benchmarks/: one harness run per benchmark class, looked up.

asv 0.6 runs every parameter combination of every benchmark in a process of its own, so an
engine started per combination is started hundreds of times per catalogue (Spark: 13 s each).
Instead each class's `setup_cache` runs its whole grid once through the harness, as
`harness run` measures it (a session process per engine for all workloads, each engine's
warm-ups, checked answers), and returns a `Measured`; asv pickles it and each combination's
process only looks its number up. `cell` keeps asv's own timer for one cell, opt-in.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness import config
from harness.engines.base import Engine, EngineOptions
from harness.engines.registry import ENGINES, get_engine
from harness.execution.runner import Plan, run_plan
from harness.execution.session import expected_answer
from harness.results.env import collect_env
from harness.results.schema import Record
from harness.sweep.spec import axis_kind, engine_options, load_sweep
from harness.workloads.contract import Workload
from harness.workloads.registry import QUICK_SUITE, WORKLOADS, get_workload

ENGINE_NAMES: list[str] = list(ENGINES)
WORKLOAD_NAMES: list[str] = list(QUICK_SUITE)
# Counted runs per cell: the cold run and one steady run, the fewest that give a warm time
# (each engine's warm-ups come on top, as in `harness run`); more would not fit a nightly asv
# run into 15 minutes on 2 cores. `harness run --repeat R` is the tool for tighter numbers.
REPEATS = 2
WORKLOADS_VARIABLE = "HARNESS_ASV_WORKLOADS"
ENGINES_VARIABLE = "HARNESS_ASV_ENGINES"
TIME_VARIABLE = "HARNESS_ASV_TIME"
# (workload, engine, axis values...): exactly the params asv passes a combination.
Key = tuple[str, ...]
Pair = tuple[str, str]


def asv_size() -> str:
    """The data size asv benchmarks use: HARNESS_ASV_SIZE, default `small`."""
    size = os.environ.get("HARNESS_ASV_SIZE", "small")
    if size not in config.SIZES:
        raise ValueError(f"HARNESS_ASV_SIZE={size!r} is not one of {config.SIZES}")
    return size


# ---------------------------------------------------------------------------------------------
# What one setup_cache measured


@dataclass(frozen=True)
class Measures:
    """What the harness measured for one combination, over its ok runs."""

    warm_wall_s: float | None  # median of the steady runs: the cold run and warm-ups left out
    startup_s: float | None
    # The largest over every run (cold, warm-up, steady): a peak is a peak whenever it happens.
    peak_tree_rss_bytes: int | None
    peak_tree_hwm_bytes: int | None
    peak_driver_rss_bytes: int | None
    n_workers: int
    threads_per_worker: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Measured:
    """One setup_cache's harness run as asv's per-combination processes read it (pickled)."""

    size: str
    values: dict[Key, Measures] = field(default_factory=dict)
    failed: dict[Key, str] = field(default_factory=dict)  # ran, not ok: why
    skipped: dict[Key, str] = field(default_factory=dict)  # not run, on purpose: why


def _largest(values: Iterable[int | None]) -> int | None:
    """The largest measured value; None only when no run measured it."""
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _measures(records: list[Record]) -> Measures:
    steady = [r.wall_s for r in records if r.phase == "steady" and r.wall_s is not None]
    first = records[0]
    return Measures(
        warm_wall_s=statistics.median(steady) if steady else None,
        startup_s=first.startup_s,
        peak_tree_rss_bytes=_largest(r.peak_tree_rss_bytes for r in records),
        peak_tree_hwm_bytes=_largest(r.peak_tree_hwm_bytes for r in records),
        peak_driver_rss_bytes=_largest(r.peak_driver_rss_bytes for r in records),
        n_workers=first.n_workers, threads_per_worker=first.threads_per_worker,
        params=first.params)


def collect(size: str, runs: Iterable[tuple[Key, Record]]) -> Measured:
    """Records grouped by combination: measures for the ok ones, the reason for the rest."""
    by_key: dict[Key, list[Record]] = {}
    for key, record in runs:
        by_key.setdefault(key, []).append(record)
    measured = Measured(size)
    for key, records in by_key.items():
        bad = [r for r in records if r.status != "ok"]
        if bad and all(r.status == "unsupported" for r in records):
            measured.skipped[key] = bad[0].error or "unsupported"
        elif bad:  # a later ok run does not hide a failed one
            measured.failed[key] = f"{bad[0].status}: {bad[0].error}"
        else:
            measured.values[key] = _measures(records)
    return measured


# ---------------------------------------------------------------------------------------------
# Running a grid through the harness


def _chosen(variable: str, known: Collection[str]) -> set[str] | None:
    """The names a comma list in `variable` chooses; None when it is unset (all of them)."""
    text = os.environ.get(variable, "")
    names = {n.strip() for n in text.split(",") if n.strip()}
    if not names:
        return None
    unknown = sorted(names - set(known))
    if unknown:
        raise ValueError(f"{variable}={text!r} names unknown {', '.join(unknown)}; "
                         f"choose from: {', '.join(known)}")
    return names


def _not_chosen(variable: str) -> str:
    return f"not measured in this asv run: {variable}={os.environ.get(variable, '')!r}"


def chosen_grid(workloads: Sequence[str],
                engines: Sequence[str]) -> tuple[list[str], list[str], dict[Pair, str]]:
    """The workloads and engines this asv run measures, and why each other pair is left out.

    HARNESS_ASV_WORKLOADS / HARNESS_ASV_ENGINES (comma lists) narrow a run to what `--bench`
    asks about, since asv tells setup_cache nothing of `--bench`; an engine this machine cannot
    start is left out too. Pairs an engine does not support run: the harness refuses them.
    """
    want_w = _chosen(WORKLOADS_VARIABLE, WORKLOADS)
    want_e = _chosen(ENGINES_VARIABLE, ENGINES)
    why_w = {w: _not_chosen(WORKLOADS_VARIABLE) for w in workloads
             if want_w is not None and w not in want_w}
    why_e = {e: _not_chosen(ENGINES_VARIABLE) if want_e is not None and e not in want_e
             else get_engine(e).unavailable_reason() for e in engines}
    left_out: dict[Pair, str] = {}
    for w, e in itertools.product(workloads, engines):
        reason = why_e[e] or why_w.get(w)
        if reason:
            left_out[(w, e)] = reason
    return [w for w in workloads if w not in why_w], [e for e in engines if not why_e[e]], left_out


@functools.cache
def _env() -> dict[str, Any]:
    """This machine's environment, collected once per process (it runs `java -version`)."""
    return collect_env()


def _quiet(text: str, advance: int) -> None:
    """asv shows no progress of a setup_cache."""


def _run(workloads: list[str], engines: list[str], size: str,
         point: Mapping[str, Any]) -> list[Record]:
    """One harness run of every workload on every engine at one sweep point ({}: defaults).

    Records and session logs go under HARNESS_RESULTS_DIR; unset, that is asv's scratch
    directory for the setup_cache, which asv deletes when the benchmarks are done.
    """
    plan = Plan.new(workloads, engines, size, REPEATS, engine_options(point), env=_env())
    # asv- rather than run-: these records are asv's, not a `harness run` of the user's.
    plan = replace(plan, out=plan.out.with_name(f"asv-{plan.run_id}.jsonl"),
                   overrides={k: v for k, v in point.items() if axis_kind(k) != "engine"})
    return run_plan(plan, _quiet)


def _measure_grid(workloads: Sequence[str], engines: Sequence[str],
                  axes: Mapping[str, Sequence[str]]) -> Measured:
    """Every (workload, engine, axis values...) through the harness: one run per combination of
    axis values, holding all its workloads and engines (engine axes need their own sessions)."""
    size = asv_size()
    run_w, run_e, left_out = chosen_grid(workloads, engines)
    points = list(itertools.product(*axes.values()))
    found: list[tuple[Key, Record]] = []
    for values in points if run_w and run_e else []:  # nothing chosen: nothing to start
        point = {axis: json.loads(v) for axis, v in zip(axes, values, strict=True)}
        found += [((r.workload, r.engine, *values), r) for r in _run(run_w, run_e, size, point)]
    measured = collect(size, found)
    for (w, e), reason in left_out.items():
        for values in points:
            measured.skipped[(w, e, *values)] = reason
    return measured


def measure_suite() -> Measured:
    """The quick suite once, as `harness run` measures it: Compute, TreeMemory and Startup all
    read this one run."""
    return _measure_grid(WORKLOAD_NAMES, ENGINE_NAMES, {})


def measure_sweep(params: Sequence[Sequence[str]], names: Sequence[str]) -> Measured:
    """An asv sweep class's points: its params are (workload, engine, axis...), the axis values
    sweep_axis's JSON strings."""
    if tuple(names[:2]) != ("workload", "engine") or len(params) != len(names):
        raise ValueError(f"sweep params must be (workload, engine, axis...), got {names}")
    return _measure_grid(params[0], params[1], dict(zip(names[2:], params[2:], strict=True)))


def sweep_axis(sweep: str, workload: str, axis: str) -> list[str]:
    """A few values of a shipped sweep's axis, as JSON strings (asv params must be plain).

    Both ends and the middle of a layout axis (chunks, partitions: the U-curve's shape); the
    small end and the middle of the others, so a nightly `asv run` stays within minutes.
    `harness sweep` runs the whole grid.
    """
    study = next(s for s in load_sweep(sweep).studies if s.workload == workload)
    values = list(study.axes[axis])
    picks = [values[0], values[len(values) // 2]]
    if axis_kind(axis) == "layout":
        picks.append(values[-1])
    return list(dict.fromkeys(json.dumps(v) for v in picks))


# ---------------------------------------------------------------------------------------------
# Looking one combination up (in asv's per-combination process)


def _describe(key: Key) -> str:
    at = f" at {', '.join(key[2:])}" if key[2:] else ""
    return f"{key[0]} on {key[1]}{at}"


def skip_unmeasured(cache: Measured, key: Sequence[str]) -> None:
    """asv's skip (NotImplementedError from setup) for a combination left out on purpose: one
    the engine does not support, cannot start here, or HARNESS_ASV_* did not choose."""
    reason = cache.skipped.get(tuple(key))
    if reason is not None:
        raise NotImplementedError(reason)


def measured_value(cache: Measured, key: Sequence[str], name: str) -> float:
    """One measure of one combination; fails what did not finish ok or was not measured (a
    peak this platform cannot read is not 0 bytes)."""
    k: Key = tuple(key)
    if k in cache.failed:
        raise AssertionError(
            f"{_describe(k)} did not finish ok ({cache.failed[k]}); `harness run -w {k[0]} "
            f"-e {k[1]} --size {cache.size}` shows why (HARNESS_RESULTS_DIR keeps the logs)")
    measures = cache.values.get(k)
    if measures is None:
        raise AssertionError(f"{_describe(k)} is not among what this run measured")
    value = getattr(measures, name)
    if value is None:
        # No steady run (a warm time), or a peak this platform cannot read (no /proc VmHWM).
        raise AssertionError(f"{name} of {_describe(k)} was not measured in this run; the "
                             "harness records say which runs measured what")
    return float(value)


def skip_engine_unmeasured(cache: Measured, engine: str) -> None:
    """asv's skip for an engine the run left out entirely (cannot start here, or not chosen)."""
    mine = [k for k in (*cache.values, *cache.failed, *cache.skipped) if k[1] == engine]
    reasons = [reason for k, reason in cache.skipped.items() if k[1] == engine]
    if mine and len(reasons) == len(mine):
        raise NotImplementedError(reasons[0])


def startup_value(cache: Measured, engine: str) -> float:
    """The engine's start-up seconds: from its first workload that ran ok."""
    for key, measures in cache.values.items():
        if key[1] == engine and measures.startup_s is not None:
            return float(measures.startup_s)
    raise AssertionError(f"{engine} ran no workload ok; `harness run -e {engine}` shows why")


# ---------------------------------------------------------------------------------------------
# Opt-in: asv's own timer around one cell (HARNESS_ASV_TIME=1, benchmarks.workloads.CellTime)

_engines: dict[tuple[str, EngineOptions], Engine] = {}
_cells: dict[tuple[str, str, str], Cell] = {}


def cell_timing_enabled() -> bool:
    """Whether benchmarks/ defines CellTime: only on request, as it starts an engine per cell."""
    return os.environ.get(TIME_VARIABLE, "").strip() not in ("", "0")


def skip_unless_runnable(workload: str, engine: str) -> None:
    """asv's way to skip a parameter combination: NotImplementedError from setup."""
    cls = get_engine(engine)
    reason = cls.unavailable_reason() or get_workload(workload).unsupported_reason(engine, cls.kind)
    if reason:
        raise NotImplementedError(reason)


def started_engine(name: str) -> Engine:
    """One started engine per process, stopped when the process exits."""
    key = (name, EngineOptions())
    if key not in _engines:
        engine = get_engine(name)(key[1])
        engine.__enter__()
        atexit.register(engine.__exit__, None, None, None)
        _engines[key] = engine
    return _engines[key]


@dataclass
class Cell:
    """A workload ready to run on a started engine, with its reference answer."""

    workload: Workload[Any, Any]
    engine: Engine
    size: str
    inputs: Any
    expected: Any

    def run_checked(self) -> Any:
        """Run once; a wrong answer fails the benchmark instead of producing a timing."""
        answer = self.engine.run(self.workload, self.inputs)
        result = self.workload.check(self.expected, answer)
        if not result.ok:
            raise AssertionError(f"{self.workload.name} on {self.engine.name}: answer differs "
                                 f"from the reference: {result.detail}")
        return answer


def cell(workload: str, engine: str) -> Cell:
    """The cached cell for this process; the first call starts the engine, runs the cell cold
    once and then the engine's warm-ups, so asv's samples are steady."""
    skip_unless_runnable(workload, engine)
    size = asv_size()
    key = (workload, engine, size)
    if key not in _cells:
        w = get_workload(workload)
        params = w.params(size)
        inputs = w.prepare(params)
        c = Cell(w, started_engine(engine), size, inputs, expected_answer(w, params, inputs))
        for _ in range(1 + c.engine.warmup_runs):  # a JVM's JIT is still compiling
            c.run_checked()
        _cells[key] = c
    return _cells[key]
