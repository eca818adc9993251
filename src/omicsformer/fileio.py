"""Safe outputs: atomic files, and folders built aside, locked, marked and checksummed.

Nothing the user owns is ever lost, and no output is ever half-written:

- Files are written to a temporary sibling and moved into place with :func:`os.replace`, which is
  atomic on POSIX file systems (:func:`atomic_path`).
- Output folders (runs, comparisons, benchmarks, interpretations) are built in a hidden staging
  folder ``.NAME.partial`` beside the target and renamed into place once complete
  (:class:`OutputFolder`). While a folder is built its writer holds a lock on ``.NAME.lock``, so
  that a second command writing the same output is refused instead of deleting the first one's
  work.
- Every folder omicsformer makes holds ``omicsformer.json`` (:data:`MANIFEST`): what made it, and
  once complete the SHA-256 of each file. The manifest marks the folder as omicsformer's own:
  ``--force`` replaces only such a folder, never a folder of the user's. Loading a run checks the
  checksums (:func:`verify_output`), so an edited or damaged file is refused by name.
- :func:`check_output_path` and :func:`check_output_file` say, before any data is read, whether an
  output can be created at all (a file in the way, a folder that cannot be written, a name too
  long once the hidden staging prefix is added).

Inputs: :func:`open_text` and :func:`read_header` are the one way readers open a text table and
read its header line; a gzipped file is recognised by its first bytes, whatever its name (Xena
hub files have no extension, renamed downloads keep a stale one).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar

import yaml

from omicsformer.errors import DataError, OmicsformerError, RunError

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

MANIFEST = "omicsformer.json"
GZIP_MAGIC = b"\x1f\x8b"
HEADER_LIMIT = 8 << 20  # bytes of a header line read: a Xena header of 20,000 barcodes is ~0.4 MB


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


def read_file(path: str | os.PathLike[str], reader: Callable[[Path], T]) -> T:
    """``reader(path)``; any failure to read or parse the file becomes one :class:`RunError`
    that names it (run files are input too: they may be truncated, edited or foreign)."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: missing")
    try:
        return reader(path)
    except OmicsformerError:
        raise
    except Exception as exc:  # parsers raise many unrelated types for a damaged file
        raise RunError(
            f"{path}: damaged or not written by omicsformer ({first_line(exc)})"
        ) from None


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file omicsformer wrote, through :func:`read_file` (damage is one error line)."""
    return read_file(path, lambda p: json.loads(p.read_text()))


def read_optional_csv(path: str | os.PathLike[str]) -> pd.DataFrame | None:
    """A CSV table omicsformer may have written, through :func:`read_file`; None if absent."""
    import pandas as pd  # not at import time: most users of this module read no tables

    return read_file(path, pd.read_csv) if Path(path).is_file() else None


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """A YAML file omicsformer wrote (``None`` when empty), through :func:`read_file`."""
    return read_file(path, lambda p: yaml.safe_load(p.read_text()))


# ------------------------------------------------------------------------------ reading inputs
def is_gzip(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with gzip's magic bytes (its name is not looked at)."""
    with open(path, "rb") as raw:
        return raw.read(2) == GZIP_MAGIC


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open a text file for reading, gunzipped when it is gzip (:func:`is_gzip`).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    A text handle (UTF-8, undecodable bytes replaced, a leading byte-order mark dropped as
    pandas drops it) to use as a context manager.

    Raises
    ------
    OSError
        The file cannot be opened.
    """
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace")


def refuse_nul_bytes(path: str | os.PathLike[str], what: str = "a text table") -> None:
    """Refuse a text input holding a NUL byte (a binary or damaged file): pandas would end the
    cell there without a word (``s\\x002`` read as ``s``). The file is scanned in chunks
    (gunzipped when it is gzip); a damaged gzip stream is left for the reader to name.

    Raises
    ------
    DataError
        A NUL byte was found; the message names the file and the byte's offset.
    """
    chunk, offset = 1 << 23, 0
    try:
        with gzip.open(path, "rb") if is_gzip(path) else open(path, "rb") as handle:
            while block := handle.read(chunk):
                at = block.find(b"\x00")
                if at >= 0:
                    raise DataError(
                        f"{path}: a NUL byte at byte {offset + at}: a binary or damaged file, "
                        f"not {what}"
                    )
                offset += len(block)
    except (OSError, EOFError, zlib.error):
        return  # the reader names the damage


class TextHeader(NamedTuple):
    """A table's header line and what came before it."""

    cells: list[str]  # the header line split by the separator ([] when the file has no line)
    comment_lines: int  # comment lines skipped before it


