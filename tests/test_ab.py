"""`harness ab`: a declared A/B is checked before anything runs; a variant that changes one
workload parameter is found slower while the A/A control finds nothing; a bad pin is one line,
exit 2, before any cell runs; the rounds interleave with the order reversed each round."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from harness.ab.rounds import order
from harness.ab.spec import load_spec
from harness.cli import main
from harness.results.schema import read_records
from harness.suites.spec import parse_suite

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


def test_the_order_reverses_each_round_so_no_side_always_goes_first() -> None:
    sides = ["A", "A'", "B"]
    assert [order(sides, r)[0] for r in range(4)] == ["A", "B", "A", "B"]


def test_a_side_s_suite_file_is_a_valid_suite_with_its_params(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, '[[variant]]\nname = "slow"\n'
                                     'params.delayed-sleep = { sleep_s = 0.03 }\n'))
    suite = parse_suite(tomllib.loads(spec.suite_toml(spec.variants[0])), tmp_path / "s.toml")
    assert suite.params == {"delayed-sleep": {"sleep_s": 0.03}}
    assert suite.workloads == ("delayed-sleep",) and suite.repeat == 8
    assert [label for label, _ in spec.sides] == ["baseline", "baseline (A/A)", "slow"]


@pytest.mark.parametrize(("body", "word"), [
    ("", "[[variant]]"),
    ('[[variant]]\nname = "x"\ncolour = "red"\n', "colour"),
    ('[[variant]]\nname = "baseline"\n', "own name"),
    ('[[variant]]\nname = "x"\nparams.delayed-sleep = { nap = 1 }\n', "nap"),
    ('[[variant]]\nname = "x"\nparams.noop = { n = 1 }\n', "noop"),
    ('rounds = 2\n[[variant]]\nname = "x"\n', "rounds"),
])
def test_a_bad_ab_file_is_one_line_and_exit_2(tmp_path: Path, body: str, word: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    if body.startswith("rounds"):
        path = tmp_path / "ab.toml"
        path.write_text('title = "t"\n' + body + CELLS)
    else:
        path = _spec(tmp_path, body)
    results = tmp_path / "r"
    assert main(["ab", str(path), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and word in err[0], err
    assert not results.exists()


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
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The variant is this project with delayed-sleep's tasks sleeping 0.03 s, not 0.02: every
    side runs in this environment, so no network is needed at all."""
    path = _spec(tmp_path, '[[variant]]\nname = "longer"\n'
                           'params.delayed-sleep = { sleep_s = 0.03 }\n')
    results, md = tmp_path / "records", tmp_path / "ab.md"
    code = main(["ab", str(path), "--results", str(results), "--json", "--md", str(md)])
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
    # Three sides, three rounds, each round a run of its own; the order reversed in round 2.
    starts = {}
    for side in ("baseline", "baseline--A-A", "longer"):
        files = sorted((results / side).glob("round-*.jsonl"))
        assert len(files) == 3
        starts[side] = [min(r.timestamp for r in read_records([f])) for f in files]
    assert starts["baseline"][0] < starts["longer"][0]
    assert starts["longer"][1] < starts["baseline"][1]
    assert "longer" in md.read_text() and (results / "verdict.json").is_file()
