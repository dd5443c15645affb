"""The `harness` command line: parse, validate, call; exit codes are decided here.

Exit codes: 0 all ok, 1 a run failed or gave a wrong answer (recorded; the run went on), 2 bad
input (one line on stderr naming the problem and the fix; nothing written), 130 interrupted.
Commands import what they need when they run, so `harness --help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from harness import config
from harness.errors import UsageError, interrupt_on_sigterm
from harness.lifeline import command_interrupts

if TYPE_CHECKING:
    from harness.ab.spec import AbSpec
    from harness.ab.verdict import AbResult
    from harness.engines.base import EngineOptions
    from harness.execution.runner import Plan
    from harness.reporting.document import Report
    from harness.results.schema import Record
    from harness.sweep.plan import SweepPlan

INTERRUPTED = 130
WARMUP_HELP = ("warm-up runs per cell between the cold run and the counted ones (recorded, "
               "not counted; default: each engine's own, spark 5, others 0)")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as the one line every bad input gets (usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="workloads, engines and sizes")
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    run = sub.add_parser("run", help="run workloads on engines; record, summarize, report")
    run.add_argument("-w", "--workload", action="append", default=[],
                     help="workload name (repeatable; default: the quick suite)")
    run.add_argument("-e", "--engine", action="append", default=[],
                     help="engine name (repeatable; default: every available engine)")
    run.add_argument("--suite", metavar="NAME_OR_FILE",
                     help="a declared suite (nightly, or a path to a suite .toml): its "
                          "workloads, engines, size and repeats")
    run.add_argument("--size", help=f"one of {', '.join(config.SIZES)} (default: small, or the "
                     "suite's)")
    run.add_argument("--workers", type=int, help="worker processes (default: logical cores)")
    run.add_argument("--threads", type=int, help="threads per worker")
    run.add_argument("--repeat", type=int,
                     help="runs per cell that count, the first one cold (default: "
                          f"{config.DEFAULT_REPEAT}, or the suite's)")
    run.add_argument("--warmup", type=int, metavar="N", help=WARMUP_HELP)
    run.add_argument("--timeout", type=float, default=config.DEFAULT_CELL_TIMEOUT_S,
                     help="seconds one run may take before it is recorded as a timeout")
    run.add_argument("--memory-budget", type=float, metavar="GIB",
                     help="stop a run whose process tree passes this many GiB; recorded as "
                          "over-memory")
    run.add_argument("--out", type=Path, help="append records to this .jsonl file")
    run.add_argument("--report-dir", type=Path, help="where to render the report")
    run.add_argument("--no-report", action="store_true", help="skip rendering the report")
    run.add_argument("--dask-address", help="use an existing Dask scheduler (dask-distributed)")
    run.add_argument("--spark-master", help="use an existing Spark master URL (spark)")
    run.add_argument("--diagnostics", action="store_true",
                     help="also keep each run's engine diagnostics beside the records: Dask's "
                          "performance_report (dask-distributed), Spark's event log (spark)")

    sw = sub.add_parser("sweep", help="run a declared sweep (harness list shows them); "
                        "each cell in a fresh process")
    sw.add_argument("name", help="a shipped sweep's name, or a path to a sweep .toml")
    sw.add_argument("--size", help="size for the axes' other parameters (default: the sweep's)")
    sw.add_argument("--resume", action="store_true",
                    help="skip cells already recorded in the output file; run the rest")
    sw.add_argument("--out", type=Path,
                    help="records file (default: results/sweeps/NAME-SIZE.jsonl)")
    sw.add_argument("--budget", type=float, metavar="MINUTES",
                    help="fit the sweep to this many minutes: fewer repeats, then trim the "
                         "costliest ends of the axes (it says what it trimmed)")
    sw.add_argument("--repeat", type=int, help="runs per cell that count, the first one cold "
                    "(default: the sweep's)")
    sw.add_argument("--warmup", type=int, metavar="N", help=WARMUP_HELP)
    sw.add_argument("--timeout", type=float, help="seconds one run may take (default: the "
                    "sweep's)")
    sw.add_argument("--memory-budget", type=float, metavar="GIB",
                    help="stop a cell whose process tree passes this many GiB (default: the "
                         "sweep's, if any)")
    sw.add_argument("--report-dir", type=Path, help="where to render the sweep's report")
    sw.add_argument("--no-report", action="store_true", help="skip rendering the report")
    sw.add_argument("--dry-run", action="store_true",
                    help="print the plan and its estimate, run nothing")

    cal = sub.add_parser("calibrate", help="measure the harness's own effect on wall time: "
                         "each instrument on and off, interleaved, with intervals")
    cal.add_argument("-w", "--workload", action="append", default=[],
                     help="workload name (repeatable; default: csv-groupby, bag-logs)")
    cal.add_argument("-e", "--engine", action="append", default=[],
                     help="engine name (repeatable; default: dask-threads, dask-distributed, "
                          "spark, those available)")
    cal.add_argument("--size", default="small", help=f"one of {', '.join(config.SIZES)}")
    cal.add_argument("--rounds", type=int, default=8,
                     help="runs of each condition, interleaved (default: %(default)s)")
    cal.add_argument("--timeout", type=float, default=config.DEFAULT_CELL_TIMEOUT_S,
                     help="seconds one run may take before it is recorded as a timeout")
    cal.add_argument("--report-dir", type=Path, help="where to render the report")
    cal.add_argument("--no-report", action="store_true", help="skip rendering the report")

    cmp = sub.add_parser("compare", help="is NEW worse than BASELINE? slower, more memory, "
                         "failing, with statistics; exit 1 when it is")
    cmp.add_argument("baseline", type=Path, help="baseline results: a .jsonl file or a folder")
    cmp.add_argument("new", type=Path, help="new results: a .jsonl file or a folder")
    cmp.add_argument("--factor", type=float, default=1.10,
                     help="smallest ratio called a change (default: %(default)s, i.e. 10 %%; peak "
                          "memory is judged at no less than 1.25, cold runs and start-up at 1.5)")
    cmp.add_argument("--all", action="store_true", help="show every row, not only changes")
    cmp.add_argument("--json", action="store_true",
                     help='print {"verdict": ..., "rows": [...]} instead of the table')
    cmp.add_argument("--md", type=Path, metavar="FILE",
                     help="also write the verdict as Markdown (for a CI step summary)")
    cmp.add_argument("--out", type=Path, metavar="DIR",
                     help="also render a report with a plot of every cell's ratio")

    hist = sub.add_parser("history", help="since when did a cell move? steps, creep and noise "
                          "over many runs; exit 1 when the newest runs sit on a regression")
    hist.add_argument("results", nargs="+", type=Path,
                      help="results: .jsonl files or folders of them (a folder of nights)")
    hist.add_argument("--factor", type=float, default=1.10,
                      help="smallest step called (default: %(default)s; peak memory is judged "
                           "at no less than 1.25, cold runs and start-up at 1.5)")
    hist.add_argument("--window", type=int, default=50,
                      help="analyse the newest N runs (default: %(default)s)")
    hist.add_argument("--since", metavar="RUN_OR_DATE",
                      help="start the history at this run_id or date (e.g. after accepting a "
                           "regression)")
    hist.add_argument("--all", action="store_true", help="list every series, not only changes")
    hist.add_argument("--json", action="store_true", help="print the history as JSON")
    hist.add_argument("--md", type=Path, metavar="FILE",
                      help="also write the verdict as Markdown (for a CI step summary)")
    hist.add_argument("--out", type=Path, metavar="DIR",
                      help="also render a report with a time-series plot per changed cell")

    ab = sub.add_parser("ab", help="the same cells in a baseline and variant environments, "
                        "interleaved, with an A/A control first; the verdict is compare's")
    ab.add_argument("spec", nargs="?", type=Path, metavar="SPEC.toml",
                    help="the A/B declaration (sides, cells, rounds); see the README")
    ab.add_argument("--variant", action="append", default=[], metavar="PINS",
                    help="without a SPEC: a variant of this environment, as space-separated "
                         "pins (\"dask==2026.7.1 distributed==2026.7.1\"); repeatable")
    ab.add_argument("--rounds", type=int, help="interleaved rounds (default: the SPEC's, or 4)")
    ab.add_argument("--factor", type=float, default=1.10,
                    help="smallest change called (default: %(default)s)")
    ab.add_argument("--results", type=Path, metavar="DIR",
                    help="where the sides' records go (default: results/ab-<time>)")
    ab.add_argument("--judge", type=Path, metavar="DIR",
                    help="judge the records of an earlier A/B of the same SPEC in DIR again, "
                         "building and running nothing")
    ab.add_argument("--build-only", action="store_true",
                    help="build (or find cached) every environment, print their times, stop")
    ab.add_argument("--all", action="store_true", help="list every row, not only changes")
    ab.add_argument("--json", action="store_true", help="print the verdict as JSON")
    ab.add_argument("--md", type=Path, metavar="FILE", help="also write the verdict as Markdown")
    ab.add_argument("--out", type=Path, metavar="DIR", help="also render the report with plots")

    dec = sub.add_parser("decide", help="write a MADR 4.0 decision record from the records: "
                         "options, drivers, the measured outcome, when to revisit")
    dec.add_argument("decision", metavar="DECISION",
                     help="a shipped decision's name (harness list) or a decision .toml")
    dec.add_argument("results", nargs="*", type=Path, metavar="RESULTS",
                     help="results .jsonl files or folders (besides the decision's own runs "
                          "under results/decide/)")
    dec.add_argument("--out", type=Path, default=Path("reports/decisions"), metavar="DIR",
                     help="where NNNN-title.md, .html and .json go (default: reports/decisions)")
    dec.add_argument("--date", help="the record's date, YYYY-MM-DD (default: $ADR_DATE, or "
                                    "today): for reproducible output")
    dec.add_argument("--run", action="store_true",
                     help="first measure the cells and the growth sweep the records lack")
    dec.add_argument("--json", action="store_true", help="print the decision as JSON")

    rep = sub.add_parser("report", help="render report.md, report.html and plots from results")
    rep.add_argument("results", nargs="+", type=Path, help="results .jsonl files")
    rep.add_argument("--out", type=Path, help="output directory (default: reports/latest)")
    rep.add_argument("--no-graphs", action="store_true",
                     help="skip the task-graph pictures (they build each workload at size tiny)")
    _cluster_parser(sub)
    for reader in (rep, cmp, hist, dec):
        reader.add_argument("--skip-bad-lines", action="store_true",
                            help="skip lines of the results files that are not records (a torn "
                                 "last line, another schema version), with a warning per file")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        commands = {"list": cmd_list, "run": cmd_run, "sweep": cmd_sweep,
                    "calibrate": cmd_calibrate, "report": cmd_report,
                    "compare": cmd_compare, "history": cmd_history, "ab": cmd_ab,
                    "decide": cmd_decide, "cluster": cmd_cluster}
        from harness.results.schema import bad_lines

        with bad_lines(getattr(args, "skip_bad_lines", None)), command_interrupts():
            return commands[args.command](args)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C before a command's own handler is in place (while the plan and the
        # environment are collected): nothing has started, nothing to stop.
        print("harness: interrupted before anything ran", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # `harness list | head`: the reader has gone, which is not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def cmd_list(args: argparse.Namespace) -> int:
    from harness.catalogue import catalogue
    from harness.workloads.contract import section_label

    cat = catalogue()
    if args.json:
        print(json.dumps(cat, indent=2))
        return 0
    print("Workloads:")
    for name, w in cat["workloads"].items():
        print(f"  {name:<18} {section_label(w['section']):<11} {w['title']}")
        print(f"  {'':<18} engines: {', '.join(w['engines'])}")
        for engine, reason in w["unsupported"].items():
            print(f"  {'':<18} not on {engine}: {reason}")
    print("Engines:")
    for name, e in cat["engines"].items():
        state = "available" if e["available"] else f"unavailable: {e['reason']}"
        print(f"  {name:<16} {e['description']} [{state}]")
    print("Suites (harness run --suite NAME):")
    for name, suite in cat["suites"].items():
        print(f"  {name:<18} {suite['title']}")
        print(f"  {'':<18} {len(suite['workloads'])} workloads x {len(suite['engines'])} engines "
              f"at {suite['size']}, {suite['repeat']} counted runs: "
              f"{', '.join(suite['workloads'])}")
    print("Sweeps (harness sweep NAME):")
    for name, sw in cat["sweeps"].items():
        print(f"  {name:<18} {sw['title']} ({sw['cells']} cells at {sw['size']})")
        for study in sw["studies"]:
            axes = " x ".join(_axis_summary(k, v) for k, v in study["axes"].items())
            print(f"  {'':<18} {study['workload']}: {axes}; engines: {', '.join(sw['engines'])}")
    print("Decisions (harness decide NAME --run):")
    for name, d in cat["decisions"].items():
        print(f"  {name:<18} {d['title']}")
        print(f"  {'':<18} options: {'; '.join(d['options'])}; jobs: {', '.join(d['jobs'])}")
    print("Sizes:")
    for name, text in cat["sizes"].items():
        print(f"  {name:<16} {text}")
    return 0


def _axis_summary(name: str, values: list[Any]) -> str:
    """'chunks 8' for a numeric axis; a categorical one's few choices by name: 'persist
    false/true'."""
    from harness.fmt import fmt_param
    from harness.sweep.spec import categorical

    return (f"{name} {'/'.join(map(fmt_param, values))}" if categorical(values)
            else f"{name} {len(values)}")


