"""Every way an answer is compared with the reference's, each with its tolerance stated.

A check returns a `CheckResult`: whether the answer matches, and the detail (largest relative
difference, the tolerance) that goes into the record's `check`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CheckResult:
    """Whether an answer matches the reference, and by how much it differs."""

    ok: bool
    detail: dict[str, Any]


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


def check_values(expected: Mapping[str, float], actual: Mapping[str, float],
                 rtol: Mapping[str, float]) -> CheckResult:
    """Named numbers, each within its own relative tolerance."""
    if set(actual) != set(expected):
        return CheckResult(False, {"problem": "keys differ", "expected": sorted(expected),
                                   "actual": sorted(actual)})
    rel = {k: abs(float(actual[k]) - float(expected[k])) / max(abs(float(expected[k])), 1e-300)
           for k in expected}
    ok = all(rel[k] <= rtol[k] for k in expected)
    return CheckResult(ok, {"expected": dict(expected), "actual": {k: float(v) for k, v in
                                                                    actual.items()},
                            "rel_diff": rel, "max_rel_diff": max(rel.values(), default=0.0),
                            "rtol": dict(rtol)})


def check_dict(expected: Mapping[str, float], actual: Mapping[str, float],
               rtol: float) -> CheckResult:
    """Same keys, every value within `rtol` (a dict answer compared as a one-column frame)."""
    return check_frame(_as_frame(expected), _as_frame(actual), rtol=rtol)


def _as_frame(numbers: Mapping[str, float]) -> pd.DataFrame:
    return pd.Series(dict(numbers), dtype="float64").sort_index().to_frame("value")


def check_quality(exp: Mapping[str, float], act: Mapping[str, float],
                  tol: Mapping[str, float]) -> CheckResult:
    """Model metrics (accuracy, log-loss) each within an absolute tolerance of the reference's,
    on the same number of test rows."""
    detail: dict[str, Any] = {}
    ok = True
    for key, limit in tol.items():
        diff = abs(float(act[key]) - float(exp[key]))
        detail[key] = {"expected": exp[key], "actual": act[key], "abs_diff": diff, "tol": limit}
        ok = ok and diff <= limit
    ok = ok and exp["n_test"] == act["n_test"]
    return CheckResult(ok, {**detail, "n_test": act["n_test"]})
