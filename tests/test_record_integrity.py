"""Nothing lost or torn: concurrent writers, a full disk, and bad lines in results files."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.results.schema import (
    Record,
    RecordsWriteError,
    append_records,
    bad_lines,
    read_records,
)
from tests.test_run_e2e import MARKER_VAR, assert_nothing_left

# Longer than PIPE_BUF (4096): the size past which even pipes stop promising whole writes.
PAD = "x" * 6000

WRITER = """
import sys, time
from pathlib import Path
from harness.results.schema import Record, append_records
path, name, n, batch, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \\
    Path(sys.argv[5])
while not go.exists():
    time.sleep(0.001)
for start in range(0, n, batch):
    append_records(path, [Record(run_id=name, workload="noop", engine="pandas", size="tiny",
                                 status="ok", repeat=i, metrics={"batch": start, "pad": "x" * 6000})
                          for i in range(start, min(n, start + batch))])
"""

# Appends that all fail (the file is already past this process's size limit), in a loop until
# `stop` exists: each failure truncates the file back to the size it saw before its append.
FAILING_WRITER = """
import resource, signal, sys
from pathlib import Path
from harness.results.schema import Record, RecordsWriteError, append_records
path, stop, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
go.touch()
failed = 0
while not stop.exists():
    try:
        append_records(path, [Record(run_id="failing", workload="noop", engine="pandas",
                                     size="tiny", status="ok")])
    except RecordsWriteError:
        failed += 1
print(failed)
"""

# One append of `n` records under a file size limit `room` bytes above the file's size.
LIMITED_APPEND = """
import resource, signal, sys
from pathlib import Path
from harness.results.schema import Record, RecordsWriteError, append_records
path, room, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = path.stat().st_size + room
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    append_records(path, [Record(run_id="new", workload="noop", engine="pandas", size="tiny",
                                 status="ok", repeat=i) for i in range(n)])
except RecordsWriteError as exc:
    print(exc)
"""


def record(run_id: str = "old", repeat: int = 0, **extra: object) -> Record:
    return Record(run_id=run_id, workload="noop", engine="pandas", size="tiny", status="ok",
                  repeat=repeat, **extra)  # type: ignore[arg-type]


def python(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def parsed_lines(path: Path) -> list[dict]:
    """Every line of the file as JSON; the file must end with a newline (no torn tail)."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(out)
    return outs


# --- concurrent writers ---------------------------------------------------------------------

WRITERS, PER_WRITER, BATCH = 4, 250, 5


def test_concurrent_writers_append_whole_lines_and_whole_batches(tmp_path: Path) -> None:
    """Four processes append 250 records each (lines over PIPE_BUF) in batches of 5 to one file
    at once: every line parses, none is lost or doubled, and each batch stays together."""
    path, go = tmp_path / "shared.jsonl", tmp_path / "go"
    procs = [python(WRITER, path, f"w{w}", PER_WRITER, BATCH, go) for w in range(WRITERS)]
    go.touch()
    finish(procs)

    lines = parsed_lines(path)
    assert len(lines) == WRITERS * PER_WRITER
    assert all(len(json.dumps(line)) > 4096 for line in lines)
    seen = {(line["run_id"], line["repeat"]) for line in lines}
    assert seen == {(f"w{w}", i) for w in range(WRITERS) for i in range(PER_WRITER)}
    # A batch is one append: its records are consecutive lines, in order.
    runs = [(line["run_id"], line["metrics"]["batch"]) for line in lines]
    starts = [i for i in range(len(runs)) if i == 0 or runs[i] != runs[i - 1]]
    assert len(starts) == WRITERS * PER_WRITER // BATCH


def test_a_failed_append_never_cuts_another_writers_records(tmp_path: Path) -> None:
    """One process whose every append fails (and is undone) while another appends 300
    records: the undoing must cut back only its own bytes, never the other's records."""
    path, stop, go = tmp_path / "shared.jsonl", tmp_path / "stop", tmp_path / "go"
    append_records(path, [record(metrics={"pad": PAD})])  # past the failing writer's limit
    failing = python(FAILING_WRITER, path, stop, go)
    while not go.exists() and failing.poll() is None:
        time.sleep(0.01)
    for i in range(300):
        append_records(path, [record("ok-writer", i)])
    stop.touch()
    (failures,) = finish([failing])

    lines = parsed_lines(path)
    assert int(failures) > 0
    assert [line["repeat"] for line in lines if line["run_id"] == "ok-writer"] == list(range(300))
    assert len(lines) == 301