def resolve_engines(names: list[str]) -> tuple[list[str], list[str]]:
    """Engines to run, and notes on skipped ones; a named unavailable engine is an error."""
    from harness.engines.registry import ENGINES, get_engine

    if names:
        for name in names:
            reason = get_engine(name).unavailable_reason()
            if reason:
                raise UsageError(f"engine {name} is unavailable: {reason}")
        return list(dict.fromkeys(names)), []
    chosen, notes = [], []
    for name, cls in ENGINES.items():
        reason = cls.unavailable_reason()
        if reason:
            notes.append(f"skipping {name}: {reason}")
        else:
            chosen.append(name)
    return chosen, notes


def validate_run_args(
    args: argparse.Namespace,
) -> tuple[list[str], list[str], EngineOptions, list[str]]:
    """Check every flag before anything is written; return workloads, engines, options, notes."""
    from harness.engines.base import EngineOptions
    from harness.engines.registry import get_engine, probe_addresses, validate_options
    from harness.workloads.registry import QUICK_SUITE, get_workload

    engine_names = _apply_suite(args)
    workloads = list(dict.fromkeys(args.workload)) or list(QUICK_SUITE)
    for name in workloads:
        get_workload(name)
    for name in args.engine:
        get_engine(name)
    if args.size not in config.SIZES:
        raise UsageError(f"unknown size {args.size!r}; choose one of: {', '.join(config.SIZES)}")
    if args.repeat < 1:
        raise UsageError(f"--repeat must be at least 1 (the cold run), got {args.repeat}")
    _check_warmup(args)
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout must be positive seconds, got {args.timeout}")
    options = EngineOptions(workers=args.workers, threads=args.threads,
                            dask_address=args.dask_address, spark_master=args.spark_master)
    warnings = validate_options(options)
    if engine_names:
        engines, notes = _available(engine_names)
        if not engines:
            raise UsageError(f"no engine of suite {args.suite} can start here ("
                             + "; ".join(n.removeprefix("skipping ") for n in notes) + ")")
    else:
        engines, notes = resolve_engines(args.engine)
    probe_addresses(options, engines)
    return workloads, engines, options, [*warnings, *notes]


