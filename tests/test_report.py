"""The run report and its figures, from a fixed, hand-built record set."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

from harness.errors import UsageError
from harness.reporting import run_plots as plots
from harness.reporting.document import Bullets, Heading, Image, Report, Table
from harness.reporting.figures import png_bytes
from harness.reporting.render import render_report
from harness.reporting.run_report import build_report, speedup_grid
from harness.reporting.run_rows import normalize, ok_runs, startup_rows, warm_runs
from harness.reporting.summary import summarize, tidy
from harness.reporting.warmup_plot import warmup_figure
from harness.results.schema import Record

PNG = b"\x89PNG"
MiB = 2**20
TITLE = "Benchmark report: pandas, Dask schedulers and PySpark"

ENV: dict[str, Any] = {
    "python": "3.11.9", "dask": "2025.1.0", "distributed": "2025.1.0", "pandas": "2.2.3",
    "numpy": "2.1.3", "pyarrow": "18.1.0", "pyspark": "3.5.3",
    "java": 'openjdk version "17.0.12" 2024-07-16',
    "cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz", "logical_cores": 2,
    "total_memory_bytes": 8 * 2**30, "os": "Linux 6.1.0-28-amd64", "machine": "x86_64",
    "hostname": "bench-1", "harness_version": "0.1.0",
    "harness_commit": "0123456789abcdef0123456789abcdef01234567",
    "thread_env": {"OMP_NUM_THREADS": "1"},
}
# engine -> (workers, threads, start-up s); WALLS: wall s of repeats 0, 1, 2
ENGINES: dict[str, tuple[int, int, float]] = {
    "pandas": (1, 1, 2e-6), "dask-threads": (1, 2, 3e-6), "spark": (2, 1, 5.5)}
WALLS = {
    "csv-groupby": {"pandas": [0.9, 0.7, 0.72], "dask-threads": [1.1, 0.69, 0.7],
                    "spark": [4.6, 1.1, 1.05]},
    "delayed-sleep": {"pandas": [0.17, 0.165, 0.166], "dask-threads": [0.09, 0.085, 0.086],
                      "spark": [0.6, 0.3, 0.31]},
}
MISMATCH = ("csv-groupby", "spark", 2)
ERROR = ("delayed-sleep", "dask-threads", 1)
ERROR_TEXT = "RuntimeError: worker lost while computing sleep_square"


def record(workload: str, engine: str, repeat: int, **extra: Any) -> Record:
    workers, threads, startup = ENGINES[engine]
    wall = WALLS[workload][engine][repeat]
    metrics: dict[str, Any] = {"max_processes": 1, "memory_samples": 10}
    if workload == "delayed-sleep":
        slots = workers * threads
        metrics |= {"sequential_s": 0.16, "ideal_s": 0.16 / slots, "parallel_slots": slots}
    fields: dict[str, Any] = dict(
        run_id="20250101T000000Z-abcdef", workload=workload, engine=engine, size="tiny",
        status="ok", params={}, n_workers=workers, threads_per_worker=threads, repeat=repeat,
        wall_s=wall, startup_s=startup, cpu_s=wall, peak_tree_rss_bytes=(300 + 100 * workers) * MiB,
        peak_tree_hwm_bytes=(320 + 100 * workers) * MiB, baseline_tree_rss_bytes=250 * MiB,
        peak_driver_rss_bytes=280 * MiB, n_tasks=None if engine == "pandas" else 9,
        check={"ok": True, "rtol": 1e-9}, metrics=metrics,
        engine_config={"engine": engine}, env=ENV,
        timestamp=f"2025-01-01T00:0{repeat}:00+00:00",
    )
    fields |= extra
    return Record(**fields)


def fixed_records() -> list[Record]:
    """delayed-sleep first, so chapter order (csv-groupby, 3.2, before it, 3.4) is the report's."""
    out = []
    for workload in ("delayed-sleep", "csv-groupby"):
        for engine in ENGINES:
            for repeat in range(3):
                if (workload, engine, repeat) == MISMATCH:
                    out.append(record(workload, engine, repeat, status="mismatch",
                                      error="answer differs from the reference",
                                      check={"ok": False, "max_rel_diff": 0.5, "rtol": 1e-9}))
                elif (workload, engine, repeat) == ERROR:
                    out.append(record(workload, engine, repeat, status="error", error=ERROR_TEXT,
                                      wall_s=None, cpu_s=None, peak_tree_rss_bytes=None,
                                      peak_tree_hwm_bytes=None, baseline_tree_rss_bytes=None,
                                      peak_driver_rss_bytes=None, n_tasks=None, check={}))
                else:
                    out.append(record(workload, engine, repeat))
    return out


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(fixed_records(), graphs=())


