"""A comparison row in plain words, the same in the terminal, the Markdown and the report."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from harness.fmt import fmt_bytes, fmt_seconds
from harness.judge.compare import Row
from harness.judge.sides import CellKey

# pyperf's wording, per metric: (more, less).
WORDS = {"s": ("slower", "faster"), "bytes": ("more memory", "less memory")}
CPU_WORDS = ("more CPU", "less CPU")
METRIC_TITLES = {"warm_wall": "warm wall", "cold_wall": "cold wall", "startup": "start-up",
                 "peak_tree_rss": "peak tree RSS", "peak_tree_hwm": "peak tree HWM",
                 "cpu": "CPU time", "status": "status", "presence": "cell"}


def change_text(row: Row) -> str:
    """'1.23x slower', '1.40x more memory', 'ok -> mismatch', 'only in new'."""
    if row.metric == "status":
        return f"{row.baseline} -> {row.new}" if row.baseline != row.new else str(row.new)
    if row.metric == "presence":
        return "only in new" if row.verdict == "new" else "only in baseline"
    ratio = row.ratio
    if ratio is None or ratio <= 0:
        return ""
    return ratio_words(ratio, row.unit, row.metric)


def interval_text(row: Row) -> str:
    s = row.shift
    if s is None or math.isnan(s.low):
        return ""
    return f"{s.low:.2f}-{s.high:.2f}"


def p_text(row: Row) -> str:
    s = row.shift
    if s is None or math.isnan(s.p):
        return ""
    return f"{s.p:.1e}" if s.p < 0.01 else f"{s.p:.2f}"


def value_text(row: Row, value: float | str | None) -> str:
    if isinstance(value, str) or value is None:
        return value or ""
    return fmt_bytes(value) if row.unit == "bytes" else fmt_seconds(value)


def cell_text(row: Row, with_params: bool = False) -> str:
    """workload · engine (workers x threads) · size, and the params when asked: where two
    cells differ only in them (sweep points)."""
    return key_text(row.key, with_params)


def key_text(key: CellKey, with_params: bool = False) -> str:
    workload, engine, size, workers, threads, params = key
    text = f"{workload} · {engine} ({workers}x{threads}) · {size}"
    return text + (f" · {params_dict_text(params)}" if with_params else "")


def params_needed(keys: Iterable[CellKey]) -> set[CellKey]:
    """The keys that only their params tell apart from another cell's: these name them."""
    keys = list(keys)
    variants: dict[tuple[object, ...], set[str]] = {}
    for key in keys:
        variants.setdefault(key[:5], set()).add(key[5])
    return {key for key in keys if len(variants[key[:5]]) > 1}


def params_text(row: Row) -> str:
    return params_dict_text(row.key[5])


def params_dict_text(params_json: str) -> str:
    params = json.loads(params_json)
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items())


def ratio_words(ratio: float, unit: str, metric: str = "") -> str:
    """'1.23x slower', '1.40x more memory', 'same'."""
    more, less = CPU_WORDS if metric == "cpu" else WORDS[unit]
    if abs(ratio - 1) < 0.005:
        return "same"
    return f"{ratio:.2f}x {more}" if ratio > 1 else f"{1 / ratio:.2f}x {less}"


def resolution_text(row: Row) -> str:
    """The row's noise floor: run to run where known, else within the run."""
    if not math.isnan(row.noise):
        return f"noise ±{row.noise - 1:.1%} run to run"
    s = row.shift
    return "" if s is None or math.isnan(s.resolution) else f"±{s.resolution:.1%} within run"
