"""Process trees: who belongs to a run, how much memory they hold, and how they are ended.

An engine session runs in a process group of its own. Its tree (the session, Dask workers and
nannies, the Spark JVM and its Python workers) is listed with psutil's
`children(recursive=True)`; ending it signals the group, waits with `psutil.wait_procs`, and
kills whatever is left of the tree or the group, so nothing outlives the run. When the driver
itself is killed outright, each layer dies with its parent instead (see harness.lifeline): the
session by the kernel's parent-death signal, its probe and Dask process pool likewise,
LocalCluster workers when their nanny's pipe closes, the Spark JVM when its stdin closes and
Spark's Python workers when the JVM goes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from typing import Any

import psutil

from harness.lifeline import hurried, lifeline_env, uninterrupted

STOP_GRACE_S = 15.0  # how long a session may take to stop its engine after SIGTERM
KILL_WAIT_S = 10.0
POLL_S = 0.1  # how often a wait looks for a second interrupt


def live_tree(root: psutil.Process) -> list[psutil.Process]:
    """The root and its live descendants; zombies hold no memory and have no VmHWM."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return [root]
    return [p for p in procs if alive(p)]


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def tree_rss(pid: int) -> int | None:
    """Summed RSS of a process and its descendants now; None when the process is gone."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None
    total = 0
    for proc in live_tree(root):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


def stop_session(proc: subprocess.Popen[str]) -> None:
    """End a session process and everything it started: SIGTERM to its group (the session
    stops its engine), then SIGKILL to the group and to any of its tree that left the group.
    Interrupts cannot cut it short (a second one only ends the grace period), so it always
    ends what it started, within STOP_GRACE_S + 2 * KILL_WAIT_S."""
    with uninterrupted():
        tree: list[psutil.Process] = []
        if proc.poll() is None:  # a reaped pid may belong to someone else by now: never list it
            tree = _tree_of(proc.pid)
            _signal_group(proc.pid, signal.SIGTERM)
            wait_for(proc, STOP_GRACE_S)
        _signal_group(proc.pid, signal.SIGKILL)
        wait_for(proc, KILL_WAIT_S, hurry=False)
        leftovers = [p for p in {*tree, *_group_members(proc.pid)} if alive(p)]
        for leftover in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()
        psutil.wait_procs(leftovers, timeout=KILL_WAIT_S)


def wait_for(proc: subprocess.Popen[Any], seconds: float, hurry: bool = True) -> bool:
    """Wait up to `seconds` for `proc` to exit, less when a second interrupt hurries (unless
    `hurry` is off); whether it exited."""
    deadline = time.monotonic() + seconds
    while not (hurry and hurried()):
        try:
            proc.wait(timeout=min(POLL_S, max(0.0, deadline - time.monotonic())))
            return True
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                return False
    return proc.poll() is not None


def _tree_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


# After Ctrl-C a command in its own group is passed the SIGINT and given this long to stop
# its engines and keep its records; after a second Ctrl-C, this long to stop at once.
INTERRUPT_GRACE_S = 60.0
HURRY_GRACE_S = 10.0


def run_own_group(command: list[str], **popen: Any) -> int:
    """Run a command (a `harness run`) in a process group of its own and return its exit
    code. Ctrl-C here, from a terminal or a job runner's signal, is passed on to the group;
    a second Ctrl-C is passed on too and given HURRY_GRACE_S; and whatever is left of the
    group when it ends is killed, so nothing it started outlives it. The command dies with
    this process (`lifeline_env`: a `harness run` stops as after Ctrl-C) when this one is
    killed outright."""
    popen["env"] = lifeline_env(popen.get("env"))
    child = subprocess.Popen(command, start_new_session=True, **popen)
    try:
        return child.wait()
    except KeyboardInterrupt:
        with uninterrupted():
            _signal_group(child.pid, signal.SIGINT)
            if not wait_for(child, INTERRUPT_GRACE_S) and hurried():
                _signal_group(child.pid, signal.SIGINT)
                wait_for(child, HURRY_GRACE_S, hurry=False)
        raise
    finally:
        with uninterrupted():
            _signal_group(child.pid, signal.SIGKILL)
            wait_for(child, KILL_WAIT_S, hurry=False)