def read_header(
    path: str | os.PathLike[str],
    sep: str = "\t",
    *,
    comment: str | None = None,
    limit: int = HEADER_LIMIT,
) -> TextHeader:
    """The header of a text table: its first line (after ``comment`` lines) split by ``sep``.

    Parameters
    ----------
    path
        A text file, plain or gzipped (recognised by its first bytes, :func:`open_text`).
    sep
        The cell separator.
    comment
        Lines starting with it are skipped (and counted) before the header; None: the first line
        is the header.
    limit
        At most this many characters of the header line are read (a longer line is cut there).

    Returns
    -------
    :class:`TextHeader`: the cells as written (line ending removed; ``[]`` for a file with no
    header line) and the number of comment lines before it.

    Raises
    ------
    DataError
        The file cannot be opened or decompressed (one line naming it).
    """
    skipped = 0
    try:
        with open_text(path) as handle:
            while line := handle.readline(limit):
                if "\x00" in line:  # pandas and this reader would not agree on the cells
                    raise DataError(
                        f"{path}: a NUL byte in line {skipped + 1}: a binary or damaged file, "
                        "not a text table"
                    )
                if comment is None or not line.startswith(comment):
                    return TextHeader(line.rstrip("\r\n").split(sep), skipped)
                skipped += 1
                while not line.endswith("\n") and line:  # the rest of a long comment line
                    line = handle.readline(limit)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read: {first_line(exc)}") from None
    return TextHeader([], skipped)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------------ checks before writing
def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output_path(path: str | os.PathLike[str], *, staged_name: str) -> None:
    """Raise a :class:`RunError` if ``path`` cannot be created; writes nothing.

    ``staged_name`` is the name of the hidden file or folder the output is first written to
    (it must fit the file system's name limit too).
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise RunError(f"{str(path)!r} is not a usable output name; give a file or folder name")
    names = [*(p for p in path.parts if p != "/"), staged_name]
    if any(len(os.fsencode(n)) > 255 for n in names):
        raise RunError(
            f"output name too long: {path.name[:40]}... (a name may have at most 255 bytes, "
            f"and omicsformer first writes to {staged_name[:20]}...); choose a shorter --out"
        )
    ancestor = path.absolute().parent
    while not os.path.lexists(ancestor):
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise RunError(f"cannot create {path}: {ancestor} is a file, not a folder")
    if any(len(os.fsencode(n)) > _name_max(ancestor) for n in names):
        raise RunError(f"output name too long for the file system of {ancestor}: {path.name}")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise RunError(f"cannot write in {ancestor}: permission denied; choose another --out")
    try:  # the only sure test (read-only mounts, ACLs, pseudo file systems): make, then remove
        os.rmdir(tempfile.mkdtemp(prefix=".omicsformer-probe-", dir=ancestor))
    except OSError as exc:
        raise RunError(f"cannot write in {ancestor}: {exc.strerror or exc}") from None


def check_output_file(path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Raise a :class:`RunError` if the file ``path`` cannot or may not be written."""
    path = Path(path)
    check_output_path(path, staged_name=f".{path.name}.12345678.tmp{path.suffix}")
    if path.is_dir():
        raise RunError(f"{path} is a folder; --out expects a file name")
    if path.exists() and not overwrite:
        raise RunError(f"{path} already exists; use --force to replace it")


