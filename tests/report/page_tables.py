"""Read a report page back as a person would: its section titles, its tables (as text frames,
without lxml) and its figures (decoded PNGs)."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pandas as pd


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._in_caption:
            self._cell.append(data)


def tables(page: str) -> list[pd.DataFrame]:
    """Every table of the page, cells as text, the first row as the header."""
    parser = _Tables()
    parser.feed(page)
    return [pd.DataFrame(rows[1:], columns=rows[0]) for rows in parser.tables if rows]


def titles(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


def figures(page: str) -> list[bytes]:
    """The PNG bytes of every inline figure."""
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def self_contained(page: str) -> bool:
    """No file or network reference: every image is inline, no script or style is fetched."""
    return not re.search(r'(src|href)="(?!data:|#)', page)


def section(page: str, title: str) -> str:
    """The HTML of the one section titled ``title``."""
    found = [
        part
        for part in page.split("<section")[1:]
        if re.search(r"<h2>(.*?)</h2>", part).group(1).replace("&#x27;", "'") == title
    ]
    assert len(found) == 1, f"{len(found)} sections titled {title!r}"
    return found[0]
