"""Numbers for people: seconds, bytes and speed ratios, written the same way everywhere.

The CLI's tables, the reports, the plots and the runner's messages all format through here.
"""

from __future__ import annotations

import pandas as pd

BINARY_UNITS = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
DECIMAL_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def missing(value: object) -> bool:
    """None, NaN or NA: a measure that was not taken."""
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def fmt_seconds(value: float | None) -> str:
    """'12 µs', '3.20 ms', '0.250 s', '12.5 s'; '' for a missing value."""
    if missing(value):
        return ""
    assert value is not None
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 0.01:
        return f"{value * 1000:.2f} ms"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def fmt_bytes(value: float | None) -> str:
    """Binary units, one decimal: '1.5 GiB', '226.5 MiB'; '' for a missing value."""
    if missing(value):
        return ""
    assert value is not None
    for unit, scale in BINARY_UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def fmt_gib(value: float, digits: int = 2) -> str:
    """Bytes as GiB at a fixed precision, for budgets compared side by side ('4.00 GiB')."""
    return f"{value / 2**30:.{digits}f} GiB"


def decimal_bytes(value: float) -> str:
    """Decimal units ('100 MB', '1 GB'): the chapter states its bands so, and log axes tick at
    powers of ten, which binary units would label 95.4 MiB."""
    for scale, unit in DECIMAL_UNITS:
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} B"


def ratio_words(speedup: float | None) -> str:
    """pyperf's plain wording: '2.10x faster', '1.40x slower', 'same'; '' without a ratio."""
    if missing(speedup) or speedup is None or speedup <= 0:
        return ""
    if abs(speedup - 1) < 0.005:
        return "same"
    if speedup > 1:
        return f"{speedup:.2f}x faster"
    return f"{1 / speedup:.2f}x slower"


def fmt_ratio(value: float | None) -> str:
    """A bare ratio, '1.23x'; '' when there is none."""
    return "" if missing(value) else f"{value:.2f}x"


def fmt_percent(value: float | None) -> str:
    """'87%'; '' when there is none."""
    return "" if missing(value) else f"{value:.0%}"


def fmt_count(value: float | None) -> str:
    """A whole number ('1024'); '' when there is none."""
    return "" if missing(value) else f"{value:.0f}"


def fmt_param(value: object) -> str:
    """A parameter value as its TOML file writes it: 'false', '40x40x6' for a list, '250'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "x".join(map(fmt_param, value))
    return str(value)