# ---------------------------------------------------------------------------------- manifests
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, or None if it has none (or one that is not omicsformer's)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "omicsformer" in manifest else None


def is_output_folder(folder: str | os.PathLike[str]) -> bool:
    """True for a folder made by omicsformer (it holds an omicsformer manifest)."""
    return _read_manifest(Path(folder)) is not None


def output_kind(folder: str | os.PathLike[str]) -> str | None:
    """The kind an omicsformer folder records (run, compare, bench-model, ...); None if
    ``folder`` was not made by omicsformer."""
    manifest = _read_manifest(Path(folder))
    return str(manifest.get("kind")) if manifest is not None else None


def _write_manifest(folder: Path, kind: str, *, complete: bool) -> None:
    from omicsformer import __version__

    manifest: dict[str, Any] = {
        "omicsformer": __version__,
        "kind": kind,
        "state": "complete" if complete else "partial",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if complete:
        manifest["files"] = {
            path.relative_to(folder).as_posix(): sha256(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST
        }
    write_json(folder / MANIFEST, manifest)


def staging_folder(target: str | os.PathLike[str]) -> Path:
    """Where an output folder is built before it is published: ``.NAME.partial`` beside it."""
    target = Path(target)
    return target.parent / f".{target.name}.partial"


def staged_target(folder: str | os.PathLike[str]) -> Path | None:
    """The folder a staging folder ``.NAME.partial`` is built for; None for any other folder."""
    folder = Path(folder)
    name = folder.name
    if name.startswith(".") and name.endswith(".partial") and len(name) > len("..partial"):
        return folder.parent / name[1 : -len(".partial")]
    return None


def unfinished(target: str | os.PathLike[str]) -> str | None:
    """What to do about an interrupted output of ``target`` (its staging folder exists and was
    made by omicsformer): a training run with a checkpoint is continued by ``train --resume``;
    anything else is made again by the same command. None when there is none."""
    target = Path(target)
    partial = staging_folder(target)
    manifest = _read_manifest(partial)
    if manifest is None or manifest.get("state") == "complete":
        return None
    probe = OutputFolder(target, kind=str(manifest.get("kind")))
    if probe._busy():
        return f"another omicsformer command is writing it now ({partial.name}); wait for it"
    kind = manifest.get("kind")
    checkpoint = partial / "checkpoint"
    if kind == "run" and checkpoint.is_dir() and any(p.is_file() for p in checkpoint.iterdir()):
        return (
            f"its training was interrupted ({partial.name} keeps the finished epochs); continue "
            f"it with: omicsformer train --resume {target}"
        )
    return (
        f"it was interrupted before it was finished, with nothing to resume from "
        f"({partial.name}); run the same command again"
    )


def verify_output(folder: str | os.PathLike[str], kind: str, what: str) -> dict[str, Any]:
    """Check that ``folder`` is a complete omicsformer output of ``kind`` whose files are
    exactly as written; return its manifest.

    ``what`` names the folder in messages (e.g. "a run folder made by `omicsformer train`").
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise RunError(
            f"{folder}: not {what} ({MANIFEST} missing; a run made before omicsformer recorded "
            "checksums must be trained again)"
        )
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"] if manifest.get("state") == "complete" else None
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        raise RunError(f"{path}: damaged (not the manifest omicsformer wrote)") from None
    if manifest.get("kind") != kind:
        raise RunError(f"{folder}: a {manifest.get('kind')} folder, not {what}")
    target = staged_target(folder)
    if manifest.get("state") == "partial" and target is not None:
        raise RunError(
            f"{folder}: the unfinished folder of {target}, not {what}: {unfinished(target)}"
        )
    if not isinstance(files, dict):
        raise RunError(f"{path}: damaged (no file checksums)")
    for name, digest in files.items():
        file = folder / name
        if not file.is_file():
            raise RunError(f"{file}: missing from the {kind} folder")
        if sha256(file) != digest:
            raise RunError(
                f"{file}: changed since omicsformer wrote it (its checksum differs from the one "
                f"in {MANIFEST}); restore the file or run again"
            )
    return manifest


# ------------------------------------------------------------------------------ output folders
class OutputFolder:
    """Build an output folder aside, under a lock, and publish it in one rename.

    Use it as a context manager around the work; the lock is taken by :meth:`create` and
    released on exit, and a failure before :meth:`publish` removes the staging folder unless
    :meth:`keep` was called (an interrupted training run keeps its checkpoint)::

        output = OutputFolder(out, kind="compare", overwrite=force)
        output.check()                       # before any data is read; writes nothing
        ...                                  # load and check the input
        with output:
            folder = output.create()         # .NAME.partial, locked, marked
            ...                              # write into folder
            output.publish()                 # checksums, then one rename onto NAME

    Rules: an existing target is replaced only with ``overwrite`` and only if omicsformer made it
    (an empty folder counts as free); a staging folder that holds ``checkpoint`` (an interrupted
    training run) is kept unless ``resume`` continues it or ``overwrite`` discards it; a second
    writer of the same target is refused while the first holds the lock.

    Parameters
    ----------
    target
        The folder to create.
    kind
        What the folder is (``run``, ``compare``, ``interpret``, ``bench-attention``, ...);
        recorded in the manifest and checked when the folder is read back.
    overwrite
        Replace an existing omicsformer output folder (``--force``).
    checkpoint
        Path, relative to the staging folder, of the file that makes an unfinished folder
        resumable (``checkpoint/train_state.pt`` for training runs).
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        kind: str,
        overwrite: bool = False,
        checkpoint: str | None = None,
    ) -> None:
        self.target = Path(target)
        self.kind = kind
        self.overwrite = overwrite
        self.checkpoint = checkpoint
        parent, name = self.target.parent, self.target.name
        self.path = parent / f".{name}.partial"
        self.lock_path = parent / f".{name}.lock"
        self._old = parent / f".{name}.old"
        self._lock: Any = None
        self._kept = False
        self._published = False

    # ---------------------------------------------------------------------------------- checks
    def check(self, *, resume: bool = False) -> None:
        """Raise a :class:`RunError` if the folder cannot or may not be built; writes nothing."""
        check_output_path(self.target, staged_name=self.path.name)
        if self._busy():
            raise self._busy_error()
        self._check_state(resume)

    def _busy(self) -> bool:
        """True while another process holds the lock (an existing lock file alone is stale)."""
        from filelock import FileLock, Timeout

        if not self.lock_path.exists():
            return False
        try:
            FileLock(self.lock_path, timeout=0).acquire().lock.release()
        except Timeout:
            return True
        return False

    def _busy_error(self) -> RunError:
        return RunError(
            f"another omicsformer command is writing {self.target} (it holds {self.lock_path}); "
            "wait for it to finish or choose another --out"
        )

    def _check_state(self, resume: bool) -> None:
        self._check_target(resume)
        self._check_staging(resume)

    def _check_target(self, resume: bool) -> None:
        target = self.target
        staged = staged_target(target)
        if staged is not None and is_output_folder(target):
            raise RunError(
                f"{target} is the unfinished folder omicsformer builds {staged} in; "
                + (f"give --resume {staged}" if resume else f"choose another --out than {target}")
            )
        if target.is_symlink():
            raise RunError(f"{target} is a symbolic link; give the folder itself as --out")
        if resume and target.exists():
            raise RunError(f"{target} is a finished run; nothing to resume")
        if target.exists() and not target.is_dir():
            raise RunError(f"{target} exists and is not a folder; choose another --out")
        if target.is_dir() and any(target.iterdir()):
            if not is_output_folder(target):
                raise RunError(
                    f"{target} is not an omicsformer output folder (it holds files and no "
                    f"{MANIFEST}); omicsformer never replaces it, --force included: choose "
                    "another --out"
                )
            if not self.overwrite:
                raise RunError(f"output folder {target} already exists; use --force to replace it")

    def _check_staging(self, resume: bool) -> None:
        target, partial = self.target, self.path
        for folder in (partial, self._old):
            if folder.exists() and not is_output_folder(folder):
                raise RunError(
                    f"{folder} is in the way and was not made by omicsformer; move it away"
                )
        resumable = self.checkpoint is not None and (partial / self.checkpoint).is_file()
        if resume and not resumable:
            if partial.exists():
                raise RunError(
                    f"{target}: the interrupted run in {partial.name} saved no checkpoint (it "
                    "stopped before its first epoch ended, or its model is not trained in "
                    "epochs), so there is nothing to resume: train it again without --resume"
                )
            raise RunError(f"{target}: no interrupted run to resume (no {partial.name})")
        if resumable and not resume and not self.overwrite:
            raise RunError(
                f"an interrupted run of {target} is waiting in {partial}; continue it with "
                f"--resume {target}, or pass --force to discard it"
            )

    # ----------------------------------------------------------------------------------- build
    def create(self, *, resume: bool = False) -> Path:
        """Take the lock, check again, and create (or, with ``resume``, reuse) the staging
        folder; return its path."""
        from filelock import FileLock, Timeout

        self.check(resume=resume)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_path, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise self._busy_error() from None
        self._lock = lock
        self._check_state(resume)  # again, now that no other writer can change it
        if not resume:
            if self.path.exists():  # stale: made by omicsformer, not resumable or --force
                shutil.rmtree(self.path)
            self.path.mkdir()
            _write_manifest(self.path, self.kind, complete=False)
        return self.path

    def publish(self) -> Path:
        """Record the checksums and move the staging folder onto the target."""
        _write_manifest(self.path, self.kind, complete=True)
        self._check_target(resume=False)
        if self.target.is_dir() and any(self.target.iterdir()):  # an output of ours (checked)
            if self._old.exists():
                shutil.rmtree(self._old)
            os.replace(self.target, self._old)
            os.replace(self.path, self.target)
            shutil.rmtree(self._old)
        else:  # absent, or an empty folder (rename replaces it)
            os.replace(self.path, self.target)
        self._published = True
        self.release()
        return self.target

    def keep(self) -> None:
        """Leave the staging folder in place when the work fails (it can be resumed)."""
        self._kept = True

    def discard(self) -> None:
        """Remove the staging folder (only if omicsformer made it) and release the lock."""
        if self.path.exists() and is_output_folder(self.path):
            shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and not self._published and not self._kept:
            if self._lock is not None:  # only the writer that created the staging folder
                self.discard()
        self.release()


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error: the file and the reason."""
    reason = exc.strerror or os.strerror(exc.errno or 0) or type(exc).__name__
    if exc.errno == errno.ENAMETOOLONG:
        reason = "name too long"
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return f"{where}: {reason}" if where else reason
