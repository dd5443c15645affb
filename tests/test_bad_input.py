"""Bad input, refused before anything runs: one table of bad inputs across every command, each
exit 2, one line on stderr naming the problem, and no file created anywhere. Then what is not
refused: an oversubscribing run is warned about and goes on, a corrupt dataset cache is made
again and said so, the address forms the libraries accept pass.

Every case is a cheap, valid command plus one bad input, so a missing check shows up as a run
(exit 0 or 1, files written), not as a hang.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest

from harness import config
from harness.cli import main
from harness.engines import addresses
from harness.engines.base import EngineOptions
from harness.engines.registry import validate_options
from harness.engines.spark import SparkEngine
from harness.errors import UsageError
from harness.results.env import java_major
from harness.results.schema import append_records
from harness.workloads import datasets
from harness.workloads.datasets import CsvSpec, csv_dataset
from tests.helpers import measure_once

RUN = ["run", "-w", "noop", "-e", "pandas", "--size", "tiny", "--repeat", "1"]
RUN_DIST = ["run", "-w", "noop", "-e", "dask-distributed", "--size", "tiny", "--repeat", "1",
            "--no-report"]
RUN_SPARK = ["run", "-w", "noop", "-e", "spark", "--size", "tiny", "--repeat", "1",
             "--no-report"]
SUITE = 'title = "t"\nworkloads = ["noop"]\nengines = ["pandas"]\nsize = "tiny"\nrepeat = 1\n'
SWEEP = ('title = "t"\nsize = "tiny"\nengines = ["dask-threads"]\nrepeats = 1\n{top}'
         '[[study]]\nworkload = "delayed-sleep"\n{study}')
DECLARED = {
    "suite-repeat-x.toml": SUITE.replace("repeat = 1", 'repeat = "x"'),
    "suite-unknown-key.toml": SUITE + "repeats = 3\n",
    "suite-engines-a-string.toml": SUITE.replace('["pandas"]', '"pandas"'),
    "sweep-repeats-str.toml": SWEEP.format(top="", study="axes = { n_tasks = [2] }\n")
                              .replace("repeats = 1", 'repeats = "1"'),
    "sweep-unknown-study-key.toml": SWEEP.format(top="", study="axis = { n_tasks = [2] }\n"),
    "sweep-axis-value-str.toml": SWEEP.format(top="", study='axes = { n_tasks = ["2"] }\n'),
    "sweep-unknown-top-key.toml": SWEEP.format(top='engine = "spark"\n', study=""),
    "sweep-ok.toml": SWEEP.format(top="", study="axes = { n_tasks = [2] }\n"),
    "sweep-spark.toml": SWEEP.format(top="", study="").replace('"dask-threads"', '"spark"'),
}


@dataclass(frozen=True)
class Bad:
    """A command line (placeholders filled from the test's world) and what its error names."""

    argv: list[str]
    words: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    old_java: bool = False


CASES: dict[str, Bad] = {
    # Addresses: a form no client accepts, or nothing listening, before any cell runs.
    "run-dask-address-not-a-url": Bad([*RUN_DIST, "--dask-address", "notaurl"],
                                      ("--dask-address", "notaurl", "port")),
    "run-dask-address-no-port": Bad([*RUN_DIST, "--dask-address", "tcp://127.0.0.1"],
                                    ("--dask-address", "port")),
    "run-dask-address-unknown-scheme": Bad([*RUN_DIST, "--dask-address", "udp://127.0.0.1:1"],
                                           ("--dask-address", "udp://")),
    "run-dask-address-port-out-of-range": Bad([*RUN_DIST, "--dask-address", "h:70000"],
                                              ("--dask-address", "70000")),
    "run-dask-address-nothing-listens": Bad([*RUN_DIST, "--dask-address", "127.0.0.1:{closed}"],
                                            ("--dask-address", "no Dask scheduler answers")),
    "run-spark-master-bogus-on-any-engine": Bad([*RUN, "--no-report", "--spark-master", "bogus"],
                                                ("--spark-master", "bogus", "local[N]")),
    "run-spark-master-no-host": Bad([*RUN_SPARK, "--spark-master", "spark://"],
                                    ("--spark-master", "spark://")),
    "run-spark-master-no-threads": Bad([*RUN_SPARK, "--spark-master", "local[0]"],
                                       ("--spark-master", "local[0]")),
    "run-spark-master-nothing-listens": Bad(
        [*RUN_SPARK, "--spark-master", "spark://127.0.0.1:{closed}"],
        ("--spark-master", "no Spark master answers")),
    # Paths: really tried, so /proc (where root may "write") and a file in the way are refused.
    "run-out-in-proc": Bad([*RUN, "--out", "/proc/harness-x.jsonl"], ("--out", "/proc")),
    "run-out-under-a-file": Bad([*RUN, "--out", "{file}/x.jsonl"], ("--out", "is a file")),
    "run-report-dir-in-proc": Bad([*RUN, "--report-dir", "/proc/harness-zz"],
                                  ("--report-dir", "/proc")),
    "run-data-dir-in-proc": Bad(RUN, ("HARNESS_DATA_DIR", "/proc"),
                                env={"HARNESS_DATA_DIR": "/proc/harness-data"}),
    "run-data-dir-is-a-file": Bad(RUN, ("HARNESS_DATA_DIR",),
                                  env={"HARNESS_DATA_DIR": "{file}"}),
    "run-results-dir-in-proc": Bad([*RUN, "--out", "{tmp}/new/o.jsonl"],
                                   ("HARNESS_RESULTS_DIR", "/proc"),
                                   env={"HARNESS_RESULTS_DIR": "/proc/harness-results"}),
    "run-reports-dir-in-sys": Bad(RUN, ("HARNESS_REPORTS_DIR", "/sys"),
                                  env={"HARNESS_REPORTS_DIR": "/sys/harness-reports"}),
    # Counts past what the machine can honestly run; a flag argparse cannot read.
    "run-workers-x-threads-absurd": Bad([*RUN, "--workers", "200", "--threads", "200"],
                                        ("200 worker(s) x 200 thread(s)", "per logical core")),
    "run-threads-absurd-alone": Bad([*RUN, "--threads", "250"], ("250 thread(s)",)),
    "run-workers-not-a-number": Bad([*RUN, "--workers", "many"], ("--workers", "many")),
    # Declarations: a wrong type or an unknown key, named with its key and the file.
    "run-suite-wrong-type": Bad(["run", "--suite", "{decl}/suite-repeat-x.toml"],
                                ("suite-repeat-x.toml", "repeat", "expected an integer", '"x"')),
    "run-suite-unknown-key": Bad(["run", "--suite", "{decl}/suite-unknown-key.toml"],
                                 ("suite-unknown-key.toml", "repeats", "unknown key")),
    "run-suite-list-as-string": Bad(["run", "--suite", "{decl}/suite-engines-a-string.toml"],
                                    ("engines", "expected a list")),
    "sweep-wrong-type": Bad(["sweep", "{decl}/sweep-repeats-str.toml", "--dry-run"],
                            ("sweep-repeats-str.toml", "repeats", "expected an integer")),
    "sweep-unknown-key-in-study": Bad(["sweep", "{decl}/sweep-unknown-study-key.toml",
                                       "--dry-run"], ("[study #1] axis", "unknown key", "axes")),
    "sweep-axis-value-a-string": Bad(["sweep", "{decl}/sweep-axis-value-str.toml", "--dry-run"],
                                     ("n_tasks", "expected a number")),
    "sweep-unknown-top-key": Bad(["sweep", "{decl}/sweep-unknown-top-key.toml", "--dry-run"],
                                 ("engine", "unknown key")),
    "sweep-out-in-proc": Bad(["sweep", "{decl}/sweep-ok.toml", "--out", "/proc/harness-s.jsonl",
                              "--dry-run"], ("--out", "/proc")),
    "sweep-report-dir-in-proc": Bad(["sweep", "{decl}/sweep-ok.toml", "--report-dir",
                                     "/proc/harness-s", "--dry-run"], ("--report-dir",)),
    "sweep-data-dir-in-proc": Bad(["sweep", "{decl}/sweep-ok.toml", "--dry-run"],
                                  ("HARNESS_DATA_DIR",),
                                  env={"HARNESS_DATA_DIR": "/proc/harness-data"}),
    # Java too old for the installed PySpark: spark is unavailable, with the version and fix.
    "run-spark-java-too-old": Bad(RUN_SPARK, ("spark", "Java 7", "OpenJDK 17"), old_java=True),
    "sweep-spark-java-too-old": Bad(["sweep", "{decl}/sweep-spark.toml", "--dry-run"],
                                    ("spark", "Java 7"), old_java=True),
    "calibrate-report-dir-in-proc": Bad(["calibrate", "-w", "noop", "-e", "pandas", "--size",
                                         "tiny", "--report-dir", "/proc/harness-c"],
                                        ("--report-dir",)),
    # The readers' outputs.
    "report-out-in-proc": Bad(["report", "{records}", "--no-graphs", "--out", "/proc/harness-r"],
                              ("--out", "/proc")),
    "report-reports-dir-in-proc": Bad(["report", "{records}", "--no-graphs"],
                                      ("HARNESS_REPORTS_DIR",),
                                      env={"HARNESS_REPORTS_DIR": "/proc/harness-reports"}),
    "compare-md-in-proc": Bad(["compare", "{records}", "{new}", "--md", "/proc/harness.md"],
                              ("--md", "/proc")),
    "compare-out-under-a-file": Bad(["compare", "{records}", "{new}", "--out", "{file}/r"],
                                    ("--out", "is a file")),
    "history-md-under-a-file": Bad(["history", "{records}", "--md", "{file}/h.md"],
                                   ("--md", "is a file")),
    "history-out-in-proc": Bad(["history", "{records}", "--out", "/proc/harness-h"],
                               ("--out", "/proc")),
    "ab-results-in-proc": Bad(["ab", "--variant", "dask==2026.8.0", "--results",
                               "/proc/harness-ab"], ("--results", "/proc")),
    "ab-md-in-proc": Bad(["ab", "--variant", "dask==2026.8.0", "--md", "/proc/harness-ab.md"],
                         ("--md", "/proc")),
    "decide-out-in-proc": Bad(["decide", "dask-or-pyspark", "{records}", "--out",
                               "/proc/harness-d"], ("--out", "/proc")),
    "decide-run-data-dir-in-proc": Bad(["decide", "dask-or-pyspark", "--run", "--out",
                                        "{tmp}/decisions"], ("HARNESS_DATA_DIR",),
                                       env={"HARNESS_DATA_DIR": "/proc/harness-data"}),
    "list-unknown-flag": Bad(["list", "--jsn"], ("unrecognized arguments", "--jsn")),
    "unknown-command": Bad(["lsit"], ("invalid choice", "lsit")),
}


@pytest.fixture(scope="module")
def records_files(tmp_path_factory: pytest.TempPathFactory, pandas_engine) -> list[Path]:
    """Two nights of valid records: a reader given them would write its outputs if a check
    were missing."""
    folder = tmp_path_factory.mktemp("records")
    paths = [folder / "base.jsonl", folder / "new.jsonl"]
    for path in paths:
        append_records(path, [dataclasses.replace(measure_once(pandas_engine, "noop"),
                                                  run_id=path.stem) for _ in range(2)])
    return paths


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          records_files: list[Path]) -> dict[str, str]:
    """Fresh data/results/reports folders and working directory, a file in the way, the
    declarations, and a port where nothing listens: the placeholders of the table."""
    for variable, sub in (("HARNESS_DATA_DIR", "data"), ("HARNESS_RESULTS_DIR", "results"),
                          ("HARNESS_REPORTS_DIR", "reports")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / sub))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    (tmp_path / "a-file").write_text("in the way\n")
    (tmp_path / "decl").mkdir()
    for name, text in DECLARED.items():
        (tmp_path / "decl" / name).write_text(text)
    return {"tmp": str(tmp_path), "file": str(tmp_path / "a-file"),
            "decl": str(tmp_path / "decl"), "records": str(records_files[0]),
            "new": str(records_files[1]),
            "closed": str(closed_port())}


