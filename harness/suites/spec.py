"""Declared suites: a TOML file names the workloads, engines, size and repeats of a `harness run`.

`harness run --suite nightly` runs the shipped nightly suite (harness/suites/nightly.toml); a path
to a .toml of the user's own works the same way. Flags given beside --suite (--size, --repeat,
--warmup) override the file's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import config
from harness.declared import load_declared, shipped
from harness.engines.registry import get_engine
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


def parse_suite(data: dict[str, Any], path: Path) -> SuiteSpec:
    workloads = tuple(str(w) for w in data["workloads"])
    engines = tuple(str(e) for e in data["engines"])
    if not workloads or not engines:
        raise ValueError("a suite names at least one workload and one engine")
    for name in workloads:
        get_workload(name)
    for name in engines:
        get_engine(name)
    size = str(data.get("size", "small"))
    if size not in config.SIZES:
        raise ValueError(f"unknown size {size!r}")
    repeat = int(data.get("repeat", config.DEFAULT_REPEAT))
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    warmup = data.get("warmup")
    params = check_workload_params(data.get("params", {}), workloads, size)
    return SuiteSpec(name=path.stem, title=str(data["title"]),
                     description=str(data.get("description", "")).strip(), size=size,
                     repeat=repeat, workloads=workloads, engines=engines,
                     warmup=None if warmup is None else int(warmup),
                     timeout_s=float(data.get("timeout_s", config.DEFAULT_CELL_TIMEOUT_S)),
                     params=params)


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
