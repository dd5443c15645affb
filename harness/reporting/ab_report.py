"""The `harness ab` report: the A/A control first, then each variant as `harness compare`
reports it, with the bootstrap table P(B/A - 1 > x) beside it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.ab.verdict import THRESHOLDS, AbResult, Outcome
from harness.judge.words import key_text
from harness.reporting.compare_report import build_compare_report
from harness.reporting.document import Block, Heading, Image, Para, Report, Table, slug
from harness.reporting.environment import machine_footer
from harness.reporting.figures import WIDTH_IN, titled_figure
from harness.reporting.output import write_markdown_file
from harness.results.schema import Record


def build_ab_report(result: AbResult, figures: bool = True) -> Report:
    report = Report()
    spec = result.spec
    report.add(Heading(1, f"harness ab: {spec.title}"), Para(result.verdict),
               Para(f"{spec.rounds} interleaved rounds (the order rotates each round), one "
                    f"fresh `harness run` per side per round, {spec.cells.repeat} counted runs "
                    f"per cell at size {spec.cells.size}; {result.wall_s / 60:.1f} min in all. "
                    f"Records: {result.records_dir}."),
               Heading(2, "Environments"), Table(environments(result)),
               Heading(2, "Can this machine tell? The A/A control"), Para(result.trust))
    footer = machine_footer(_records(result))
    if result.control:
        if figures:
            report.figure("aa-p-slower.png", probability_figure(result.control, footer),
                          "A/A control: P(copy / baseline - 1 > x) per cell")
        _embed(report, result.control, "aa", figures)
    for outcome in result.variants:
        report.add(Heading(2, f"{outcome.name} against {spec.baseline.name}"))
        report.add(Heading(3, "P(variant / baseline - 1 > x), warm wall time"),
                   Table(probability_frame(outcome)))
        if figures:
            report.figure(f"{slug(outcome.name)}-p-slower.png",
                          probability_figure(outcome, footer),
                          f"{outcome.name}: P(variant / baseline - 1 > x) per cell")
        _embed(report, outcome, outcome.name, figures)
    return report


def _records(result: AbResult) -> list[Record]:
    outcomes = [o for o in (result.control, *result.variants) if o]
    return [r for o in outcomes for r in o.comparison.examples]


def probability_figure(outcome: Outcome, footer: str) -> Figure | None:
    """coiled/benchmarks' heat map: a row per cell, a column per threshold, darker = more
    likely slower by more than x."""
    table = outcome.probabilities
    if not table:
        return None
    values = np.array([p.p_slower for p in table])
    fig, (ax,) = titled_figure(f"{outcome.name}: P(new / baseline - 1 > x), warm wall time, "
                               "bootstrap of medians", footer,
                               (WIDTH_IN * 0.75, 1.4 + 0.24 * len(table)))
    ax.imshow(values, cmap="Reds", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(THRESHOLDS)), [f"> {x:.0%}" for x in THRESHOLDS], fontsize=8)
    ax.set_yticks(range(len(table)),
                  [f"{key_text(p.key)}  ({p.ratio:.2f}x)" for p in table], fontsize=7)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                color="white" if v > 0.6 else "black")
    return fig


def environments(result: AbResult) -> pd.DataFrame:
    rows = [{"side": result.spec.baseline.name, "pins": _pins(result.spec.baseline),
             "environment": result.baseline_env.how}]
    rows += [{"side": o.name, "pins": _pins(v), "environment": o.env.how}
             for o, v in zip(result.variants, result.spec.variants, strict=True)]
    return pd.DataFrame(rows)


def _pins(side: object) -> str:
    reqs = getattr(side, "requirements", ())
    ref = getattr(side, "ref", None)
    params = getattr(side, "params", {})
    parts = list(reqs) + ([f"ref {ref}"] if ref else []) + [
        f"{w}: " + ", ".join(f"{k}={v}" for k, v in p.items()) for w, p in params.items()]
    return "; ".join(parts) or "(as installed)"


def probability_frame(outcome: Outcome) -> pd.DataFrame:
    return pd.DataFrame([{"cell": key_text(p.key), "ratio": f"{p.ratio:.3f}",
                          **{f"> {x:.0%}": f"{v:.2f}"
                             for x, v in zip(THRESHOLDS, p.p_slower, strict=True)}}
                         for p in outcome.probabilities])


def _embed(report: Report, outcome: Outcome, prefix: str, figures: bool) -> None:
    """The compare report of one outcome, one heading level down, its plots renamed apart."""
    inner = build_compare_report(outcome.comparison, figures)
    for block in inner.blocks[1:]:
        report.add(_demote(block, prefix))
    for name, data in inner.images.items():
        report.images[f"{prefix}-{name}"] = data


def _demote(block: Block, prefix: str) -> Block:
    if isinstance(block, Heading):
        return Heading(min(block.level + 1, 6), block.text)
    if isinstance(block, Image):
        return dataclasses.replace(block, name=f"{prefix}-{block.name}")
    return block


def write_ab_markdown(result: AbResult, path: Path) -> None:
    """The report without its plots, as one Markdown file written whole."""
    write_markdown_file(build_ab_report(result, figures=False), path)
