"""`harness run --diagnostics`: Dask's performance report per run, Spark's event log with a job
group per run, their paths in the records, links in the report; nothing without the flag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.clusters import Cluster
from harness.engines.base import EngineOptions
from harness.engines.dask import DaskDistributedEngine
from harness.engines.spark import SparkEngine
from harness.execution.diagnostics import RunDiagnostics, prepare
from harness.execution.session import SessionSpec
from harness.judge.envdiff import env_changes
from harness.results.schema import Record, read_records
from tests.test_run_e2e import Run, assert_nothing_left, harness_run

FIELDS = {"run_id": "r", "workload": "csv-groupby", "engine": "dask-distributed",
          "size": "tiny", "repeat": 0, "phase": "cold", "params": {}}


@pytest.fixture(scope="module")
def diag_run(tmp_path_factory: pytest.TempPathFactory, harness_dirs: Any,
             dask_loopback_cluster: Cluster) -> Run:
    """One run with --diagnostics: two runs each of csv-groupby on pandas (which has none),
    dask-distributed (on the session's loopback scheduler, not a LocalCluster of its own) and
    spark."""
    reason = SparkEngine.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return harness_run(tmp_path_factory.mktemp("diag"), "-w", "csv-groupby", "-e", "pandas",
                       "-e", "dask-distributed", "-e", "spark", "--size", "tiny",
                       "--repeat", "2", "--warmup", "0", "--workers", "2", "--threads", "1",
                       "--dask-address", dask_loopback_cluster.address, "--diagnostics")


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory, harness_dirs: Any,
              dask_loopback_cluster: Cluster) -> Run:
    """The same cell on dask-distributed without the flag (no report: nothing here reads it)."""
    return harness_run(tmp_path_factory.mktemp("plain"), "-w", "csv-groupby",
                       "-e", "dask-distributed", "--size", "tiny", "--repeat", "1",
                       "--workers", "2", "--threads", "1",
                       "--dask-address", dask_loopback_cluster.address, "--no-report")


def _records(run: Run, engine: str) -> list[Record]:
    assert run.returncode == 0, run.stderr
    return [r for r in read_records([run.out]) if r.engine == engine]


def _job_groups(event_log: Path) -> dict[str, set[int]]:
    """Job ids by job group, as Spark's event log (every file of its folder) holds them."""
    groups: dict[str, set[int]] = {}
    for part in sorted(event_log.glob("events_*")):
        for line in part.read_text().splitlines():
            event = json.loads(line)
            if event["Event"] == "SparkListenerJobStart":
                group = (event.get("Properties") or {}).get("spark.jobGroup.id")
                groups.setdefault(group, set()).add(event["Job ID"])
    return groups


@pytest.mark.slow
def test_one_performance_report_per_dask_distributed_run(diag_run: Run) -> None:
    records = _records(diag_run, "dask-distributed")
    paths = [Path(r.metrics["diagnostics"]["path"]) for r in records]
    assert len(records) == 2 and len(set(paths)) == 2
    for record, path in zip(records, paths, strict=True):
        assert record.status == "ok"
        assert path.name == f"csv-groupby-r{record.repeat}.html"
        assert path.parent == diag_run.out.parent / "diagnostics" / record.run_id / record.engine
        assert "Dask Performance Report" in path.read_text()
        assert record.engine_config["diagnostics"] == "performance_report per run"


@pytest.mark.slow
def test_spark_event_log_holds_each_runs_job_group(diag_run: Run) -> None:
    records = _records(diag_run, "spark")
    logs = {r.metrics["diagnostics"]["path"] for r in records}
    assert len(records) == 2 and len(logs) == 1, "one event log per session"
    groups = _job_groups(Path(logs.pop()))
    for record in records:
        noted = record.metrics["diagnostics"]
        assert noted["job_group"] == f"csv-groupby-r{record.repeat}"
        assert noted["job_ids"] and set(noted["job_ids"]) == groups[noted["job_group"]]
        assert record.engine_config["spark_conf"]["spark.eventLog.enabled"] == "true"
        assert record.engine_config["diagnostics"].startswith("event log")


@pytest.mark.slow
def test_engines_without_diagnostics_say_so(diag_run: Run) -> None:
    for record in _records(diag_run, "pandas"):
        assert record.metrics["diagnostics"]["kind"] is None
        assert "none on pandas" in record.metrics["diagnostics"]["note"]
        assert "diagnostics" not in record.engine_config  # nothing collected: nothing to mark
    assert sorted(p.name for p in diag_run.out.parent.glob("diagnostics/*/*")) == [
        "dask-distributed", "spark"]
    assert_nothing_left(diag_run.marker)


@pytest.mark.slow
def test_report_links_every_file(diag_run: Run) -> None:
    records = [r for r in read_records([diag_run.out]) if r.metrics["diagnostics"]["kind"]]
    markdown = (diag_run.report_dir / "report.md").read_text()
    index = (diag_run.report_dir / "diagnostics.html").read_text()
    assert "## Diagnostics" in markdown and "No diagnostics on pandas" in markdown
    for record in records:
        path = Path(record.metrics["diagnostics"]["path"])
        assert f'href="{path.as_uri()}"' in index
        assert path.name in markdown.replace("\\_", "_")


@pytest.mark.slow
def test_without_the_flag_nothing_is_written_and_compare_tells_the_runs_apart(
        plain_run: Run, diag_run: Run) -> None:
    plain = _records(plain_run, "dask-distributed")
    assert plain and all("diagnostics" not in r.metrics for r in plain)
    assert all("diagnostics" not in r.engine_config for r in plain)
    assert not (plain_run.out.parent / "diagnostics").exists()
    changes = {c.field for c in env_changes(plain, _records(diag_run, "dask-distributed"))}
    assert "dask-distributed diagnostics" in changes


def test_spark_writes_an_event_log_only_when_asked() -> None:
    engine = SparkEngine(EngineOptions())
    prepare(engine, None)
    assert engine.event_log_dir is None
    assert not any(k.startswith("spark.eventLog") for k in engine.spark_conf())
    prepare(engine, "/somewhere/run")
    assert engine.event_log_dir == Path("/somewhere/run/spark")
    assert engine.spark_conf()["spark.eventLog.enabled"] == "true"


def test_the_folder_reaches_the_session_process() -> None:
    spec = SessionSpec(run_id="r", engine="spark", workloads=("csv-groupby",), size="tiny",
                       repeats=1, options=EngineOptions(), env={}, diagnostics="/x/r")
    assert SessionSpec.from_json(spec.to_json()).diagnostics == "/x/r"


def test_a_report_that_cannot_be_collected_is_noted_not_a_failed_run(tmp_path: Path) -> None:
    engine = DaskDistributedEngine(EngineOptions())  # never started: no scheduler to ask
    with RunDiagnostics(str(tmp_path), engine, FIELDS) as diag:
        pass
    noted = diag.as_metrics()["diagnostics"]
    assert noted["kind"] == "dask-performance-report" and noted["error"]
    assert noted["path"] is None and list(tmp_path.iterdir()) == []


def test_off_means_no_metrics() -> None:
    # Off, it asks nothing of the engine: a never-started one would fail if it did.
    with RunDiagnostics(None, DaskDistributedEngine(EngineOptions()), FIELDS) as diag:
        pass
    assert diag.as_metrics() == {}
