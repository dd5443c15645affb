"""The Spark engine: a local (or remote) SparkSession, every setting in one place.

The JVM is started once per session and stopped with it; `shutdown_jvm` makes sure no
process is left behind when the engine stops.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import config
from harness.engines import spark_memory
from harness.engines.base import Engine, EngineFailure, EngineOptions, count_or, exit_words
from harness.errors import UsageError
from harness.results.env import java_path, java_version
from harness.workloads.contract import Context

JVM_EXIT_WAIT_S = 5.0  # how long a JVM that stopped answering may take to be seen exiting

class SparkEngine(Engine):
    name = "spark"
    kind = "spark"
    description = "PySpark, local[workers*threads] (or an existing master URL)"
    # A fresh JVM's runs 2-6, as multiples of its steady median (runs 7-10), measured here
    # (csv-groupby, bag-logs, ml-logreg, two sessions each): 1.16-2.55, 1.09-1.62, 1.03-1.23,
    # 1.00-1.22, 0.98-1.21. The median of the three runs after 5 warm-ups is within 2 % of the
    # steady median (after 4: 9 %, after 3: 11 %). The JIT is still compiling.
    warmup_runs = 5

    def __init__(self, options: EngineOptions) -> None:
        super().__init__(options)
        self.session: Any = None
        self._jvm_proc: subprocess.Popen[bytes] | None = None  # the JVM pyspark launched
        self.event_log_dir: Path | None = None  # set by --diagnostics before the start

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            return "pyspark is not installed; pip install pyspark"
        if java_path() is None:
            return ("no Java found for Spark; install OpenJDK 17 and put java on PATH "
                    "or set JAVA_HOME")
        return _java_problem()

    @property
    def n_workers(self) -> int:
        return count_or(self.options.workers, config.logical_cores())

    @property
    def threads_per_worker(self) -> int:
        return count_or(self.options.threads, 1)

    def spark_conf(self) -> dict[str, str]:
        """Every Spark setting the harness makes, in one place."""
        slots = str(self.slots)
        return {
            "spark.master": self.options.spark_master or f"local[{slots}]",
            "spark.app.name": "pydata-harness",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": config.SPARK_DRIVER_MEMORY,
            "spark.sql.shuffle.partitions": slots,
            "spark.default.parallelism": slots,
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.execution.arrow.maxRecordsPerBatch": str(config.SPARK_ARROW_BATCH_ROWS),
            # Default 48 MB: smaller pandas frames are embedded in the plan, 10x slower at 1M rows.
            "spark.sql.execution.arrow.localRelationThreshold": "0",
            "spark.sql.session.timeZone": "UTC",
            "spark.python.worker.reuse": "true",
        } | self._event_log_conf() | spark_memory.spark_conf(os.environ.get("SPARK_LOCAL_IP"))

    def _event_log_conf(self) -> dict[str, str]:
        """Spark's event log (--diagnostics): one per session, plain JSON lines, and laid out
        as Spark 4 does by default on 3.x too (a folder per application, named from the start)."""
        if self.event_log_dir is None:
            return {}
        return {"spark.eventLog.enabled": "true", "spark.eventLog.compress": "false",
                "spark.eventLog.rolling.enabled": "true"}

    def _start(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise UsageError(reason)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("TZ", "UTC")
        try:
            self._launch()
        except Exception as exc:
            code = self._jvm_exit_code()
            if code is None:
                raise
            # What happened, rather than the socket error pyspark met on finding the JVM gone.
            raise EngineFailure(f"the JVM exited during start-up ({exit_words(code)})") from exc

    def _launch(self) -> None:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder
        for key, value in self.spark_conf().items():
            builder = builder.config(key, value)
        if self.event_log_dir is not None:  # names the run: kept out of the records' settings
            self.event_log_dir.mkdir(parents=True, exist_ok=True)
            builder = builder.config("spark.eventLog.dir", self.event_log_dir.as_uri())
        with _keep_launched(self):
            self.session = builder.getOrCreate()
        self.session.sparkContext.setLogLevel("ERROR")
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay the one-time costs (Python workers and their imports, first SQL job) at start-up."""
        from pyspark.sql import functions as F

        sc = self.session.sparkContext
        sc.parallelize(range(self.slots), self.slots).map(_warm_python_worker).count()
        self.session.range(self.slots).groupBy((F.col("id") % 2).alias("k")).count().collect()
        spark_memory.warm(self.session)

    def _stop(self) -> None:
        from pyspark import SparkContext

        try:
            if self.session is not None:
                self.session.stop()
        except Exception:  # its JVM is gone: stop() got no answer and left pyspark's state
            pass
        finally:
            self.session = None
            _forget_session()
        shutdown_jvm(SparkContext)
        if self._jvm_proc is not None and self._jvm_proc.poll() is None:
            # Launched, but the start was cut short before pyspark kept it as its gateway's.
            _terminate(self._jvm_proc)
        self._jvm_proc = None

    def failure(self) -> str | None:
        code = self._jvm_exit_code()
        return None if code is None else f"the Spark JVM exited during the run ({exit_words(code)})"

    def _jvm_exit_code(self) -> int | None:
        """The JVM's exit status (negative: the signal that ended it), None while it runs."""
        from pyspark import SparkContext

        proc = self._jvm_proc or getattr(SparkContext._gateway, "proc", None)
        if proc is None or (proc.poll() is None and _answers(SparkContext._gateway)):
            return None
        # It stopped answering: its socket closes a moment before its exit status is known.
        with contextlib.suppress(subprocess.TimeoutExpired):
            return int(proc.wait(timeout=JVM_EXIT_WAIT_S))
        return None

    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        return body(inputs, self.session, ctx)

    def cluster_sampler(self) -> spark_memory.SparkExecutorSampler | None:
        """The executors' memory per run (harness.engines.spark_memory)."""
        return spark_memory.SparkExecutorSampler(self.session) if self.session else None

    def quiesce(self, new_workload: bool = False) -> None:
        # The JVM keeps the heap an earlier workload grew (matmul: 2.0 GiB RSS, 0.7 GiB after a
        # full GC), which would be charged to every later workload's memory: a full GC before
        # each workload. Not before each of its runs: `harness calibrate` measured that a full
        # GC before every run slowed the next one by 14.9 % (5.3-31.6 %) on bag-logs at small,
        # the heap regrowing what the collection gave back.
        super().quiesce(new_workload)
        if new_workload and self.session is not None:
            self.session._jvm.System.gc()

    def config(self) -> dict[str, Any]:
        return {**super().config(), "spark_conf": self.spark_conf(), "java": java_version()}