def _apply_suite(args: argparse.Namespace) -> list[str]:
    """Fill the run's flags from --suite (flags given beside it win); the suite's engines."""
    if not args.suite:
        args.size = args.size or "small"
        args.repeat = config.DEFAULT_REPEAT if args.repeat is None else args.repeat
        return []
    from harness.suites.spec import load_suite

    if args.workload or args.engine:
        raise UsageError("--suite names its own workloads and engines; drop -w/-e, or copy "
                         "the suite's .toml and edit it")
    suite = load_suite(args.suite)
    args.workload = list(suite.workloads)
    args.size = args.size or suite.size
    args.repeat = suite.repeat if args.repeat is None else args.repeat
    args.warmup = suite.warmup if args.warmup is None else args.warmup
    args.workload_params = suite.params
    if args.timeout == config.DEFAULT_CELL_TIMEOUT_S:
        args.timeout = suite.timeout_s
    return list(suite.engines)


def _available(names: list[str]) -> tuple[list[str], list[str]]:
    """A suite's engines this machine can start, and a note for each it cannot."""
    from harness.engines.registry import get_engine

    reasons = {n: get_engine(n).unavailable_reason() for n in names}
    return ([n for n, r in reasons.items() if not r],
            [f"skipping {n}: {r}" for n, r in reasons.items() if r])


