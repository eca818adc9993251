"""Atomic file and folder writes, so that an interrupted or failed command never leaves a
half-written output behind.

Files are written to a temporary sibling and moved into place with :func:`os.replace`, which is
atomic on POSIX file systems. Run folders are built in a hidden staging folder next to the target
(``.NAME.partial``) and renamed into place once complete (see :class:`StagedDir`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the real suffix last: some writers pick their format from it (XGBoost's .json)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_yaml(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, yaml.safe_dump(obj, sort_keys=False))


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays appear in metrics; write them as plain numbers and lists.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


class StagedDir:
    """Build a folder in a staging location and publish it in one rename.

    While work is in progress the content lives in ``.NAME.partial`` beside the target; on
    :meth:`publish` an existing target is replaced (only when ``overwrite`` was given) and the
    staging folder is renamed onto it. A failure before :meth:`publish` leaves the target untouched
    and keeps the staging folder (so that an interrupted training run can be resumed from it).

    Parameters
    ----------
    target
        The folder to create.
    overwrite
        Replace an existing target folder on publish.
    """

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.target = Path(target)
        self.overwrite = overwrite
        self.path = self.target.parent / f".{self.target.name}.partial"

    def check_target(self) -> None:
        """Raise if the target exists and may not be replaced."""
        from omicsformer.errors import RunError

        if self.target.exists() and not self.overwrite:
            raise RunError(f"output folder {self.target} already exists; use --force to replace it")

    def create(self, *, resume: bool = False) -> Path:
        """Create (or, with ``resume``, reuse) the staging folder and return its path."""
        self.check_target()
        if self.path.exists() and not resume:
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path

    def publish(self) -> Path:
        """Move the staging folder onto the target."""
        self.check_target()
        if self.target.exists():
            old = self.target.parent / f".{self.target.name}.old"
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.target, old)
            os.replace(self.path, self.target)
            shutil.rmtree(old)
        else:
            os.replace(self.path, self.target)
        return self.target

    def discard(self) -> None:
        """Remove the staging folder."""
        shutil.rmtree(self.path, ignore_errors=True)
