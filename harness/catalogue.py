"""What `harness list` shows, as data: workloads (and why not on some engines), engines (and
why unavailable), sizes, the quick suite, the shipped suites, sweeps and decisions."""

from __future__ import annotations

from typing import Any

from harness import config
from harness.decide.spec import decision_names, load_decision
from harness.engines.registry import ENGINES
from harness.suites.spec import load_suite, suite_names
from harness.sweep.spec import expand, load_sweep, sweep_names
from harness.workloads.registry import QUICK_SUITE, WORKLOADS


def catalogue() -> dict[str, Any]:
    """Everything `harness list` shows."""
    engines = {name: {"description": cls.description, "kind": cls.kind,
                      "available": cls.unavailable_reason() is None,
                      "reason": cls.unavailable_reason()} for name, cls in ENGINES.items()}
    workloads = {}
    for name, w in WORKLOADS.items():
        reasons = {e: w.unsupported_reason(e, cls.kind) for e, cls in ENGINES.items()}
        workloads[name] = {
            "section": w.section, "title": w.title,
            "engines": [e for e, r in reasons.items() if r is None],
            "unsupported": {e: r for e, r in reasons.items() if r is not None},
            "sizes": {s: dict(p) for s, p in w.sizes.items()},
        }
    return {"workloads": workloads, "engines": engines, "sizes": config.SIZE_HELP,
            "quick_suite": list(QUICK_SUITE), "suites": suites_catalogue(),
            "sweeps": sweeps_catalogue(), "decisions": decisions_catalogue()}


def suites_catalogue() -> dict[str, Any]:
    """Each shipped suite (`harness run --suite NAME`): what it runs."""
    out = {}
    for name in suite_names():
        spec = load_suite(name)
        out[name] = {"title": spec.title, "size": spec.size, "repeat": spec.repeat,
                     "workloads": list(spec.workloads), "engines": list(spec.engines)}
    return out


def sweeps_catalogue() -> dict[str, Any]:
    """Each shipped sweep: title, size, engines, repeats, cell count and its studies' axes."""
    out = {}
    for name in sweep_names():
        spec = load_sweep(name)
        out[name] = {"title": spec.title, "size": spec.size, "engines": list(spec.engines),
                     "repeats": spec.repeats, "cells": len(expand(spec)),
                     "studies": [{"workload": s.workload, "axes": {k: list(v) for k, v in
                                                                   s.axes.items()}}
                                 for s in spec.studies]}
    return out


def decisions_catalogue() -> dict[str, Any]:
    """Each shipped decision (`harness decide NAME --run`): its question and options."""
    out = {}
    for name in decision_names():
        d = load_decision(name)
        out[name] = {"title": d.title, "minimise": d.minimise,
                     "options": [o.name for o in d.options],
                     "jobs": [j.label for j in d.jobs]}
    return out
