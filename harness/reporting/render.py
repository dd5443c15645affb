"""`harness report`: records to a rendered report, run or sweep, chosen by what the records are."""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError
from harness.reporting.calibration_report import build_calibration_report, is_calibration
from harness.reporting.graphs import pictures
from harness.reporting.output import write_report
from harness.reporting.run_report import build_report
from harness.reporting.sweep_report import build_sweep_report
from harness.results.schema import Record


def render_report(records: list[Record], out_dir: Path, graphs: bool = True) -> Path:
    """Write the run report (or the sweep report, for sweep records) into out_dir."""
    if is_calibration(records):
        if not all(r.calibration is not None for r in records):
            raise UsageError("these files mix calibration records and other records; give "
                             "them to separate `harness report` calls")
        report = build_calibration_report(records)
    elif any(r.sweep for r in records):
        if not all(r.sweep for r in records):
            raise UsageError("these files mix sweep records and run records; give them to "
                             "separate `harness report` calls")
        report = build_sweep_report(records)
    else:
        names = sorted({r.workload for r in records})
        report = build_report(records, pictures(names) if graphs else ())
    return write_report(report, out_dir)
