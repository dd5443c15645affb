"""The workload registry: a dict built from every module of this package that defines WORKLOAD.

Lookups are explicit (an unknown name is an error listing the known ones), and two modules
claiming one name fail at import.
"""

from __future__ import annotations

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
    for info in pkgutil.iter_modules(__path__):
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


WORKLOADS: dict[str, Workload] = _discover()
QUICK_SUITE: tuple[str, ...] = tuple(n for n in WORKLOADS if n not in NOT_IN_SUITE)


def get_workload(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        known = ", ".join(sorted(WORKLOADS))
        raise UsageError(f"unknown workload {name!r}; choose one of: {known}") from None
