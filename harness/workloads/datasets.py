"""Deterministic datasets, generated once per (kind, size, seed) and cached on disk with a manifest.

Every engine reads the same files, so an engine's answer can be checked against the reference.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.config import data_dir
from harness.errors import UsageError
from harness.fsutil import fresh_dir
from harness.workloads.schema import CSV, Table

GENERATOR_VERSION = 1
CATEGORIES = ("A", "B", "C", "D")
START = pd.Timestamp("2024-01-01 00:00:00")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class CsvSpec:
    """The chapter's CSV parts: id, value, category (A-D), timestamp (1 s apart)."""

    files: int
    rows_per_file: int
    seed: int = 42

    @property
    def rows(self) -> int:
        return self.files * self.rows_per_file


@dataclass(frozen=True)
class Dataset:
    """A generated dataset on disk: its directory and its part files, in order."""

    path: Path
    files: tuple[Path, ...]
    # How an engine should cut the data (a sweep's layout axis); None = as the reader cuts it.
    npartitions: int | None = None

    @property
    def glob(self) -> str:
        return str(self.path / "part-*.csv")

    @property
    def nbytes(self) -> int:
        """Bytes on disk, over every part."""
        return sum(f.stat().st_size for f in self.files)


def csv_part(spec: CsvSpec, index: int) -> pd.DataFrame:
    """Part `index` of the dataset: its own seeded stream, so parts can be made independently."""
    rng = np.random.default_rng([spec.seed, index])
    n = spec.rows_per_file
    first = index * n
    return pd.DataFrame(
        {
            "id": np.arange(first, first + n, dtype="int64"),
            "value": rng.standard_normal(n),
            "category": np.asarray(CATEGORIES)[rng.integers(0, len(CATEGORIES), n)],
            "timestamp": START + pd.to_timedelta(np.arange(first, first + n), unit="s"),
        }
    )


def _write_csv_parts(spec: CsvSpec, target: Path) -> list[dict[str, Any]]:
    entries = []
    for i in range(spec.files):
        path = target / f"part-{i:03d}.csv"
        csv_part(spec, i).to_csv(path, index=False, date_format=TIMESTAMP_FORMAT)
        entries.append({"name": path.name, "rows": spec.rows_per_file, "sha256": _sha256(path)})
    return entries


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dataset_name(kind: str, spec: CsvSpec) -> str:
    return f"{kind}-f{spec.files}-r{spec.rows_per_file}-s{spec.seed}-v{GENERATOR_VERSION}"


Make = Callable[[Path], list[dict[str, Any]]]  # writes the parts into a directory, lists them


# Datasets whose files this process has checked against their manifest (or made itself):
# each is hashed at most once per process, while its inputs are prepared, never in a timed run.
_VERIFIED: set[Path] = set()


def materialize(kind: str, name: str, make: Make, meta: dict[str, Any]) -> Dataset:
    """Return the cached dataset `name`, generating it first if no manifest exists, and again
    (with a warning) if a file is missing or differs from its manifest's sha256."""
    final = _data_root() / name
    manifest_path = final / "manifest.json"
    if manifest_path.exists() and final not in _VERIFIED:
        problem = cache_problem(final)
        if problem:
            print(f"harness: warning: dataset {name}: {problem}; regenerating it",
                  file=sys.stderr, flush=True)
            _discard(final)
    if not manifest_path.exists():
        # A folder without its manifest (a hand-made copy, or left by a crash) is never a
        # finished dataset, which is renamed into place whole: it would block the rename.
        if final.exists() and not manifest_path.exists():
            print(f"harness: warning: dataset {name}: its folder has no manifest.json; "
                  "regenerating it", file=sys.stderr, flush=True)
            _discard(final)
        _generate(final, kind, make, meta)
    _VERIFIED.add(final)
    manifest = json.loads(manifest_path.read_text())
    files = tuple(final / f["name"] for f in manifest["files"])
    return Dataset(path=final, files=files)


def cache_problem(final: Path) -> str | None:
    """What is wrong with a cached dataset's files against its manifest, or None."""
    try:
        entries = json.loads((final / "manifest.json").read_text())["files"]
        listed = [(str(e["name"]), e.get("sha256")) for e in entries]
    except (OSError, ValueError, KeyError, TypeError):
        return "its manifest.json is unreadable"
    for name, digest in listed:
        if not (final / name).is_file():
            return f"{name} is missing"
        if digest is not None and _sha256(final / name) != digest:
            return f"{name} differs from the sha256 in its manifest.json"
    return None


def _discard(final: Path) -> None:
    """Move a corrupt dataset aside, then delete it: a reader never sees half of it."""
    aside = fresh_dir(final.parent, f".{final.name}-corrupt-")
    try:
        os.rename(final, aside / final.name)
    except FileNotFoundError:
        pass  # another process moved it first
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _data_root() -> Path:
    root = data_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create data directory {root} ({exc.strerror}); set HARNESS_DATA_DIR"
        ) from exc
    return root


def _generate(final: Path, kind: str, make: Make, meta: dict[str, Any]) -> None:
    """Write into a temp dir and rename it into place, so a half-made dataset is never used."""
    tmp = fresh_dir(final.parent, f".{final.name}-")
    try:
        files = make(tmp)
        manifest = {"kind": kind, "generator_version": GENERATOR_VERSION, **meta, "files": files}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "manifest.json").exists():  # not a concurrent writer that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def csv_dataset(spec: CsvSpec) -> Dataset:
    """The chapter's CSV parts for `spec`, generated on first use."""
    meta = {"files_count": spec.files, "rows_per_file": spec.rows_per_file, "seed": spec.seed,
            "rows": spec.rows, "columns": CSV.manifest()}
    make = functools.partial(_write_csv_parts, spec)
    return materialize("csv", _dataset_name("csv", spec), make, meta)


def read_csv_pandas(dataset: Dataset, table: Table = CSV) -> pd.DataFrame:
    """The reference reader: every part, concatenated, with the table's declared dtypes."""
    frames = [pd.read_csv(f, **table.read_kwargs()) for f in dataset.files]
    return pd.concat(frames, ignore_index=True)
