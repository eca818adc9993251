"""Tiny training runs (through the real command line) and a reader of the report pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from omicsformer.cli import main

DATA = "synthetic:n_samples=100,n_genes=30,n_modules=2,module_size=5"
RUNS = {
    "binary": ["--data", DATA, "--model", "logreg", "-o", "C=0.1,1", "-o", "inner_folds=2"],
    "multiclass": ["--data", DATA + ",n_classes=3", "--model", "mlp", "--max-epochs", "2"],
    "survival": ["--data", DATA, "--task", "survival", "--model", "coxph"],
    "regression": ["--data", DATA, "--task", "regression", "--model", "ridge"],
}


@pytest.fixture(scope="session")
def run_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished run folder per kind of task (trained once per test session)."""
    root = tmp_path_factory.mktemp("runs")
    folders = {}
    for name, args in RUNS.items():
        assert main(["train", *args, "--seed", "1", "--out", str(root / name)]) == 0
        folders[name] = root / name
    return folders


@pytest.fixture(scope="session")
def report_files(run_folders, tmp_path_factory) -> dict[str, Path]:
    """The report page of each run (written once per test session)."""
    from omicsformer.report.pages import write_report

    out = tmp_path_factory.mktemp("pages")
    return {
        name: write_report(folder, out / f"{name}.html") for name, folder in run_folders.items()
    }


@dataclass
class Section:
    title: str
    tables: list[list[list[str]]] = field(default_factory=list)  # table -> rows -> cells
    captions: list[str] = field(default_factory=list)
    figures: int = 0


class Page(HTMLParser):
    """The sections of a report page: their titles, tables (header row first), captions and
    number of inline figures."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: list[Section] = []
        self._in: str | None = None
        self._text = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        section = self.sections[-1] if self.sections else None
        if tag == "h2":
            self.sections.append(Section(""))
        elif tag == "table" and section is not None:
            section.tables.append([])
        elif tag == "tr" and section is not None and section.tables:
            section.tables[-1].append([])
        elif tag == "img" and section is not None:
            assert dict(attrs)["src"].startswith("data:image/png;base64,")
            section.figures += 1
        if tag in ("h2", "td", "th", "caption", "figcaption"):
            self._in, self._text = tag, ""

    def handle_data(self, data):
        if self._in:
            self._text += data

    def handle_endtag(self, tag):
        if tag != self._in:
            return
        text, section = self._text.strip(), self.sections[-1]
        if tag == "h2":
            section.title = text
        elif tag in ("td", "th"):
            section.tables[-1][-1].append(text)
        else:
            section.captions.append(text)
        self._in = None

    def section(self, title: str) -> Section:
        found = [s for s in self.sections if s.title == title]
        assert found, f"no section {title!r} in {[s.title for s in self.sections]}"
        return found[0]

    @property
    def titles(self) -> list[str]:
        return [s.title for s in self.sections]

    @property
    def figures(self) -> int:
        return sum(s.figures for s in self.sections)
