"""The command line: bad input is one line on stderr, exit 2, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.engines.spark import SparkEngine
from harness.results.env import java_path

ENGINE_NAMES = {"pandas", "dask-sync", "dask-threads", "dask-processes", "dask-distributed",
                "spark"}
WORKLOAD_NAMES = {"csv-groupby", "delayed-sleep"}


@pytest.fixture
def out_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fresh, empty results and reports dirs for one test, so "writes nothing" is checkable."""
    dirs = {"results": tmp_path / "results", "reports": tmp_path / "reports",
            "out": tmp_path / "out.jsonl", "report_dir": tmp_path / "report-dir"}
    dirs["results"].mkdir()
    dirs["reports"].mkdir()
    monkeypatch.setenv("HARNESS_RESULTS_DIR", str(dirs["results"]))
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(dirs["reports"]))
    return dirs


def assert_nothing_written(dirs: dict[str, Path]) -> None:
    assert list(dirs["results"].iterdir()) == []
    assert list(dirs["reports"].iterdir()) == []
    assert not dirs["out"].exists()
    assert not dirs["report_dir"].exists()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("harness: error: ")
    assert captured.out == ""
    return lines[0]


# Each bad flag is added to an otherwise valid, cheap run, so a check that is missing shows up
# as a run (exit 0, files written), not as a hang.
BAD_RUNS = {
    "unknown-workload": (["-w", "no-such-workload"], ["no-such-workload", "workload"]),
    "unknown-engine": (["-e", "no-such-engine"], ["no-such-engine", "engine"]),
    "unknown-size": (["--size", "huge"], ["huge", "size"]),
    "workers-0": (["--workers", "0"], ["--workers", "0"]),
    "threads-0": (["--threads", "0"], ["--threads", "0"]),
    "repeat-0": (["--repeat", "0"], ["--repeat", "0"]),
    "timeout-0": (["--timeout", "0"], ["--timeout"]),
    "workers-too-many": (["--workers", "100000"], ["--workers", "100000"]),
    "warmup-negative": (["--warmup", "-1"], ["--warmup", "-1"]),
}


@pytest.mark.parametrize(("extra", "words"), list(BAD_RUNS.values()), ids=list(BAD_RUNS))
def test_bad_run_arguments_exit_2_and_write_nothing(out_dirs, capsys, extra, words) -> None:
    argv = ["run", "--size", "tiny", "-w", "delayed-sleep", "-e", "pandas", "--repeat", "1",
            "--out", str(out_dirs["out"]), "--report-dir", str(out_dirs["report_dir"]), *extra]
    assert main(argv) == 2
    line = one_error_line(capsys)
    for word in words:
        assert word in line
    assert_nothing_written(out_dirs)


def test_out_that_is_a_directory_is_refused(out_dirs, capsys, tmp_path: Path) -> None:
    argv = ["run", "--size", "tiny", "-w", "delayed-sleep", "-e", "pandas", "--repeat", "1",
            "--out", str(tmp_path), "--report-dir", str(out_dirs["report_dir"])]
    assert main(argv) == 2
    assert str(tmp_path) in one_error_line(capsys)
    assert list(out_dirs["results"].iterdir()) == []
    assert not out_dirs["report_dir"].exists()


def test_report_on_missing_file_exits_2(out_dirs, capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["report", str(missing), "--out", str(out_dirs["report_dir"])]) == 2
    assert str(missing) in one_error_line(capsys)
    assert main(["report", str(missing)]) == 2  # default report dir under HARNESS_REPORTS_DIR
    assert str(missing) in one_error_line(capsys)
    assert_nothing_written(out_dirs)


def test_report_on_empty_file_exits_2(out_dirs, capsys, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["report", str(empty), "--out", str(out_dirs["report_dir"])]) == 2
    one_error_line(capsys)
    assert_nothing_written(out_dirs)


def test_list_json_names_every_workload_and_engine(capsys) -> None:
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["workloads"]) >= WORKLOAD_NAMES
    assert set(data["engines"]) >= ENGINE_NAMES
    for name in WORKLOAD_NAMES:
        assert set(data["workloads"][name]["engines"]) >= ENGINE_NAMES
        assert "tiny" in data["workloads"][name]["sizes"]
    assert "tiny" in data["sizes"]


def test_list_text_names_every_workload_and_engine(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in WORKLOAD_NAMES | ENGINE_NAMES:
        assert name in out


def test_spark_without_java_explains_itself(no_java) -> None:
    reason = SparkEngine.unavailable_reason()
    assert reason is not None
    assert "\n" not in reason
    assert "java" in reason.lower()


def test_spark_with_java_is_available() -> None:
    """Control for the test above: where Java is found, Spark is available, so the reason there
    must come from the emptied PATH."""
    if java_path() is None:
        pytest.skip("no java on PATH or JAVA_HOME here: nothing to control against")
    assert SparkEngine.unavailable_reason() is None


def test_run_spark_without_java_exits_2(no_java, out_dirs, capsys) -> None:
    argv = ["run", "-e", "spark", "--size", "tiny", "--repeat", "1",
            "--out", str(out_dirs["out"]), "--report-dir", str(out_dirs["report_dir"])]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert "java" in line.lower()
    assert "spark" in line
    assert_nothing_written(out_dirs)


def test_list_without_java_marks_spark_unavailable(no_java, capsys) -> None:
    assert main(["list", "--json"]) == 0
    spark = json.loads(capsys.readouterr().out)["engines"]["spark"]
    assert spark["available"] is False
    assert "java" in spark["reason"].lower()


def test_timeout_nan_is_refused(out_dirs, capsys) -> None:
    argv = ["run", "--size", "tiny", "-w", "delayed-sleep", "-e", "pandas", "--repeat", "1",
            "--out", str(out_dirs["out"]), "--report-dir", str(out_dirs["report_dir"]),
            "--timeout", "nan"]
    assert main(argv) == 2
    assert "--timeout" in one_error_line(capsys)
    assert_nothing_written(out_dirs)


def test_timeout_inf_is_refused(out_dirs, capsys) -> None:
    """A run's timeout must be finite: `inf` is bad input like `nan` and `0`."""
    argv = ["run", "--size", "tiny", "-w", "delayed-sleep", "-e", "pandas", "--repeat", "1",
            "--out", str(out_dirs["out"]), "--report-dir", str(out_dirs["report_dir"]),
            "--timeout", "inf"]
    assert main(argv) == 2
    assert "--timeout" in one_error_line(capsys)
    assert_nothing_written(out_dirs)
