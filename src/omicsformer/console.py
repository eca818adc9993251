"""Terminal output: results on stdout, progress and notes on stderr (so stdout stays parseable)."""

from __future__ import annotations

import re
import sys

from rich.console import Console
from rich.markup import escape

from omicsformer.ranks import is_main_process

# Piped output (files, CI logs) gets wide tables instead of rich's 80-column default.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """Print an informational line on stderr (dropped samples, chosen options, ...).

    Only the main process of a multi-process run prints.
    """
    if not is_main_process():
        return
    err.print(f"[dim]omicsformer:[/dim] {escape(message)}", markup=True)


_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = re.compile(r"^(During handling of the above|The above exception was the direct)")


def one_line(text: str, limit: int = 400) -> str:
    """``text`` as one line, without the tracebacks a library may quote in it (scikit-learn's
    "Scoring failed ... Details:" warnings hold one): each traceback is reduced to its last
    line, the exception itself. Cut at ``limit`` characters."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == _TRACEBACK:
            inside = True
            continue
        if _CHAINED.match(line) or (inside and (not line.strip() or line[:1].isspace())):
            continue  # a frame, its source line, a blank; the joint of chained tracebacks
        inside = False
        if line.strip(" -=_"):  # not a rule of dashes
            kept.append(line)
    line = " ".join(" ".join(kept).split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."
