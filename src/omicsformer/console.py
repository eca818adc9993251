"""Terminal output: results on stdout, progress and notes on stderr (so stdout stays parseable)."""

from __future__ import annotations

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
