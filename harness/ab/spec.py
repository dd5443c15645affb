"""An A/B declaration: the sides (requirement pins, a git ref, parameter values) and the cells.

The TOML the user edits (`harness ab SPEC.toml`), or the same built from the command line
(`harness ab --variant "dask==2026.7.1 distributed==2026.7.1"`). Everything is checked here,
before any environment is built or any cell runs.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import config
from harness.declared import check_keys
from harness.errors import UsageError
from harness.suites.spec import SuiteSpec, check_workload_params, load_suite, parse_suite

DEFAULT_ROUNDS = 4
# Each round gives one run per side; the run-to-run test needs three baseline runs.
MIN_ROUNDS = 3
CONTROL = "A/A"
SIDE_KEYS = {"name", "requirements", "ref", "params"}
TOP_KEYS = {"title", "rounds", "control", "cells", "baseline", "variant"}
CELL_KEYS = {"suite", "workloads", "engines", "size", "repeat", "warmup", "timeout_s"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Side:
    """One environment: pins over the project's own requirements, the project at a git ref
    (None: the working tree), and parameter values of some workloads. A side with no pins and
    no ref runs in the environment `harness ab` itself runs in."""

    name: str
    requirements: tuple[str, ...] = ()
    ref: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def built(self) -> bool:
        """Whether the side needs an environment of its own."""
        return bool(self.requirements) or self.ref is not None


@dataclass(frozen=True)
class AbSpec:
    title: str
    baseline: Side
    variants: tuple[Side, ...]
    cells: SuiteSpec
    rounds: int = DEFAULT_ROUNDS
    control: bool = True  # the A/A copy of the baseline in the same interleaving

    @property
    def sides(self) -> list[tuple[str, Side]]:
        """Every side run in a round, by label: the baseline, its A/A copy, the variants."""
        out = [(self.baseline.name, self.baseline)]
        if self.control:
            out.append((f"{self.baseline.name} ({CONTROL})", self.baseline))
        return out + [(v.name, v) for v in self.variants]

    def params(self, side: Side) -> dict[str, dict[str, Any]]:
        """The suite's parameter values with the side's over them, key by key."""
        merged = {w: dict(v) for w, v in self.cells.params.items()}
        for workload, values in side.params.items():
            merged.setdefault(workload, {}).update(values)
        return merged

    def suite_toml(self, side: Side) -> str:
        """The suite one side's `harness run` reads: the cells, with the side's parameters."""
        c = self.cells
        lines = [f"title = {_quote(self.title + ': ' + side.name)}", f"size = {_quote(c.size)}",
                 f"repeat = {c.repeat}", f"timeout_s = {c.timeout_s}",
                 f"workloads = [{', '.join(_quote(w) for w in c.workloads)}]",
                 f"engines = [{', '.join(_quote(e) for e in c.engines)}]"]
        if c.warmup is not None:
            lines.append(f"warmup = {c.warmup}")
        for workload, values in self.params(side).items():
            lines.append(f"[params.{_quote(workload)}]")
            lines += [f"{_quote(k)} = {_value(v, f'{workload}.{k}')}"
                      for k, v in values.items()]
        return "\n".join(lines) + "\n"


def folder(label: str) -> str:
    """A side's records folder. Side names are already safe file names; the A/A copy's gets
    a mark no side name may hold, so no name can land in another side's folder."""
    return label.replace(f" ({CONTROL})", "@A-A")


def _quote(text: str) -> str:
    # A JSON string is a TOML basic string, newlines and quotes escaped alike.
    return json.dumps(text)


def _value(v: Any, name: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x, name) for x in v) + "]"
    raise UsageError(f"params {name}: a parameter value is a number, string, boolean or list, "
                     f"got {v!r}")