# --- a full disk ----------------------------------------------------------------------------

def test_a_write_past_the_file_size_limit_leaves_earlier_lines_intact(tmp_path: Path) -> None:
    """RLIMIT_FSIZE (SIGXFSZ ignored, so the write returns short and then EFBIG): the append is
    undone whole, the 10 earlier lines are byte for byte what they were, and the error says
    what happened, to which file, and what to do."""
    path = tmp_path / "full.jsonl"
    append_records(path, [record(repeat=i) for i in range(10)])
    before = path.read_bytes()
    line = len(record().to_json()) + 1

    proc = python(LIMITED_APPEND, path, line + line // 2, 5)  # room for 1.5 of the 5 records
    (message,) = finish([proc])

    assert path.read_bytes() == before
    assert message.strip() == (f"cannot write records to {path}: File too large; raise the file "
                               "size limit (ulimit -f) or pass --out elsewhere (the 10 records "
                               "before are intact)")


def _failing_write(path: Path, outcome: str) -> Callable[[int, bytes], int]:
    """os.write that, on `path` only, writes half of its first chunk and then fails."""
    real, calls = os.write, []

    def write(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}") != str(path):
            return real(fd, data)
        calls.append(fd)
        if len(calls) == 1:
            return real(fd, bytes(data)[: len(data) // 2])  # a short write
        if outcome == "no progress":
            return 0
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write


@pytest.mark.parametrize("outcome", ["ENOSPC", "no progress"])
def test_a_full_disk_undoes_the_partial_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             outcome: str) -> None:
    path = tmp_path / "full.jsonl"
    append_records(path, [record(repeat=i) for i in range(3)])
    before = path.read_bytes()
    monkeypatch.setattr(os, "write", _failing_write(path, outcome))

    with pytest.raises(RecordsWriteError) as info:
        append_records(path, [record("new", i) for i in range(4)])
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert str(info.value) == (f"cannot write records to {path}: No space left on device; "
                               "free space or pass --out elsewhere (the 3 records before are "
                               "intact)")


def test_a_file_that_cannot_be_opened_is_one_line() -> None:
    with pytest.raises(RecordsWriteError) as info:
        append_records(Path("/proc/x.jsonl"), [record()])
    assert str(info.value) == ("cannot write records to /proc/x.jsonl: No such file or "
                               "directory; pass --out elsewhere")


def _limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited across exec while ignored
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.slow
def test_run_on_a_full_disk_is_one_line_exit_2_and_nothing_left(tmp_path: Path,
                                                                harness_dirs) -> None:
    """`harness run` whose records file hits the size limit after two records: one line naming
    the file, the problem and the fix; exit 2; earlier lines intact; no session left."""
    path = tmp_path / "run.jsonl"
    append_records(path, [record(repeat=i, metrics={"pad": PAD}) for i in range(20)])
    before = path.read_bytes()
    room = 2 * 1500 + 1000  # a pandas record at tiny is ~1.6 kB: two fit, the third does not
    marker = uuid.uuid4().hex
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "-e", "pandas", "-w", "frame-mean", "-w",
         "noop", "--size", "tiny", "--repeat", "3", "--no-report", "--out", str(path)],
        env={**os.environ, MARKER_VAR: marker}, capture_output=True, text=True, timeout=300,
        preexec_fn=_limit_file_size(len(before) + room))

    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"harness: error: cannot write records to {path}: File too large; ")
    data = path.read_bytes()
    assert data.startswith(before)
    kept = parsed_lines(path)
    assert 20 < len(kept) < 26  # some of the run's records, each whole; not all of them
    assert f"(the {len(kept)} records before are intact)" in last
    assert_nothing_left(marker)


# --- bad lines in results files ---------------------------------------------------------------

def _good(repeat: int = 0) -> str:
    return record(repeat=repeat).to_json()


BAD_FILES = {
    # name: (file content, the bad line's number, words the message must hold)
    "torn last line": (_good(0) + "\n" + _good(1) + "\n" + _good(2)[:150], 3, "cut short"),
    "another schema version": (
        _good(0) + "\n" + json.dumps({**json.loads(_good(1)), "schema_version": 3}) + "\n"
        + _good(2) + "\n", 2, "schema_version 3"),
    "non-JSON line": (_good(0) + "\nGARBAGE here\n" + _good(2) + "\n", 2, "not JSON"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path: Path, case: str) -> None:
    text, lineno, words = BAD_FILES[case]
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        read_records([path])
    message = str(info.value)
    assert message.startswith(f"{path}:{lineno}: ")
    assert words in message and "remove that line" in message
    assert "--skip-bad-lines" not in message  # not offered where the command has no such flag
    assert "\n" not in message


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_skip_bad_lines_keeps_the_rest_with_one_warning(tmp_path: Path, capsys,
                                                        case: str) -> None:
    text, lineno, words = BAD_FILES[case]
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with bad_lines(True):
        records = read_records([path])
    assert sorted(r.repeat for r in records) == sorted({0, 1, 2} - {lineno - 1})
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"harness: warning: {path}: skipped 1 bad line(s); the first, "
                              f"line {lineno}: ")
    assert words in warning


