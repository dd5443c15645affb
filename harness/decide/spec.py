"""A decision file: the question, the options, the jobs that stand for the team's work, and
the drivers (what is minimised, the limits an option must keep, the data size to grow to).

The TOML the user copies and edits (`harness/decide/specs/` ships three). Everything is
checked here, before any record is read or any cell runs; each problem is one UsageError
naming the key, the file and the fix.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import config
from harness.declared import check_keys, load_declared, shipped
from harness.engines.registry import get_engine
from harness.errors import UsageError
from harness.workloads.registry import get_workload

SPEC_DIR = Path(__file__).parent / "specs"
MINIMISE = {
    "warm": "warm wall time (median of the steady runs)",
    "cold": "cold wall time with start-up (the job's first run in its engine session, plus "
            "the engine's start-up)",
    "memory": "peak tree memory (the larger of the sampled sum and the high-water marks)",
}
STATUSES = ("proposed", "accepted", "rejected", "deprecated")
TOP_KEYS = {"title", "number", "status", "decision_makers", "consulted", "informed",
            "question", "context", "minimise", "limits", "growth", "option", "job",
            "supersedes", "runs", "repeat"}
OPTION_KEYS = {"name", "engine", "workers", "threads", "params", "description"}
JOB_KEYS = {"workload", "size", "weight", "why"}
LIMIT_KEYS = {"peak_memory_gib", "startup_s"}
GROWTH_KEYS = {"workload", "grow_to_gb", "sweep"}
_SLUG = re.compile(r"[^a-z0-9]+")
_DANGLING = {"a", "an", "and", "or", "the", "of", "on", "for", "to", "in", "with"}
DEFAULT_RUNS = 3  # the run-to-run test of `harness compare` needs three runs an option
DEFAULT_REPEAT = 7


@dataclass(frozen=True)
class Option:
    """One way to run the jobs: an engine, optionally its workers x threads and layout
    parameters per workload."""

    name: str
    engine: str
    workers: int | None = None
    threads: int | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""

    @property
    def config_text(self) -> str:
        if self.workers is None and self.threads is None:
            return self.engine
        return f"{self.engine} {self.workers or 1}x{self.threads or 1}"


@dataclass(frozen=True)
class Job:
    """A workload at a size, weighted by how much of the team's work it stands for."""

    workload: str
    size: str
    weight: float = 1.0
    why: str = ""

    @property
    def label(self) -> str:
        return f"{self.workload} ({self.size})"


@dataclass(frozen=True)
class Limits:
    peak_memory_gib: float | None = None
    startup_s: float | None = None


@dataclass(frozen=True)
class Growth:
    """The data size the team expects to reach, and the sweep that measures how each
    option's time and memory grow with the data of one workload."""

    workload: str
    grow_to_gb: float
    sweep: str | None = None


@dataclass(frozen=True)
class Decision:
    title: str
    question: str
    options: tuple[Option, ...]
    jobs: tuple[Job, ...]
    minimise: str = "warm"
    limits: Limits = Limits()
    growth: Growth | None = None
    number: int | None = None
    status: str = "proposed"
    decision_makers: tuple[str, ...] = ()
    consulted: tuple[str, ...] = ()
    informed: tuple[str, ...] = ()
    context: str = ""
    supersedes: tuple[str, ...] = ()
    runs: int = DEFAULT_RUNS
    repeat: int = DEFAULT_REPEAT
    path: str = ""

    @property
    def slug(self) -> str:
        """The title as a file name, cut at a word under 50 characters."""
        words = _SLUG.sub("-", self.title.lower()).strip("-").split("-")
        out = words[0]
        for word in words[1:]:
            if len(out) + 1 + len(word) > 50:
                break
            out += "-" + word
        kept = out.split("-")
        while len(kept) > 1 and kept[-1] in _DANGLING:
            kept.pop()
        return "-".join(kept) or "decision"


def decision_names() -> list[str]:
    return shipped(SPEC_DIR)


def load_decision(name: str) -> Decision:
    """A shipped decision by name, or a path to the user's own file; its commands name it
    as the user did."""
    decision = load_declared(name, SPEC_DIR, "decision",
                             "harness/decide/specs/dask-or-pyspark.toml", _parse_at)
    return dataclasses.replace(decision, path=name)


def _parse_at(data: dict[str, Any], path: Path) -> Decision:
    return parse_decision(data, str(path))


