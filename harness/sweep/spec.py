"""Declared sweeps: a TOML file names workloads, engines, a size and grid axes; this expands it.

A *cell* is one point of the grid on one engine. `harness sweep` runs every cell in a fresh
process (see run.py); records carry `sweep = {"name", "cell", "role", "axes",
"memory_budget_bytes", "cell_s"}` so the report can rebuild the grid, and `--resume` can skip
the cells already recorded.

Axes come in three kinds, by name:
- engine axes (`n_workers`, `threads_per_worker`) become the engine's options;
- layout axes (`chunks`, `npartitions`) change how the same data is cut, not the data;
- every other axis is a data axis (`rows_per_file`, `shape`, ...): it changes the data.
The pandas reference runs once per distinct data point, at the size's own layout.

An axis holds numbers (or lists of numbers), or else choices: true/false for a boolean
parameter (persist-reuse's `persist`), short strings for a string one. A choice axis is
categorical: the report draws its values side by side, with no scale, fit or slope.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from harness import config
from harness.declared import Table, load_declared, shipped, validated
from harness.engines.base import EngineOptions
from harness.engines.registry import ENGINES, REFERENCE_ENGINE
from harness.errors import UsageError
from harness.fmt import fmt_param
from harness.workloads.registry import get_workload

SWEEP_DIR = Path(__file__).parent / "specs"
ENGINE_AXES = ("n_workers", "threads_per_worker")
LAYOUT_AXES = ("chunks", "npartitions")
MAX_CHOICE_CHARS = 40  # a string axis names a choice ("adaptive"), not a path or a sentence
KIND_WORDS = {"bool": ("true/false", "true or false"), "str": ("string", "a string"),
              "number": ("numeric", "a number or a list of numbers")}
# Rules of thumb the report measures the best point against; a sweep file may override them.
DEFAULT_RULES: dict[str, list[float]] = {
    "chunk_bytes": [100e6, 1e9],  # Dask's docs and the chapter: chunks of 100 MB - 1 GB
    "partition_bytes": [100e6, 1e9],  # the chapter: partitions of 100 MB - 1 GB
    "partitions_per_worker": [2, 4],  # the chapter: two to four partitions per worker
}


@dataclass(frozen=True)
class Study:
    """One workload of a sweep and the values of each of its axes."""

    workload: str
    axes: Mapping[str, tuple[Any, ...]]

    def points(self) -> Iterator[dict[str, Any]]:
        names = list(self.axes)
        for values in itertools.product(*(self.axes[n] for n in names)):
            yield dict(zip(names, values, strict=True))


@dataclass(frozen=True)
class SweepSpec:
    """A sweep as declared in its TOML file."""

    name: str
    title: str
    description: str
    size: str
    engines: tuple[str, ...]
    studies: tuple[Study, ...]
    repeats: int = config.DEFAULT_REPEAT
    timeout_s: float = config.DEFAULT_CELL_TIMEOUT_S
    memory_budget_bytes: int | None = None
    rules: Mapping[str, list[float]] = field(default_factory=lambda: dict(DEFAULT_RULES))
    path: Path | None = None


@dataclass(frozen=True)
class Cell:
    """One point of one study on one engine: runs in its own process."""

    sweep: str
    workload: str
    engine: str
    size: str
    role: str  # "cell", or "reference" for the pandas run a speedup is measured against
    axes: Mapping[str, Any]
    overrides: Mapping[str, Any]
    options: EngineOptions

    @property
    def key(self) -> str:
        """Stable identity of the cell, for --resume."""
        return json.dumps([self.workload, self.engine, self.size, self.role, dict(self.axes)],
                          sort_keys=True)

    def tag(self) -> dict[str, Any]:
        """The cell's part of every record's `sweep` field (run.py adds the budget and cell_s)."""
        return {"name": self.sweep, "cell": self.key, "role": self.role, "axes": dict(self.axes)}

    def describe(self) -> str:
        axes = " ".join(f"{k}={fmt_param(v)}" for k, v in self.axes.items())
        return f"{self.engine} · {self.workload}" + (f" · {axes}" if axes else "")


def sweep_names() -> list[str]:
    return shipped(SWEEP_DIR)


def load_sweep(name: str) -> SweepSpec:
    """A shipped sweep by name, or a path to a sweep file of the user's own."""
    return load_declared(name, SWEEP_DIR, "sweep", "harness/sweep/specs/*.toml", _parse)


def _axis_value(value: Any) -> Any:
    """An axis value is what a workload parameter holds: a number, a list of numbers, or a
    choice (true/false, a short string)."""
    if is_choice(value) and (not isinstance(value, str) or 0 < len(value) <= MAX_CHOICE_CHARS):
        return value
    items = value if isinstance(value, list) and value else [value]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        raise PydanticCustomError("axis_value", "expected a number, a list of numbers, "
                                  "true/false or a short string")
    return value


def _one_kind(values: list[Any]) -> list[Any]:
    """All numbers, all true/false or all strings: the report draws each kind its own way."""
    if len({value_kind(v) for v in values}) > 1:
        raise PydanticCustomError("axis_kind", "expected values of one kind: all numbers, all "
                                  "true/false or all strings")
    return values


def value_kind(value: Any) -> str:
    """'bool', 'str', or 'number' for anything else (a number, a list of numbers, None)."""
    if isinstance(value, bool):
        return "bool"
    return "str" if isinstance(value, str) else "number"


def is_choice(value: Any) -> bool:
    return value_kind(value) != "number"


def categorical(values: Iterable[Any]) -> bool:
    """An axis of choices (true/false, strings): categories, not a scale."""
    values = list(values)
    return bool(values) and all(is_choice(v) for v in values)


