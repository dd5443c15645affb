"""Spark executor memory per measured run: Spark's own executor metrics, read from the driver's
REST API on 127.0.0.1.

With `spark.executor.processTreeMetrics.enabled` each executor's metrics poller (every
`spark.executor.metrics.pollingInterval`) reads the RSS of the executor's process tree from
/proc: the JVM (ProcessTreeJVMRSSMemory), its Python workers (ProcessTreePythonRSSMemory) and
anything else it started (ProcessTreeOtherRSSMemory). Each task carries the peaks polled while
it ran, and the driver's status store keeps their maximum per stage and executor (the REST
API's `executorSummary[...].peakMemoryMetrics` of a stage). Each run is tagged (a Spark job
tag: other tags and job groups, such as --diagnostics', stay free), so its peaks are the
maxima over the stages of its jobs.

Why the REST API rather than the event log: the status store is kept whether or not anything
reads it, so the only cost is a UI server idling on 127.0.0.1 and a few requests after each
run; the event log writes every task's events to disk during the run. Both hold the same
per-stage peaks. Neither has a time series: the cluster peak is the sum of each executor's
own peak, and each executor's peak that of its heaviest stage, the sum of the JVM, Python and
other peaks polled in it: an upper bound, as those may come from different polls of the stage.
A task shorter than the polling interval may carry no poll.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.error
import urllib.request
from typing import Any

from harness.engines.cluster_memory import ClusterMemory, ClusterSampler

# The executors' metrics poller: 100 ms cost 2-3 % of a core here (it runs `pgrep` once per
# process of the executor's tree on each poll), 50 ms 8 %, 250 ms under 1 %.
POLLING_INTERVAL = "100ms"
TREE_METRICS = {"jvm": "ProcessTreeJVMRSSMemory", "python": "ProcessTreePythonRSSMemory",
                "other": "ProcessTreeOtherRSSMemory"}
REST_TIMEOUT_S = 30.0
BUS_WAIT_MS = 30_000  # the listener bus catching up with the run's last events
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Straight to the driver: an http_proxy in the environment must not carry these requests away.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def spark_conf(spark_local_ip: str | None) -> dict[str, str]:
    """The settings the executor view needs. The driver's UI (the REST API) binds where
    SPARK_LOCAL_IP says, all interfaces without it: it is on only when that is loopback."""
    conf = {"spark.executor.processTreeMetrics.enabled": "true",
            "spark.executor.metrics.pollingInterval": POLLING_INTERVAL}
    if (spark_local_ip or "127.0.0.1") not in LOOPBACK:
        return conf | {"spark.ui.enabled": "false"}
    # Port 0: a free port; read-only: no job can be killed through it.
    return conf | {"spark.ui.enabled": "true", "spark.ui.port": "0",
                   "spark.ui.killEnabled": "false"}


def rest_get(ui_url: str, path: str) -> Any:
    """One GET on the driver's REST API, never through a proxy."""
    with _DIRECT.open(f"{ui_url}/api/v1{path}", timeout=REST_TIMEOUT_S) as answer:
        return json.load(answer)