def closed_port() -> int:
    """A local port nothing listens on: bound by the system, then let go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def old_java(folder: Path, monkeypatch: pytest.MonkeyPatch, banner: str) -> None:
    """A `java` that prints an old release's banner, found first through JAVA_HOME and PATH."""
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\necho 'Java(TM) SE Runtime' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(folder))
    monkeypatch.setenv("PATH", f"{java.parent}{os.pathsep}{os.environ['PATH']}")


def snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every folder under root, and every file with its size and modification time (a folder's
    own time moves when a probe file comes and goes in it: that is not a file left behind)."""
    found: dict[str, tuple[int, int] | None] = {}
    for folder, dirs, files in os.walk(root):
        found |= dict.fromkeys((str(Path(folder) / name) for name in dirs), None)
        for name in files:
            stat = (Path(folder) / name).stat()
            found[str(Path(folder) / name)] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_one_line_exit_2_and_nothing_written(
        case: Bad, world: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    if "spark://127.0.0.1:{closed}" in case.argv and SparkEngine.unavailable_reason():
        pytest.skip("spark is unavailable here: its address is never reached")
    if case.old_java:  # older than any PySpark the project allows (3.5 runs on 8, 11, 17)
        old_java(tmp_path / "old-jdk", monkeypatch, 'java version "1.7.0_80"')
    for variable, value in case.env.items():
        monkeypatch.setenv(variable, value.format(**world))
    argv = [arg.format(**world) for arg in case.argv]
    before = snapshot(tmp_path)
    started = time.perf_counter()
    assert main(argv) == 2
    elapsed = time.perf_counter() - started
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("harness: error: ")
    for word in case.words:
        assert word.format(**world) in lines[0], lines[0]
    assert snapshot(tmp_path) == before
    if "address" in str(argv) or "master" in str(argv):
        # A probe never waits past its timeout: nothing listening is refused at once.
        assert elapsed < addresses.PROBE_TIMEOUT_S + 5, elapsed


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "h:1",
                                     "tls://h:8786", "ws://h:8786", "tcp://[::1]:8786"])
def test_dask_address_forms_the_client_accepts_pass(address: str) -> None:
    host, port = addresses.dask_endpoint(address)
    assert host and 1 <= port <= 65535


@pytest.mark.parametrize(("master", "endpoints"), [
    ("local", []), ("local[4]", []), ("local[*]", []), ("local[2,3]", []),
    ("local-cluster[2,1,1024]", []), ("spark://h:7077", [("h", 7077)]),
    ("spark://a:7077,b:7078", [("a", 7077), ("b", 7078)]),
])
def test_spark_master_forms_spark_accepts_pass(master: str, endpoints: list) -> None:
    assert addresses.spark_endpoints(master) == endpoints


def test_the_probe_passes_where_something_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        addresses.probe([("127.0.0.1", closed_port()), ("127.0.0.1", port)], "--spark-master",
                        "x", "Spark master")  # one of a standby pair answering is enough
    with pytest.raises(UsageError, match="no Spark master answers"):
        addresses.probe([("127.0.0.1", closed_port())], "--spark-master", "x", "Spark master")


def test_more_slots_than_cores_warn_and_absurd_ones_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "logical_cores", lambda: 2)
    assert validate_options(EngineOptions(workers=2, threads=1)) == []
    (warning,) = validate_options(EngineOptions(workers=2, threads=2))
    assert "= 4 slots on 2 logical cores" in warning
    assert validate_options(EngineOptions(workers=128)) != []
    with pytest.raises(UsageError, match="at most 128 slots"):
        validate_options(EngineOptions(workers=129))


def test_an_oversubscribed_run_warns_in_one_line_and_goes_on(
        world: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(config, "logical_cores", lambda: 1)
    out = Path(world["tmp"]) / "out.jsonl"
    assert main([*RUN, "--no-report", "--workers", "2", "--threads", "2", "--out",
                 str(out)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "oversubscribed" in warnings[0], warnings
    assert out.exists()


@pytest.mark.parametrize(("banner", "major"), [
    ('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_392"', 8),
    ('openjdk version "21" 2023-09-19', 21), ('openjdk version "11.0.2"', 11),
    ("no banner at all", None), (None, None),
])
def test_the_java_release_is_read_from_its_banner(banner: str | None, major: int | None) -> None:
    assert java_major(banner) == major


def test_spark_is_unavailable_on_a_too_old_java_and_says_which(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_java(tmp_path / "jdk11", monkeypatch, 'openjdk version "11.0.22" 2024-01-16')
    reason = SparkEngine.unavailable_reason()
    if int(metadata.version("pyspark").split(".")[0]) < 4:
        assert reason is None  # PySpark 3.5 runs on Java 11
        return
    assert reason is not None and "\n" not in reason
    assert "Java 11" in reason and "Java 17" in reason and str(tmp_path / "jdk11") in reason


@pytest.fixture
def small_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A two-part CSV dataset in a fresh data folder, made by this process."""
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(datasets, "_VERIFIED", set())
    return csv_dataset(CsvSpec(files=2, rows_per_file=50)).path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("damage", "said"), [
    ("corrupt", "part-001.csv differs from the sha256"),
    ("missing", "part-001.csv is missing"),
    ("manifest", "manifest.json is unreadable"),
])
def test_a_corrupt_dataset_cache_is_made_again_with_one_warning(
        small_dataset: Path, damage: str, said: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    part = small_dataset / "part-001.csv"
    good = _digest(part)
    if damage == "corrupt":
        part.write_text(part.read_text().replace("A", "B"))
    elif damage == "missing":
        part.unlink()
    else:
        (small_dataset / "manifest.json").write_text("{ torn")
    capsys.readouterr()
    monkeypatch.setattr(datasets, "_VERIFIED", set())  # as a new process finds it
    again = csv_dataset(CsvSpec(files=2, rows_per_file=50))
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("harness: warning: dataset csv-f2-r50") and said in line
    assert _digest(again.files[1]) == good
    assert datasets.cache_problem(again.path) is None


def test_a_dataset_is_hashed_once_per_process(small_dataset: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[Path] = []
    real = datasets._sha256
    monkeypatch.setattr(datasets, "_sha256", lambda p: hashed.append(p) or real(p))
    monkeypatch.setattr(datasets, "_VERIFIED", set())
    for _ in range(3):
        csv_dataset(CsvSpec(files=2, rows_per_file=50))
    assert sorted(p.name for p in hashed) == ["part-000.csv", "part-001.csv"]


def test_a_run_on_a_corrupt_cache_says_so_and_answers_right(
        world: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """Under `harness run` the session's stderr is its log: the warning reaches the terminal."""
    data = csv_dataset(CsvSpec(files=2, rows_per_file=20_000))  # csv-groupby's tiny data
    data.files[0].write_text("id,value,category,timestamp\n")
    out = Path(world["tmp"]) / "out.jsonl"
    argv = ["run", "-w", "csv-groupby", "-e", "pandas", "--size", "tiny", "--repeat", "1",
            "--no-report", "--out", str(out)]
    assert main(argv) == 0
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("harness: warn")]
    assert len(warnings) == 1 and "part-000.csv" in warnings[0], warnings
    assert datasets.cache_problem(data.path) is None