def parse_decision(data: dict[str, Any], where: str) -> Decision:
    check_keys(data, TOP_KEYS, where)
    title = _text(data, "title", where, required=True)
    options = tuple(_option(o, i, where) for i, o in enumerate(_tables(data, "option", where)))
    if len(options) < 2:
        raise UsageError(f"{where}: a decision weighs at least two [[option]] tables, got "
                         f"{len(options)}")
    names = [o.name for o in options]
    if len(set(names)) != len(names):
        raise UsageError(f"{where}: every [[option]] needs its own name, got {', '.join(names)}")
    jobs = tuple(_job(j, i, where) for i, j in enumerate(_tables(data, "job", where)))
    if not jobs:
        raise UsageError(f"{where}: name at least one [[job]] (a workload and a size)")
    if len({(j.workload, j.size) for j in jobs}) != len(jobs):
        raise UsageError(f"{where}: a [[job]] is listed twice; give each workload and size once")
    for option in options:
        _check_option_params(option, jobs, where)
    minimise = data.get("minimise", "warm")
    if minimise not in MINIMISE:
        raise UsageError(f"{where}: minimise is one of {', '.join(MINIMISE)}, got {minimise!r}")
    status = data.get("status", "proposed")
    if status not in STATUSES:
        raise UsageError(f"{where}: status is one of {', '.join(STATUSES)}, got {status!r}")
    return Decision(
        title=title, question=_text(data, "question", where, required=True).strip(),
        options=options, jobs=jobs, minimise=minimise, limits=_limits(data, where),
        growth=_growth(data.get("growth"), jobs, where), number=_number(data, where),
        status=status, decision_makers=_names(data, "decision_makers", where),
        consulted=_names(data, "consulted", where), informed=_names(data, "informed", where),
        context=_text(data, "context", where).strip(),
        supersedes=_names(data, "supersedes", where),
        runs=_positive_int(data.get("runs", DEFAULT_RUNS), "runs", where),
        repeat=_positive_int(data.get("repeat", DEFAULT_REPEAT), "repeat", where), path=where)


def _tables(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise UsageError(f"{where}: {key} is an array of tables: write [[{key}]] once per entry")
    return value


def _text(data: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise UsageError(f"{where}: {key} is {'a non-empty' if required else 'a'} string, got "
                         f"{value!r}")
    return value


def _names(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key} is a list of strings, got {value!r}")
    return tuple(value)


def _positive_int(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{where}: {key} is a whole number of at least 1, got {value!r}")
    return value


def _positive(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{where}: {key} is a number above 0, got {value!r}")
    return float(value)


def _number(data: dict[str, Any], where: str) -> int | None:
    if "number" not in data:
        return None
    number = _positive_int(data["number"], "number", where)
    if number > 9999:
        raise UsageError(f"{where}: number is at most 9999 (records are NNNN-title.md)")
    return number


def _option(data: dict[str, Any], index: int, where: str) -> Option:
    at = f"{where} [[option]] {index + 1}"
    check_keys(data, OPTION_KEYS, at)
    engine = _text(data, "engine", at, required=True)
    try:
        get_engine(engine)
    except UsageError as exc:
        raise UsageError(f"{at}: {exc}") from None
    workers = data.get("workers")
    threads = data.get("threads")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise UsageError(f"{at}: params holds one table per workload, like "
                         "params.csv-groupby = { npartitions = 8 }")
    return Option(name=_text(data, "name", at, required=True), engine=engine,
                  workers=None if workers is None else _positive_int(workers, "workers", at),
                  threads=None if threads is None else _positive_int(threads, "threads", at),
                  params={k: dict(v) for k, v in params.items()},
                  description=_text(data, "description", at).strip())


def _job(data: dict[str, Any], index: int, where: str) -> Job:
    at = f"{where} [[job]] {index + 1}"
    check_keys(data, JOB_KEYS, at)
    workload = _text(data, "workload", at, required=True)
    try:
        get_workload(workload)
    except UsageError as exc:
        raise UsageError(f"{at}: {exc}") from None
    size = data.get("size", "small")
    if size not in config.SIZES:
        raise UsageError(f"{at}: size is one of {', '.join(config.SIZES)}, got {size!r}")
    return Job(workload, size, _positive(data.get("weight", 1.0), "weight", at),
               _text(data, "why", at).strip())


def _check_option_params(option: Option, jobs: tuple[Job, ...], where: str) -> None:
    for workload, values in option.params.items():
        job = next((j for j in jobs if j.workload == workload), None)
        if job is None:
            raise UsageError(f"{where}: option {option.name!r} sets params.{workload}, which no "
                             "[[job]] runs")
        known = get_workload(workload).params(job.size)
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UsageError(f"{where}: option {option.name!r}: {workload} has no parameter "
                             f"{', '.join(unknown)} (it has {', '.join(sorted(known))})")


def _limits(data: dict[str, Any], where: str) -> Limits:
    raw = data.get("limits", {})
    check_keys(raw, LIMIT_KEYS, f"{where} [limits]")
    return Limits(**{k: _positive(v, k, f"{where} [limits]") for k, v in raw.items()})


def _shown(path: Path) -> str:
    """A path as short as a command line can take it: relative under the working folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def _growth(raw: Any, jobs: tuple[Job, ...], where: str) -> Growth | None:
    if raw is None:
        return None
    at = f"{where} [growth]"
    check_keys(raw, GROWTH_KEYS, at)
    workload = _text(raw, "workload", at, required=True)
    if workload not in {j.workload for j in jobs}:
        raise UsageError(f"{at}: workload {workload!r} is none of the [[job]] workloads")
    sweep = raw.get("sweep")
    if sweep is not None and not isinstance(sweep, str):
        raise UsageError(f"{at}: sweep names a sweep (or a sweep file), got {sweep!r}")
    if sweep and sweep.endswith(".toml") and not Path(sweep).is_absolute():
        # A sweep file is found beside the decision file that names it.
        beside = Path(where).parent / sweep
        if not beside.is_file():
            raise UsageError(f"{at}: no sweep file {beside}; give a shipped sweep's name or a "
                             "path beside the decision file")
        sweep = _shown(beside)
    return Growth(workload, _positive(raw.get("grow_to_gb"), "grow_to_gb", at), sweep)
