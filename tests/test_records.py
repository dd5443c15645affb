"""Records: lossless round trip, strict reading, valid JSON only."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy
import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.results.schema import SCHEMA_VERSION, Record, append_records, read_records


def full_record(**overrides) -> Record:
    """A record with every field set to a non-default, JSON-native value."""
    fields = dict(
        run_id="20250101T000000Z-abcdef", workload="csv-groupby", engine="dask-distributed",
        size="tiny", status="ok", params={"files": 2, "rows_per_file": 20000},
        n_workers=2, threads_per_worker=1, repeat=1, error=None, wall_s=0.125,
        startup_s=1.5, cpu_s=0.25, peak_tree_rss_bytes=900_000_000,
        peak_tree_hwm_bytes=950_000_000, baseline_tree_rss_bytes=800_000_000,
        peak_driver_rss_bytes=300_000_000, n_tasks=17,
        check={"ok": True, "rtol": 1e-9, "max_rel_diff": 0.0, "nan_pattern_equal": True},
        metrics={"max_processes": 5, "memory_samples": 12, "hwm_exact": True},
        engine_config={"engine": "dask-distributed", "address": "LocalCluster",
                       "dashboard": None, "nested": {"list": [1, 2, "x"]}},
        env={"python": "3.11.0", "java": None, "logical_cores": 2},
        timestamp="2025-01-01T00:00:00+00:00",
    )
    fields.update(overrides)
    return Record(**fields)


def good_line() -> str:
    return full_record().to_json()


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.jsonl"
    records = [full_record(), full_record(repeat=2, status="mismatch", error="differs",
                                          check={"ok": False, "rel_diff": 0.5}),
               Record(run_id="r", workload="delayed-sleep", engine="pandas", size="tiny",
                      status="timeout", error="no progress")]
    append_records(path, records[:1])
    append_records(path, records[1:])  # appends, does not overwrite

    back = read_records([path])
    assert [dataclasses.asdict(r) for r in back] == [dataclasses.asdict(r) for r in records]
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["schema_version"] == SCHEMA_VERSION for line in lines)


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("\n" + good_line() + "\n\n")
    assert len(read_records([path])) == 1


def test_nan_and_inf_are_written_as_null(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    record = full_record(wall_s=float("nan"), cpu_s=float("inf"),
                         check={"ok": False, "rel_diff": float("nan")},
                         metrics={"np": numpy.float64("nan"), "np32": numpy.float32("nan")})
    append_records(path, [record])

    text = path.read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert data["wall_s"] is None
    assert data["cpu_s"] is None
    assert data["check"]["rel_diff"] is None
    assert data["metrics"] == {"np": None, "np32": None}
    (back,) = read_records([path])
    assert back.wall_s is None


def test_numpy_float32_nan_is_written_as_null() -> None:
    """The part of NaN handling that works today: values json cannot encode natively."""
    data = json.loads(full_record(metrics={"x": numpy.float32("nan")}).to_json())
    assert data["metrics"]["x"] is None


CORRUPT_LINES = {
    "bad-json": '{"run_id": "r", "workload": ',
    "not-json": "this is not json",
    "missing-fields": json.dumps({"run_id": "r", "workload": "w", "schema_version": 1}),
    "wrong-schema": json.dumps({**json.loads(good_line()), "schema_version": 99}),
    "no-schema": json.dumps({k: v for k, v in json.loads(good_line()).items()
                             if k != "schema_version"}),
    "bad-status": json.dumps({**json.loads(good_line()), "status": "great"}),
    "schema-as-string": json.dumps({**json.loads(good_line()), "schema_version": "1"}),
    "json-array": "[1, 2, 3]",
    "json-number": "42",
}
@pytest.mark.parametrize("line", list(CORRUPT_LINES.values()), ids=list(CORRUPT_LINES))
def test_corrupt_line_names_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "corrupt.jsonl"
    path.write_text(good_line() + "\n" + good_line() + "\n" + line + "\n" + good_line() + "\n")
    with pytest.raises(UsageError) as info:
        read_records([path])
    message = str(info.value)
    assert f"{path}:3" in message
    assert "\n" not in message


def test_corrupt_file_after_good_file_is_named(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(good_line() + "\n")
    bad.write_text("{oops\n")
    with pytest.raises(UsageError, match=rf"{bad}:1"):
        read_records([good, bad])


def test_binary_garbage_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(good_line().encode() + b"\n\xff\xfe\x00garbage\n")
    with pytest.raises(UsageError, match=str(path)):
        read_records([path])


def test_report_on_corrupt_file_exits_2_with_one_line(tmp_path: Path, capsys,
                                                      harness_dirs) -> None:
    path = tmp_path / "corrupt.jsonl"
    path.write_text(good_line() + "\nnot json\n")
    out_dir = tmp_path / "report-out"
    reports_before = sorted(harness_dirs["HARNESS_REPORTS_DIR"].iterdir())

    assert main(["report", str(path), "--out", str(out_dir)]) == 2
    assert main(["report", str(path)]) == 2  # default output dir

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2  # one line per invocation
    for line in err:
        assert line.startswith("harness: error: ")
        assert f"{path}:2" in line
    assert not out_dir.exists()
    assert sorted(harness_dirs["HARNESS_REPORTS_DIR"].iterdir()) == reports_before


def test_version_1_records_are_read_with_their_phase_derived(tmp_path: Path) -> None:
    """Version 1 had no warm-up runs: repeat 0 was cold, every later repeat counted as warm."""
    old = {k: v for k, v in json.loads(good_line()).items() if k not in ("phase", "warmup")}
    path = tmp_path / "v1.jsonl"
    path.write_text("\n".join(json.dumps({**old, "schema_version": 1, "repeat": r})
                              for r in (0, 1, 2)) + "\n")
    assert [r.phase for r in read_records([path])] == ["cold", "steady", "steady"]


def test_a_warm_up_record_round_trips_with_its_phase(tmp_path: Path) -> None:
    path = tmp_path / "v2.jsonl"
    record = full_record(repeat=2, phase="warmup", warmup={"runs": 4, "rule": "fixed"})
    append_records(path, [record])
    (back,) = read_records([path])
    assert (back.phase, back.warmup, back.schema_version) == ("warmup", record.warmup,
                                                              SCHEMA_VERSION)


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="phase"):
        full_record(phase="lukewarm")
