"""The workload registry: a dict built from every module of this package that defines WORKLOAD.

Lookups are explicit (an unknown name is an error listing the known ones), and two modules
claiming one name fail. The registry is built on first use, not at import: Dask workers and Spark
Python workers import single workload modules and must not pay for importing all of them.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from harness.errors import UsageError
from harness.workloads.base import Workload

# Calibration, not a chapter workload: run it with `-w noop`.
NOT_IN_SUITE = frozenset({"noop"})


def _section_key(workload: Workload) -> tuple[tuple[int, ...], str]:
    return tuple(int(p) for p in workload.section.split(".") if p.isdigit()), workload.name


def _discover() -> dict[str, Workload]:
    found: dict[str, Workload] = {}
    for info in pkgutil.iter_modules(__path__):  # type: ignore[name-defined]
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        workload = getattr(module, "WORKLOAD", None)
        if workload is None:
            continue
        if workload.name in found:
            raise RuntimeError(f"two workload modules define {workload.name!r}")
        found[workload.name] = workload
    return {w.name: w for w in sorted(found.values(), key=_section_key)}


@functools.cache
def registry() -> dict[str, Workload]:
    """Every workload by name, in chapter order."""
    return _discover()


def quick_suite() -> tuple[str, ...]:
    """What `harness run` runs by default: every chapter workload."""
    return tuple(n for n in registry() if n not in NOT_IN_SUITE)


def __getattr__(name: str) -> object:
    # WORKLOADS and QUICK_SUITE read like constants but are built on first access.
    if name == "WORKLOADS":
        return registry()
    if name == "QUICK_SUITE":
        return quick_suite()
    raise AttributeError(name)


def get_workload(name: str) -> Workload:
    try:
        return registry()[name]
    except KeyError:
        known = ", ".join(sorted(registry()))
        raise UsageError(f"unknown workload {name!r}; choose one of: {known}") from None
