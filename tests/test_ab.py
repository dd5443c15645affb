"""`harness ab`: a declared A/B is checked before anything runs; a variant that changes one
workload parameter is found slower while the A/A control finds nothing; a bad pin is one line,
exit 2, before any cell runs; the rounds interleave in a rotating order; a stopped run leaves
nothing of its group behind."""

from __future__ import annotations

import contextlib
import json
import sys
import tomllib
from pathlib import Path

import psutil
import pytest

from harness.ab.envs import BuiltEnv
from harness.ab.rounds import order
from harness.ab.spec import AbSpec, folder, load_spec, parse_spec
from harness.ab.verdict import AbResult, Outcome
from harness.cli import main
from harness.execution.proctree import run_own_group
from harness.judge.compare import Comparison, Row
from harness.results.schema import read_records
from harness.stats import Shift
from harness.suites.spec import parse_suite
from tests.helpers import prepared

CELLS = """
[cells]
workloads = ["delayed-sleep"]
engines = ["pandas"]
size = "tiny"
repeat = 8
"""


def _spec(tmp_path: Path, body: str, cells: str = CELLS) -> Path:
    path = tmp_path / "ab.toml"
    path.write_text('title = "test"\nrounds = 3\n' + cells + body)
    return path


@pytest.mark.parametrize("n_sides", [2, 3, 4])
def test_over_as_many_rounds_as_sides_each_side_runs_once_in_each_place(n_sides: int) -> None:
    sides = [f"s{i}" for i in range(n_sides)]
    rounds = [order(sides, r) for r in range(n_sides)]
    assert all(sorted(r) == sides for r in rounds)
    for place in range(n_sides):
        assert sorted(r[place] for r in rounds) == sides
    # Two sides alternate which goes first, as asv's interleaved rounds do.
    assert [order(["A", "B"], r)[0] for r in range(4)] == ["A", "B", "A", "B"]


def test_a_side_s_suite_file_is_a_valid_suite_with_its_params(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, '[[variant]]\nname = "slow"\n'
                                     'params.delayed-sleep = { sleep_s = 0.03 }\n'))
    suite = parse_suite(tomllib.loads(spec.suite_toml(spec.variants[0])), tmp_path / "s.toml")
    assert suite.params == {"delayed-sleep": {"sleep_s": 0.03}}
    assert suite.workloads == ("delayed-sleep",) and suite.repeat == 8
    assert [label for label, _ in spec.sides] == ["baseline", "baseline (A/A)", "slow"]


def test_a_side_s_params_join_the_suite_s_key_by_key(tmp_path: Path) -> None:
    suite = tmp_path / "mine.toml"
    suite.write_text('title = "m"\nsize = "tiny"\nworkloads = ["delayed-sleep"]\n'
                     'engines = ["pandas"]\n[params.delayed-sleep]\nn_tasks = 6\n')
    cells = f'[cells]\nsuite = "{suite}"\n'
    spec = load_spec(_spec(tmp_path, '[[variant]]\nparams.delayed-sleep = { sleep_s = 0.03 }\n',
                           cells))
    (variant,) = spec.variants
    assert variant.name == "variant-1"
    ran = parse_suite(tomllib.loads(spec.suite_toml(variant)), tmp_path / "v.toml")
    assert ran.params == {"delayed-sleep": {"n_tasks": 6, "sleep_s": 0.03}}
    base = parse_suite(tomllib.loads(spec.suite_toml(spec.baseline)), tmp_path / "b.toml")
    assert base.params == {"delayed-sleep": {"n_tasks": 6}}


def test_no_two_sides_share_a_records_folder(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, '[[variant]]\nname = "a+b"\n[[variant]]\nname = "a-b"\n'
                                     '[[variant]]\nname = "baseline--A-A"\n'))
    folders = [folder(label) for label, _ in spec.sides]
    assert len(set(folders)) == len(folders) == 5


def test_an_untrusted_control_says_by_how_much_and_which_calls_were_status() -> None:
    key = ("delayed-sleep", "pandas", "tiny", 1, 1, "{}")
    rows = [Row(key, "warm_wall", "slower", shift=Shift(1.12, 1.1, 1.14, 1e-4, 8, 8),
                gating=True),
            Row(key, "status", "failing")]
    comparison = Comparison(rows, [], [], 1.1, 0.002, 8, ["a"], ["b"])
    env = BuiltEnv(Path(sys.executable), "current", 0.0, True)
    control = Outcome("baseline (A/A)", comparison, [], env)
    same = Outcome("v", Comparison([], [], [], 1.1, 0.002, 8, ["a"], ["c"]), [], env)
    result = AbResult(_small_spec(), control, [same], env, 1.0, "r")
    assert not result.trusted
    assert "2 row(s) changed, by up to 1.12x (1 a change of status" in result.trust
    assert "NOT TRUSTWORTHY" in result.verdict and "1.12x" in result.verdict


def _small_spec() -> AbSpec:
    return parse_spec({"variant": [{"name": "v"}], "cells": {"workloads": ["delayed-sleep"],
                                                             "engines": ["pandas"],
                                                             "size": "tiny"}}, "test")


def test_a_run_s_group_ends_with_it_and_leaves_nothing_it_started(tmp_path: Path) -> None:
    """What Popen.kill() missed: the run's own children (its engines' workers). The child
    starts a grandchild that would sleep a minute, writes its pid and exits."""
    pid_file = tmp_path / "pid"
    code = run_own_group([sys.executable, "-c", "import subprocess, sys; p = subprocess.Popen("
                          "[sys.executable, '-c', 'import time; time.sleep(60)']); "
                          f"open({str(pid_file)!r}, 'w').write(str(p.pid))"])
    assert code == 0
    # Waits for it, and raises if it is still alive; NoSuchProcess: already gone and reaped.
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(int(pid_file.read_text())).wait(timeout=10)


