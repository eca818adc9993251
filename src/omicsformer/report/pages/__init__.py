"""``omicsformer report``: the HTML page of an output folder, chosen by the folder's kind.

Each kind of folder omicsformer writes (its manifest records the kind) has a page module here
with ``sections(folder) -> list[Section]``; :func:`write_report` renders it with
:func:`omicsformer.report.html.render` into one self-contained file. ``compare`` and the
benchmarks call :func:`page` themselves and write ``report.html`` into their folder.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from omicsformer.console import note
from omicsformer.errors import RunError
from omicsformer.fileio import (
    OutputFolder,
    check_output_file,
    output_kind,
    unfinished,
    write_text,
)
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


def page(folder: str | Path, kind: str, *, target: str | Path | None = None) -> str:
    """The HTML page of ``folder``, a complete or staged folder of ``kind``; ``target``: the
    folder's published path, for the title, when ``folder`` is its staging folder."""
    folder = Path(folder)
    shown = Path(target) if target is not None else folder
    module, title = PAGES[kind]
    sections: list[Section] = importlib.import_module(f"{__name__}.{module}").sections(folder, kind)
    return render(f"{title}: {shown.name}", sections, source=str(shown))


def write_report(
    folder: str | Path, out: str | Path | None = None, *, overwrite: bool = False
) -> Path:
    """Write the page of the omicsformer folder ``folder`` to ``out`` (default
    ``FOLDER/report.html``); an existing file is replaced only with ``overwrite``."""
    folder = Path(folder)
    if not folder.is_dir():
        interrupted = unfinished(folder)
        raise RunError(
            f"{folder}: " + (f"never finished: {interrupted}" if interrupted else "no such folder")
        )
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


def stage_report(folder: str | Path, kind: str, target: str | Path) -> bool:
    """Write ``report.html`` into ``folder``, the staging folder of ``target``, once the study's
    results are written into it (so that the page is in the manifest when it is published).

    A page that fails does not cost the results: one warning line names the failure and how to
    make the page later, and the folder is published without it (the command still exits 0,
    since what it was asked to compute is complete and checked). Returns whether it was written.
    """
    folder = Path(folder)
    try:
        write_text(folder / REPORT, page(folder, kind, target=target))
    except Exception as exc:  # the page is a view of results already written: never fatal
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        note(
            f"warning: {REPORT} not written ({type(exc).__name__}: {reason}); the results are "
            f"complete: make the page with `omicsformer report {target}`"
        )
        return False
    return True


def publish_with_report(output: OutputFolder, report: bool) -> Path:
    """Publish a study's staging folder (``output.path``, its results written), with its
    report.html staged first when ``report``: after the results, so that a failing page costs
    a warning (:func:`stage_report`), not them. Returns the published folder."""
    if report:
        stage_report(output.path, output.kind, output.target)
    return output.publish()
