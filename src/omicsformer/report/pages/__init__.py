"""``omicsformer report``: the HTML page of an output folder, chosen by the folder's kind.

Each kind of folder omicsformer writes (its manifest records the kind) has a page module here
with ``sections(folder) -> list[Section]``; :func:`write_report` renders it with
:func:`omicsformer.report.html.render` into one self-contained file. ``compare`` and the
benchmarks call :func:`page` themselves and write ``report.html`` into their folder.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from omicsformer.errors import RunError
from omicsformer.fileio import check_output_file, output_kind, write_text
from omicsformer.report.html import Section, render

# folder kind -> (page module under omicsformer.report.pages, page title)
PAGES: dict[str, tuple[str, str]] = {
    "run": ("run", "Training run"),
    "compare": ("compare", "Model comparison"),
    "interpret": ("interpret", "Interpretation"),
    "bench-model": ("bench", "Benchmark: one training step per model"),
    "bench-attention": ("bench", "Benchmark: attention methods"),
    "bench-augmentation": ("bench", "Benchmark: augmentation"),
    "bench-interactions": ("bench", "Benchmark: recovery of planted interactions"),
}
REPORT = "report.html"


def page(folder: str | Path, kind: str) -> str:
    """The HTML page of ``folder``, a complete or staged folder of ``kind``."""
    folder = Path(folder)
    module, title = PAGES[kind]
    sections: list[Section] = importlib.import_module(f"{__name__}.{module}").sections(folder, kind)
    return render(f"{title}: {folder.name}", sections, source=str(folder))


def write_report(
    folder: str | Path, out: str | Path | None = None, *, overwrite: bool = False
) -> Path:
    """Write the page of the omicsformer folder ``folder`` to ``out`` (default
    ``FOLDER/report.html``); an existing file is replaced only with ``overwrite``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such folder")
    kind = output_kind(folder)
    if kind is None:
        raise RunError(f"{folder}: not a folder made by omicsformer (its manifest is missing)")
    if kind not in PAGES:
        raise RunError(
            f"{folder}: a {kind} folder has no report; reports are made for: {', '.join(PAGES)}"
        )
    target = Path(out) if out is not None else folder / REPORT
    check_output_file(target, overwrite=overwrite)
    write_text(target, page(folder, kind))
    return target
