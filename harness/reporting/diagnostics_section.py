"""The run report's diagnostics section: where each run's engine diagnostics are (--diagnostics).

The report's blocks hold text only, so the clickable links go into `diagnostics.html` beside
report.html; the section's table names every file by its path.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import pandas as pd

from harness.reporting.document import Heading, Para, Report, Table
from harness.results.schema import Record

INDEX = "diagnostics.html"
ABOUT = (
    "These runs were made with --diagnostics. dask-distributed: one Dask performance_report "
    "per run (open it in a browser; it loads BokehJS from Bokeh's CDN). spark: one event log "
    "per session, each run its own job group; read it with a Spark history server "
    "(spark-class org.apache.spark.deploy.history.HistoryServer, with "
    "spark.history.fs.logDirectory set to the log's parent folder) or as JSON lines. The files "
    "were written after each run's clock stopped, but the scheduler's task stream and Spark's "
    "event listener collect during it: compare these timings only with runs made the same way "
    "(harness compare names engine_config.diagnostics as a difference)."
)


def diagnostics_section(report: Report, records: list[Record]) -> None:
    """Add the section and its link page when any record was made with --diagnostics."""
    made = [r for r in records if isinstance(r.metrics.get("diagnostics"), dict)]
    if not made:
        return
    report.add(Heading(2, "Diagnostics"), Para(ABOUT))
    kept = [r for r in made if r.metrics["diagnostics"].get("kind")]
    without = sorted({r.engine for r in made} - {r.engine for r in kept})
    if without:
        report.add(Para(f"No diagnostics on {', '.join(without)}: only dask-distributed and "
                        "spark have them."))
    if not kept:
        return
    rows = [_row(r) for r in kept]
    paths = [Path(row["path"]) for row in rows if row["path"]]
    top = Path(os.path.commonpath(paths)) if paths else None
    report.add(Para(f"{INDEX} beside this report links every file"
                    + (f"; the paths below are under {top}." if top else ".")),
               Table(_table(rows, top)))
    report.files[INDEX] = _index(rows)


def _row(r: Record) -> dict[str, Any]:
    d = r.metrics["diagnostics"]
    return {"workload": r.workload, "engine": r.engine, "repeat": r.repeat, "phase": r.phase,
            "path": d.get("path"), "error": d.get("error"), "group": d.get("job_group"),
            "jobs": d.get("job_ids")}


def _table(rows: list[dict[str, Any]], top: Path | None) -> pd.DataFrame:
    """One line per run: its file (relative to their common folder) and Spark's job group."""
    def shown(row: dict[str, Any]) -> str:
        if not row["path"]:
            return f"not written: {row['error'] or 'unknown reason'}"
        return os.path.relpath(row["path"], top) if top and len(rows) > 1 else row["path"]

    table = pd.DataFrame({k: [row[k] for row in rows]
                          for k in ("workload", "engine", "repeat", "phase")})
    table["file"] = [shown(row) for row in rows]
    if any(row["group"] for row in rows):
        table["spark job group"] = [row["group"] or "" for row in rows]
        table["spark jobs"] = [", ".join(map(str, row["jobs"] or [])) for row in rows]
    return table


def _index(rows: list[dict[str, Any]]) -> str:
    """A page of links to the files (file:// addresses: the files stay where the run wrote them)."""
    items = []
    for row in rows:
        what = f"{row['workload']} on {row['engine']}, repeat {row['repeat']} ({row['phase']})"
        if row["group"]:
            jobs = ", ".join(map(str, row["jobs"] or [])) or "none"
            what += f", job group {row['group']} (jobs {jobs})"
        link = (_link(Path(row["path"])) if row["path"]
                else html.escape(f"not written: {row['error'] or 'unknown reason'}"))
        items.append(f"<li>{html.escape(what)}: {link}</li>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>Diagnostics</title></head>\n<body><h1>Diagnostics of each run</h1>\n"
            f"<p>{html.escape(ABOUT)}</p>\n<ul>\n" + "\n".join(items) + "\n</ul></body></html>\n")


def _link(path: Path) -> str:
    href = path.as_uri() if path.is_absolute() else str(path)
    return f'<a href="{html.escape(href)}">{html.escape(str(path))}</a>'
