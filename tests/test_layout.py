"""The package's shape: what importing the CLI costs, and the registries a reader greps."""

from __future__ import annotations

import json
import subprocess
import sys

from harness.engines.registry import ENGINES, REFERENCE_ENGINE
from harness.workloads.contract import section_key
from harness.workloads.registry import QUICK_SUITE, WORKLOADS, get_workload


def imported_after(statement: str) -> list[str]:
    """The harness modules a fresh interpreter has loaded after running `statement`."""
    code = (f"import sys; {statement}; import json; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('harness'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_importing_the_cli_imports_no_workload_module() -> None:
    loaded = imported_after("import harness.cli")
    assert "harness.cli" in loaded
    assert [m for m in loaded if m.startswith("harness.workloads")] == []


def test_a_worker_importing_one_workload_gets_only_that_one() -> None:
    """What a Dask or Spark worker pays when it unpickles one workload's function."""
    loaded = imported_after("import harness.workloads.delayed_sleep")
    others = {f"harness.workloads.{m.replace('-', '_')}" for m in WORKLOADS} - {
        "harness.workloads.delayed_sleep"}
    assert "harness.workloads.delayed_sleep" in loaded
    assert others.isdisjoint(loaded)
    assert "harness.workloads.registry" not in loaded


def test_the_session_entry_point_imports_no_workload_module() -> None:
    """Spawned pool workers (dask-processes, LocalCluster) re-import the child's module."""
    loaded = imported_after("import harness.execution.child")
    assert "harness.execution.session" in loaded
    assert [m for m in loaded if m.startswith("harness.workloads.") and
            m not in ("harness.workloads.contract", "harness.workloads.checks",
                      "harness.workloads.datasets", "harness.workloads.schema")] == []


def test_registry_lists_workloads_in_chapter_order() -> None:
    order = sorted(WORKLOADS, key=lambda n: (section_key(WORKLOADS[n].section), n))
    assert list(WORKLOADS) == order
    assert "noop" not in QUICK_SUITE and "fault" not in QUICK_SUITE
    # adaptive-scale starts up to 8 workers of its own per run: run on demand only.
    assert set(QUICK_SUITE) == set(WORKLOADS) - {"noop", "fault", "adaptive-scale"}
    assert all(get_workload(n).name == n for n in WORKLOADS)


def test_engine_registry_starts_with_the_reference() -> None:
    assert next(iter(ENGINES)) == REFERENCE_ENGINE == "pandas"
    assert all(name == cls.name for name, cls in ENGINES.items())
