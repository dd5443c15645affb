"""One virtual environment per side, built by uv and cached by what it resolves to.

A side is the project (its working tree, or a git ref) plus requirement pins. uv resolves them
(`uv pip compile`) and the environment is keyed by the resolution, the project's files and the
interpreter, so the next call with the same pins reuses it in well under a second; uv's own
cache means even a new key installs in seconds once PySpark's 456 MB archive is built once.
A pin that cannot be resolved stops everything before any cell runs.

Every resolution prefers the versions installed where `harness ab` runs, so a side differs
from it only where its pins or its ref force a change; and when any side is built, every side
is, so no two sides differ by how they were installed (an editable install against a wheel).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from harness import config
from harness.ab.spec import Side
from harness.errors import UsageError

DIST = "pydata-parallel-harness"
PROJECT = f"{DIST}[ml]"
READY = ".harness-ab-ready"
# The files that make the harness what it is: its code and its declared dependencies.
PROJECT_FILES = ("pyproject.toml",)
PROJECT_DIRS = ("harness",)


@dataclass(frozen=True)
class BuiltEnv:
    """Where a side runs, and what it took to get there."""

    python: Path
    key: str  # "current": the environment harness ab runs in
    seconds: float
    cached: bool
    resolved: tuple[str, ...] = ()

    @property
    def how(self) -> str:
        if self.key == "current":
            return "this environment"
        if self.key == "recorded":
            return f"as recorded in {self.python}"
        return f"{'cached' if self.cached else 'built'} in {self.seconds:.1f} s ({self.key})"


def cache_root() -> Path:
    """Where the environments live; HARNESS_AB_CACHE overrides."""
    return config.cache_dir("HARNESS_AB_CACHE", "pydata-harness-ab").absolute()


def uv_bin() -> str:
    """The uv executable: the one the `uv` package ships, else one on PATH."""
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise UsageError("uv is not installed, and harness ab builds its environments with it; "
                     "pip install uv")


def project_root() -> Path:
    """The checkout this harness was installed from (an editable install or a clone)."""
    here = Path(__file__).resolve().parents[2]
    if (here / "pyproject.toml").is_file() and (here / "harness").is_dir():
        return here
    raise UsageError("harness ab needs the project's source tree to build environments from; "
                     "run it from an editable install of a clone (pip install -e .)")


def current() -> BuiltEnv:
    return BuiltEnv(Path(sys.executable), "current", 0.0, True)


def recorded(folder: Path) -> BuiltEnv:
    """An earlier A/B's side, judged again from its records: nothing is built."""
    return BuiltEnv(folder, "recorded", 0.0, True)


@dataclass(frozen=True)
class Planned:
    """A side's environment, resolved but not yet built."""

    side: Side
    resolved: tuple[str, ...]
    key: str
    seconds: float  # resolving it


def plan(side: Side, root: Path | None = None, cache: Path | None = None,
         build_all: bool = False) -> Planned | None:
    """Resolve the side's pins (None: it runs in this environment, which only a side with
    nothing to build does, and only when no side is built). Every side is planned before any
    is built, so a bad ref or pin of the last side costs no build of the first."""
    if not (side.built or build_all):
        return None
    started = time.perf_counter()
    root = root or project_root()
    source = _source(side, root, cache or cache_root())
    resolved = resolve(side, source)
    return Planned(side, tuple(resolved), _key(resolved, source),
                   time.perf_counter() - started)


def build(planned: Planned | None, cache: Path | None = None) -> BuiltEnv:
    """The planned environment: reused when its resolution was built before, else built."""
    if planned is None:
        return current()
    started = time.perf_counter()
    target = (cache or cache_root()) / "envs" / planned.key
    cached = (target / READY).is_file()
    if not cached:
        _install(target, list(planned.resolved), planned.side)
    return BuiltEnv(target / "bin" / "python", planned.key,
                    planned.seconds + time.perf_counter() - started, cached, planned.resolved)


