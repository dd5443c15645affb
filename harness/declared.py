"""Declarations the user can copy and edit (sweeps, suites): a shipped TOML file by name, or a
path to one of the user's own, read into a spec by the kind's own parser."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import UsageError

Spec = TypeVar("Spec")


def shipped(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def declared_path(name: str, folder: Path, kind: str) -> Path:
    """`folder/NAME.toml`, or NAME itself when it is a .toml path; else a UsageError."""
    choices = ", ".join(shipped(folder))
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"{kind} file {path} does not exist; give a .toml path or one "
                             f"of: {choices}")
        return path
    path = folder / f"{name}.toml"
    if not path.is_file():
        raise UsageError(f"unknown {kind} {name!r}; choose one of: {choices} (or give a path "
                         "to a .toml file)")
    return path


def load_declared(name: str, folder: Path, kind: str, example: str,
                  parse: Callable[[dict[str, Any], Path], Spec]) -> Spec:
    """The spec `parse` makes of the file; an unreadable or invalid one is one UsageError."""
    path = declared_path(name, folder, kind)
    try:
        return parse(tomllib.loads(path.read_text()), path)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{kind} file {path} is not a valid {kind} ({type(exc).__name__}: "
                         f"{exc}); see {example} for the format") from None


def check_keys(data: Any, keys: set[str], where: str) -> None:
    """A table of a declaration holds only the keys it may: a typo is named, with the list."""
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a table, got {data!r}")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise UsageError(f"{where}: unknown key {', '.join(unknown)} (known: "
                         f"{', '.join(sorted(keys))})")
