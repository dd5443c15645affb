"""Records to a tidy frame, then one summary row per (workload, params, engine, configuration).

Pure functions shared by the CLI's summary tables, the run report and the sweep report.

Cells that differ only in their params (persist-reuse's `persist`, adaptive-scale's `mode`) are
rows of their own, keyed as `harness compare` keys them (harness.judge.sides.params_key), and
labelled with the params that set them apart: `persist-reuse (persist=false)`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pandas as pd

from harness.engines.registry import REFERENCE_ENGINE
from harness.fmt import fmt_bytes, fmt_count, fmt_seconds, ratio_words
from harness.judge.sides import params_key
from harness.results.schema import Record, worst_status
from harness.workloads.registry import WORKLOADS

# `params` is the JSON text of the record's params (params_key), hashable and comparable.
GROUP = ["workload", "size", "engine", "n_workers", "threads_per_worker", "params"]


def tidy(records: list[Record]) -> pd.DataFrame:
    """One row per record, nested metrics flattened to `metric.<name>` columns; `params` as
    its key text and `params_label` as the words that tell its cell from its neighbours'."""
    rows = []
    for rec, shown in zip(records, params_labels(records), strict=True):
        row = {k: v for k, v in dataclasses.asdict(rec).items()
               if k not in ("env", "engine_config", "check", "metrics", "params", "warmup")}
        row["params"], row["params_label"] = params_key(rec.params), shown
        row["warmup_runs"] = rec.warmup.get("runs", 0)
        row |= {f"metric.{k}": v for k, v in rec.metrics.items()}
        rows.append(row)
    return pd.DataFrame(rows)


def params_labels(records: list[Record]) -> list[str]:
    """Per record, 'persist=false': its params that vary among the records of its workload
    and size, or that differ from the workload's defaults there; '' where none do."""
    values: dict[tuple[str, str], dict[str, set[str]]] = {}
    for rec in records:
        values.setdefault((rec.workload, rec.size), {}).update({k: set() for k in rec.params})
    for rec in records:
        for key, seen in values[(rec.workload, rec.size)].items():
            # An absent key is a value of its own: older records may lack a newer parameter.
            seen.add(_value_key(rec.params[key]) if key in rec.params else "<absent>")
    varying = {cell: {k for k, seen in keys.items() if len(seen) > 1}
               for cell, keys in values.items()}
    defaults = {cell: _defaults(*cell) for cell in values}
    return [_label(rec.params, varying[(rec.workload, rec.size)],
                   defaults[(rec.workload, rec.size)]) for rec in records]


def _label(params: dict[str, Any], varying: set[str], defaults: dict[str, Any] | None) -> str:
    def differs(key: str) -> bool:
        if defaults is None:  # the registry no longer knows them: only variation counts
            return False
        return key not in defaults or _value_key(defaults[key]) != _value_key(params[key])

    shown = [k for k in sorted(params) if k in varying or differs(k)]
    return ", ".join(f"{k}={_value_text(params[k])}" for k in shown)


def _value_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _defaults(workload: str, size: str) -> dict[str, Any] | None:
    """The workload's params at this size, or None where the registry does not know them."""
    meta = WORKLOADS.get(workload)
    return meta.params(size) if meta is not None and size in meta.sizes else None