def _run_uv(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([uv_bin(), *args], input=stdin, capture_output=True, text=True,
                          check=False)


def _source(side: Side, root: Path, cache: Path) -> Path:
    """The project's files for the side: the working tree, or the ref exported once."""
    if side.ref is None:
        return root
    found = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet",
                            f"{side.ref}^{{commit}}"], capture_output=True, text=True,
                           check=False)
    commit = found.stdout.strip()
    if found.returncode != 0 or not commit:
        raise UsageError(f"{side.name}: ref {side.ref!r} is not a commit of {root}; name a "
                         "branch, tag or commit that `git rev-parse` knows")
    target = cache / "src" / commit
    if (target / "pyproject.toml").is_file():
        return target
    archive = subprocess.run(["git", "-C", str(root), "archive", commit], capture_output=True,
                             check=True).stdout
    partial = target.with_name(commit + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(partial, filter="data")
    partial.rename(target)
    return target


def resolve(side: Side, source: Path) -> list[str]:
    """The pinned requirements of the side's environment, as uv resolves them, keeping what
    is installed here wherever the pins allow."""
    wanted = "\n".join([f"{PROJECT} @ {source.as_uri()}", *side.requirements]) + "\n"
    with tempfile.TemporaryDirectory(prefix="harness-ab-") as tmp:
        # uv takes an existing output file's pins as its preferences.
        out = Path(tmp) / "requirements.txt"
        out.write_text("\n".join(installed()) + "\n", encoding="utf-8")
        done = _run_uv(["pip", "compile", "-", "--python", sys.executable, "--no-header",
                        "--no-annotate", "--quiet", "--output-file", str(out)], wanted)
        if done.returncode != 0:
            raise UsageError(f"{side.name}: the pins {' '.join(side.requirements) or '(none)'} "
                             f"cannot be resolved ({_reason(done.stderr, side)}); fix or drop "
                             "the pin")
        text = out.read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def installed() -> list[str]:
    """The pins of the environment harness ab runs in, the project itself left out."""
    done = _run_uv(["pip", "freeze", "--python", sys.executable])
    if done.returncode != 0:
        raise UsageError(f"uv cannot list this environment's packages: {done.stderr.strip()}")
    return [line for line in done.stdout.splitlines()
            if line.strip() and not line.startswith(("-e", "#")) and not _is_project(line)]


def _is_project(line: str) -> bool:
    return _package(line) in (DIST, DIST.replace("-", "_"))


def _reason(stderr: str, side: Side) -> str:
    """uv's explanation as one line: its cause paragraph, unwrapped, led by the pins it names."""
    # uv draws its explanation as a tree: its box-drawing marks are no part of the words.
    marks = " \u2570\u2500\u25b6\u00d7\u2502"
    lines = [ln.strip(marks) for ln in stderr.splitlines() if ln.strip(marks)]
    cause = [ln.removeprefix("cause:").strip() for ln in lines
             if not ln.startswith(("error:", "hint:", "help:"))]
    text = " ".join(cause or lines or ["uv gave no reason"])
    named = [pin for pin in side.requirements if pin.lower() in text.lower()
             or _package(pin) + " " in text.lower()]
    lead = f"{', '.join(named)}: " if named else ""
    return (lead + text)[:400]


def _package(pin: str) -> str:
    for i, ch in enumerate(pin):
        if ch in "<>=!~;[ @":
            return pin[:i].strip().lower()
    return pin.strip().lower()


def _key(resolved: list[str], source: Path) -> str:
    """The resolution (its project line names a path, so the project's files stand for it),
    the files and the interpreter."""
    digest = hashlib.sha256(sys.version.encode())
    for line in resolved:
        if not _is_project(line):
            digest.update(line.encode() + b"\n")
    for name in PROJECT_FILES:
        digest.update((source / name).read_bytes())
    for folder in PROJECT_DIRS:
        for path in sorted((source / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _install(target: Path, resolved: list[str], side: Side) -> None:
    """A fresh environment holding exactly the resolution; marked ready only when whole, so an
    interrupted build is rebuilt, never reused."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    made = _run_uv(["venv", "--quiet", "--python", sys.executable, str(target)])
    if made.returncode != 0:
        raise UsageError(f"{side.name}: uv venv failed: {_reason(made.stderr, side)}")
    lock = target / "requirements.txt"
    lock.write_text("\n".join(resolved) + "\n", encoding="utf-8")
    # uv's cache would reuse a wheel of the project built from other files of the same version.
    synced = _run_uv(["pip", "sync", "--quiet", "--python", str(target / "bin" / "python"),
                      "--reinstall-package", DIST, str(lock)])
    if synced.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise UsageError(f"{side.name}: installing its environment failed: "
                         f"{_reason(synced.stderr, side)}")
    (target / READY).write_text("\n".join(resolved) + "\n", encoding="utf-8")
