"""Diagnostics per run, opt-in (`harness run --diagnostics`): what the engines themselves can show.

dask-distributed: Dask's `performance_report` of each measured run, one HTML file each (task
stream, worker profiles, bandwidth, system monitor; BokehJS is loaded from Bokeh's CDN). The
scheduler collects during the compute and renders after it; the file is written after the clock
stops, and outside the memory sampler.
spark: Spark's event log, one per session (a JVM), with each measured run as its own job group,
whose job ids the record lists. A Spark history server reads it:
`spark-class org.apache.spark.deploy.history.HistoryServer` with
`spark.history.fs.logDirectory` set to the folder.
Other engines have none here: Dask's local-scheduler profilers run inside the timed section
(per-task callbacks) or start a process of their own (ResourceProfiler), which the tree sampler
would count as the run's memory.

Files go beside the records: <records folder>/diagnostics/<run_id>/<engine>/, their paths into
each record's `metrics["diagnostics"]`; records made with diagnostics say so in their
`engine_config["diagnostics"]`, so `harness compare` names it as a difference.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.engines.base import Engine
from harness.engines.cluster_memory import error_text
from harness.engines.dask import DaskDistributedEngine
from harness.engines.spark import SparkEngine

DASK_REPORT = "dask-performance-report"
SPARK_EVENT_LOG = "spark-event-log"
# What `engine_config["diagnostics"]` says of the engines that collect any.
MARKS = {DaskDistributedEngine.name: "performance_report per run",
         SparkEngine.name: "event log per session, a job group per run"}


def run_folder(out: Path, run_id: str) -> Path:
    """Where one run's diagnostics go: beside its records file."""
    return out.absolute().parent / "diagnostics" / run_id


def mark(engine: str, folder: str | None) -> dict[str, Any]:
    """The engine_config entry of a record made with diagnostics on (none otherwise)."""
    if folder is None or engine not in MARKS:
        return {}
    return {"diagnostics": MARKS[engine]}


def prepare(engine: Engine, folder: str | None) -> None:
    """Before the engine starts: Spark writes its event log from its first job on."""
    if folder is not None and isinstance(engine, SparkEngine):
        engine.event_log_dir = Path(folder) / engine.name


class RunDiagnostics:
    """Around one measured run (outside its clock): collects what the engine offers and says
    where it went, in `metrics`; a failure to collect is noted, never a failed run."""

    def __init__(self, folder: str | None, engine: Engine, fields: dict[str, Any]) -> None:
        self.folder, self.engine, self.fields = folder, engine, fields
        self.metrics: dict[str, Any] = {}
        self._report: Any = None  # the performance_report in progress

    def __enter__(self) -> RunDiagnostics:
        if self.folder is None:
            return self
        try:
            if isinstance(self.engine, DaskDistributedEngine):
                self._start_report(self.engine)
            elif isinstance(self.engine, SparkEngine):
                self._start_job_group(self.engine)
            else:
                self.metrics = {"kind": None, "note": f"none on {self.engine.name}: only "
                                "dask-distributed (performance_report) and spark (event log) "
                                "have diagnostics"}
        except Exception as exc:  # a scheduler that does not answer: the run goes on without
            self.metrics |= {"path": None, "error": error_text(exc)}
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.folder is None or "error" in self.metrics or self.metrics.get("kind") is None:
            return
        t0 = time.perf_counter()
        try:
            if isinstance(self.engine, DaskDistributedEngine):
                self._write_report(self.engine)
            elif isinstance(self.engine, SparkEngine):
                self._end_job_group(self.engine)
        except Exception as error:  # the run's own outcome stands; say what is missing
            self.metrics |= {"path": None, "error": error_text(error)}
        self.metrics["write_s"] = time.perf_counter() - t0

    def as_metrics(self) -> dict[str, Any]:
        """The record's `metrics` entry: nothing when diagnostics are off."""
        return {"diagnostics": self.metrics} if self.folder is not None else {}

    def _start_report(self, engine: DaskDistributedEngine) -> None:
        from distributed import performance_report

        f = self.fields
        path = Path(str(self.folder)) / f["engine"] / f"{f['workload']}-r{f['repeat']}.html"
        self.metrics = {"kind": DASK_REPORT, "path": str(path)}
        self._report = performance_report(filename=str(path))
        with engine.client.as_current():
            engine.client.sync(self._report.__aenter__)

    def _write_report(self, engine: DaskDistributedEngine) -> None:
        # The report's "calling code" tab shows which run this was, not the harness's frame.
        code = f"# harness run {json.dumps(_who(self.fields), default=str)}"
        Path(self._report.filename).parent.mkdir(parents=True, exist_ok=True)
        with engine.client.as_current():
            engine.client.sync(self._report.__aexit__, None, None, None, code=code)

    def _start_job_group(self, engine: SparkEngine) -> None:
        f = self.fields
        group = f"{f['workload']}-r{f['repeat']}"
        self.metrics = {"kind": SPARK_EVENT_LOG, "job_group": group}
        engine.session.sparkContext.setJobGroup(group, f"harness run {f['run_id']}: "
                                                       f"{f['workload']} repeat {f['repeat']}")

    def _end_job_group(self, engine: SparkEngine) -> None:
        sc = engine.session.sparkContext
        # Cleared before the measures taken after the clock, whose jobs are not the run's.
        sc._jsc.clearJobGroup()
        jobs = sc.statusTracker().getJobIdsForGroup(self.metrics["job_group"])
        log = event_log(engine)
        self.metrics |= {"job_ids": sorted(int(j) for j in jobs),
                         "path": str(log) if log is not None else None}
        if log is None:
            self.metrics["error"] = f"no event log of this application in {engine.event_log_dir}"


def event_log(engine: SparkEngine) -> Path | None:
    """The event log of the engine's running application (Spark's rolling layout: a folder)."""
    if engine.event_log_dir is None or engine.session is None:
        return None
    app = engine.session.sparkContext.applicationId
    path = engine.event_log_dir / f"eventlog_v2_{app}"
    return path if path.exists() else None


def _who(fields: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_id", "workload", "engine", "size", "repeat", "phase", "params")
    return {k: fields.get(k) for k in keys}
