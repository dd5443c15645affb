"""What differs between the environments of two sides: library versions, commit, machine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.results.schema import Record

# Timings from two machines are not comparable: these differ only between machines.
MACHINE_FIELDS = ("cpu_model", "logical_cores", "total_memory_bytes", "machine")


@dataclass(frozen=True)
class EnvChange:
    field: str
    baseline: str
    new: str

    @property
    def text(self) -> str:
        return f"{self.field} {self.baseline} -> {self.new}"


def _values(dicts: list[dict[str, Any]], read: Any) -> list[str]:
    seen: dict[str, None] = {}
    for d in dicts:
        value = read(d)
        if value is not None:
            seen[value if isinstance(value, str) else json.dumps(value, sort_keys=True)] = None
    return list(seen)


def flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys, so a diff names the one setting that moved."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _diff(label: str, baseline: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[EnvChange]:
    changes = []
    for key in dict.fromkeys([k for d in baseline + new for k in d]):
        a = _values(baseline, lambda d, k=key: d.get(k))
        b = _values(new, lambda d, k=key: d.get(k))
        if set(a) != set(b):
            changes.append(EnvChange(f"{label}{key}", ", ".join(a) or "(none)",
                                     ", ".join(b) or "(none)"))
    return changes


def env_changes(baseline: list[Record], new: list[Record]) -> list[EnvChange]:
    """Every env field, and every engine's configuration, whose values differ between sides."""
    changes = _diff("", [flat(r.env or {}) for r in baseline], [flat(r.env or {}) for r in new])
    for engine in dict.fromkeys(r.engine for r in baseline + new):
        changes += _config_changes(engine, [r for r in baseline if r.engine == engine],
                                   [r for r in new if r.engine == engine])
    return changes


def _config_changes(engine: str, baseline: list[Record], new: list[Record]) -> list[EnvChange]:
    if not baseline or not new:
        return []
    return _diff(f"{engine} ", [flat(r.engine_config or {}) for r in baseline],
                 [flat(r.engine_config or {}) for r in new])


def machine_warning(changes: list[EnvChange]) -> str | None:
    """A loud warning when the sides ran on different hardware."""
    # A side that did not record the field is unknown, not a different machine.
    moved = [c for c in changes if c.field in MACHINE_FIELDS and "(none)" not in
             (c.baseline, c.new)]
    if not moved:
        return None
    return ("THE SIDES RAN ON DIFFERENT MACHINES (" + "; ".join(c.text for c in moved)
            + "): timings are not comparable across machines; compare runs of one machine")