def test_many_bad_lines_in_a_file_are_one_warning(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(_good(0) + "\nnot json\n" + _good(2) + "\n[1]\n" + _good(4)[:99])
    with bad_lines(True):
        assert [r.repeat for r in read_records([path])] == [0, 2]
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning == (f"harness: warning: {path}: skipped 3 bad line(s); the first, line 2: "
                       "not JSON (Expecting value)")


def _night(folder: Path, run_id: str, bad: str) -> Path:
    """A results file of one run with 6 steady repeats, and then a bad line."""
    path = folder / f"{run_id}.jsonl"
    append_records(path, [record(run_id, r, wall_s=1.0 + r / 100, cpu_s=1.0,
                                 peak_tree_rss_bytes=10**8, peak_tree_hwm_bytes=10**8,
                                 baseline_tree_rss_bytes=10**7, peak_driver_rss_bytes=10**8)
                          for r in range(7)])
    with path.open("a") as fh:
        fh.write(bad)
    return path


@pytest.mark.parametrize("command", ["compare", "history", "report"])
def test_commands_refuse_then_skip_bad_lines(tmp_path: Path, capsys, command: str) -> None:
    """Each reading command: exit 2 with one line naming file:line and --skip-bad-lines; with
    the flag, one warning per file and the command's normal outcome."""
    a = _night(tmp_path, "20250101T000000Z-aaaaaa", "not json\n")
    b = _night(tmp_path, "20250102T000000Z-bbbbbb", _good()[:100])  # torn
    out = tmp_path / "out"
    args = {"compare": ["compare", str(a), str(b), "--json"],
            "history": ["history", str(a), str(b), "--json"],
            "report": ["report", str(a), str(b), "--no-graphs", "--out", str(out)]}[command]

    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"harness: error: {a}:8: not JSON (Expecting value); remove that line, or "
                    "pass --skip-bad-lines")
    assert not out.exists()

    assert main([*args, "--skip-bad-lines"]) in (0, 1)
    warnings = [w for w in capsys.readouterr().err.splitlines() if "warning" in w]
    assert warnings == [
        f"harness: warning: {a}: skipped 1 bad line(s); the first, line 8: not JSON "
        "(Expecting value)",
        f"harness: warning: {b}: skipped 1 bad line(s); the first, line 8: the last line is "
        "cut short (a write that did not finish)"]


def test_decide_refuses_then_skips_bad_lines(tmp_path: Path, capsys, harness_dirs) -> None:
    bad = _night(tmp_path, "20250101T000000Z-aaaaaa", "not json\n")
    args = ["decide", "chunk-sizes", str(bad), "--out", str(tmp_path / "decisions")]
    assert main(args) == 2
    assert capsys.readouterr().err == (f"harness: error: {bad}:8: not JSON (Expecting value); "
                                       "remove that line, or pass --skip-bad-lines\n")
    main([*args, "--skip-bad-lines"])  # no record of the decision's cells: exit 2, said so
    assert capsys.readouterr().err.splitlines()[0] == (
        f"harness: warning: {bad}: skipped 1 bad line(s); the first, line 8: not JSON "
        "(Expecting value)")


def test_sweep_resume_on_a_torn_file_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "sweep.jsonl"
    path.write_text(_good() + "\n" + _good()[:100])
    assert main(["sweep", "array-chunks", "--size", "tiny", "--resume", "--out", str(path),
                 "--dry-run"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"harness: error: {path}:2: the last line is cut short (a write that did "
                    "not finish); remove that line")


def test_an_append_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    """A line torn by a crash stays a bad line of its own; the next record is not glued to it."""
    path = tmp_path / "torn.jsonl"
    path.write_text(_good(0) + "\n" + _good(1)[:100])
    append_records(path, [record(repeat=2)])
    with bad_lines(True):
        assert [r.repeat for r in read_records([path])] == [0, 2]
