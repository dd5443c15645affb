"""`harness calibrate`: the harness's own observer effect, measured.

The same cells run with every instrument on, and with each instrument (the memory probe, the
garbage collection before a run, the measures taken after it) switched off in turn. Conditions
interleave within one engine session, in a shuffled order per round, so the machine's drift
lands on all of them; the report compares each condition with all-on, and all-on with itself
(odd rounds against even ones) for the noise floor.
"""

from __future__ import annotations

import random
from dataclasses import replace

from harness import config
from harness.engines.base import EngineOptions
from harness.execution.runner import Plan
from harness.execution.session import INSTRUMENTS

DEFAULT_WORKLOADS = ("csv-groupby", "bag-logs")
DEFAULT_ENGINES = ("dask-threads", "dask-distributed", "spark")
DEFAULT_ROUNDS = 8
# All on, then each instrument alone off.
CONDITIONS: tuple[tuple[str, ...], ...] = ((), *((name,) for name in INSTRUMENTS))


def rotation(rounds: int, seed: str) -> tuple[tuple[str, ...], ...]:
    """Every condition once per round, in an order shuffled per round (seeded: reproducible)."""
    rng = random.Random(seed)
    order: list[tuple[str, ...]] = []
    for _ in range(rounds):
        round_ = list(CONDITIONS)
        rng.shuffle(round_)
        order += round_
    return tuple(order)


def calibration_plan(workloads: list[str], engines: list[str], size: str, rounds: int,
                     options: EngineOptions, timeout_s: float) -> Plan:
    """A run plan whose steady runs rotate through the conditions, under results/."""
    base = Plan.new(workloads, engines, size, 1 + rounds * len(CONDITIONS), options,
                    cell_timeout_s=timeout_s)
    return replace(base, out=config.results_dir() / f"calibrate-{base.run_id}.jsonl",
                   rotation=rotation(rounds, base.run_id), rounds=rounds)