class SparkExecutorSampler(ClusterSampler):
    """The executors of one SparkSession, per run through a job tag."""

    source = "spark-executors"

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.sc = session.sparkContext
        self.tag = f"harness-memory-{secrets.token_hex(6)}"

    def _start(self) -> None:
        if not self.sc.uiWebUrl:
            raise RuntimeError("the Spark UI is off (SPARK_LOCAL_IP is not loopback), and "
                               "its REST API is where executor memory is read")
        self.sc.addJobTag(self.tag)

    def _stop(self) -> ClusterMemory:
        self.sc.removeJobTag(self.tag)
        _wait_for_listeners(self.sc)
        app = f"/applications/{self.sc.applicationId}"
        url = str(self.sc.uiWebUrl)
        listed = rest_get(url, f"{app}/jobs")
        if listed and not any("jobTags" in j for j in listed):
            raise RuntimeError("this Spark's REST API does not list job tags (Spark >= 3.5 does)")
        jobs = [j for j in listed if self.tag in j.get("jobTags", ())]
        stages = sorted({s for j in jobs for s in j.get("stageIds", ())})
        held = [_stage(url, f"{app}/stages/{sid}?details=true") for sid in stages]
        summaries = [att.get("executorSummary") or {} for atts in held for att in atts or ()]
        hosts = {e["id"]: e.get("hostPort", "") for e in rest_get(url, f"{app}/allexecutors")}
        out = summarize(summaries, hosts, len(jobs))
        gone = sum(atts is None for atts in held)
        if gone:
            out.note = "; ".join(filter(None, [out.note, (
                f"{gone} of the run's {len(stages)} stages were not held by the driver's "
                "status store (skipped, or past spark.ui.retainedStages): their peaks are "
                "not in the figure")]))
        return out


def _stage(url: str, path: str) -> list[dict[str, Any]] | None:
    """A stage's attempts, or None where the status store does not hold it: a job lists the
    stages it would have run, also those skipped because their output was already there."""
    try:
        return list(rest_get(url, path))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _wait_for_listeners(sc: Any) -> None:
    """Let the driver's status store take in the run's last events (task ends come to it
    asynchronously); an internal call, skipped where this Spark has no such method."""
    # A Spark without it: the peaks of the run's very last tasks may be missing.
    with contextlib.suppress(Exception):
        sc._jsc.sc().listenerBus().waitUntilEmpty(BUS_WAIT_MS)


def executor_peaks(summaries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per executor, the stage whose JVM + Python + other peaks add up to the most, with its
    three parts (only executors with a poll inside a task: all-zero metrics mean no poll fell
    inside its tasks). Adding each part's maximum over all stages instead would add the JVM's
    peak in one stage to the Python workers' peak in another: 1.6x the tree's view on
    csv-to-parquet here. Within one stage the parts may still peak at different polls."""
    peaks: dict[str, dict[str, int]] = {}
    for summary in summaries:
        for executor, s in summary.items():
            metrics = s.get("peakMemoryMetrics") or {}
            seen = {k: int(metrics.get(m, 0)) for k, m in TREE_METRICS.items()}
            if sum(seen.values()) > sum(peaks.get(executor, {}).values()):
                peaks[executor] = seen
    return peaks


def summarize(summaries: list[dict[str, Any]], hosts: dict[str, str], jobs: int) -> ClusterMemory:
    """Executor peaks as one ClusterMemory: each executor's tree peak, and their sum."""
    peaks = executor_peaks(summaries)
    workers: list[dict[str, Any]] = [
        {"address": executor, "host": hosts.get(executor, "").rsplit(":", 1)[0],
         "peak_rss_bytes": sum(p.values()), **{f"{k}_rss_bytes": v for k, v in p.items()}}
        for executor, p in sorted(peaks.items())]
    total = sum(sum(p.values()) for p in peaks.values()) or None
    out = ClusterMemory(SparkExecutorSampler.source, peak_rss_bytes=total,
                        sum_of_peaks_bytes=total, workers=workers,
                        samples=sum(1 for s in summaries for _ in s))
    if not jobs:
        out.note = "the run started no Spark job"
    elif total is None:
        out.note = (f"no executor metrics poll fell inside the run's tasks (shorter than "
                    f"spark.executor.metrics.pollingInterval={POLLING_INTERVAL})")
    return out


def warm(session: Any) -> None:
    """The REST API's first answer takes a second or more (its servlets load): paid at the
    engine's start, not after its first run."""
    sc = session.sparkContext
    with contextlib.suppress(Exception):  # the first run's sampler will say what is wrong
        if sc.uiWebUrl:
            rest_get(str(sc.uiWebUrl), f"/applications/{sc.applicationId}/allexecutors")
