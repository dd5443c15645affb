"""The writers: one report's blocks as Markdown (report.md) and as self-contained HTML
(report.html, every PNG embedded as a data URI)."""

from __future__ import annotations

import base64
import html
import re

import pandas as pd

from harness.reporting.document import (
    Block,
    Bullets,
    Code,
    Heading,
    Image,
    Para,
    Report,
    Table,
    slug,
)


def _md_text(text: object) -> str:
    """Recorded text (error messages, versions) as literal Markdown, on one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def _md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    head = "| " + " | ".join(_md_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_md_text(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def to_markdown(report: Report) -> str:
    """report.md: plots referenced as the PNG files beside it."""
    out = []
    for block in report.blocks:
        match block:
            case Heading(level, text):
                out.append(f"{'#' * level} {_md_text(text)}")
            case Para(text):
                out.append(_md_text(text))
            case Bullets(items):
                out.append("\n".join(f"- {_md_text(i)}" for i in items))
            case Table(frame):
                out.append(_md_table(frame))
            case Image(name, alt):
                out.append(f"![{alt}]({name})")
            case Code(lines):
                out.append("```bash\n" + "\n".join(lines) + "\n```")
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; }
"""


def _html_table(frame: pd.DataFrame) -> str:
    """An HTML table with every cell escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_block(block: Block, images: dict[str, bytes]) -> str:
    """One block as HTML; images become data URIs so the file stands alone."""
    match block:
        case Heading(level, text):
            return f'<h{level} id="{slug(text.lower())}">{html.escape(text)}</h{level}>'
        case Para(text):
            return f"<p>{html.escape(text)}</p>"
        case Bullets(items):
            return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
        case Table(frame):
            return _html_table(frame)
        case Code(lines):
            return "<pre><code>" + html.escape("\n".join(lines)) + "</code></pre>"
        case Image(name, alt):
            data = base64.b64encode(images[name]).decode("ascii")
            return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
    raise TypeError(f"unknown block {block!r}")


def to_html(report: Report, title: str = "Benchmark report") -> str:
    """report.html: one self-contained file, the PNGs embedded as data URIs."""
    body = "\n".join(_html_block(b, report.images) for b in report.blocks)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")