AxisValues = Annotated[list[Annotated[Any, BeforeValidator(_axis_value)]], Field(min_length=1),
                       AfterValidator(_one_kind)]
Band = Annotated[list[int | float], Field(min_length=2, max_length=2)]


class StudyTable(Table):
    """One `[[study]]`: a workload and the values of each of its axes."""

    workload: str
    axes: dict[str, AxisValues] = Field(default_factory=dict)


class RulesTable(Table):
    """`[rules]`: the bands the report measures the best point against, [low, high]."""

    chunk_bytes: Band | None = None
    partition_bytes: Band | None = None
    partitions_per_worker: Band | None = None


class SweepFile(Table):
    """What a sweep file may hold, and of which type."""

    title: str
    name: str | None = None
    description: str = ""
    size: str = "small"
    engines: Annotated[list[str], Field(min_length=1)]
    repeats: Annotated[int, Field(ge=1)] = config.DEFAULT_REPEAT
    timeout_s: Annotated[float, Field(gt=0)] = config.DEFAULT_CELL_TIMEOUT_S
    memory_budget_gib: Annotated[float, Field(gt=0)] | None = None
    rules: RulesTable = Field(default_factory=RulesTable)
    study: Annotated[list[StudyTable], Field(min_length=1)]


def _parse(data: dict[str, Any], path: Path) -> SweepSpec:
    sweep = validated(SweepFile, data)
    for engine in sweep.engines:
        if engine not in ENGINES:
            raise ValueError(f"engines: unknown engine {engine!r}; choose one of: "
                             f"{', '.join(ENGINES)}")
    if sweep.size not in config.SIZES:
        raise ValueError(f"size: unknown size {sweep.size!r}; choose one of: "
                         f"{', '.join(config.SIZES)}")
    budget = sweep.memory_budget_gib
    return SweepSpec(
        name=sweep.name or path.stem, title=sweep.title,
        description=sweep.description.strip(), size=sweep.size,
        engines=tuple(sweep.engines),
        studies=tuple(_study(s, i) for i, s in enumerate(sweep.study)),
        repeats=sweep.repeats, timeout_s=sweep.timeout_s,
        memory_budget_bytes=int(budget * 2**30) if budget else None,
        rules={**DEFAULT_RULES, **sweep.rules.model_dump(exclude_none=True)}, path=path,
    )


def _study(table: StudyTable, index: int) -> Study:
    where = f"[study #{index + 1}]"
    try:
        workload = get_workload(table.workload)
    except UsageError as exc:
        raise ValueError(f"{where} workload: {exc}") from None
    axes = {name: tuple(values) for name, values in table.axes.items()}
    params = workload.params(config.SIZES[0])
    for name, values in axes.items():
        if name not in ENGINE_AXES and name not in params:
            known = ", ".join([*ENGINE_AXES, *params])
            raise ValueError(f"{where} axes: {workload.name} has no axis {name!r}; it has: "
                             f"{known}")
        problem = _choice_problem(name, values, params.get(name))
        if problem:
            raise ValueError(f"{where} axes: {problem}")
        if name in ENGINE_AXES and not all(isinstance(v, int) and v >= 1 for v in values):
            raise ValueError(f"{where} axes: {name} counts workers or threads: whole numbers "
                             f"of at least 1, got {list(values)}")
    return Study(workload=workload.name, axes=axes)


def _choice_problem(name: str, values: tuple[Any, ...], default: Any) -> str | None:
    """Choices must be of the parameter's own type: true/false for a boolean, strings for a
    string. Numbers are left to the workload, as before choices existed."""
    kind = value_kind(values[0])
    if kind == "number" or kind == value_kind(default):
        return None
    adjective, wanted = KIND_WORDS[value_kind(default)]
    return (f"{name} is a {adjective} parameter: expected {wanted}, got "
            f"{json.dumps(list(values))}")


def axis_kind(name: str) -> str:
    if name in ENGINE_AXES:
        return "engine"
    return "layout" if name in LAYOUT_AXES else "data"


def engine_options(point: Mapping[str, Any]) -> EngineOptions:
    return EngineOptions(workers=point.get("n_workers"), threads=point.get("threads_per_worker"))


def expand(spec: SweepSpec, size: str | None = None) -> list[Cell]:
    """Every cell of the sweep: the pandas reference cells first, then each engine's grid."""
    size = size or spec.size
    cells: list[Cell] = []
    for study in spec.studies:
        data_points = _unique(
            {k: v for k, v in p.items() if axis_kind(k) == "data"} for p in study.points())
        cells += [_cell(spec, study, REFERENCE_ENGINE, size, "reference", p) for p in data_points]
        for engine in spec.engines:
            if engine == REFERENCE_ENGINE:
                continue
            cells += [_cell(spec, study, engine, size, "cell", p) for p in study.points()]
    return cells


def _unique(points: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for p in points:
        seen.setdefault(json.dumps(p, sort_keys=True), p)
    return list(seen.values())


def _cell(spec: SweepSpec, study: Study, engine: str, size: str, role: str,
          point: dict[str, Any]) -> Cell:
    overrides = {k: v for k, v in point.items() if axis_kind(k) != "engine"}
    return Cell(sweep=spec.name, workload=study.workload, engine=engine, size=size, role=role,
                axes=point, overrides=overrides, options=engine_options(point))


def data_scale(overrides: Mapping[str, Any]) -> float:
    """A rough size of a cell's data: the product of its data axes' numbers (for estimates);
    true/false is a choice, not a size."""
    numbers = [v for k, val in overrides.items() if axis_kind(k) == "data"
               for v in (val if isinstance(val, list | tuple) else [val])
               if isinstance(v, int | float) and not isinstance(v, bool)]  # not a choice
    return float(math.prod(numbers)) if numbers else 1.0
