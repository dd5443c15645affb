"""The evidence of a decision: for every option and job, the records that measured exactly
that cell (engine, workers x threads, size, and every parameter, the option's layout values
included), and the numbers read from them.

A record matches only its own cell: a sweep's run at 256 partitions is no evidence about the
default layout, and an option that names no workers x threads matches one configuration only
(two would be two options pooled into one).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

from harness.decide.spec import Decision, Job, Option
from harness.errors import UsageError
from harness.judge.compare import JUDGED_FAILURES
from harness.results.schema import Record, worst_status
from harness.workloads.registry import get_workload


@dataclass(frozen=True)
class Cell:
    """What the records say about one option on one job."""

    option: Option
    job: Job
    records: tuple[Record, ...]

    @property
    def runs(self) -> list[str]:
        return list(dict.fromkeys(r.run_id for r in self.records))

    @property
    def status(self) -> str:
        """missing (no record), unsupported (the engine refused it), else the worst status."""
        if not self.records:
            return "missing"
        ran = [r.status for r in self.records if r.status != "unsupported"]
        return worst_status(ran) if ran else "unsupported"

    @property
    def failed(self) -> bool:
        return self.status in JUDGED_FAILURES

    @property
    def usable(self) -> bool:
        return self.status == "ok"

    @property
    def config(self) -> str:
        if not self.records:
            return self.option.config_text
        r = self.records[0]
        return f"{r.engine} {r.n_workers}x{r.threads_per_worker}"

    def _ok(self, phase: str) -> list[Record]:
        return [r for r in self.records if r.status == "ok" and r.phase == phase]

    @property
    def warm_s(self) -> float | None:
        return _median(r.wall_s for r in self._ok("steady"))

    @property
    def cold_s(self) -> float | None:
        """The job's first run in its engine session plus the engine's start-up: about what a
        job that starts its own engine waits for. Only a run's first job met a fresh engine;
        later jobs of the same session ran cold on an engine already warmed by the others."""
        per_run = {r.run_id: (r.wall_s or 0.0) + (r.startup_s or 0.0) for r in self._ok("cold")
                   if r.wall_s is not None}
        return _median(per_run.values())

    @property
    def startup_s(self) -> float | None:
        per_run = {r.run_id: r.startup_s for r in self._ok("cold")}
        return _median(per_run.values())

    @property
    def peak_bytes(self) -> float | None:
        """The typical peak: the median over the steady runs (what memory is minimised by)."""
        return _median(_peak(r) for r in self._ok("steady"))

    @property
    def highest_peak_bytes(self) -> float | None:
        """The highest peak of any run, cold and warm-up included: what a memory limit is
        held to, since one run over the ceiling is one run killed."""
        peaks = [p for r in self.records if r.status == "ok" and (p := _peak(r)) is not None]
        return max(peaks) if peaks else None

    @property
    def idle_bytes(self) -> float | None:
        """The tree between warm runs, before each timed one: the engine with what it kept
        from the runs before (a JVM's grown heap, a cluster's processes) and the job's inputs."""
        return _median(r.baseline_tree_rss_bytes for r in self._ok("steady"))

    @property
    def cold_idle_by_run(self) -> dict[str, float]:
        """Per run, the tree before this job's first run (the session's first job: before
        any work at all)."""
        return {r.run_id: float(r.baseline_tree_rss_bytes) for r in self._ok("cold")
                if r.baseline_tree_rss_bytes}

    @property
    def checked(self) -> int:
        """Runs whose answer was checked against the reference and agreed."""
        return sum(1 for r in self.records if r.status == "ok" and r.check.get("ok"))

    def value(self, minimise: str) -> float | None:
        return {"warm": self.warm_s, "cold": self.cold_s, "memory": self.peak_bytes}[minimise]

    @property
    def error(self) -> str:
        bad = [r for r in self.records if r.status not in ("ok",)]
        return next(((r.error or r.status).splitlines()[0][:200] for r in bad), "")


def start_bytes(cells: list[Cell]) -> float | None:
    """An option's tree before any work: in each run the smallest tree before one of its
    jobs' first runs (the session's first job saw the engine fresh), the median over runs."""
    by_run: dict[str, list[float]] = {}
    for cell in cells:
        for run, value in cell.cold_idle_by_run.items():
            by_run.setdefault(run, []).append(value)
    return _median(min(values) for values in by_run.values())


def _peak(record: Record) -> float | None:
    seen = [v for v in (record.peak_tree_rss_bytes, record.peak_tree_hwm_bytes) if v]
    return float(max(seen)) if seen else None


def _median(values: Any) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return statistics.median(kept) if kept else None


def cell_params(option: Option, job: Job) -> dict[str, Any]:
    """Every parameter of the job's cell under this option, as a record stores them."""
    params = get_workload(job.workload).params(job.size, option.params.get(job.workload))
    return json.loads(json.dumps(params))


def gather(decision: Decision, records: list[Record]) -> dict[tuple[str, str], Cell]:
    """Every (option, job label) cell with the records that measured it."""
    runs = [r for r in records if not (r.calibration and r.calibration.get("off"))]
    out = {}
    for option in decision.options:
        for job in decision.jobs:
            out[(option.name, job.label)] = Cell(option, job, _matching(option, job, runs))
    return out


def _matching(option: Option, job: Job, records: list[Record]) -> tuple[Record, ...]:
    params = cell_params(option, job)
    found = [r for r in records if r.workload == job.workload and r.engine == option.engine
             and r.size == job.size and r.params == params
             and (option.workers is None or r.n_workers == option.workers)
             and (option.threads is None or r.threads_per_worker == option.threads)]
    configs = sorted({(r.n_workers, r.threads_per_worker) for r in found
                      if r.status != "unsupported"})
    if len(configs) > 1:
        shown = ", ".join(f"{w}x{t}" for w, t in configs)
        raise UsageError(f"option {option.name!r} matches records of {len(configs)} "
                         f"configurations of {option.engine} on {job.label} ({shown}); give "
                         "the option workers and threads to say which it is")
    return tuple(found)


def missing(cells: dict[tuple[str, str], Cell], need_runs: int) -> list[Cell]:
    """Cells with fewer runs than the decision asks for (missing, or too few to confirm)."""
    return [c for c in cells.values() if c.status != "unsupported" and len(c.runs) < need_runs]
