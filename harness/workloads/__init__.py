"""The workload registry: an explicit dict, so a typo fails loudly."""

from __future__ import annotations

from harness.errors import UsageError
from harness.workloads import csv_groupby, delayed_sleep, noop
from harness.workloads.base import Workload

WORKLOADS: dict[str, Workload] = {
    w.name: w for w in (csv_groupby.WORKLOAD, delayed_sleep.WORKLOAD, noop.WORKLOAD)
}
# The calibration workload is not part of the default suite; run it with `-w noop`.
QUICK_SUITE: tuple[str, ...] = ("csv-groupby", "delayed-sleep")


def get_workload(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        known = ", ".join(sorted(WORKLOADS))
        raise UsageError(f"unknown workload {name!r}; choose one of: {known}") from None
