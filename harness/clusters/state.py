"""The running loopback clusters, one state file per kind under the harness's cache
(HARNESS_CLUSTER_DIR overrides), so that `harness cluster down` and `status` find what `up`
started, in another process, later.

A state file is written as each process launches (status `starting`), so even an `up` killed
half-way leaves its processes findable; a start that no process is finishing any more, and a
cluster whose processes have all exited, are cleaned up on the next look. A lock per kind
keeps two commands from starting, or stopping, the same kind at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from harness import config
from harness.clusters import KINDS, start
from harness.clusters.base import Cluster, Member, Shape
from harness.errors import UsageError

STATE_VARIABLE = "HARNESS_CLUSTER_DIR"


@dataclass(frozen=True)
class Recorded:
    """A cluster as its state file has it: whether still starting (and by whom), since when."""

    cluster: Cluster
    starting: bool
    since: float
    owner: Member | None = None

    def view(self) -> dict[str, Any]:
        """What `harness cluster status` shows (and prints with --json)."""
        cluster = self.cluster
        members = [{"role": m.role, "pid": m.pid, "running": m.leader() is not None}
                   for m in cluster.members]
        return {"kind": cluster.kind, "state": "starting" if self.starting else "up",
                "address": cluster.address, "ui": cluster.ui, "shape": cluster.shape.words(),
                "workers": cluster.shape.workers, "threads": cluster.shape.threads,
                "memory_limit": cluster.shape.memory_limit, "members": members,
                "pids": cluster.pids(), "run_flags": cluster.run_flag(),
                "folder": str(cluster.folder), "age_s": round(time.time() - self.since, 1)}


def root() -> Path:
    return config.cache_dir(STATE_VARIABLE, "pydata-harness-clusters")


def state_path(kind: str) -> Path:
    return root() / f"{kind}.json"


def up(kind: str, shape: Shape, port: int = 0) -> Cluster:
    """Start a cluster of `kind` that outlives this process, and record it; a UsageError when
    one is up already."""
    folder = _writable_root() / kind
    with _locked(kind):
        running = current(kind)
        if running is not None:
            c = running.cluster
            raise UsageError(f"a {kind} cluster is already up at {c.address or '(starting)'} "
                             f"(pids {' '.join(map(str, c.pids())) or 'none'}); stop it first: "
                             f"harness cluster down {kind}")
        shutil.rmtree(folder, ignore_errors=True)
        owner = _me()
        try:
            cluster = start(kind, shape, folder, port=port,
                            journal=lambda c: _save(c, starting=True, owner=owner))
        except BaseException:
            _forget(kind)
            raise
        _save(cluster, starting=False)
        return cluster


def down(kinds: tuple[str, ...] = KINDS) -> list[str]:
    """Stop the clusters of `kinds` that are up; a line for each one stopped."""
    said = []
    for kind in kinds:
        with _locked(kind):
            running = current(kind)
            if running is None:
                continue
            cluster = running.cluster
            count = len(cluster.pids())
            left = cluster.stop()
            if left:
                raise UsageError(f"{kind} cluster: pids {' '.join(map(str, left))} would not "
                                 "stop (not ours to signal?); stop them by hand, then run "
                                 f"harness cluster down {kind} again")
            _forget(kind)
            said.append(f"{kind} cluster at {cluster.address} stopped ({count} processes)")
    return said


def status() -> list[Recorded]:
    """The clusters up or starting; clusters found dead are cleaned up on the way (unless a
    command holds their lock)."""
    found = []
    for kind in KINDS:
        with _locked(kind, wait=False) as mine:
            recorded = current(kind) if mine else _read(kind)
        if recorded is not None:
            found.append(recorded)
    return found


def current(kind: str) -> Recorded | None:
    """The recorded cluster of `kind` if any process of it is up (or it is being started);
    else None, its state cleaned. Call with the kind's lock held."""
    recorded = _read(kind)
    if recorded is None:
        return None
    if recorded.starting and (recorded.owner is None or recorded.owner.leader() is None):
        recorded.cluster.stop(grace_s=2.0)  # an `up` that died half-way: finish its failure
        _forget(kind)
        return None
    if not recorded.starting and not recorded.cluster.pids():
        _forget(kind)
        return None
    return recorded


def _read(kind: str) -> Recorded | None:
    path = state_path(kind)
    try:
        data = json.loads(path.read_text())
        owner = data.get("owner")
        return Recorded(Cluster.from_json(data), bool(data.get("starting")),
                        float(data["since"]), Member(**owner) if owner else None)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a cluster state file ({exc}); stop its processes by "
                         "hand if any run, then delete it") from None


def _save(cluster: Cluster, *, starting: bool, owner: Member | None = None) -> None:
    """Write the state file whole or not at all (a temp file renamed into place)."""
    data: dict[str, Any] = {**cluster.to_json(), "starting": starting, "since": time.time()}
    if owner is not None:
        data["owner"] = owner.__dict__
    path = state_path(cluster.kind)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _forget(kind: str) -> None:
    state_path(kind).unlink(missing_ok=True)
    shutil.rmtree(root() / kind, ignore_errors=True)


def _me() -> Member:
    me = psutil.Process()
    return Member("up", me.pid, me.create_time(), "")


def _writable_root() -> Path:
    folder = root()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the cluster state folder {folder} ({exc.strerror}); "
                         f"set {STATE_VARIABLE} to a folder you can write") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write the cluster state folder {folder}; set "
                         f"{STATE_VARIABLE} to a folder you can write")
    return folder


@contextlib.contextmanager
def _locked(kind: str, wait: bool = True) -> Iterator[bool]:
    """Hold the kind's lock (True), or, with `wait=False`, False when another command has it."""
    folder = root()
    if not folder.is_dir():
        yield True  # nothing recorded, nothing to race for
        return
    with open(folder / f".{kind}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