def load_spec(path: Path) -> AbSpec:
    """The declaration in `path`; any problem is one UsageError naming it and the fix."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no A/B file {path}; copy the README's example and edit it") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read A/B file {path}: {exc}") from None
    return parse_spec(data, str(path))


def parse_spec(data: dict[str, Any], where: str) -> AbSpec:
    check_keys(data, TOP_KEYS, where)
    variants = data.get("variant", [])
    if isinstance(variants, dict):
        variants = [variants]
    if not isinstance(variants, list) or not variants:
        raise UsageError(f"{where}: declare at least one [[variant]] to compare with the baseline")
    baseline = _side(data.get("baseline", {"name": "baseline"}), "baseline", where)
    sides = [baseline, *(_side(v, f"variant-{i + 1}", where) for i, v in enumerate(variants))]
    names = [s.name for s in sides]
    if len(set(names)) != len(names):
        raise UsageError(f"{where}: every side needs its own name, got {', '.join(names)}")
    cells = _cells(data.get("cells", {}), where)
    rounds = _int(data.get("rounds", DEFAULT_ROUNDS), "rounds", where)
    if rounds < MIN_ROUNDS:
        raise UsageError(f"{where}: rounds must be at least {MIN_ROUNDS} (each round is one run "
                         f"a side; the run-to-run test needs {MIN_ROUNDS}), got {rounds}")
    control = data.get("control", True)
    if not isinstance(control, bool):
        raise UsageError(f"{where}: control is true or false (the A/A copy of the baseline)")
    title = data.get("title", "A/B")
    if not isinstance(title, str):
        raise UsageError(f"{where}: title is a string, got {title!r}")
    spec = AbSpec(title=title, baseline=baseline, variants=tuple(sides[1:]), cells=cells,
                  rounds=rounds, control=control)
    for side in sides:
        _check_side_suite(spec, side, where)
    return spec


def _int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where}: {name} must be a whole number, got {value!r}")
    return value


def _side(data: Any, label: str, where: str) -> Side:
    check_keys(data, SIDE_KEYS, f"{where} [{label}]")
    name = str(data.get("name", label))
    if not _NAME.match(name):
        raise UsageError(f"{where}: side name {name!r} must be letters, digits, . _ + -")
    reqs = data.get("requirements", [])
    if isinstance(reqs, str):
        reqs = reqs.split()
    if not isinstance(reqs, list) or not all(isinstance(r, str) and r.strip() for r in reqs):
        raise UsageError(f"{where}: {name}: requirements is a list of pins like "
                         "\"dask==2026.9.0\"")
    ref = data.get("ref")
    if ref is not None and (not isinstance(ref, str) or not ref.strip()):
        raise UsageError(f"{where}: {name}: ref is a git ref of this project, like \"main\"")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise UsageError(f"{where}: {name}: params holds one table per workload, like "
                         "params.delayed-sleep = { sleep_s = 0.04 }")
    return Side(name, tuple(r.strip() for r in reqs), ref, {k: dict(v) for k, v in params.items()})


def _cells(data: Any, where: str) -> SuiteSpec:
    """The cells: a declared suite (default: nightly), with any of its values replaced."""
    check_keys(data, CELL_KEYS, f"{where} [cells]")
    suite = load_suite(str(data.get("suite", "nightly")))
    values: dict[str, Any] = {}
    for key in ("workloads", "engines"):
        if key in data:
            values[key] = tuple(_names(data[key], key, where))
    if "size" in data:
        if data["size"] not in config.SIZES:
            raise UsageError(f"{where}: unknown size {data['size']!r}; choose one of: "
                             f"{', '.join(config.SIZES)}")
        values["size"] = str(data["size"])
    for key in ("repeat", "warmup"):
        if key in data:
            values[key] = _int(data[key], key, where)
    if "timeout_s" in data:
        values["timeout_s"] = _seconds(data["timeout_s"], where)
    # Validated the way a suite file is: through its own parser.
    merged = {"title": suite.title, "size": suite.size, "repeat": suite.repeat,
              "workloads": list(suite.workloads), "engines": list(suite.engines),
              "timeout_s": suite.timeout_s, **({"warmup": suite.warmup} if suite.warmup is not
                                               None else {}),
              "params": suite.params}
    merged |= {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    try:
        return parse_suite(merged, Path(f"{suite.name}.toml"))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{where} [cells]: {exc}") from None


def _names(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise UsageError(f"{where} [cells]: {key} is a list of names, like "
                         f"{key} = [\"csv-groupby\"], got {value!r}")
    return value


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{where} [cells]: timeout_s is a number of seconds above 0, got "
                         f"{value!r}")
    return float(value)


def _check_side_suite(spec: AbSpec, side: Side, where: str) -> None:
    """The suite this side's run will read, parsed as that run will parse it: a value the
    suite format cannot hold fails now, not in round 1."""
    try:
        check_workload_params(spec.params(side), spec.cells.workloads, spec.cells.size)
        parse_suite(tomllib.loads(spec.suite_toml(side)), Path(f"{folder(side.name)}.toml"))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {side.name}: {exc}") from None


def spec_from_flags(variants: list[str], rounds: int | None, cells: dict[str, Any]) -> AbSpec:
    """`harness ab --variant PINS...`: the baseline is this environment, each variant its pins."""
    data: dict[str, Any] = {"title": "A/B", "baseline": {"name": "installed"},
                            "variant": [{"name": f"variant-{i + 1}", "requirements": v.split()}
                                        for i, v in enumerate(variants)], "cells": cells}
    if rounds is not None:
        data["rounds"] = rounds
    return parse_spec(data, "harness ab")
