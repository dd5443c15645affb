"""What a loopback cluster is (its member processes, its address) and how its processes start,
are waited for and stop.

A member is one process the harness launched, in a session of its own: its process group holds
everything it starts (nannies and worker processes, executor JVMs and their Python workers). A
member is known by pid *and* start time, so a recycled pid is never taken for it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from harness.errors import UsageError
from harness.lifeline import hurried, lifeline_env, uninterrupted

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 15.0  # SIGTERM lets nannies close workers and Spark's Worker end its executors
KILL_WAIT_S = 5.0
POLL_S = 0.2
_START_TOLERANCE_S = 0.05  # psutil's start times are in clock ticks (10 ms)


class StartFailure(UsageError):
    """A cluster that could not start; its processes are stopped before this is raised."""


@dataclass(frozen=True)
class Shape:
    """Worker processes, threads (Spark: cores) each, and memory each in bytes (None: the
    kind's default)."""

    workers: int
    threads: int
    memory_limit: int | None = None

    def words(self) -> str:
        memory = "" if self.memory_limit is None else f", {self.memory_limit / 2**30:.3g} GiB each"
        return (f"{self.workers} worker{'s' * (self.workers != 1)} x {self.threads} "
                f"thread{'s' * (self.threads != 1)}{memory}")


@dataclass(frozen=True)
class Member:
    """One launched process: its role, pid, start time (psutil's) and log file."""

    role: str
    pid: int
    started: float
    log: str

    def leader(self) -> psutil.Process | None:
        """The process itself while it runs (not a later one given the same pid)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.started) > _START_TOLERANCE_S:
                return None
            return None if proc.status() == psutil.STATUS_ZOMBIE else proc
        except psutil.Error:
            return None

    def group_is_ours(self) -> bool:
        """Whether the process group named by this pid is still the one this member began: a
        group outlives its leader, and its id is not given to a new process while it lives."""
        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False
        return abs(proc.create_time() - self.started) <= _START_TOLERANCE_S


@dataclass
class Cluster:
    """A running loopback cluster: what to pass to `harness run`, and every process of it."""

    kind: str
    address: str
    shape: Shape
    folder: Path
    members: list[Member] = field(default_factory=list)
    ui: str | None = None
    _popens: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def pids(self) -> list[int]:
        """Every live process of the cluster: the members and all their process groups hold."""
        return sorted(p.pid for p in processes(self.members))

    def running(self) -> list[Member]:
        return [m for m in self.members if m.leader() is not None]

    def stop(self, grace_s: float = STOP_GRACE_S) -> list[int]:
        """Stop every process, the members in reverse start order (workers before their
        scheduler or master); the pids that would not die (none, normally)."""
        with uninterrupted():
            for member in reversed(self.members):
                stop_group(member, 0.0 if hurried() else grace_s)
            for popen in self._popens:  # reap what this process started, if it did
                popen.poll()
        return self.pids()

    def run_flag(self) -> str:
        """The `harness run` flags that point it at this cluster."""
        if self.kind == "dask":
            return f"-e dask-distributed --dask-address {self.address}"
        return f"-e spark --spark-master {self.address}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "address": self.address, "shape": asdict(self.shape),
                "folder": str(self.folder), "ui": self.ui,
                "members": [asdict(m) for m in self.members]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cluster:
        return cls(kind=str(data["kind"]), address=str(data["address"]),
                   shape=Shape(**data["shape"]), folder=Path(data["folder"]),
                   members=[Member(**m) for m in data["members"]], ui=data.get("ui"))


def processes(members: Iterable[Member]) -> list[psutil.Process]:
    """Live (non-zombie) processes in the members' groups, and their leaders' descendants
    (in case one left its group)."""
    groups = {m.pid for m in members if m.group_is_ours()}
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in groups:
                found[proc.pid] = proc
        except (psutil.Error, OSError):
            continue  # gone meanwhile
    for member in members:
        leader = member.leader()
        if leader is not None:
            with contextlib.suppress(psutil.Error):  # gone meanwhile
                found.update((c.pid, c) for c in leader.children(recursive=True))
    # Spark's Worker never reaps a shell it runs: a zombie is no process of ours to stop.
    return [p for p in found.values() if _running(p)]


def stop_group(member: Member, grace_s: float) -> None:
    """SIGTERM to every process of the member's group, SIGKILL to what is left after
    `grace_s`."""
    procs = processes([member])
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, KILL_WAIT_S)):
        for proc in procs:
            with contextlib.suppress(psutil.Error):  # gone meanwhile
                proc.send_signal(sig)
        _, procs = psutil.wait_procs(procs, timeout=wait_s)
        procs = [p for p in procs if _running(p)]
        if not procs:
            return


def _running(proc: psutil.Process) -> bool:
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


class Launcher:
    """Starts a cluster's members in `folder` (a log file each); `journal` is told of each,
    so a state file names every process from its first second on."""

    def __init__(self, cluster: Cluster, with_parent: bool,
                 journal: Callable[[Cluster], None] | None = None) -> None:
        self.cluster = cluster
        self.with_parent = with_parent
        self.journal = journal
        cluster.folder.mkdir(parents=True, exist_ok=True)

    def launch(self, role: str, cmd: list[str], env: dict[str, str]) -> Member:
        """Start `cmd` in a session of its own, its output in ROLE.log."""
        log = self.cluster.folder / f"{role}.log"
        if self.with_parent:  # it dies with this process, through a re-exec (harness.lifeline)
            cmd, env = [sys.executable, "-m", "harness.clusters.launch", *cmd], lifeline_env(env)
        with open(log, "ab") as out:
            popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env,
                                     cwd=self.cluster.folder, start_new_session=True)
        self.cluster._popens.append(popen)
        member = Member(role, popen.pid, psutil.Process(popen.pid).create_time(), str(log))
        self.cluster.members.append(member)
        if self.journal is not None:
            self.journal(self.cluster)
        return member

    def wait(self, ready: Callable[[], T | None], timeout_s: float, what: str) -> T:
        """The first non-None `ready()`, polled until `timeout_s`; a StartFailure when a
        member exits first or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_alive()
            value = ready()
            if value is not None:
                return value
            if time.monotonic() > deadline:
                raise StartFailure(f"{what} did not come up within {timeout_s:.0f} s (see "
                                   f"{self.cluster.folder})")
            time.sleep(POLL_S)

    def _check_alive(self) -> None:
        for member, popen in zip(self.cluster.members, self.cluster._popens, strict=True):
            code = popen.poll()
            if code is not None:
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise StartFailure(f"the {self.cluster.kind} {member.role} exited at start "
                                   f"({how}): {last_error(Path(member.log))}")


def starting(cluster: Cluster, with_parent: bool,
             journal: Callable[[Cluster], None] | None,
             body: Callable[[Launcher], None]) -> Cluster:
    """Run `body` to start the cluster's members; on any failure (or interrupt) stop what it
    started, then re-raise: a failed start leaves nothing behind."""
    try:
        body(Launcher(cluster, with_parent, journal))
        check_loopback(cluster)
    except BaseException:
        cluster.stop(grace_s=2.0)
        raise
    return cluster


_ERROR_LINE = re.compile(r"(Error|Exception|error|refused|denied|[Ff]ailed)\b")


def last_error(log: Path, limit: int = 240) -> str:
    """The last line of a log that names an error (else its last line), shortened."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return f"no log at {log}"
    if not lines:
        return f"nothing in {log}"
    named = [ln for ln in lines if _ERROR_LINE.search(ln)]
    line = (named or lines)[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def check_port(port: int, flag: str = "--port") -> None:
    """A port asked for must be valid and free on 127.0.0.1; 0 means any free one."""
    if port == 0:
        return
    if not 1 <= port <= 65535:
        raise UsageError(f"{flag} {port} is not between 1 and 65535 (or 0: any free port)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise UsageError(f"{flag} {port}: 127.0.0.1:{port} is taken ({exc.strerror}); "
                             "choose another port, or leave --port out for a free one") from None


def listening(pids: Iterable[int]) -> list[tuple[int, str, int]]:
    """(pid, ip, port) of every TCP socket the processes listen on."""
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):  # gone meanwhile
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    found.append((pid, str(conn.laddr.ip), int(conn.laddr.port)))
    return found


def is_loopback(ip: str) -> bool:
    """127.0.0.0/8 or ::1, also written IPv4-mapped (::ffff:127.0.0.1, as Java binds)."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def check_loopback(cluster: Cluster) -> None:
    """Every socket the cluster listens on is bound to loopback; a StartFailure otherwise."""
    exposed = [f"{ip}:{port} (pid {pid})" for pid, ip, port in listening(cluster.pids())
               if not is_loopback(ip)]
    if exposed:
        raise StartFailure(f"the {cluster.kind} cluster listens beyond loopback on "
                           f"{', '.join(exposed)}; it was stopped")
