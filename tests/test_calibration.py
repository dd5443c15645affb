"""`harness calibrate`: each instrument switched off in turn, interleaved, and judged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from harness.calibration import CONDITIONS, rotation
from harness.cli import main
from harness.engines.base import EngineOptions
from harness.execution.session import SessionSpec
from harness.reporting.calibration_report import calibration_rows, effect, verdict
from harness.results.schema import read_records


def test_rotation_runs_every_condition_once_per_round_in_a_seeded_order() -> None:
    order = rotation(6, seed="run-1")
    assert len(order) == 6 * len(CONDITIONS)
    for k in range(6):
        assert sorted(order[k * len(CONDITIONS):(k + 1) * len(CONDITIONS)]) == sorted(CONDITIONS)
    assert order == rotation(6, seed="run-1")
    assert order != rotation(6, seed="run-2")  # shuffled, not a fixed cycle


def test_only_steady_runs_switch_instruments_off() -> None:
    order = rotation(2, seed="s")
    spec = SessionSpec(run_id="r", engine="spark", workloads=("w",), size="tiny",
                       repeats=1 + len(order), options=EngineOptions(), env={}, warmups=2,
                       rotation=order, rounds=2)
    assert [spec.instruments_off(r) for r in range(3)] == [frozenset()] * 3  # cold, warm-ups
    assert [spec.calibration(r) for r in range(3)] == [{"off": [], "round": None}] * 3
    steady = range(3, spec.runs)
    assert [sorted(spec.instruments_off(r)) for r in steady] == [sorted(o) for o in order]
    assert [spec.calibration(r)["round"] for r in steady] == [0] * 4 + [1] * 4


def test_effect_finds_a_real_slowdown_and_not_a_null_one() -> None:
    rng = np.random.default_rng(7)
    off = 1.0 + 0.01 * rng.standard_normal(12)
    ratio, low, high = effect(1.10 * off[::-1], off)
    assert 1.08 < ratio < 1.12 and low > 1.05
    assert verdict(ratio, low, high).startswith("slows the run by")
    ratio, low, high = effect(1.0 + 0.01 * rng.standard_normal(12), off)
    assert low < 1 < high
    assert verdict(ratio, low, high).startswith("within the noise")
    assert np.isnan(effect([1.0, 1.1], [1.0, 1.0, 1.0])[0])  # too few runs to say


@pytest.mark.slow
def test_calibrate_records_each_condition_and_reports_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_RESULTS_DIR", str(tmp_path / "results"))
    report_dir = tmp_path / "report"
    assert main(["calibrate", "--size", "tiny", "--rounds", "6", "-e", "pandas",
                 "-w", "delayed-sleep", "--report-dir", str(report_dir)]) == 0
    (out,) = (tmp_path / "results").glob("calibrate-*.jsonl")
    records = read_records([out])
    assert all(r.status == "ok" and r.calibration is not None for r in records)
    steady = Counter(tuple(r.calibration["off"]) for r in records if r.phase == "steady")
    assert steady == {condition: 6 for condition in CONDITIONS}
    # With the memory probe off, nothing about memory was measured.
    probe_off = [r for r in records if r.calibration["off"] == ["sampler"]]
    assert all(r.peak_tree_rss_bytes is None for r in probe_off)
    rows = calibration_rows(records)
    assert sorted(rows["instrument"]) == ["a/a", "gc", "probes", "sampler"]
    assert dict(zip(rows["instrument"], rows["n_off"], strict=True)) == {
        "sampler": 6, "gc": 6, "probes": 6, "a/a": 3}  # A/A: odd rounds against even ones
    text = (report_dir / "report.md").read_text()
    assert "memory probe" in text and "A/A control" in text
    assert (report_dir / "calibration-delayed-sleep.png").is_file()


def test_calibrate_refuses_too_few_rounds(capsys) -> None:
    assert main(["calibrate", "--rounds", "5", "--no-report"]) == 2
    assert "--rounds" in capsys.readouterr().err