def headings(report: Report, level: int | None = None) -> list[str]:
    return [b.text for b in report.blocks
            if isinstance(b, Heading) and (level is None or b.level == level)]


def section(report: Report, title: str) -> list[Any]:
    """The blocks under the heading `title`, up to the next heading of the same or a higher
    level."""
    starts = [i for i, b in enumerate(report.blocks) if isinstance(b, Heading) and b.text == title]
    assert len(starts) == 1, f"{title!r} heading: {headings(report)}"
    head = report.blocks[starts[0]]
    out = []
    for block in report.blocks[starts[0] + 1:]:
        if isinstance(block, Heading) and block.level <= head.level:
            break
        out.append(block)
    return out


def workload_heading(report: Report, workload: str) -> str:
    hits = [h for h in headings(report, 3) if h.split(":")[0].strip() == workload]
    assert len(hits) == 1, f"{workload}: {headings(report, 3)}"
    return hits[0]


def test_title_is_the_first_and_only_top_heading(report: Report) -> None:
    first = report.blocks[0]
    assert isinstance(first, Heading) and first.level == 1
    assert first.text == TITLE
    assert headings(report, 1) == [TITLE]


def test_overview_comes_before_the_workloads(report: Report) -> None:
    names = headings(report)
    assert "Overview" in headings(report, 2)
    assert names.index("Overview") < names.index(workload_heading(report, "csv-groupby"))


def test_one_heading_per_workload_in_chapter_order(report: Report) -> None:
    names = headings(report)
    csv, sleep = workload_heading(report, "csv-groupby"), workload_heading(report, "delayed-sleep")
    assert names.index(csv) < names.index(sleep)
    # Each workload sits under its chapter section.
    level2 = headings(report, 2)
    assert "§3.2" in level2 and "§3.4" in level2
    assert names.index("§3.2") < names.index(csv) < names.index("§3.4") < names.index(sleep)


def test_every_workload_section_has_a_plot(report: Report) -> None:
    for workload in ("csv-groupby", "delayed-sleep"):
        blocks = section(report, workload_heading(report, workload))
        assert any(isinstance(b, Image) for b in blocks), workload


def test_delayed_sleep_is_set_against_the_ideal(report: Report) -> None:
    blocks = section(report, workload_heading(report, "delayed-sleep"))
    tables = [b.frame for b in blocks if isinstance(b, Table)]
    ideal = [t for t in tables if any("ideal" in str(c) for c in t.columns)]
    assert len(ideal) == 1
    assert {"pandas (1x1)", "dask-threads (1x2)", "spark (2x1)"} <= set(ideal[0].iloc[:, 0])
    # csv-groupby has no ideal time: no such table there.
    csv_blocks = section(report, workload_heading(report, "csv-groupby"))
    assert not [b for b in csv_blocks if isinstance(b, Table)
                and any("ideal" in str(c) for c in b.frame.columns)]


def test_summary_table_names_every_engine_configuration(report: Report) -> None:
    tables = [b.frame for b in section(report, "Summary table") if isinstance(b, Table)]
    assert len(tables) == 1
    table = tables[0]
    assert len(table) == 6  # 2 workloads x 3 engine configurations
    pairs = set(zip(table["engine"], table["workers x threads"], strict=True))
    assert pairs == {("pandas", "1x1"), ("dask-threads", "1x2"), ("spark", "2x1")}
    assert list(dict.fromkeys(table["workload"])) == ["csv-groupby", "delayed-sleep"]
    statuses = dict(zip(zip(table["workload"], table["engine"], strict=True), table["status"],
                        strict=True))
    assert statuses[("csv-groupby", "spark")] == "mismatch"
    assert statuses[("delayed-sleep", "dask-threads")] == "error"
    assert statuses[("csv-groupby", "pandas")] == "ok"


def test_problems_lists_the_mismatch_and_the_error_once_each(report: Report) -> None:
    bullets = [b for b in section(report, "Problems") if isinstance(b, Bullets)]
    assert len(bullets) == 1
    items = bullets[0].items
    assert len(items) == 2, items
    (mismatch,) = [i for i in items if "mismatch" in i]
    (error,) = [i for i in items if ERROR_TEXT in i]
    assert "csv-groupby" in mismatch and "spark" in mismatch
    assert "delayed-sleep" in error and "dask-threads" in error


