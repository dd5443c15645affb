"""Support for the thin asv layer in benchmarks/: engines started once per process, checked runs.

asv runs every benchmark (and every parameter combination) in its own process and re-runs `setup`
before each sample, so engines and inputs are cached here at module level and stopped at exit.
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness import config
from harness.engines.base import Engine, EngineOptions
from harness.engines.registry import ENGINES, get_engine
from harness.execution.runner import Plan, run_plan
from harness.execution.session import SessionSpec, base_record, expected_answer, measure
from harness.results.schema import Record, new_run_id
from harness.sweep.spec import axis_kind, engine_options, load_sweep
from harness.workloads.contract import Workload
from harness.workloads.registry import QUICK_SUITE, get_workload

ENGINE_NAMES: list[str] = list(ENGINES)
WORKLOAD_NAMES: list[str] = list(QUICK_SUITE)

_engines: dict[tuple[str, EngineOptions], Engine] = {}
_cells: dict[tuple[str, ...], Cell] = {}


def asv_size() -> str:
    """The data size asv benchmarks use: HARNESS_ASV_SIZE, default `small`."""
    size = os.environ.get("HARNESS_ASV_SIZE", "small")
    if size not in config.SIZES:
        raise ValueError(f"HARNESS_ASV_SIZE={size!r} is not one of {config.SIZES}")
    return size


def skip_unless_runnable(workload: str, engine: str) -> None:
    """asv's way to skip a parameter combination: NotImplementedError from setup."""
    cls = get_engine(engine)
    reason = cls.unavailable_reason() or get_workload(workload).unsupported_reason(engine, cls.kind)
    if reason:
        raise NotImplementedError(reason)


def skip_unless_available(engine: str) -> None:
    """asv's skip for an engine this machine cannot start (no Java for Spark, say)."""
    reason = get_engine(engine).unavailable_reason()
    if reason:
        raise NotImplementedError(reason)


def started_engine(name: str, options: EngineOptions | None = None) -> Engine:
    """One started engine per process and options, stopped when the process exits."""
    key = (name, options or EngineOptions())
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
    params: dict[str, Any] = field(default_factory=dict)

    def run_checked(self) -> Any:
        """Run once; a wrong answer fails the benchmark instead of producing a timing."""
        answer = self.engine.run(self.workload, self.inputs)
        result = self.workload.check(self.expected, answer)
        if not result.ok:
            raise AssertionError(f"{self.workload.name} on {self.engine.name}: answer differs "
                                 f"from the reference: {result.detail}")
        return answer

    def measure(self) -> Record:
        spec = SessionSpec(run_id=new_run_id(), engine=self.engine.name,
                           workloads=(self.workload.name,), size=self.size, repeats=1,
                           options=self.engine.options, env={})
        fields = base_record(spec, self.engine, self.workload.name, 1, self.params)
        record = measure(self.engine, self.workload, self.inputs, self.expected, fields)
        if record.status != "ok":
            raise AssertionError(f"{self.workload.name} on {self.engine.name}: {record.status}: "
                                 f"{record.error}")
        return record


def cell(workload: str, engine: str, overrides: dict[str, Any] | None = None,
         options: EngineOptions | None = None) -> Cell:
    """The cached cell for this process; the first call starts the engine and runs it cold once.

    `overrides` and `options` are a sweep point (axis values, workers and threads).
    """
    skip_unless_runnable(workload, engine)
    size = asv_size()
    key = (workload, engine, size, json.dumps(overrides, sort_keys=True), repr(options))
    if key not in _cells:
        w = get_workload(workload)
        params = w.params(size, overrides)
        inputs = w.prepare(params)
        c = Cell(w, started_engine(engine, options), size, inputs,
                 expected_answer(w, params, inputs), params)
        c.run_checked()  # the cold run: asv's samples are warm
        for _ in range(c.engine.warmup_runs):  # and steady: a JVM's JIT is still compiling
            c.run_checked()
        _cells[key] = c
    return _cells[key]


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


def sweep_cell(workload: str, engine: str, **axes: str) -> Cell:
    """The cell for one asv sweep point; axis values arrive as sweep_axis's JSON strings."""
    point = {k: json.loads(v) for k, v in axes.items()}
    overrides = {k: v for k, v in point.items() if axis_kind(k) != "engine"}
    return cell(workload, engine, overrides, engine_options(point))


def measure_suite() -> dict[str, dict[str, float | None]]:
    """Run the quick suite the way `harness run` does (one isolated process per engine).

    Returns, per "workload|engine", the measures asv cannot see itself: whole-tree memory and
    start-up. A run that is not ok fails loudly rather than yielding a number.
    """
    engines = [n for n in ENGINE_NAMES if get_engine(n).unavailable_reason() is None]
    with tempfile.TemporaryDirectory(prefix="harness-asv-") as tmp:
        # Peaks and start-up, not steady times, are what this run is for: no warm-ups.
        plan = replace(Plan.new(WORKLOAD_NAMES, engines, asv_size(), 2, EngineOptions(),
                                Path(tmp) / "records.jsonl", warmups=0),
                       log_dir=Path(tmp) / "logs")
        records = run_plan(plan, lambda text, n: None)
    return _suite_measures(records)


PEAKS = ("peak_tree_rss_bytes", "peak_tree_hwm_bytes", "peak_driver_rss_bytes")


def _suite_measures(records: list[Record]) -> dict[str, dict[str, float | None]]:
    """Per "workload|engine": start-up and the largest peaks over its ok runs; a pair with any
    run that was not ok is marked failed for good (a later ok repeat does not hide it)."""
    out: dict[str, dict[str, float | None]] = {}
    for rec in records:
        key = f"{rec.workload}|{rec.engine}"
        if rec.status == "unsupported" or "error" in out.get(key, {}):
            continue
        if rec.status != "ok":
            out[key] = {"error": None}
            continue
        prev = out.get(key, {})
        out[key] = {"startup_s": rec.startup_s,
                    **{name: _larger(getattr(rec, name), prev.get(name)) for name in PEAKS}}
    return out


def _larger(a: float | None, b: float | None) -> float | None:
    """The larger of two measures; None only when neither was measured."""
    known = [v for v in (a, b) if v is not None]
    return max(known) if known else None


def suite_value(cache: dict[str, dict[str, float | None]], workload: str, engine: str,
                measure_name: str) -> float:
    """One measure from measure_suite's result; skips what cannot run, fails what failed or
    was not measured (a peak this platform cannot read is not 0 bytes)."""
    skip_unless_runnable(workload, engine)
    entry = cache.get(f"{workload}|{engine}")
    if entry is None or "error" in entry:
        raise AssertionError(f"{workload} on {engine} did not finish ok; run `harness run -w "
                             f"{workload} -e {engine}` to see why")
    value = entry[measure_name]
    if value is None:
        raise AssertionError(f"{measure_name} of {workload} on {engine} was not measured on "
                             "this machine (no /proc VmHWM?); see `harness run` records")
    return float(value)


def startup_from_suite(cache: dict[str, dict[str, float | None]], engine: str) -> float:
    """The engine's start-up seconds from measure_suite (the first workload that ran ok)."""
    reason = get_engine(engine).unavailable_reason()
    if reason:
        raise NotImplementedError(reason)
    for workload in WORKLOAD_NAMES:
        startup = cache.get(f"{workload}|{engine}", {}).get("startup_s")
        if startup is not None:
            return float(startup)
    raise AssertionError(f"{engine} ran no workload ok; `harness run -e {engine}` shows why")
