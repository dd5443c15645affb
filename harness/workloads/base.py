"""What a workload is: one definition shared by every engine, plus its reference and check."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

ENGINE_KINDS = ("reference", "dask", "spark")


class Compute(Protocol):
    """A Dask engine's scheduler, handed to a workload's Dask body.

    Call it like `dask.compute`; `get` runs a raw task-graph dict; `client` is the
    distributed.Client on dask-distributed (None elsewhere), and `submit` returns its futures;
    `scheduler` names the scheduler.
    """

    scheduler: str
    client: Any | None

    def __call__(self, *collections: Any) -> tuple[Any, ...]: ...

    def get(self, dsk: Mapping[Any, Any], keys: Any) -> Any: ...

    def submit(self, *collections: Any) -> list[Any]: ...


@dataclass(frozen=True)
class CheckResult:
    """Whether an answer matches the reference, and by how much it differs."""

    ok: bool
    detail: dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What a workload body may know about the engine running it, and where it leaves notes.

    `note(key, value)` records a measure of the run (partition sizes, a sub-phase's seconds)
    into the record's `metrics`; numbers and short lists only. `note_later(probe)` is for
    measures that cost time to take (asking Spark for its partition count plans the query
    again): the probe returns notes and is called by `settle`, after the timed section.
    """

    slots: int
    n_workers: int
    threads_per_worker: int
    engine: str = ""
    notes: dict[str, Any] = field(default_factory=dict, compare=False)
    probes: list[Callable[[], Mapping[str, Any]]] = field(default_factory=list, compare=False)

    def note(self, key: str, value: Any) -> None:
        self.notes[key] = value

    def note_later(self, probe: Callable[[], Mapping[str, Any]]) -> None:
        self.probes.append(probe)

    def settle(self) -> None:
        """Call the probes, once; a probe that fails leaves no notes rather than failing a run."""
        probes = list(self.probes)
        self.probes.clear()
        for probe in probes:
            try:
                self.notes.update(probe())
            except Exception:  # a measure we cannot take is not a failed run
                continue


@dataclass(frozen=True)
class Workload:
    """One workload of the chapter, defined once for every engine."""

    name: str
    section: str
    title: str
    sizes: Mapping[str, Mapping[str, Any]]
    prepare: Callable[[Mapping[str, Any]], Any]
    reference: Callable[[Any, Context], Any]
    check: Callable[[Any, Any], CheckResult]
    dask: Callable[[Any, Compute, Context], Any] | None = None
    spark: Callable[[Any, Any, Context], Any] | None = None
    expected: Callable[[Any], Any] | None = None
    metrics: Callable[[Mapping[str, Any], Context], dict[str, Any]] | None = None
    # Keys are engine names ("dask-sync") or kinds ("spark"); values say why it cannot run.
    unsupported: Mapping[str, str] = field(default_factory=dict)
    # Importable modules the workload needs, and the pip extra that installs them.
    requires: tuple[str, ...] = ()
    extra: str | None = None
    # The Dask collection(s) or raw graph dict the Dask body computes, for the report's picture.
    graph: Callable[[Any], Any] | None = None
    # Layout knobs a sweep may set (npartitions, ...) and their defaults at every size.
    tunables: Mapping[str, Any] = field(default_factory=dict)

    def params(self, size: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The size's parameters, with a sweep's axis values in place of the defaults."""
        return {**self.tunables, **self.sizes[size], **(overrides or {})}

    def body(self, kind: str) -> Callable[..., Any] | None:
        return {"reference": self.reference, "dask": self.dask, "spark": self.spark}[kind]

    def unsupported_reason(self, engine: str, kind: str) -> str | None:
        """Why this workload cannot run on `engine` (of `kind`), or None if it can."""
        for key in (engine, kind):
            if key in self.unsupported:
                return self.unsupported[key]
        if self.body(kind) is None:
            return f"{self.name} has no {kind} implementation"
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            fix = f"pip install 'pydata-parallel-harness[{self.extra}]'" if self.extra else (
                "pip install " + " ".join(missing))
            return f"needs {', '.join(missing)}: {fix}"
        return None


def section_label(section: str) -> str:
    """'§3.2' for a chapter section, 'Exercise 4' for 'exercise.4', 'Calibration' for '0'."""
    if section == "0":
        return "Calibration"
    if section.startswith("exercise."):
        return "Exercise " + section.removeprefix("exercise.")
    return f"§{section}"


def check_scalar(expected: float, actual: float, rtol: float = 1e-9) -> CheckResult:
    """Relative comparison of two numbers."""
    diff = abs(float(actual) - float(expected))
    scale = max(abs(float(expected)), 1e-300)
    ok = math.isclose(float(actual), float(expected), rel_tol=rtol, abs_tol=0.0)
    return CheckResult(ok, {"expected": expected, "actual": actual, "rel_diff": diff / scale,
                            "rtol": rtol})


def check_frame(expected: pd.DataFrame, actual: pd.DataFrame, rtol: float = 1e-9) -> CheckResult:
    """Same index, columns and values within a relative tolerance (NaNs must match)."""
    detail: dict[str, Any] = {"rtol": rtol, "rows": len(expected)}
    if list(actual.columns) != list(expected.columns):
        return CheckResult(False, {**detail, "problem": "columns differ",
                                   "expected": list(expected.columns),
                                   "actual": list(actual.columns)})
    if list(actual.index) != list(expected.index):
        return CheckResult(False, {**detail, "problem": "index differs",
                                   "expected": [str(i) for i in expected.index],
                                   "actual": [str(i) for i in actual.index]})
    exp = expected.to_numpy(dtype="float64")
    act = actual.to_numpy(dtype="float64")
    nan_ok = bool(np.array_equal(np.isnan(exp), np.isnan(act)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(act - exp) / np.maximum(np.abs(exp), 1e-300)
    max_rel = float(np.nanmax(rel)) if rel.size and not np.all(np.isnan(rel)) else 0.0
    ok = nan_ok and max_rel <= rtol
    return CheckResult(ok, {**detail, "max_rel_diff": max_rel, "nan_pattern_equal": nan_ok})