def _writable_file(path: Path, flag: str) -> Path:
    if path.exists() and path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file path")
    if not path.exists():
        _creatable(path.parent, f"{flag} {path}: its folder")
        return path
    try:  # an existing file needs only to take appends, whatever its folder allows
        path.open("ab").close()  # appending nothing changes neither content nor mtime
    except OSError as exc:
        raise UsageError(f"{flag} {path} cannot be appended to ({exc.strerror or exc}); "
                         "choose another file") from None
    return path


def _check_work_dirs(*, data: bool = True) -> None:
    """The folders a run writes into besides its flags: datasets, and logs and records."""
    folders = [("results", "HARNESS_RESULTS_DIR", config.results_dir())]
    if data:
        folders.insert(0, ("data", "HARNESS_DATA_DIR", config.data_dir()))
    for what, variable, folder in folders:
        _creatable(folder, f"the {what} folder", f"set {variable} to a folder you can write")


def cmd_run(args: argparse.Namespace) -> int:
    from harness.execution.runner import Plan

    workloads, engines, options, notes = validate_run_args(args)
    budget = _memory_budget(args.memory_budget)
    out = _writable_file(args.out, "--out") if args.out else None
    _check_work_dirs()
    _check_report_dir(args)
    for note in notes:
        print(f"harness: {note}", file=sys.stderr)
    plan = Plan.new(workloads, engines, args.size, args.repeat, options, out, args.timeout,
                    args.warmup, workload_params=getattr(args, "workload_params", None))
    diagnostics = _diagnostics_dir(plan) if args.diagnostics else None
    return _run(replace(plan, memory_budget_bytes=budget, diagnostics=diagnostics), args)


def _diagnostics_dir(plan: Plan) -> Path:
    """--diagnostics: the run's folder beside its records, checked writable; says where."""
    from harness.execution.diagnostics import MARKS, run_folder

    folder = run_folder(plan.out, plan.run_id)
    _creatable(folder.parent, "--diagnostics: the diagnostics folder", "pass --out elsewhere")
    if not any(e in MARKS for e in plan.engines):
        print(f"harness: note: --diagnostics collects nothing on {', '.join(plan.engines)}; "
              f"only {' and '.join(MARKS)} have diagnostics", file=sys.stderr)
    else:
        print(f"harness: diagnostics: {folder}", file=sys.stderr)
    return folder


def _memory_budget(gib: float | None) -> int | None:
    """--memory-budget in bytes (None: no budget)."""
    if gib is None:
        return None
    if not (math.isfinite(gib) and gib > 0):
        raise UsageError(f"--memory-budget must be a positive number of GiB, got {gib}")
    return int(gib * 2**30)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from harness.calibration import DEFAULT_ENGINES, DEFAULT_WORKLOADS, calibration_plan
    from harness.engines.base import EngineOptions
    from harness.engines.registry import get_engine
    from harness.workloads.registry import get_workload

    workloads = list(dict.fromkeys(args.workload)) or list(DEFAULT_WORKLOADS)
    for name in workloads:
        get_workload(name)
    if args.size not in config.SIZES:
        raise UsageError(f"unknown size {args.size!r}; choose one of: {', '.join(config.SIZES)}")
    if args.rounds < 6:
        raise UsageError(f"--rounds must be at least 6 (the A/A control splits them in two "
                         f"halves of 3), got {args.rounds}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout must be positive seconds, got {args.timeout}")
    # Named engines must be available; of the defaults, those this machine lacks are left out.
    engines = (resolve_engines(args.engine)[0] if args.engine else
               [e for e in DEFAULT_ENGINES if get_engine(e).unavailable_reason() is None])
    _check_work_dirs()
    _check_report_dir(args)
    plan = calibration_plan(workloads, engines, args.size, args.rounds, EngineOptions(),
                            args.timeout)
    return _run(plan, args, "calibrate")


