"""The document model: a report is a list of blocks and the files they refer to.

Reports are built as blocks (pure functions of the records); writers.py renders the same
blocks to Markdown and to HTML, and output.py puts them on disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from harness.reporting.figures import png_bytes


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame = field(compare=False)


@dataclass(frozen=True)
class Image:
    name: str
    alt: str


@dataclass(frozen=True)
class Code:
    """Lines to copy as they are: commands, shown as a code block."""

    lines: tuple[str, ...]


Block = Heading | Para | Bullets | Table | Image | Code


@dataclass
class Report:
    """Blocks in reading order and the PNGs they refer to, by file name."""

    blocks: list[Block] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def add(self, *blocks: Block) -> None:
        """Append blocks in reading order."""
        self.blocks.extend(blocks)

    def figure(self, name: str, fig: Figure | None, alt: str) -> None:
        """Add a plot, rendered to PNG, if there was anything to draw."""
        if fig is not None:
            self.image(name, png_bytes(fig), alt)

    def image(self, name: str, png: bytes, alt: str) -> None:
        """Add a picture that is PNG bytes already."""
        self.images[name] = png
        self.blocks.append(Image(name, alt))


def slug(text: str) -> str:
    """A string safe as a file name or an HTML id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"