def test_a_cached_answer_another_version_cannot_read_is_computed_again() -> None:
    from harness.config import data_dir

    workload, inputs, answer, params = prepared("csv-groupby")
    for path in (data_dir() / "expected").glob("csv-groupby-*.pkl"):
        path.write_bytes(b"not a pickle")
    from harness.execution.session import expected_answer

    again = expected_answer(workload, params, inputs)
    assert type(again) is type(answer) and str(again) == str(answer)


@pytest.mark.parametrize(("body", "word"), [
    ("", "[[variant]]"),
    ('[[variant]]\nname = "x"\nparams.delayed-sleep = { sleep_s = { a = 1 } }\n', "sleep_s"),
    ('[[variant]]\nname = "x"\nparams.delayed-sleep = { sleep_s = 1979-05-27 }\n',
     "sleep_s"),
    ('[[variant]]\nname = "x y"\n', "side name"),
    ('title = 3\n[[variant]]\nname = "x"\n', "title"),
    ('[[variant]]\nname = "x"\ncolour = "red"\n', "colour"),
    ('[[variant]]\nname = "baseline"\n', "own name"),
    ('[[variant]]\nname = "x"\nparams.delayed-sleep = { nap = 1 }\n', "nap"),
    ('[[variant]]\nname = "x"\nparams.noop = { n = 1 }\n', "noop"),
    ('rounds = 2\n[[variant]]\nname = "x"\n', "rounds"),
])
def test_a_bad_ab_file_is_one_line_and_exit_2(tmp_path: Path, body: str, word: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    if body.startswith(("rounds", "title")):
        path = tmp_path / "ab.toml"
        path.write_text(('title = "t"\n' if body.startswith("rounds") else "") + body + CELLS)
    else:
        path = _spec(tmp_path, body)
    results = tmp_path / "r"
    assert main(["ab", str(path), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and word in err[0], err
    assert not results.exists()


@pytest.mark.parametrize(("cells", "word"), [
    ('[cells]\nworkloads = 3\n', "workloads"),
    ('[cells]\nengines = ["pandas", 2]\n', "engines"),
    ('[cells]\ntimeout_s = "x"\n', "timeout_s"),
])
def test_bad_cells_are_one_line_and_exit_2(tmp_path: Path, cells: str, word: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = _spec(tmp_path, '[[variant]]\nname = "x"\n', cells)
    assert main(["ab", str(path), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and word in err[0], err


def test_results_that_name_a_file_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    path = _spec(tmp_path, '[[variant]]\nname = "x"\n')
    assert main(["ab", str(path), "--results", str(taken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an empty folder" in err[0]
    assert taken.read_text() == "mine"


@pytest.mark.slow
def test_a_pin_that_cannot_be_resolved_exits_2_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _spec(tmp_path, '[[variant]]\nname = "old"\nrequirements = ["dask==1999.1.0"]\n')
    results = tmp_path / "r"
    assert main(["ab", str(path), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "dask==1999.1.0" in err[-1] and "cannot be resolved" in err[-1]
    assert err[-1].startswith("harness: error: old:")
    assert not results.exists()


@pytest.mark.slow
def test_ab_finds_a_changed_parameter_and_the_aa_control_finds_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The variant is this project with delayed-sleep's tasks sleeping 0.03 s, not 0.02: every
    side runs in this environment, so no network is needed at all. The records folder is
    given relative, as a user types it: each side's run has its own working directory."""
    path = _spec(tmp_path, '[[variant]]\nname = "longer"\n'
                           'params.delayed-sleep = { sleep_s = 0.03 }\n')
    monkeypatch.chdir(tmp_path)
    results, md = tmp_path / "records", tmp_path / "ab.md"
    code = main(["ab", str(path), "--results", "records", "--json", "--md", str(md)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["exit_code"] == 1
    control = data["control"]
    assert control["verdict"] == "same" and control["exit_code"] == 0 and data["trusted"]
    (variant,) = data["variants"]
    warm = [r for r in variant["rows"] if r["metric"] == "warm_wall"]
    assert [r["verdict"] for r in warm] == ["slower"] and 1.3 < warm[0]["ratio"] < 1.7
    assert {"field": "params delayed-sleep.sleep_s", "baseline": "0.02",
            "new": "0.03"} in variant["env_diff"]
    (p,) = variant["p_slower"]
    assert p["over_20pct"] > 0.99
    (aa,) = control["p_slower"]
    assert aa["over_5pct"] < 0.5
    # Three sides, three rounds, each round a run of its own; round 2 starts at the A/A copy.
    starts = {}
    for side in ("baseline", "baseline@A-A", "longer"):
        files = sorted((results / side).glob("round-*.jsonl"))
        assert len(files) == 3
        starts[side] = [min(r.timestamp for r in read_records([f])) for f in files]
    assert starts["baseline"][0] < starts["baseline@A-A"][0] < starts["longer"][0]
    assert starts["baseline@A-A"][1] < starts["longer"][1] < starts["baseline"][1]
    assert starts["longer"][2] < starts["baseline"][2] < starts["baseline@A-A"][2]
    assert "longer" in md.read_text() and (results / "verdict.json").is_file()
