"""MkDocs hooks of the docs site (mkdocs.yml `hooks:`), not a command.

GitHub's tables read ``\\|`` as a pipe even inside a code span (``--ties breslow\\|efron``), so
the pages write it that way; Python-Markdown keeps the backslash inside code. This puts the pipe
back in table cells, so a page reads the same on GitHub and on the site.
"""

from __future__ import annotations

import re

_CELL = re.compile(r"<(td|th)>(.*?)</\1>", flags=re.S)


def on_page_content(html: str, **_: object) -> str:
    return _CELL.sub(lambda m: m.group(0).replace("\\|", "|"), html)