def _run(plan: Plan, args: argparse.Namespace, kind: str = "run") -> int:
    from harness import console
    from harness.execution.runner import run_plan

    err = console.stderr()
    err.print(f"run {plan.run_id}: {len(plan.workloads)} workload(s) x {len(plan.engines)} "
              f"engine(s) x {plan.repeats} counted repeat(s) (+ warm-ups: {plan.total_cells} "
              f"runs) at size {plan.size} -> {plan.out}")
    try:
        records = console.with_bar(err, plan.total_cells, lambda p: run_plan(plan, p))
        _echo_warnings(records)
        console.print_summary(records)
        if not args.no_report:
            _render(records, args.report_dir or config.reports_dir() / f"{kind}-{plan.run_id}")
    except KeyboardInterrupt:
        # Once interrupted, further Ctrl-Cs only hurry the clean-up (harness.lifeline): this
        # line is reached after every engine stopped, and printed whole.
        err.print(f"harness: interrupted: records so far are in {plan.out}; every engine was "
                  "stopped", soft_wrap=True, markup=False, highlight=False)
        return INTERRUPTED
    err.print(f"records: {plan.out}")
    return exit_code(records)


def cmd_sweep(args: argparse.Namespace) -> int:
    from harness.engines.registry import get_engine
    from harness.sweep.plan import default_out, plan_sweep
    from harness.sweep.spec import load_sweep

    spec = load_sweep(args.name)
    size = args.size or spec.size
    if size not in config.SIZES:
        raise UsageError(f"unknown size {size!r}; choose one of: {', '.join(config.SIZES)}")
    _check_positive(args)
    budget = _memory_budget(args.memory_budget)
    for engine in spec.engines:
        reason = get_engine(engine).unavailable_reason()
        if reason:
            raise UsageError(f"sweep {spec.name} needs engine {engine}, which is unavailable: "
                             f"{reason}")
    out = _writable_file(args.out or default_out(spec, size), "--out")
    _check_work_dirs()
    _check_report_dir(args)
    _check_warmup(args)
    plan = plan_sweep(spec, size, out, resume=args.resume, repeats=args.repeat,
                      timeout_s=args.timeout, memory_budget_bytes=budget,
                      budget_min=args.budget, warmups=args.warmup)
    return _sweep(plan, args)


def _sweep(plan: SweepPlan, args: argparse.Namespace) -> int:
    from harness import console
    from harness.results.schema import read_records
    from harness.sweep.run import run_sweep

    err = console.stderr()
    for line in console.plan_lines(plan):
        err.print(line)
    if args.dry_run:
        return 0
    try:
        records = console.with_bar(err, len(plan.cells), lambda p: run_sweep(plan, p))
    except KeyboardInterrupt:
        err.print(f"harness: interrupted: finished cells are in {plan.out}; every engine was "
                  f"stopped. `harness sweep {args.name} --size {plan.size} --out {plan.out} "
                  "--resume` runs the rest", soft_wrap=True, markup=False, highlight=False)
        return INTERRUPTED
    everything = read_records([plan.out]) if plan.out.exists() else records
    mine = [r for r in everything if r.sweep and r.sweep.get("name") == plan.spec.name]
    _echo_warnings(records)
    console.print_sweep_summary(mine)
    if not args.no_report and mine:
        default = config.reports_dir() / f"sweep-{plan.spec.name}-{plan.size}"
        _render(mine, args.report_dir or default)
    err.print(f"records: {plan.out}")
    return exit_code(records, over_memory_fails=False)


def _echo_warnings(records: list[Record]) -> None:
    """The warnings the run's sessions wrote to their logs (a corrupt dataset regenerated), once
    each on stderr: a session's stderr is its log, which nobody reads when all went well."""
    seen: dict[str, None] = {}
    for run_id, engine in dict.fromkeys((r.run_id, r.engine) for r in records):
        log = config.results_dir() / "logs" / f"{run_id}-{engine}.log"
        with contextlib.suppress(OSError):
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("harness: warning: "):
                    seen.setdefault(line, None)
    for line in seen:
        print(line, file=sys.stderr)


def exit_code(records: list[Record], over_memory_fails: bool = True) -> int:
    """1 when any run failed, gave a wrong answer or passed the memory budget the user set
    (a sweep's budget stopping a cell is the sweep finding where an engine stops fitting, so
    `harness sweep` passes over_memory_fails=False), else 0."""
    from harness.results.schema import FAILURES

    failures = FAILURES | {"over-memory"} if over_memory_fails else FAILURES
    return 1 if any(r.status in failures for r in records) else 0