def test_problems_lists_identical_failures_of_several_repeats_once() -> None:
    records = [r if not (r.workload == "delayed-sleep" and r.engine == "spark" and r.repeat > 0)
               else record(r.workload, r.engine, r.repeat, status="timeout", wall_s=None,
                           error="no progress after 600 s (cell)")
               for r in fixed_records()]
    built = build_report(records)
    (bullets,) = [b for b in section(built, "Problems") if isinstance(b, Bullets)]
    timeouts = [i for i in bullets.items if "timeout" in i]
    assert len(timeouts) == 1, bullets.items
    assert "1, 2" in timeouts[0]  # the repeats it hit
    assert len(bullets.items) == 3


def test_problems_says_so_when_all_are_ok() -> None:
    records = [r for r in fixed_records() if r.status == "ok"]
    blocks = section(build_report(records), "Problems")
    assert not [b for b in blocks if isinstance(b, Bullets)]
    assert blocks  # a sentence saying every record is ok


def test_environment_table_states_the_versions(report: Report) -> None:
    (table,) = [b.frame for b in section(report, "Environment") if isinstance(b, Table)]
    facts = dict(zip(table.iloc[:, 0], table.iloc[:, 1], strict=True))
    assert facts["Python"] == "3.11.9"
    assert facts["dask"] == "2025.1.0"
    assert facts["pandas"] == "2.2.3"
    assert facts["pyspark"] == "3.5.3"
    assert facts["Java"] == "17.0.12"
    assert facts["CPU model"] == ENV["cpu_model"]
    assert facts["harness commit"] == ENV["harness_commit"]
    assert "8.0 GiB" in facts["total memory"]


def test_environment_is_the_last_section(report: Report) -> None:
    level2 = headings(report, 2)
    assert level2[-1] == "Environment"
    assert level2.index("Summary table") < level2.index("Problems") < level2.index("Environment")


def test_images_are_png_and_every_image_block_has_its_bytes(report: Report) -> None:
    shown = [b.name for b in report.blocks if isinstance(b, Image)]
    assert shown
    assert set(shown) == set(report.images)
    for name, data in report.images.items():
        assert data.startswith(PNG), name


def test_no_records_is_a_title_and_a_sentence() -> None:
    built = build_report([])
    assert headings(built) == [TITLE]
    assert not built.images


# ---------------------------------------------------------------------------------------------
# render_report


IMG_SRC = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", re.IGNORECASE)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered") / "report"
    returned = render_report(fixed_records(), out, graphs=False)
    assert Path(returned) == out
    return out


def test_render_writes_markdown_and_html(rendered: Path) -> None:
    md = (rendered / "report.md").read_text(encoding="utf-8")
    html = (rendered / "report.html").read_text(encoding="utf-8")
    assert md.startswith(f"# {TITLE}")
    for text in ("Summary table", "Problems", "Environment", "csv-groupby", "delayed-sleep"):
        assert text in md and text in html


def test_html_embeds_every_image_as_a_data_uri(rendered: Path) -> None:
    html = (rendered / "report.html").read_text(encoding="utf-8")
    sources = IMG_SRC.findall(html)
    pngs = sorted(p.name for p in rendered.glob("*.png"))
    assert pngs
    assert len(sources) == len(pngs)
    for src in sources:
        assert src.startswith("data:image/png;base64,"), src[:80]
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)


