"""Declarations the user can copy and edit (sweeps, suites): a shipped TOML file by name, or a
path to one of the user's own, read into a spec by the kind's own parser.

A file's shape (keys, types, ranges) is a pydantic model, so a typo or a wrong type is named
with its key and the file, in one line, before anything runs; what depends on the harness's
registries (a workload's name, its axes) the kind's parser checks after.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

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
    see = f"see {example} for the format"
    try:
        return parse(tomllib.loads(path.read_text()), path)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{kind} file {path} is not a valid {kind} ({type(exc).__name__}: "
                         f"{exc}); {see}") from None
    except ValueError as exc:
        raise UsageError(f"{kind} file {path}: {exc}; {see}") from None


class Table(BaseModel):
    """A table of a declaration: the keys it declares and no others, each of its TOML type."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], data: dict[str, Any]) -> Model:
    """The file's data as `model`; the first problem as a ValueError naming its key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValueError(describe(errors[0], model) + more) from None


def describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One schema problem: `[study #1] axes: expected a table, got 3`."""
    loc = error["loc"]
    where = key_path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        known = ", ".join(fields_at(model, loc[:-1]))
        return f"{where}: unknown key (known: {known})"
    if kind == "missing":
        return f"{where}: missing (required)"
    if kind == "list_type" and fields_at(model, loc):
        return f"{where}: expected [[{loc[-1]}]] tables, got a single table or a value"
    return f"{where}: {_problem(error)}, got {_shown(error['input'])}"


def key_path(loc: tuple[int | str, ...]) -> str:
    """('study', 0, 'axes') -> '[study #1] axes'; ('repeat',) -> 'repeat'."""
    words = [f" #{part + 1}" if isinstance(part, int) else f".{part}" for part in loc]
    if len(loc) > 1 and isinstance(loc[-1], str):
        return f"[{''.join(words[:-1]).lstrip('.')}] {loc[-1]}"
    return "".join(words).lstrip(".")


_EXPECTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string",
             "list_type": "a list", "dict_type": "a table", "model_type": "a table",
             "model_attributes_type": "a table", "bool_type": "true or false",
             "finite_number": "a finite number"}


def _problem(error: ErrorDetails) -> str:
    ctx = error.get("ctx", {})
    if error["type"] in _EXPECTED:
        return f"expected {_EXPECTED[error['type']]}"
    if error["type"] == "literal_error":
        return f"expected {ctx['expected']}"
    bounds = {"greater_than_equal": "at least {ge}", "greater_than": "more than {gt}",
              "less_than_equal": "at most {le}", "too_short": "at least {min_length} item(s)",
              "too_long": "at most {max_length} item(s)"}
    if error["type"] in bounds:
        return "expected " + bounds[error["type"]].format(**ctx)
    return error["msg"][0].lower() + error["msg"][1:]


def _shown(value: Any) -> str:
    """The value as the file spells it (`[false, 1]`, `"x"`), near enough: JSON, not repr."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # a TOML date or time
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the table at `loc` may hold (list indexes and dict keys pass through)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not _is_model(current):
            continue
        field = current.model_fields.get(part)
        current = _model_in(field.annotation) if field else None
    return sorted(current.model_fields) if _is_model(current) else []


def _model_in(annotation: Any) -> Any:
    """The model a field holds, itself or inside list[...], X | None, Annotated[...]."""
    if _is_model(annotation):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def check_keys(data: Any, keys: set[str], where: str) -> None:
    """A table of a declaration holds only the keys it may: a typo is named, with the list."""
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a table, got {data!r}")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise UsageError(f"{where}: unknown key {', '.join(unknown)} (known: "
                         f"{', '.join(sorted(keys))})")
