"""One self-contained HTML page: sections of text, tables and figures, images inline.

A report is a list of :class:`Section`; each holds blocks (:class:`Text`, :class:`Table`,
:class:`Figure`). :func:`render` turns them into one HTML document that needs no network and no
other file: figures are PNGs embedded as ``data:`` URLs, the style sheet is inline. A small
inline script counts, once the page has loaded, the figures the browser decoded, and writes the
count into ``<body data-figures-loaded=... data-figures=...>`` so that a headless browser can
check the page as a person would see it (tests/report/test_browser.py).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from omicsformer import __version__


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped when rendered)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table; numbers are shown as given (format them before, e.g. ``0.812 [0.75, 0.87]``)."""

    frame: pd.DataFrame
    caption: str = ""
    index: bool = False


@dataclass(frozen=True)
class Figure:
    """A figure as PNG bytes, with its caption. Build it with :meth:`of`."""

    png: bytes
    caption: str = ""

    @classmethod
    def of(cls, fig: MplFigure, caption: str = "", dpi: int = 110) -> Figure:
        """Render a matplotlib figure to PNG and close it."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return cls(buffer.getvalue(), caption)


Block = Text | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.85em;
          padding-top: 0.3em; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.85em; max-width: 560px; }
nav a { margin-right: 1em; } .meta { color: #666; font-size: 0.85em; }
"""

SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("figure img");
  var loaded = 0;
  images.forEach(function (img) { if (img.complete && img.naturalWidth > 0) loaded += 1; });
  document.body.dataset.figures = String(images.length);
  document.body.dataset.figuresLoaded = String(loaded);
});
"""


def _block(block: Block) -> str:
    if isinstance(block, Text):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Table):
        table = block.frame.to_html(index=block.index, escape=True, border=0, na_rep="")
        if block.caption:
            caption = f"<caption>{html.escape(block.caption)}</caption>"
            table = table.replace(">", ">" + caption, 1)
        return table
    data = base64.b64encode(block.png).decode("ascii")
    alt = html.escape(block.caption or "figure", quote=True)
    caption = f"<figcaption>{html.escape(block.caption)}</figcaption>" if block.caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">{caption}</figure>'


def _anchor(index: int) -> str:
    return f"s{index + 1}"


def render(title: str, sections: list[Section], source: str = "") -> str:
    """The whole HTML document."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = f" from {html.escape(source)}" if source else ""
    nav = " ".join(
        f'<a href="#{_anchor(i)}">{html.escape(s.title)}</a>' for i, s in enumerate(sections)
    )
    body = "\n".join(
        f'<section id="{_anchor(i)}"><h2>{html.escape(s.title)}</h2>\n'
        + "\n".join(_block(b) for b in s.blocks)
        + "</section>"
        for i, s in enumerate(sections)
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"<script>{SCRIPT}</script></head>\n<body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='meta'>omicsformer {__version__}, {made}{where}</p>"
        f"<nav>{nav}</nav>\n{body}\n</body></html>\n"
    )