def test_markdown_refers_to_png_files_beside_it(rendered: Path) -> None:
    md = (rendered / "report.md").read_text(encoding="utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert refs
    for ref in refs:
        path = rendered / ref
        assert path.is_file(), ref
        assert path.read_bytes().startswith(PNG)


def test_render_replaces_an_earlier_report(tmp_path: Path) -> None:
    out = tmp_path / "again"
    render_report(fixed_records(), out, graphs=False)
    (out / "stale.png").write_bytes(PNG)
    few = [r for r in fixed_records() if r.workload == "csv-groupby"]
    render_report(few, out, graphs=False)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "csv-groupby" in md and "delayed-sleep" not in md
    assert not (out / "stale.png").exists()


def test_render_refuses_a_directory_that_is_not_a_report(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError):
        render_report(fixed_records(), out, graphs=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me"


def test_render_refuses_a_mix_of_sweep_and_run_records(tmp_path: Path) -> None:
    records = fixed_records()
    records[0] = record("delayed-sleep", "pandas", 0,
                        sweep={"name": "workers-threads", "cell": "c", "role": "reference",
                               "axes": {}})
    out = tmp_path / "mixed"
    with pytest.raises(UsageError):
        render_report(records, out, graphs=False)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# Figures: a Figure for real rows, None when there is nothing to draw.

FOOTER = "test machine\nversions"


def rows_for(records: list[Record], workload: str | None = None) -> pd.DataFrame:
    rows = normalize(summarize(records))
    return rows if workload is None else rows[rows["workload"] == workload]


def failed_copies(records: list[Record]) -> list[Record]:
    """The same cells, every one an error with nothing measured."""
    return [record(r.workload, r.engine, r.repeat, status="error", error="boom", wall_s=None,
                   startup_s=None, cpu_s=None, peak_tree_rss_bytes=None,
                   peak_tree_hwm_bytes=None, baseline_tree_rss_bytes=None,
                   peak_driver_rss_bytes=None, n_tasks=None, metrics={}) for r in records]


def only_repeat_0(records: list[Record]) -> list[Record]:
    return [r for r in records if r.repeat == 0]


def assert_figure(fig: Figure | None) -> None:
    assert isinstance(fig, Figure)
    plt.close(fig)


def test_wall_figure() -> None:
    records = fixed_records()
    runs = warm_runs(tidy(records))
    assert_figure(plots.wall_figure(rows_for(records, "csv-groupby"), runs, "wall", FOOTER))
    # One repeat only: the bar is the cold run, still a figure.
    one = only_repeat_0(records)
    assert_figure(plots.wall_figure(rows_for(one, "csv-groupby"), warm_runs(tidy(one)), "wall",
                                    FOOTER))
    failed = failed_copies(records)
    assert plots.wall_figure(rows_for(failed), warm_runs(tidy(failed)), "wall", FOOTER) is None


def test_warmup_figure() -> None:
    records = fixed_records()
    runs = ok_runs(tidy(records))
    rows = rows_for(records, "csv-groupby")
    assert_figure(warmup_figure(rows, runs[runs["workload"] == "csv-groupby"], "curve", FOOTER))
    # One run per engine is no curve; failed runs leave none either.
    one = [r for r in only_repeat_0(records) if r.workload == "csv-groupby"]
    assert warmup_figure(rows_for(one, "csv-groupby"), ok_runs(tidy(one)), "c", FOOTER) is None
    failed = failed_copies(records)
    assert warmup_figure(rows_for(failed), ok_runs(tidy(failed)), "c", FOOTER) is None


def test_build_report_draws_a_warm_up_curve_per_workload() -> None:
    report = build_report(fixed_records())
    curves = [name for name in report.images if name.endswith("-warmup.png")]
    assert sorted(curves) == ["csv-groupby-tiny-warmup.png", "delayed-sleep-tiny-warmup.png"]


def test_cold_warm_figure() -> None:
    records = fixed_records()
    assert_figure(plots.cold_warm_figure(rows_for(records, "delayed-sleep"), "cw", FOOTER))
    # One repeat: no warm run, nothing to compare.
    assert plots.cold_warm_figure(rows_for(only_repeat_0(records)), "cw", FOOTER) is None
    assert plots.cold_warm_figure(rows_for(failed_copies(records)), "cw", FOOTER) is None


def test_startup_figure() -> None:
    records = fixed_records()
    assert_figure(plots.startup_figure(startup_rows(tidy(records)), "start", FOOTER))
    failed = failed_copies(records)
    assert plots.startup_figure(startup_rows(tidy(failed)), "start", FOOTER) is None


def test_memory_figure() -> None:
    records = fixed_records()
    assert_figure(plots.memory_figure(rows_for(records, "csv-groupby"), "mem", FOOTER))
    assert plots.memory_figure(rows_for(failed_copies(records)), "mem", FOOTER) is None


def test_efficiency_figure() -> None:
    records = fixed_records()
    assert_figure(plots.efficiency_figure(rows_for(records, "delayed-sleep"), "eff", FOOTER))
    # csv-groupby states no ideal time.
    assert plots.efficiency_figure(rows_for(records, "csv-groupby"), "eff", FOOTER) is None
    assert plots.efficiency_figure(rows_for(failed_copies(records)), "eff", FOOTER) is None


def test_overview_figure() -> None:
    grid, texts = speedup_grid(rows_for(fixed_records()))
    assert_figure(plots.overview_figure(grid, texts, "overview", FOOTER))
    nan_grid = pd.DataFrame(float("nan"), index=grid.index, columns=grid.columns)
    assert plots.overview_figure(nan_grid, texts, "overview", FOOTER) is None
    assert plots.overview_figure(pd.DataFrame(), pd.DataFrame(), "overview", FOOTER) is None


def test_png_bytes_renders_and_closes_the_figure() -> None:
    fig = plots.startup_figure(startup_rows(tidy(fixed_records())), "start", FOOTER)
    assert fig is not None
    data = png_bytes(fig)
    assert data.startswith(PNG)
    assert fig.number not in plt.get_fignums()
