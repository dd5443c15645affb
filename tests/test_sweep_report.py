"""The sweep report's arithmetic and output, on synthetic records with known answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.reporting.render import render_report
from harness.reporting.sweep_analysis import (
    band_words,
    cell_rows,
    crossing,
    fit_slope,
    layout_findings,
    scaling_findings,
)
from harness.reporting.sweep_report import build_sweep_report
from harness.results.schema import Record
from harness.sweep.spec import DEFAULT_RULES

ENV = {"logical_cores": 2, "total_memory_bytes": 24 * 2**30, "python": "3.11"}


def rec(engine: str, axes: dict, wall: float, *, role: str = "cell", workload: str = "w",
        sweep: str = "workers-threads", repeat: int = 1, status: str = "ok",
        workers: int = 1, threads: int = 1, **extra) -> Record:
    key = json.dumps([workload, engine, role, axes], sort_keys=True)
    return Record(run_id="r", workload=workload, engine=engine, size="small", status=status,
                  repeat=repeat, wall_s=wall if status == "ok" else None, n_workers=workers,
                  threads_per_worker=threads, env=ENV,
                  sweep={"name": sweep, "cell": key, "role": role, "axes": axes}, **extra)


def workers_threads() -> list[Record]:
    """pandas 4 s; the engine's 1x1 takes 4 s and 2x1 takes 1 s; 2x2 timed out."""
    return [
        rec("pandas", {}, 4.0, role="reference"),
        rec("dask-distributed", {"n_workers": 1, "threads_per_worker": 1}, 4.0),
        rec("dask-distributed", {"n_workers": 2, "threads_per_worker": 1}, 1.0, workers=2),
        rec("dask-distributed", {"n_workers": 2, "threads_per_worker": 2}, 0.0, workers=2,
            threads=2, status="timeout", error="no progress after 600 s"),
    ]


def test_speedups_and_efficiency_use_min_of_slots_and_cores() -> None:
    rows = cell_rows(workers_threads()).set_index("axes", drop=False)
    best = rows[rows["axis.n_workers"] == 2].iloc[0]
    assert best["speedup_ref"] == pytest.approx(4.0)
    assert best["speedup_1x1"] == pytest.approx(4.0)
    # 2 workers x 1 thread = 2 slots on 2 cores: efficiency 4 / 2.
    assert best["efficiency"] == pytest.approx(2.0) and best["efficiency_basis"] == "own 1x1"
    failed = rows[rows["status"] == "timeout"].iloc[0]
    assert math.isnan(failed["best_s"])


def test_slope_and_crossing() -> None:
    sizes = [1e6, 1e7, 1e8]
    assert fit_slope(sizes, [0.1, 1.0, 10.0]) == pytest.approx(1.0)
    assert fit_slope(sizes, [1.0, 1.0, 1.0]) == pytest.approx(0.0)
    assert math.isnan(fit_slope(sizes[:2], [1, 2]))
    # memory = data: the line reaches 1e9 at 1e9 bytes of data.
    assert crossing(sizes, sizes, 1e9) == pytest.approx(1e9)
    assert crossing(sizes, [5e8, 5e8, 5e8], 1e9) is None  # flat: never


def test_band_words() -> None:
    assert band_words(10e6, [100e6, 1e9]) == "10.0x below the band's lower edge 100 MB"
    assert band_words(2e9, [100e6, 1e9]) == "2.0x above the band's upper edge 1 GB"
    assert band_words(5e8, [100e6, 1e9]).startswith("inside")
    assert band_words(96e6, [100e6, 1e9]) == "just below the band's lower edge 100 MB"


def chunk_records() -> list[Record]:
    """A U: 1 MB chunks 2 s (1000 tasks), 10 MB 0.5 s (100 tasks), 200 MB 0.8 s (5 tasks)."""
    out = [rec("pandas", {}, 1.0, role="reference", sweep="array-chunks")]
    for chunk, wall, tasks in ((1e6, 2.0, 1000), (10e6, 0.5, 100), (200e6, 0.8, 5)):
        out.append(rec("dask-threads", {"chunks": int(chunk)}, wall, sweep="array-chunks",
                       threads=2, n_tasks=tasks,
                       metrics={"chunk_bytes": chunk, "data_bytes": 400e6}))
    return out


def test_without_a_one_slot_cell_efficiency_is_against_pandas() -> None:
    # Every chunk cell ran on the engine's default pool of 1 x 2: none is its own 1x1.
    rows = cell_rows(chunk_records())
    cells = rows[rows["role"] != "reference"]
    assert cells["speedup_1x1"].isna().all()
    assert (cells["efficiency_basis"] == "pandas").all()
    bottom = cells.loc[cells["best_s"].idxmin()]
    assert bottom["efficiency"] == pytest.approx((1.0 / 0.5) / 2)


def test_layout_findings_name_the_bottom_band_distance_and_overhead() -> None:
    rows = cell_rows(chunk_records())
    text = " ".join(layout_findings(rows, "chunks", dict(DEFAULT_RULES)))
    assert "bottom of the U at chunks=10000000" in text
    assert "10.0x below the band's lower edge 100 MB" in text
    assert "the best point inside the band takes 1.60x the bottom's time" in text
    # (2.0 - 0.5) s over (1000 - 100) tasks.
    assert "time per task is 2.00 ms" in text and "added 1.67 ms" in text


def test_scaling_findings_report_slopes_and_failed_points() -> None:
    recs = [rec("pandas", {"rows": n}, n / 1e6, role="reference", sweep="data-scaling",
                metrics={"data_bytes": n * 50.0}, peak_tree_rss_bytes=int(n * 10 + 1e8),
                baseline_tree_rss_bytes=int(1e8))
            for n in (1e6, 1e7, 1e8)]
    recs.append(rec("pandas", {"rows": 1e9}, 0.0, role="reference", sweep="data-scaling",
                    status="over-memory", error="passed the memory budget"))
    items = scaling_findings(cell_rows(recs), budget=4 * 2**30)
    # The growth over the idle tree is what scales (1e8 bytes of it are the interpreter).
    assert items[0].startswith("pandas: time grows as data^1.00, tree memory growth during "
                               "the run as data^1.00")
    assert "extrapolating" in items[0]
    assert any("over-memory" in i for i in items)


def test_render_writes_plots_and_lists_problems(tmp_path: Path) -> None:
    records = workers_threads() + chunk_records()
    report = build_sweep_report(records)
    text = "\n".join(str(b) for b in report.blocks)
    assert "timeout" in text and "no progress after 600 s" in text
    out = render_report(records, tmp_path / "R")
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.html"} <= names
    assert "workers-threads-w-heatmap-best_s.png" in names
    assert "array-chunks-w-ucurve.png" in names


def test_mixed_sweep_and_run_records_are_refused(tmp_path: Path) -> None:
    plain = Record(run_id="r", workload="w", engine="pandas", size="small", status="ok",
                   wall_s=1.0)
    with pytest.raises(UsageError, match="separate"):
        render_report([*workers_threads(), plain], tmp_path / "R")
