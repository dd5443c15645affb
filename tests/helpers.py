"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

from typing import Any

from harness.engines.base import Engine
from harness.execution.session import SessionSpec, base_record, expected_answer, measure
from harness.results.schema import Record
from harness.workloads.registry import get_workload

SIZE = "tiny"


def prepared(workload_name: str, size: str = SIZE, overrides: dict[str, Any] | None = None,
             ) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(workload, inputs, expected answer, params) for one workload at `size`."""
    workload = get_workload(workload_name)
    params = workload.params(size, overrides)
    inputs = workload.prepare(params)
    return workload, inputs, expected_answer(workload, params, inputs), params


def measure_once(engine: Engine, workload_name: str, expected: Any = None,
                 use_expected: bool = False, overrides: dict[str, Any] | None = None) -> Record:
    """One measured run through the public session API; `expected` overrides the reference,
    `overrides` sets tunables (npartitions, chunks) as a sweep would."""
    workload, inputs, reference, params = prepared(workload_name, overrides=overrides)
    spec = SessionSpec(run_id="test-run", engine=engine.name, workloads=(workload_name,),
                       size=SIZE, repeats=1, options=engine.options, env={})
    fields = base_record(spec, engine, workload_name, 0, params)
    return measure(engine, workload, inputs, expected if use_expected else reference, fields)
