"""The sequential reference engine: plain pandas / NumPy / Python on one core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.engines.base import Engine
from harness.workloads.contract import Context


class PandasEngine(Engine):
    name = "pandas"
    kind = "reference"
    description = "the sequential reference: plain pandas / NumPy / Python on one core"

    def _call(self, body: Callable[..., Any], inputs: Any, ctx: Context) -> Any:
        return body(inputs, ctx)
