"""Putting a report on disk: written into a temporary sibling directory, then swapped into place
whole, so a crash never leaves half a report, and never over a directory that is not a report."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from harness.errors import UsageError
from harness.fsutil import fresh_dir
from harness.reporting.document import Report
from harness.reporting.writers import to_html, to_markdown

REPORT_FILES = ("report.md", "report.html")


def write_markdown_file(report: Report, path: Path) -> None:
    """A report without its plots as one Markdown file (a CI step summary shows no PNGs),
    written whole: to a temporary sibling, then renamed."""
    from harness.reporting.writers import to_markdown

    text = to_markdown(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(report: Report, out_dir: Path) -> Path:
    """Write report.md, report.html and the report's files into out_dir, replacing it whole."""
    target = Path(out_dir).absolute()
    check_report_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = fresh_dir(target.parent, f".{target.name}.tmp-")
    try:
        _write(tmp, report)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def check_report_dir(target: Path) -> None:
    """Only an empty directory or an earlier report may be replaced: never a user's other files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"report directory {target} is a file; choose another directory")
    entries = list(target.iterdir())
    if entries and not any((target / f).exists() for f in REPORT_FILES):
        raise UsageError(f"{target} exists and is not a harness report; it would be replaced "
                         "whole, so choose another directory or remove it yourself")


def _write(tmp: Path, report: Report) -> None:
    """Every file of the report into the (temporary) directory."""
    for name, png in report.images.items():
        (tmp / name).write_bytes(png)
    for name, text in report.files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    (tmp / "report.md").write_text(to_markdown(report), encoding="utf-8")
    (tmp / "report.html").write_text(to_html(report), encoding="utf-8")


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Move the old report aside, the new one in, then delete the old: never a half report."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / target.name)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
