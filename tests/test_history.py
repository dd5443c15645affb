"""`harness history`: steps, outliers, creep and the noise floor over many nights.

The nights are made here from one real measured record: its timings replaced by a level per
night times noise, so each test knows the truth it checks the detector against. Six cells an
engine, as in the nightly suite, so the run-to-run variance is pooled the way it is there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.cli import main
from harness.engines.base import Engine
from harness.judge.history import History, Series, history
from harness.results.schema import Record, append_records
from harness.stats import variance_prior
from tests.helpers import measure_once

START = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def template(pandas_engine: Engine) -> Record:
    record = measure_once(pandas_engine, "delayed-sleep")
    return dataclasses.replace(record, env={**(record.env or {}), "dask": "2026.8.0"})


def nights(template: Record, levels: list[float], sigma: float | list[float] = 0.04,
           seed: int = 0, env_at: dict[int, dict[str, Any]] | None = None, cells: int = 6,
           repeats: int = 8, within: float | list[float] = 0.01) -> list[Record]:
    """Night i runs cell w0 at levels[i] times its usual time; every cell moves by log-normal
    run-to-run noise `sigma` and `within` a run (one value, or one per cell)."""
    rng = np.random.default_rng(seed)
    sigmas = sigma if isinstance(sigma, list) else [sigma] * cells
    withins = within if isinstance(within, list) else [within] * cells
    env = dict(template.env or {})
    out = []
    for night, level in enumerate(levels):
        env = env | (env_at or {}).get(night, {})
        stamp = (START + dt.timedelta(days=night)).isoformat()
        for cell in range(cells):
            base = 0.2 * (1 + cell) * float(np.exp(rng.normal(0, sigmas[cell])))
            base *= level if cell == 0 else 1.0
            for repeat in range(repeats + 1):
                out.append(dataclasses.replace(
                    template, run_id=f"night{night:02d}", timestamp=stamp, workload=f"w{cell}",
                    repeat=repeat, phase="cold" if repeat == 0 else "steady",
                    wall_s=base * float(np.exp(rng.normal(0, withins[cell]))), env=dict(env)))
    return out


def warm(hist: History, workload: str = "w0") -> Series:
    return next(s for s in hist.series if s.key[0] == workload and s.metric.name == "warm_wall")


def moved(hist: History) -> list[Series]:
    return [s for s in hist.series if s.steps or s.creep]


def test_a_flat_noisy_history_has_no_step(template: Record) -> None:
    hist = history(nights(template, [1.0] * 15))
    assert moved(hist) == []
    assert hist.exit_code == 0
    assert 1.05 < warm(hist).noise < 1.30  # 4 % noise a night: a floor of a dozen per cent


def test_a_step_in_the_middle_is_found_with_its_run_and_env_change(template: Record) -> None:
    records = nights(template, [1.0] * 8 + [1.25] * 8, env_at={8: {"dask": "2026.9.0"}})
    hist = history(records)
    series = warm(hist)
    assert [s.key[0] for s in moved(hist)] == ["w0"]
    (step,) = series.steps
    assert hist.nights[step.at].run_id == "night08"
    assert hist.nights[step.before].run_id == "night07"
    assert step.low < 1.25 < step.high and step.confirmed
    assert [c.text for c in step.env] == ["dask 2026.8.0 -> 2026.9.0"]
    assert series.verdict == "regression" and hist.exit_code == 1


def test_a_step_back_down_is_better_and_does_not_fail(template: Record) -> None:
    hist = history(nights(template, [1.25] * 8 + [1.0] * 6))
    assert warm(hist).verdict == "better"
    assert hist.exit_code == 0


def test_a_creep_of_2_percent_a_night_over_10_nights_is_reported(template: Record) -> None:
    hist = history(nights(template, [1.02 ** i for i in range(10)], sigma=0.02))
    series = warm(hist)
    assert series.creep is not None and series.steps == []
    assert series.creep.low < 1.02 ** 9 < series.creep.high
    assert 0.01 < series.creep.per_run < 0.03
    assert series.verdict == "regression" and hist.exit_code == 1
    assert all(s.creep is None for s in hist.series if s.key[0] != "w0")


def test_one_outlier_night_is_not_a_step(template: Record) -> None:
    hist = history(nights(template, [1.0] * 6 + [1.6] + [1.0] * 6))
    series = warm(hist)
    assert series.steps == [] and series.creep is None
    assert [hist.nights[i].run_id for i in series.outliers] == ["night06"]
    assert series.verdict == "outlier" and hist.exit_code == 0


def test_the_newest_night_20_percent_slower_after_three_exits_1(template: Record) -> None:
    hist = history(nights(template, [1.0, 1.0, 1.0, 1.2], sigma=0.02,
                          env_at={3: {"harness_commit": "slow"}}))
    (step,) = warm(hist).steps
    assert hist.nights[step.at].run_id == "night03" and step.n_after == 1
    assert any(c.field == "harness_commit" for c in step.env)
    assert hist.exit_code == 1
    # The next night back at the old level turns it into an outlier: the gate opens again.
    back = history(nights(template, [1.0, 1.0, 1.0, 1.2, 1.0], sigma=0.02))
    assert warm(back).steps == [] and back.exit_code == 0


@pytest.mark.parametrize("levels", [[1.0], [1.0, 4.0], [1.0, 1.0, 4.0]])
def test_a_history_of_a_few_nights_gates_nothing_and_its_noise_floor_is_finite_or_unknown(
        template: Record, levels: list[float]) -> None:
    # The second real night overflowed the noise floor of a series with one run: judged on
    # the prior alone (under one degree of freedom), its t quantile at a Bonferroni level is
    # astronomical.
    records = nights(template, levels, cells=7)
    # w6 ran on the first night only: a series of one run, judged on the prior alone.
    hist = history([r for r in records if r.workload != "w6" or r.run_id == "night00"])
    assert not hist.regressions
    assert all(s.noise != s.noise or 1 < s.noise < 100 for s in hist.series)


def test_too_few_runs_before_a_step_leave_it_unconfirmed(template: Record) -> None:
    hist = history(nights(template, [1.0, 1.0, 1.5], sigma=0.02))
    assert hist.exit_code == 0
    assert "nothing can be called yet" in " ".join(hist.warnings)


def test_false_alarms_on_flat_histories_stay_near_the_family_rate(template: Record) -> None:
    """Per history, noise alone calls a step in any gating series about 1 % of the time
    (FAMILY_ALPHA); tested per series at 1 %, six cells would alarm several times as often."""
    alarms = sum(history(nights(template, [1.0] * 5, seed=seed)).exit_code
                 for seed in range(150))
    assert alarms <= 6  # 4 %: P(more | a true rate of 1 %) < 0.1 %


def test_the_variance_prior_recovers_shared_noise_and_shrinks_toward_it() -> None:
    rng = np.random.default_rng(3)
    s2 = list(0.04 ** 2 * rng.chisquare(3, 500) / 3)
    prior = variance_prior(s2, [3.0] * 500)
    assert 0.035 ** 2 < prior.s2 < 0.045 ** 2 and prior.df > 20
    value, df = prior.moderate(0.2 ** 2, 3.0)
    assert value < 0.2 ** 2 / 2 and df > 20
    assert variance_prior([0.01, 0.02], [2.0, 2.0]).df == 0  # two cells: no prior at all


# A suite like the nightly one (9 of its 34 cells sleep): two cells that sleep (0.2 % night
# to night) beside six CPU-bound ones (15 %), their noise within a run in proportion.
MIXED = {"cells": 8, "sigma": [0.002] * 2 + [0.15] * 6, "within": [0.001] * 2 + [0.08] * 6}


def test_the_trend_prior_gives_quiet_and_noisy_cells_each_their_own_level() -> None:
    rng = np.random.default_rng(5)
    sd = np.where(np.arange(400) % 2 == 0, 0.002, 0.15)
    s2 = list(sd ** 2 * rng.chisquare(2, 400) / 2)
    covariate = [float(np.log((x / 2) ** 2)) for x in sd]  # within-run sd half the run-to-run
    prior = variance_prior(s2, [2.0] * 400, covariate)
    assert prior.df > 3  # one level for both fits their spread with under one (below)
    assert 0.0015 ** 2 < prior.at(covariate[0]).s2 < 0.0027 ** 2
    assert 0.11 ** 2 < prior.at(covariate[1]).s2 < 0.2 ** 2
    assert variance_prior(s2, [2.0] * 400).df < 1


def test_after_three_nights_a_20_percent_step_in_a_quiet_cell_gates(template: Record) -> None:
    """The nightly suite's own mix: the noisy cells must not drown the quiet ones' floor."""
    hist = history(nights(template, [1.0] * 3 + [1.2], **MIXED))
    assert [s.key[0] for s in hist.regressions] == ["w0"]
    assert warm(hist, "w2").noise > 1.25 > 1.05 > warm(hist, "w1").noise  # 20 %: seen, not seen


def test_a_flat_mixed_suite_alarms_near_the_family_rate(template: Record) -> None:
    alarms = sum(history(nights(template, [1.0] * 4, seed=seed, **MIXED)).exit_code
                 for seed in range(100))
    assert alarms <= 5


@pytest.mark.parametrize("seed", [1016, 1019, 1028, 1058, 1060])
def test_the_best_split_of_a_long_flat_history_is_not_a_step(template: Record,
                                                               seed: int) -> None:
    """Flat 30-night histories in which the best of 29 places to split passed one t test:
    five of a hundred, before the p counted the places it was chosen from."""
    hist = history(nights(template, [1.0] * 30, seed=seed, **MIXED))
    assert [s for s in hist.regressions if s.steps] == []


def _folder(tmp_path: Path, records: list[Record]) -> Path:
    folder = tmp_path / "history"
    folder.mkdir()
    for run_id in dict.fromkeys(r.run_id for r in records):
        append_records(folder / f"{run_id}.jsonl", [r for r in records if r.run_id == run_id])
    return folder


def test_the_cli_writes_json_markdown_and_a_report_with_plots(
        template: Record, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path, nights(template, [1.0] * 5 + [1.3] * 3,
                                      env_at={5: {"dask": "2026.9.0"}}))
    code = main(["history", str(folder), "--json", "--md", str(tmp_path / "h.md"),
                 "--out", str(tmp_path / "report")])
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1 and len(data["runs"]) == 8
    (row,) = [s for s in data["series"] if s["regression"]]
    assert row["workload"] == "w0" and row["steps"][0]["run_id"] == "night05"
    assert row["steps"][0]["env_diff"] == [{"field": "dask", "baseline": "2026.8.0",
                                            "new": "2026.9.0"}]
    md = html.unescape((tmp_path / "h.md").read_text())  # Markdown escapes < and >
    assert "dask 2026.8.0 -> 2026.9.0" in md and "night05" in md
    pngs = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert pngs == ["history-00.png", "history-overview.png"]


@pytest.mark.parametrize(("args", "message"), [
    (["history", "{missing}"], "does not exist"),
    (["history", "{folder}", "--window", "1"], "--window must be at least 2"),
    (["history", "{folder}", "--factor", "0.9"], "--factor must be above 1"),
    (["history", "{folder}", "--since", "2031-01-01"], "--since 2031-01-01: no run"),
])
def test_bad_input_is_one_line_and_exit_2(template: Record, tmp_path: Path, args: list[str],
                                          message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path, nights(template, [1.0] * 3))
    argv = [a.format(missing=tmp_path / "nope", folder=folder) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