def _check_report_dir(args: argparse.Namespace) -> None:
    """The report's folder (or the reports folder it goes under) can be written."""
    from harness.reporting.output import check_report_dir

    if args.no_report:
        return
    if args.report_dir:
        check_report_dir(args.report_dir.absolute())
        _creatable(args.report_dir.absolute().parent, f"--report-dir {args.report_dir}: its "
                   "parent")
    else:
        _creatable(config.reports_dir(), "the reports folder", "set HARNESS_REPORTS_DIR to a "
                   "folder you can write, or give --report-dir")


def _render(records: list[Record], report_dir: Path) -> None:
    from harness import console
    from harness.reporting.render import render_report

    path = render_report(records, report_dir)
    console.stderr().print(f"report: {path / 'report.html'} (also report.md)")


def _check_warmup(args: argparse.Namespace) -> None:
    if args.warmup is not None and not 0 <= args.warmup <= config.MAX_WARMUP:
        raise UsageError(f"--warmup must be between 0 and {config.MAX_WARMUP} runs, got "
                         f"{args.warmup}")


def _check_positive(args: argparse.Namespace) -> None:
    for flag, value in (("--repeat", args.repeat), ("--timeout", args.timeout),
                        ("--budget", args.budget)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{flag} must be a positive number, got {value}")


def cmd_report(args: argparse.Namespace) -> int:
    from harness.reporting.output import check_report_dir
    from harness.reporting.render import render_report
    from harness.results.schema import read_records

    out_dir = args.out or config.reports_dir() / "latest"
    check_report_dir(out_dir.absolute())
    _creatable(out_dir.absolute().parent,
               f"--out {args.out}: its parent" if args.out else "the reports folder",
               "choose another --out" if args.out else "set HARNESS_REPORTS_DIR to a folder "
               "you can write, or give --out")
    records = read_records(args.results)
    if not records:
        raise UsageError("the results files hold no records; run `harness run` first")
    out = render_report(records, out_dir, graphs=not args.no_graphs)
    print(f"report: {out / 'report.html'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness import console
    from harness.judge.compare import compare_paths
    from harness.judge.render import comparison_json
    from harness.reporting.compare_report import build_compare_report, write_markdown

    _check_verdict_outputs(args)
    comparison = compare_paths([args.baseline], [args.new], factor=args.factor)
    _emit_verdict(args, lambda: comparison_json(comparison),
                  lambda: console.print_comparison(comparison, args.all),
                  lambda: build_compare_report(comparison),
                  lambda path: write_markdown(comparison, path))
    return comparison.exit_code


def cmd_history(args: argparse.Namespace) -> int:
    from harness import console
    from harness.judge.history import history_paths
    from harness.judge.history_render import history_json
    from harness.reporting.history_report import build_history_report, write_history_markdown

    _check_verdict_outputs(args)
    hist = history_paths(args.results, factor=args.factor, window=args.window,
                         since=args.since)
    _emit_verdict(args, lambda: history_json(hist), lambda: console.print_history(hist, args.all),
                  lambda: build_history_report(hist),
                  lambda path: write_history_markdown(hist, path))
    return hist.exit_code


def cmd_ab(args: argparse.Namespace) -> int:
    import time

    from harness.ab import envs
    from harness.ab.rounds import run_rounds, side_records
    from harness.ab.spec import folder
    from harness.ab.verdict import ab_json, judge
    from harness.results.schema import now_iso

    spec = _ab_spec(args)
    if not (math.isfinite(args.factor) and args.factor > 1):
        raise UsageError(f"--factor must be above 1 (1.10 calls changes over 10 %), got "
                         f"{args.factor}")
    _check_verdict_outputs(args)
    if args.judge:
        return _emit_ab(args, _rejudge(spec, args.judge, args.factor))
    stamp = now_iso().replace(":", "").replace("-", "")[:15]
    # Absolute: each side runs with its own folder as the working directory.
    workdir = (args.results or config.results_dir() / f"ab-{stamp}").absolute()
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise UsageError(f"--results {workdir} already exists and is not an empty folder; name "
                         "a new folder")
    _creatable(workdir, "--results:")
    if not args.build_only:
        _check_work_dirs()
    started = time.perf_counter()
    sides = [spec.baseline, *spec.variants]
    build_all = any(side.built for side in sides)
    try:
        # A job runner's SIGTERM stops the rounds as Ctrl-C does: the run in flight is passed it.
        interrupt_on_sigterm()
        planned = [envs.plan(side, build_all=build_all) for side in sides]
        built = {}
        for side, one in zip(sides, planned, strict=True):
            built[side.name] = envs.build(one)
            print(f"harness: environment {side.name}: {built[side.name].how}", file=sys.stderr)
        if args.build_only:
            return 0
        runs = run_rounds(spec, built, workdir,
                          lambda line: print(f"harness: {line}", file=sys.stderr))
    except KeyboardInterrupt:
        # Each side's run had the same Ctrl-C and stopped its engines; an environment cut
        # short has no ready mark and is built again next time.
        print(f"harness: interrupted: the rounds so far are in {workdir}", file=sys.stderr)
        return INTERRUPTED
    records = {label: side_records(runs, label) for label, _ in spec.sides}
    result = judge(spec, records, built, time.perf_counter() - started, str(workdir),
                   args.factor)
    (workdir / "verdict.json").write_text(json.dumps(ab_json(result), indent=2,
                                                     allow_nan=False), encoding="utf-8")
    folders = ", ".join(folder(label) for label, _ in spec.sides)
    print(f"harness: records of every side under {workdir} ({folders})", file=sys.stderr)
    return _emit_ab(args, result)


def cmd_decide(args: argparse.Namespace) -> int:
    import datetime as dt

    from harness.decide.make import make
    from harness.decide.spec import load_decision

    decision = load_decision(args.decision)
    date = args.date or os.environ.get("ADR_DATE") or dt.date.today().isoformat()
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise UsageError(f"--date must be YYYY-MM-DD, got {date!r}") from None
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} is a file; name a folder for the decision records")
    _creatable(args.out, "--out:")
    if args.run:
        _check_work_dirs()
    try:
        interrupt_on_sigterm()
        made = make(decision, args.results, args.out, config.results_dir(), date, args.run,
                    lambda line: print(f"harness: {line}", file=sys.stderr))
    except KeyboardInterrupt:
        print("harness: interrupted: the runs so far are kept; run again to go on",
              file=sys.stderr)
        return INTERRUPTED
    if args.json:
        print(json.dumps(made.written.data, indent=2, allow_nan=False))
    else:
        print(made.written.data["sentence"])
    md = next(p for p in made.paths if p.suffix == ".md")
    print(f"harness: decision record {md} (and .html, .json)", file=sys.stderr)
    if made.missing:
        print(f"harness: {len(made.missing)} cell(s) lack runs; the record names them; add "
              "--run to measure them", file=sys.stderr)
    return 0


def _emit_ab(args: argparse.Namespace, result: AbResult) -> int:
    from harness import console
    from harness.ab.verdict import ab_json
    from harness.reporting.ab_report import build_ab_report, write_ab_markdown

    _emit_verdict(args, lambda: ab_json(result), lambda: console.print_ab(result, args.all),
                  lambda: build_ab_report(result), lambda path: write_ab_markdown(result, path))
    return result.exit_code


def _rejudge(spec: AbSpec, folder: Path, factor: float) -> AbResult:
    """The verdict on an earlier A/B's records: every side's rounds, as they were written."""
    from harness.ab.envs import recorded
    from harness.ab.spec import folder as side_folder
    from harness.ab.verdict import judge
    from harness.judge.sides import load_side

    records = {}
    for label, _ in spec.sides:
        files = sorted((folder / side_folder(label)).glob("round-*.jsonl"))
        if not files:
            raise UsageError(f"--judge {folder}: no round-*.jsonl of side {label!r} in "
                             f"{folder / side_folder(label)}; pass the --results folder of an "
                             "A/B of this same file")
        records[label] = load_side(files, label)
    envs = {side.name: recorded(folder) for side in [spec.baseline, *spec.variants]}
    previous = folder / "verdict.json"
    wall = 0.0
    if previous.is_file():
        try:
            wall = float(json.loads(previous.read_text(encoding="utf-8")).get("wall_s", 0.0))
        except (ValueError, AttributeError):
            wall = 0.0
    return judge(spec, records, envs, wall, str(folder), factor)


def _ab_spec(args: argparse.Namespace) -> AbSpec:
    """The A/B file, or a spec made of --variant pins; --rounds over either."""
    import dataclasses

    from harness.ab.spec import MIN_ROUNDS, load_spec, spec_from_flags

    if args.spec and args.variant:
        raise UsageError("give an A/B file or --variant pins, not both (put the pins in the "
                         "file's [[variant]])")
    if not args.spec and not args.variant:
        raise UsageError("harness ab needs an A/B file (harness ab SPEC.toml) or at least one "
                         "--variant \"PINS\"")
    if args.rounds is not None and args.rounds < MIN_ROUNDS:
        raise UsageError(f"--rounds must be at least {MIN_ROUNDS} (the run-to-run test needs "
                         f"{MIN_ROUNDS} runs a side), got {args.rounds}")
    if not args.spec:
        return spec_from_flags(args.variant, args.rounds, {})
    spec = load_spec(args.spec)
    return spec if args.rounds is None else dataclasses.replace(spec, rounds=args.rounds)


def _emit_verdict(args: argparse.Namespace, as_json: Callable[[], object],
                  printed: Callable[[], None], report: Callable[[], Report],
                  markdown: Callable[[Path], None]) -> None:
    """A verdict's outputs, in the order that leaves nothing half-written: stdout (JSON or the
    table), the report folder, then the Markdown."""
    from harness.reporting.output import write_report

    if args.json:
        print(json.dumps(as_json(), indent=2, allow_nan=False))
    else:
        printed()
    if args.out:
        path = write_report(report(), args.out)
        print(f"report: {path / 'report.html'}", file=sys.stderr)
    if args.md:
        markdown(args.md)


def _check_verdict_outputs(args: argparse.Namespace) -> None:
    """--md and --out must be writable, and apart: the report replaces its folder whole."""
    from harness.reporting.output import check_report_dir

    if args.md:
        _writable_file(args.md, "--md")
    if args.out:
        check_report_dir(args.out.absolute())
        _creatable(args.out.absolute().parent, f"--out {args.out}: its parent")
    if args.md and args.out and args.out.absolute() in args.md.absolute().parents:
        raise UsageError(f"--md {args.md} is inside --out {args.out}, which the report "
                         "replaces whole; write the Markdown elsewhere")
    if args.md and args.out and args.md.absolute() == args.out.absolute():
        raise UsageError("--md and --out name the same path; give each its own")


def _creatable(directory: Path, label: str, fix: str = "choose another path") -> None:
    """Files can be made in `directory`: tried for real, with a probe folder of its own made and
    removed in the nearest folder that exists, so that /proc or a read-only mount is refused
    before a run starts. The real folders are never made or removed here (another run may be
    making or using them at the same moment): the code that writes makes them."""
    target = directory.absolute()
    try:
        nearest = next(folder for folder in [target, *target.parents] if folder.exists())
        if not nearest.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{nearest} is a file")
        os.rmdir(tempfile.mkdtemp(prefix=".harness-probe-", dir=nearest))
    except OSError as exc:
        raise UsageError(f"{label} {directory} is not a writable directory "
                         f"({exc.strerror or exc}); {fix}") from None


# --- harness cluster: loopback Dask and Spark clusters (harness.clusters) ---------------------

CLUSTER_KINDS = ("dask", "spark")


def _cluster_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    cl = sub.add_parser("cluster", help="start, stop and show real Dask and Spark clusters on "
                        "127.0.0.1, to run against with --dask-address / --spark-master")
    actions = cl.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start a cluster that runs until `cluster down`")
    up.add_argument("kind", choices=CLUSTER_KINDS)
    up.add_argument("--workers", type=int, help="worker processes (Spark: Worker daemons, one "
                    "executor each; default: dask 2, spark 1)")
    up.add_argument("--threads", type=int,
                    help="threads per worker (Spark: cores per Worker; default: dask 1, spark 2)")
    up.add_argument("--memory-limit", metavar="SIZE",
                    help="memory per worker, e.g. 4GiB (default: dask auto, spark its own)")
    up.add_argument("--port", type=int, default=0,
                    help="the scheduler's or master's port (default: a free one)")
    down = actions.add_parser("down", help="stop the clusters `cluster up` started")
    down.add_argument("kind", nargs="?", choices=CLUSTER_KINDS, help="only this kind")
    status = actions.add_parser("status", help="the clusters up, their addresses and processes")
    status.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_cluster(args: argparse.Namespace) -> int:
    interrupt_on_sigterm()
    if args.action == "up":
        return _cluster_up(args)
    if args.action == "down":
        return _cluster_down(args)
    return _cluster_status(args)


def _cluster_up(args: argparse.Namespace) -> int:
    from harness.clusters import shape_for, state

    shape = shape_for(args.kind, args.workers, args.threads, args.memory_limit)
    if shape.workers * shape.threads > config.logical_cores():
        print(f"harness: warning: {shape.words()} on {config.logical_cores()} logical cores: "
              "oversubscribed, so timings against it include contention", file=sys.stderr)
    try:
        cluster = state.up(args.kind, shape, args.port)
    except KeyboardInterrupt:
        print(f"harness: interrupted; the {args.kind} cluster being started was stopped",
              file=sys.stderr)
        return INTERRUPTED
    print(f"{args.kind} cluster up at {cluster.address}: {shape.words()}, "
          f"{len(cluster.pids())} processes")
    if cluster.ui:
        print(f"  {'dashboard' if args.kind == 'dask' else 'master UI'}: {cluster.ui}")
    print(f"  run against it: harness run {cluster.run_flag()}")
    print(f"  stop it:        harness cluster down {args.kind}")
    print(f"  logs:           {cluster.folder}")
    return 0


def _cluster_down(args: argparse.Namespace) -> int:
    from harness.clusters import state

    said = state.down((args.kind,) if args.kind else CLUSTER_KINDS)
    for line in said:
        print(line)
    if not said:
        print(f"no {args.kind + ' ' if args.kind else ''}cluster is up; nothing to stop")
    return 0


def _cluster_status(args: argparse.Namespace) -> int:
    from harness.clusters import state

    found = [recorded.view() for recorded in state.status()]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print("no cluster is up (start one: harness cluster up dask|spark)")
    for view in found:
        gone = [m["role"] for m in view["members"] if not m["running"]]
        condition = f"{view['state']}, {', '.join(gone)} exited" if gone else view["state"]
        print(f"{view['kind']:<6} {condition:<9} {view['address'] or '-'}  {view['shape']}  "
              f"{len(view['pids'])} processes, up {view['age_s'] / 60:.0f} min")
        if view["ui"]:
            print(f"       ui: {view['ui']}")
        print(f"       harness run {view['run_flags']}")
        print(f"       logs: {view['folder']}")
    return 0