def _warm_python_worker(x: int) -> int:
    import harness.workloads.contract  # noqa: F401 - what every Spark task of the harness imports

    return x


@contextlib.contextmanager
def _keep_launched(engine: SparkEngine) -> Iterator[None]:
    """Keep the process of the JVM pyspark launches: pyspark drops it when the JVM dies
    during start-up, and with it the exit status that says how it died."""
    import pyspark.java_gateway as launcher

    popen = launcher.Popen

    def launch(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        engine._jvm_proc = popen(*args, **kwargs)
        return engine._jvm_proc

    launcher.Popen = launch  # type: ignore[misc,assignment]  # for this launch only
    try:
        yield
    finally:
        launcher.Popen = popen  # type: ignore[misc]


def _answers(gateway: Any) -> bool:
    """Whether the JVM behind a py4j gateway answers a trivial call."""
    try:
        gateway.jvm.System.currentTimeMillis()
    except Exception:
        return False
    return True


def _forget_session() -> None:
    """Clear what SparkSession.stop() clears when it can reach the JVM, so that the next
    getOrCreate launches a fresh JVM instead of handing back a session of a dead one."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession, SQLContext

    context = SparkContext._active_spark_context
    if context is not None:
        with contextlib.suppress(Exception):  # closes its accumulator server
            context.stop()
    SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    SQLContext._instantiatedContext = None


def shutdown_jvm(spark_context_cls: Any) -> None:
    """Stop the py4j gateway and its JVM, so a stopped engine leaves no process behind."""
    gateway = getattr(spark_context_cls, "_gateway", None)
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):  # the JVM may be gone already; the process matters
        gateway.shutdown()
    if proc is not None:
        _terminate(proc)
    spark_context_cls._gateway = None
    spark_context_cls._jvm = None


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.stdin and proc.stdin.close()  # the launcher exits when its stdin closes
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait(timeout=10)


def _java_problem() -> str | None:
    """Why the Java found cannot run the installed PySpark (its documented Java releases)."""
    import pyspark as installed  # imported already, by unavailable_reason

    from harness.results.env import java_major

    pyspark = str(installed.__version__)
    banner = java_version()
    found = java_major(banner)
    if int(pyspark.split(".")[0]) >= 4:
        ok, need = found is not None and found >= 17, "Java 17 or newer"
    else:
        ok, need = found in (8, 11, 17), "Java 8, 11 or 17"
    if ok:
        return None
    seen = f"Java {found}" if found is not None else "a Java whose version cannot be read"
    said = f" ({banner})" if banner else ""
    return (f"PySpark {pyspark} needs {need}, and {java_path()} is {seen}{said}; install "
            "OpenJDK 17 and put it first on PATH or set JAVA_HOME")
