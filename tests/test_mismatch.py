"""A wrong answer is recorded as a mismatch, with the difference, never as ok."""

from __future__ import annotations

from tests.helpers import measure_once, prepared


def test_mismatch_scalar_is_recorded_with_detail(pandas_engine) -> None:
    _, _, expected, _ = prepared("delayed-sleep")
    wrong = expected + 1
    record = measure_once(pandas_engine, "delayed-sleep", expected=wrong, use_expected=True)

    assert record.status == "mismatch"
    assert record.error  # a reason is given
    assert record.check["ok"] is False
    assert record.check["expected"] == wrong
    assert record.check["actual"] == expected
    assert record.check["rel_diff"] > 0
    assert record.wall_s is not None and record.wall_s > 0


def test_mismatch_frame_is_recorded_with_detail(pandas_engine) -> None:
    _, _, expected, _ = prepared("csv-groupby")
    wrong = expected.copy()
    wrong.iloc[0, 0] = wrong.iloc[0, 0] * 1.5 + 1.0
    record = measure_once(pandas_engine, "csv-groupby", expected=wrong, use_expected=True)

    assert record.status == "mismatch"
    assert record.error
    assert record.check["ok"] is False
    assert record.check["max_rel_diff"] > record.check["rtol"]


def test_mismatch_frame_shape_names_the_problem(pandas_engine) -> None:
    _, _, expected, _ = prepared("csv-groupby")
    wrong = expected.drop(index=expected.index[-1])
    record = measure_once(pandas_engine, "csv-groupby", expected=wrong, use_expected=True)

    assert record.status == "mismatch"
    assert record.check["ok"] is False
    assert record.check["problem"] == "index differs"
