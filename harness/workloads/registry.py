"""The workload registry: every workload by name, in chapter order, as a plain dict.

Importing this module imports every workload module, so only the commands that need the
catalogue import it. Dask workers and Spark's Python workers import single workload modules
(`harness.workloads.csv_groupby`) and never come here.
"""

from __future__ import annotations

from typing import Any

from harness.errors import UsageError
from harness.workloads import (
    adaptive_scale,
    array_multi_sum,
    array_stats,
    array_transpose,
    bag_logs,
    csv_groupby,
    csv_to_parquet,
    custom_agg,
    custom_graph,
    delayed_sleep,
    fault,
    filter_derive,
    frame_mean,
    map_partitions,
    matmul,
    ml_grid_search,
    ml_logreg,
    ml_preprocess,
    ml_random_forest,
    multi_aggregate,
    noop,
    persist_reuse,
    repartition_index,
    resample_daily,
    row_apply,
    svd_compressed,
    task_diamond,
)
from harness.workloads.contract import Workload, section_key

_MODULES = (
    adaptive_scale,
    array_multi_sum, array_stats, array_transpose, bag_logs, csv_groupby, csv_to_parquet,
    custom_agg, custom_graph, delayed_sleep, fault, filter_derive, frame_mean, map_partitions,
    matmul, ml_grid_search, ml_logreg, ml_preprocess, ml_random_forest, multi_aggregate, noop,
    persist_reuse, repartition_index, resample_daily, row_apply, svd_compressed, task_diamond,
)

# In chapter order (section, then name): the order runs, reports and `harness list` use.
WORKLOADS: dict[str, Workload[Any, Any]] = {
    w.name: w for w in sorted((m.WORKLOAD for m in _MODULES),
                              key=lambda w: (section_key(w.section), w.name))}
# Calibration, not chapter workloads: run them with `-w noop`, `-w fault`. adaptive-scale
# starts clusters of its own, up to 8 workers on this 2-core machine (seconds per run, and
# everything else on the machine slowed meanwhile): run it with `-w adaptive-scale`.
NOT_IN_SUITE = frozenset({"noop", "fault", "adaptive-scale"})
# What `harness run` runs by default: every chapter workload.
QUICK_SUITE: tuple[str, ...] = tuple(n for n in WORKLOADS if n not in NOT_IN_SUITE)

if len(WORKLOADS) != len(_MODULES):
    raise RuntimeError("two workload modules define the same name")


def get_workload(name: str) -> Workload[Any, Any]:
    """The workload called `name`; an unknown name is a UsageError listing the known ones."""
    try:
        return WORKLOADS[name]
    except KeyError:
        known = ", ".join(sorted(WORKLOADS))
        raise UsageError(f"unknown workload {name!r}; choose one of: {known}") from None
