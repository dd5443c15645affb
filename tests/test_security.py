"""Security basics of a tool that starts servers: no secrets in records or reports, files made
with the user's umask, every listening socket of the process tree on loopback."""

from __future__ import annotations

import ipaddress
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from harness.engines.base import Engine
from harness.engines.dask import DaskDistributedEngine

SECRET_VARS = ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DATABASE_PASSWORD", "HF_TOKEN")


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in ([root] if root.is_file() else root.rglob("*"))
            if p.is_file()]


@pytest.mark.slow
def test_no_secret_from_the_environment_reaches_records_logs_or_report(tmp_path: Path,
                                                                        harness_dirs) -> None:
    """A run with tokens and keys in its environment: their values and names appear in no
    record, no session log and no file of the rendered report."""
    secrets = {name: f"sekrit-{name.lower()}-{uuid.uuid4().hex}" for name in SECRET_VARS}
    out, report, results = tmp_path / "run.jsonl", tmp_path / "report", tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "-e", "pandas", "-e", "dask-threads", "-w",
         "frame-mean", "--size", "tiny", "--repeat", "2", "--out", str(out), "--report-dir",
         str(report)],
        env={**os.environ, **secrets, "HARNESS_RESULTS_DIR": str(results)},
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr

    written = files_under(out, report, results / "logs")
    assert out in written and report / "report.html" in written and len(written) > 3
    for path in written:
        data = path.read_bytes()
        for name, value in secrets.items():
            assert value.encode() not in data, f"{name}'s value is in {path}"
            assert name.encode() not in data, f"{name} is named in {path}"


UMASK_SCRIPT = """
import os, sys
from pathlib import Path
from harness.reporting.document import Para, Report
from harness.reporting.output import write_markdown_file, write_report
from harness.results.schema import Record, append_records
root = Path(sys.argv[1])
os.umask(int(sys.argv[2], 8))
append_records(root / "results" / "run.jsonl",
               [Record(run_id="r", workload="noop", engine="pandas", size="tiny", status="ok")])
report = Report(blocks=[Para("hello")], images={"plot.png": b"png"})
write_report(report, root / "reports" / "latest")
write_report(report, root / "reports" / "latest")  # replacing an earlier report
write_markdown_file(report, root / "summary.md")
"""


@pytest.mark.parametrize("umask", [0o002, 0o077], ids=["umask-002", "umask-077"])
def test_files_and_folders_follow_the_umask(tmp_path: Path, umask: int) -> None:
    """Records, reports and their folders get the permissions the user's umask gives: shared
    with a group under 002, private under 077 (not mkdtemp's 0700, not a fixed 0644)."""
    subprocess.run([sys.executable, "-c", UMASK_SCRIPT, str(tmp_path), oct(umask)],
                   check=True, timeout=120)
    made = [tmp_path / "results", tmp_path / "results" / "run.jsonl", tmp_path / "reports",
            tmp_path / "reports" / "latest", tmp_path / "summary.md",
            *(tmp_path / "reports" / "latest").iterdir()]
    assert {p.name for p in made} >= {"report.md", "report.html", "plot.png"}
    modes = {p.relative_to(tmp_path).as_posix(): oct(stat.S_IMODE(p.stat().st_mode))
             for p in made}
    expected = {name: oct((0o777 if (tmp_path / name).is_dir() else 0o666) & ~umask)
                for name in modes}
    assert modes == expected
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["latest"]


def listening(pids: list[int]) -> dict[str, list[str]]:
    """The LISTEN sockets of these processes: "pid name" -> ["address:port", ...]."""
    found: dict[str, list[str]] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            conns = proc.net_connections(kind="inet")
            name = proc.name()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        for conn in conns:
            if conn.status == psutil.CONN_LISTEN:
                found.setdefault(f"{pid} {name}", []).append(f"{conn.laddr.ip}:{conn.laddr.port}")
    return found


def is_loopback_only(address: str) -> bool:
    """127.0.0.1 or ::1 (a JVM's IPv6 socket shows 127.0.0.1 as ::ffff:127.0.0.1)."""
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip) in ("127.0.0.1", "::1")


@pytest.mark.slow
def test_every_listening_socket_of_the_tree_is_on_loopback(
        dask_distributed_engine: DaskDistributedEngine, spark_engine: Engine) -> None:
    """With a LocalCluster (scheduler, nannies, workers) and a Spark JVM (driver, block manager,
    Python workers) running, every socket any of them listens on is bound to loopback."""
    assert dask_distributed_engine.client.submit(sum, [1, 2]).result() == 3
    me = psutil.Process()
    tree = [me.pid, *(child.pid for child in me.children(recursive=True))]
    sockets = listening(tree)

    names = " ".join(sockets)
    assert "java" in names, f"no listening JVM found: {sockets}"
    assert len(sockets) >= 1 + len(dask_distributed_engine.client.scheduler_info()["workers"])
    exposed = {proc: addrs for proc, addrs in sockets.items()
               if not all(is_loopback_only(a) for a in addrs)}
    assert exposed == {}, f"listening beyond loopback: {exposed}"
