"""Task-graph pictures: a PNG where Graphviz's dot exists, DOT text and a note where it does not."""

from __future__ import annotations

import shutil

import pytest

from harness.reporting import graphs


def test_dot_text_and_note_without_the_dot_binary(monkeypatch) -> None:
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    pic = graphs.picture("delayed-sleep")
    assert pic is not None and pic.png is None
    assert pic.dot is not None and pic.dot.lstrip().startswith("digraph")
    assert "sleep_square" in pic.dot
    assert "not installed" in pic.note
    assert pic.n_tasks == 9  # 8 sleeps + 1 sum


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed here")
def test_png_with_the_dot_binary() -> None:
    pic = graphs.picture("csv-groupby")
    assert pic is not None and pic.png is not None
    assert pic.png.startswith(b"\x89PNG")


def test_report_writes_graph_files(tmp_path, monkeypatch) -> None:
    from harness.reporting.render import render_report
    from harness.results.schema import Record

    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    record = Record(run_id="r", workload="delayed-sleep", engine="pandas", size="tiny",
                    status="ok", wall_s=0.2, startup_s=0.0)
    out = render_report([record], tmp_path / "rep")
    assert (out / "delayed-sleep-graph.dot").read_text().lstrip().startswith("digraph")
    assert "Task graphs" in (out / "report.md").read_text()


def test_workload_without_graph_gets_no_picture() -> None:
    assert graphs.picture("noop") is None
