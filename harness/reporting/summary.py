"""Records to a tidy frame, then one summary row per (workload, engine, configuration).

Pure functions shared by the CLI's summary tables, the run report and the sweep report.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from harness.engines.registry import REFERENCE_ENGINE
from harness.fmt import fmt_bytes, fmt_count, fmt_seconds, ratio_words
from harness.results.schema import Record, worst_status

GROUP = ["workload", "size", "engine", "n_workers", "threads_per_worker"]


def tidy(records: list[Record]) -> pd.DataFrame:
    """One row per record, nested metrics flattened to `metric.<name>` columns."""
    rows = []
    for rec in records:
        row = {k: v for k, v in dataclasses.asdict(rec).items()
               if k not in ("env", "engine_config", "check", "metrics", "params", "warmup")}
        row["warmup_runs"] = rec.warmup.get("runs", 0)
        row |= {f"metric.{k}": v for k, v in rec.metrics.items()}
        rows.append(row)
    return pd.DataFrame(rows)


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
        "n_tasks": ok["n_tasks"].max() if len(ok) and ok["n_tasks"].notna().any() else float("nan"),
        "error": next((e for e in g["error"] if e), ""),
    }
    for col in [c for c in g.columns if c.startswith("metric.")]:
        vals = ok[col].dropna()
        if len(vals) and pd.api.types.is_numeric_dtype(vals):
            out[col] = vals.iloc[0]
    out["best_s"] = out["warm_s"] if pd.notna(out["warm_s"]) else out["cold_s"]
    return out


def summarize(records: list[Record]) -> pd.DataFrame:
    """One row per configuration, with the speed ratio to the pandas reference of the same size."""
    frame = tidy(records)
    if frame.empty:
        return frame
    rows = pd.DataFrame([
        dict(zip(GROUP, key, strict=True)) | summarize_group(group)
        for key, group in frame.groupby(GROUP, sort=False, dropna=False)
    ])
    ref = rows[rows["engine"] == REFERENCE_ENGINE].groupby(["workload", "size"])["best_s"].min()
    keys = list(zip(rows["workload"], rows["size"], strict=True))
    rows["reference_s"] = [ref.get(k, float("nan")) for k in keys]
    rows["speedup"] = rows["reference_s"] / rows["best_s"]
    rows["peak_growth_bytes"] = rows["peak_tree_bytes"] - rows["baseline_tree_bytes"]
    return rows


def display_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Summary rows formatted for people: the columns the CLI and the report both print."""
    if rows.empty:
        return rows
    return pd.DataFrame({
        "workload": rows["workload"],
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
        "tasks": rows["n_tasks"].map(fmt_count),
    })
