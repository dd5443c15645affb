"""Declared suites: a TOML file names the workloads, engines, size and repeats of a `harness run`.

`harness run --suite nightly` runs the shipped nightly suite (harness/suites/nightly.toml); a path
to a .toml of the user's own works the same way. Flags given beside --suite (--size, --repeat,
--warmup) override the file's values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from harness import config
from harness.declared import Table, load_declared, shipped, validated
from harness.engines.registry import get_engine
from harness.errors import UsageError
from harness.workloads.registry import get_workload

SUITE_DIR = Path(__file__).parent


@dataclass(frozen=True)
class SuiteSpec:
    """A suite as declared in its TOML file."""

    name: str
    title: str
    description: str
    size: str
    repeat: int
    workloads: tuple[str, ...]
    engines: tuple[str, ...]
    warmup: int | None = None
    timeout_s: float = config.DEFAULT_CELL_TIMEOUT_S
    # `[params.NAME]` tables: values for some of a workload's parameters, over the size's.
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


def suite_names() -> list[str]:
    return shipped(SUITE_DIR)


def load_suite(name: str) -> SuiteSpec:
    """A shipped suite by name, or a path to a suite file of the user's own."""
    return load_declared(name, SUITE_DIR, "suite", "harness/suites/nightly.toml", parse_suite)


class SuiteFile(Table):
    """What a suite file may hold, and of which type."""

    title: str
    description: str = ""
    size: str = "small"
    repeat: Annotated[int, Field(ge=1)] = config.DEFAULT_REPEAT
    warmup: Annotated[int, Field(ge=0, le=config.MAX_WARMUP)] | None = None
    timeout_s: Annotated[float, Field(gt=0)] = config.DEFAULT_CELL_TIMEOUT_S
    workloads: Annotated[list[str], Field(min_length=1)]
    engines: Annotated[list[str], Field(min_length=1)]
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)


def parse_suite(data: dict[str, Any], path: Path) -> SuiteSpec:
    suite = validated(SuiteFile, data)
    workloads, engines = tuple(suite.workloads), tuple(suite.engines)
    registered("workloads", workloads, get_workload)
    registered("engines", engines, get_engine)
    if suite.size not in config.SIZES:
        raise ValueError(f"size: unknown size {suite.size!r}; choose one of: "
                         f"{', '.join(config.SIZES)}")
    params = check_workload_params(suite.params, workloads, suite.size)
    return SuiteSpec(name=path.stem, title=suite.title, description=suite.description.strip(),
                     size=suite.size, repeat=suite.repeat, workloads=workloads,
                     engines=engines, warmup=suite.warmup, timeout_s=suite.timeout_s,
                     params=params)


def registered(key: str, names: tuple[str, ...], lookup: Callable[[str], object]) -> None:
    """Each name is in its registry; an unknown one is named with its key."""
    for name in names:
        try:
            lookup(name)
        except UsageError as exc:
            raise ValueError(f"{key}: {exc}") from None


def check_workload_params(data: Any, workloads: tuple[str, ...],
                          size: str) -> dict[str, dict[str, Any]]:
    """`[params.NAME]` tables: each names a workload of the suite and parameters it has."""
    if not isinstance(data, dict):
        raise ValueError("params holds one table per workload: [params.NAME] key = value")
    out: dict[str, dict[str, Any]] = {}
    for name, values in data.items():
        if name not in workloads:
            raise ValueError(f"[params.{name}] names a workload the suite does not run "
                             f"(it runs {', '.join(workloads)})")
        known = get_workload(name).params(size)
        if not isinstance(values, dict):
            raise ValueError(f"[params.{name}] must be a table of parameter = value")
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"[params.{name}] has no parameter {', '.join(unknown)} (it has "
                             f"{', '.join(sorted(known))})")
        out[name] = dict(values)
    return out
