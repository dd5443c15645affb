"""Declared suites: the shipped nightly suite is valid and big enough for compare's test;
`harness run --suite` runs a suite file's cells; a bad suite is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.judge.compare import DEFAULT_ALPHA
from harness.results.schema import read_records
from harness.stats import min_samples
from harness.suites.spec import load_suite, suite_names


def test_the_nightly_suite_has_enough_steady_runs_for_the_test() -> None:
    assert "nightly" in suite_names()
    nightly = load_suite("nightly")
    assert nightly.repeat - 1 >= min_samples(DEFAULT_ALPHA)  # the first counted run is cold
    assert "spark" in nightly.engines and "pandas" in nightly.engines


def _suite(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text('title = "mine"\n' + body)
    return path


@pytest.mark.parametrize(("body", "extra", "word"), [
    ('workloads = ["no-such"]\nengines = ["pandas"]\n', [], "no-such"),
    ('workloads = ["delayed-sleep"]\nengines = ["pandas"]\nsize = "huge"\n', [], "huge"),
    ('workloads = ["delayed-sleep"]\n', [], "engines"),
    ('workloads = ["delayed-sleep"]\nengines = ["pandas"]\n', ["-w", "noop"], "-w"),
    ("this is not toml", [], "not a valid suite"),
])
def test_a_bad_suite_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            body: str, extra: list[str], word: str) -> None:
    out = tmp_path / "out.jsonl"
    argv = ["run", "--suite", str(_suite(tmp_path, body)), "--out", str(out), "--no-report"]
    assert main([*argv, *extra]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("harness: error: ") and word in line
    assert not out.exists()


def test_an_unknown_suite_names_the_shipped_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--suite", "weekly", "--no-report"]) == 2
    assert "nightly" in capsys.readouterr().err


def test_run_suite_runs_the_files_cells_and_flags_override_it(tmp_path: Path) -> None:
    suite = _suite(tmp_path, 'workloads = ["delayed-sleep"]\nengines = ["pandas"]\n'
                             'size = "tiny"\nrepeat = 5\n')
    out = tmp_path / "out.jsonl"
    assert main(["run", "--suite", str(suite), "--repeat", "2", "--out", str(out),
                 "--no-report"]) == 0
    records = read_records([out])
    assert {(r.workload, r.engine, r.size) for r in records} == {("delayed-sleep", "pandas",
                                                                   "tiny")}
    assert [r.phase for r in records] == ["cold", "steady"]


def test_a_suite_whose_engines_cannot_start_is_refused(
        no_java: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = _suite(tmp_path, 'workloads = ["delayed-sleep"]\nengines = ["spark"]\n')
    assert main(["run", "--suite", str(suite), "--no-report"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "no engine of suite" in line and "spark" in line
