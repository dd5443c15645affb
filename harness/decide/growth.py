"""When to revisit: each option's time and memory against the data size, from a sweep over
the data of one workload, fitted as log-log lines (the sweep report's fit), and where those
lines cross the memory limit, each other, or reach the size the team expects to grow to.

A point inside the sizes the sweep measured is measured; anything beyond is an
extrapolation of the fitted line, and is said to be one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from harness.decide.spec import Decision, Growth, Option
from harness.errors import UsageError
from harness.reporting.sweep_analysis import cell_rows, fit_line
from harness.results.schema import Record
from harness.sweep.spec import load_sweep

GB = 1e9
GIB = 1 << 30


@dataclass(frozen=True)
class Line:
    """One option's measured points and fitted lines against data bytes."""

    option: Option
    data: tuple[float, ...]
    time_s: tuple[float, ...]
    peak: tuple[float, ...]
    growth: tuple[float, ...]  # peak over the idle tree
    idle: float
    time_fit: tuple[float, float]  # slope, intercept of log time on log data
    memory_fit: tuple[float, float]  # of log growth on log data
    runs: tuple[str, ...]
    failed: tuple[str, ...]  # data points that did not end ok, with their status

    @property
    def measured(self) -> tuple[float, float]:
        return min(self.data), max(self.data)

    def time_at(self, x: float) -> float:
        slope, icpt = self.time_fit
        return math.exp(icpt + slope * math.log(x))

    def memory_at(self, x: float) -> float:
        slope, icpt = self.memory_fit
        return self.idle + math.exp(icpt + slope * math.log(x))

    def fitted(self) -> bool:
        return all(math.isfinite(v) for v in (*self.time_fit, *self.memory_fit))


@dataclass(frozen=True)
class Crossing:
    """A size where something changes: a line reaches the memory limit, or two time lines
    cross."""

    what: str
    at_bytes: float
    extrapolated: bool
    option: str  # the chosen option when it is one of the two sides, else the line's own
    other: str = ""  # the option that becomes faster than the chosen one (a time crossing)


def lines(decision: Decision, records: list[Record]) -> list[Line]:
    """The fitted lines of every option the growth sweep measured at three sizes or more."""
    growth = decision.growth
    if growth is None:
        return []
    swept = _of_sweep(growth, [r for r in records if r.sweep and r.workload == growth.workload])
    if not swept:
        return []
    rows = cell_rows(swept)
    if "metric.data_bytes" not in rows:
        return []
    out = []
    for option in decision.options:
        mine = rows[(rows["engine"] == option.engine)
                    & _config(rows, option)]
        line = _line(option, mine, swept)
        if line is not None:
            out.append(line)
    return out


def _of_sweep(growth: Growth, swept: list[Record]) -> list[Record]:
    """The records of the decision's growth sweep alone: another sweep of the same workload
    (threads, partitions) measured other configurations, and one line through both is no line."""
    names = list(dict.fromkeys(str(r.tag.get("name")) for r in swept))
    if growth.sweep:
        wanted = load_sweep(growth.sweep).name
        return [r for r in swept if r.tag.get("name") == wanted]
    if len(names) > 1:
        raise UsageError(f"the records hold {len(names)} sweeps of {growth.workload} "
                         f"({', '.join(names)}); name the one that grows its data as "
                         "[growth] sweep in the decision file")
    return swept


def used(decision: Decision, found: list[Line], records: list[Record]) -> list[Record]:
    """The sweep records the lines rest on: their runs, their options' configurations."""
    runs = {run for ln in found for run in ln.runs}
    return [r for r in records if r.sweep and r.run_id in runs and decision.growth
            and r.workload == decision.growth.workload
            and any(_mine(ln.option, r) for ln in found)]


def _mine(option: Option, record: Record) -> bool:
    return (record.engine == option.engine
            and option.workers in (None, record.n_workers)
            and option.threads in (None, record.threads_per_worker))


def _config(rows: pd.DataFrame, option: Option) -> pd.Series:
    keep = pd.Series(True, index=rows.index)
    if option.workers is not None:
        keep &= rows["n_workers"] == option.workers
    if option.threads is not None:
        keep &= rows["threads_per_worker"] == option.threads
    return keep


def _line(option: Option, rows: pd.DataFrame, records: list[Record]) -> Line | None:
    ok = rows[rows["status"] == "ok"].dropna(subset=["best_s", "metric.data_bytes"])
    ok = ok.sort_values("metric.data_bytes")
    if len(ok) < 3:
        return None
    failed = tuple(f"{row.status} at {_axes(row.axes)}"
                   for row in rows[rows["status"] != "ok"].itertuples())
    runs = tuple(dict.fromkeys(r.run_id for r in records if _mine(option, r)))
    x = tuple(float(v) for v in ok["metric.data_bytes"])
    return Line(option, x, tuple(float(v) for v in ok["best_s"]),
                tuple(float(v) for v in ok["peak_bytes"]),
                tuple(float(v) for v in ok["growth_bytes"]),
                float(ok["baseline_tree_bytes"].fillna(0).median()),
                fit_line(x, ok["best_s"]), fit_line(x, ok["growth_bytes"]), runs, failed)


def _axes(axes: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in axes.items())


def crossings(decision: Decision, found: list[Line], chosen: Option | None) -> list[Crossing]:
    """Where each line passes the memory limit, and where the chosen option's time line
    crosses another's, up to ten times the size the team grows to."""
    horizon = (decision.growth.grow_to_gb * GB * 10) if decision.growth else math.inf
    out = []
    limit = decision.limits.peak_memory_gib
    for line in (ln for ln in found if ln.fitted()):
        if limit:
            at = _memory_crossing(line, limit * GIB)
            if at is not None and at <= horizon:
                out.append(Crossing(f"the peak tree memory of {line.option.name} passes the "
                                    f"{limit:g} GiB limit", at, at > line.measured[1],
                                    line.option.name))
    mine = next((ln for ln in found if chosen and ln.option == chosen and ln.fitted()), None)
    for other in (ln for ln in found if mine and ln is not mine and ln.fitted()):
        assert mine is not None
        at = _time_crossing(mine, other)
        if at is not None and min(mine.measured[0], other.measured[0]) / 10 <= at <= horizon:
            lo = max(mine.measured[0], other.measured[0])
            hi = min(mine.measured[1], other.measured[1])
            faster = mine if mine.time_at(at * 2) < other.time_at(at * 2) else other
            if faster is mine:
                continue  # the chosen option pulls ahead as the data grows: no reason to move
            out.append(Crossing(f"{other.option.name} becomes faster than {mine.option.name}",
                                at, not lo <= at <= hi, mine.option.name, other.option.name))
    return sorted(out, key=lambda c: c.at_bytes)


def _memory_crossing(line: Line, limit: float) -> float | None:
    """The data size at which the fitted memory reaches the limit; the largest measured size
    when a measured point already passed it."""
    over = [x for x, p in zip(line.data, line.peak, strict=True) if p > limit]
    if over:
        return min(over)
    slope, icpt = line.memory_fit
    room = limit - line.idle
    if not slope > 0.3 or room <= 0:
        return None  # a flat line never gets there; a tree already over it is a limit broken
    return math.exp((math.log(room) - icpt) / slope)


def _time_crossing(a: Line, b: Line) -> float | None:
    (sa, ia), (sb, ib) = a.time_fit, b.time_fit
    if abs(sa - sb) < 0.05:
        return None  # parallel lines: one is faster at every size
    return math.exp((ib - ia) / (sa - sb))