def _value_text(value: Any) -> str:
    """As a suite file writes it: persist=false, mode=adaptive, chunks=[100, 100]."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def workload_text(workload: str, params_label: str) -> str:
    """'persist-reuse (persist=false)', or the bare name when no params set the cell apart."""
    return f"{workload} ({params_label})" if params_label else workload


def summarize_group(g: pd.DataFrame) -> dict[str, Any]:
    ok = g[g["status"] == "ok"]
    cold = ok.loc[ok["phase"] == "cold", "wall_s"]
    # Warm-up runs are recorded but not counted: warm means the engine's steady state.
    warm = ok.loc[ok["phase"] == "steady", "wall_s"]
    out = {
        "status": worst_status(g["status"]),
        "runs": len(g),
        "warmup_runs": int(g["warmup_runs"].max()),
        "ok_runs": len(ok),
        "cold_s": cold.iloc[0] if len(cold) else float("nan"),
        "warm_s": warm.median() if len(warm) else float("nan"),
        "startup_s": (g["startup_s"].dropna().max() if g["startup_s"].notna().any()
                      else float("nan")),
        "cpu_s": ok["cpu_s"].median() if len(ok) else float("nan"),
        "baseline_tree_bytes": ok["baseline_tree_rss_bytes"].median() if len(ok) else float("nan"),
        "peak_tree_bytes": ok["peak_tree_rss_bytes"].max() if len(ok) else float("nan"),
        "peak_tree_hwm_bytes": ok["peak_tree_hwm_bytes"].max() if len(ok) else float("nan"),
        "peak_driver_bytes": ok["peak_driver_rss_bytes"].max() if len(ok) else float("nan"),
        # Absent (NaN) unless the engine measured its workers where they run.
        "peak_cluster_bytes": _peak(ok, "peak_cluster_rss_bytes"),
        "n_tasks": ok["n_tasks"].max() if len(ok) and ok["n_tasks"].notna().any() else float("nan"),
        "error": next((e for e in g["error"] if e), ""),
    }
    for col in [c for c in g.columns if c.startswith("metric.")]:
        vals = ok[col].dropna()
        if len(vals) and pd.api.types.is_numeric_dtype(vals):
            out[col] = vals.iloc[0]
    out["best_s"] = out["warm_s"] if pd.notna(out["warm_s"]) else out["cold_s"]
    return out


def _peak(ok: pd.DataFrame, column: str) -> float:
    """The largest value of a column that older records may lack or hold as None; NaN if none."""
    if column not in ok:
        return float("nan")
    return float(pd.to_numeric(ok[column], errors="coerce").max())


def summarize(records: list[Record]) -> pd.DataFrame:
    """One row per cell (workload, size, params) and configuration, with the speed ratio to
    the pandas reference of the same cell (see reference_times)."""
    frame = tidy(records)
    if frame.empty:
        return frame
    rows = pd.DataFrame([
        dict(zip(GROUP, key, strict=True)) | {"params_label": group["params_label"].iloc[0]}
        | summarize_group(group)
        for key, group in frame.groupby(GROUP, sort=False, dropna=False)
    ])
    rows["reference_s"] = reference_times(rows)
    rows["speedup"] = rows["reference_s"] / rows["best_s"]
    rows["peak_growth_bytes"] = rows["peak_tree_bytes"] - rows["baseline_tree_bytes"]
    return rows


def reference_times(rows: pd.DataFrame) -> list[float]:
    """Each row's pandas time: the reference of the same workload, size and params; where the
    reference did not run those params, the fastest reference whose params differ only in the
    workload's tunables (persist, mode, npartitions: how an engine runs it, not the data or
    the answer); NaN where there is neither."""
    ref = rows[rows["engine"] == REFERENCE_ENGINE]
    return [_reference_of(ref[(ref["workload"] == w) & (ref["size"] == s)], w, p)
            for w, s, p in zip(rows["workload"], rows["size"], rows["params"], strict=True)]


def _reference_of(same: pd.DataFrame, workload: str, params: str) -> float:
    exact = same[same["params"] == params]
    if len(exact):
        return float(exact["best_s"].min())
    data = _data_params(workload, params)
    alike = same[[_data_params(workload, p) == data for p in same["params"]]]
    return float(alike["best_s"].min()) if len(alike) else float("nan")


def _data_params(workload: str, params: str) -> dict[str, Any]:
    """The params that decide the data and the answer: all but the workload's tunables."""
    meta = WORKLOADS.get(workload)
    tunables = meta.tunables if meta is not None else {}
    return {k: v for k, v in json.loads(params).items() if k not in tunables}


def display_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Summary rows formatted for people: the columns the CLI and the report both print."""
    if rows.empty:
        return rows
    return pd.DataFrame({
        "workload": [workload_text(w, p) for w, p in
                     zip(rows["workload"], _labels(rows), strict=True)],
        "engine": rows["engine"],
        "workers x threads": [f"{w}x{t}" for w, t in
                              zip(rows["n_workers"], rows["threads_per_worker"], strict=True)],
        "status": rows["status"],
        "cold": rows["cold_s"].map(fmt_seconds),
        "warm (median)": rows["warm_s"].map(fmt_seconds),
        "vs pandas": rows["speedup"].map(ratio_words),
        "start-up": rows["startup_s"].map(fmt_seconds),
        "peak tree mem": rows["peak_tree_bytes"].map(fmt_bytes),
        "driver peak": rows["peak_driver_bytes"].map(fmt_bytes),
        **_cluster_column(rows),
        "tasks": rows["n_tasks"].map(fmt_count),
    })


def _cluster_column(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """The cluster's peak (its workers' summed RSS, measured where they run), only when some
    row has one: absent stays absent."""
    peaks = rows.get("peak_cluster_bytes")
    if peaks is None or peaks.isna().all():
        return {}
    return {"cluster peak": peaks.map(fmt_bytes)}


def _labels(rows: pd.DataFrame) -> pd.Series:
    """Each row's params label; none for rows summarized without one."""
    labels = rows.get("params_label")
    return pd.Series("", index=rows.index) if labels is None else labels.fillna("")
