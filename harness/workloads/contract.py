"""What a workload is: one definition shared by every engine, plus its reference and check.

Every body takes the same arguments in the same order: `(inputs, handle, ctx)`, where the
handle is what the engine hands over — a `Compute` for every Dask scheduler, the
`SparkSession` for Spark. The sequential reference runs on no engine and has no handle:
`(inputs, ctx)`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from harness.workloads.checks import CheckResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Inputs = TypeVar("Inputs")
Answer = TypeVar("Answer")
Params = Mapping[str, Any]


class Compute(Protocol):
    """A Dask engine's scheduler, handed to a workload's Dask body.

    Call it like `dask.compute`; `get` runs a raw task-graph dict; `client` is the
    distributed.Client on dask-distributed (None elsewhere), and `submit` returns its futures.
    """

    client: Any | None

    def __call__(self, *collections: Any) -> tuple[Any, ...]: ...

    def get(self, dsk: Mapping[Any, Any], keys: Any) -> Any: ...

    def submit(self, *collections: Any) -> list[Any]: ...


Probe = Callable[[], Mapping[str, Any]]


@dataclass
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
    notes: dict[str, Any] = field(default_factory=dict)
    probes: list[Probe] = field(default_factory=list)

    def note(self, key: str, value: Any) -> None:
        self.notes[key] = value

    def note_later(self, probe: Probe) -> None:
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


def one_core() -> Context:
    """A fresh one-core context: notes must not leak from one reference run into another."""
    return Context(slots=1, n_workers=1, threads_per_worker=1)


@dataclass(frozen=True)
class Workload(Generic[Inputs, Answer]):
    """One workload of the chapter, defined once for every engine.

    `Inputs` is what `prepare` makes from the parameters (a dataset on disk, a dict of
    parameters) and every body receives; `Answer` is what every body returns and `check`
    compares with the reference's.
    """

    name: str
    section: str
    title: str
    sizes: Mapping[str, Params]
    prepare: Callable[[Params], Inputs]
    reference: Callable[[Inputs, Context], Answer]
    check: Callable[[Answer, Answer], CheckResult]
    dask: Callable[[Inputs, Compute, Context], Answer] | None = None
    spark: Callable[[Inputs, SparkSession, Context], Answer] | None = None
    expected: Callable[[Inputs], Answer] | None = None
    metrics: Callable[[Params, Context], dict[str, Any]] | None = None
    # Keys are engine names ("dask-sync") or kinds ("spark"); values say why it cannot run.
    unsupported: Mapping[str, str] = field(default_factory=dict)
    # Importable modules the workload needs, and the pip extra that installs them.
    requires: tuple[str, ...] = ()
    extra: str | None = None
    # The Dask collection(s) or raw graph dict the Dask body computes, for the report's picture.
    graph: Callable[[Inputs], Any] | None = None
    # Layout knobs a sweep may set (npartitions, ...) and their defaults at every size.
    tunables: Params = field(default_factory=dict)
    # Runs on a cluster it starts itself: the engine's cluster-memory view would describe
    # the engine's own workers, idle meanwhile, so such records carry none.
    own_cluster: bool = False

    def params(self, size: str, overrides: Params | None = None) -> dict[str, Any]:
        """The size's parameters, with a sweep's axis values in place of the defaults."""
        return {**self.tunables, **self.sizes[size], **(overrides or {})}

    def body(self, kind: str) -> Callable[..., Answer] | None:
        """The body an engine of `kind` (reference, dask, spark) runs, or None."""
        bodies: dict[str, Callable[..., Answer] | None] = {
            "reference": self.reference, "dask": self.dask, "spark": self.spark}
        return bodies[kind]

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


def section_key(section: str) -> tuple[int, ...]:
    """Chapter order: section numbers compare as numbers (3.10 after 3.9), others last."""
    return tuple(int(p) if p.isdigit() else 1 << 30 for p in section.split("."))
