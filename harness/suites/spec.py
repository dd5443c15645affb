"""Declared suites: a TOML file names the workloads, engines, size and repeats of a `harness run`.

`harness run --suite nightly` runs the shipped nightly suite (harness/suites/nightly.toml); a path
to a .toml of the user's own works the same way. Flags given beside --suite (--size, --repeat,
--warmup) override the file's values.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import config
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


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITE_DIR.glob("*.toml"))


def suite_path(name: str) -> Path:
    """A shipped suite by name, or a path to a suite file of the user's own."""
    path = Path(name) if name.endswith(".toml") else SUITE_DIR / f"{name}.toml"
    if not path.is_file():
        what = f"suite file {path} does not exist" if name.endswith(".toml") else \
            f"unknown suite {name!r}"
        raise UsageError(f"{what}; choose one of: {', '.join(suite_names())} (or give a path "
                         "to a .toml file)")
    return path


def load_suite(name: str) -> SuiteSpec:
    path = suite_path(name)
    try:
        return _parse(tomllib.loads(path.read_text()), path)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"suite file {path} is not a valid suite ({type(exc).__name__}: {exc});"
                         " see harness/suites/nightly.toml for the format") from None


def _parse(data: dict[str, Any], path: Path) -> SuiteSpec:
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
    return SuiteSpec(name=path.stem, title=str(data["title"]),
                     description=str(data.get("description", "")).strip(), size=size,
                     repeat=repeat, workloads=workloads, engines=engines,
                     warmup=None if warmup is None else int(warmup),
                     timeout_s=float(data.get("timeout_s", config.DEFAULT_CELL_TIMEOUT_S)))
