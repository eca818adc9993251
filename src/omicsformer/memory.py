"""Peak memory of a block of code.

CPU: the process's resident set size (RSS) is sampled from ``/proc/self/statm`` every few
milliseconds in a background thread; the peak above the RSS at entry is reported (tracemalloc
would miss PyTorch's and NumPy's native allocations). Freed heap memory is first returned to the
system (glibc ``malloc_trim``), so that memory freed by an earlier measurement and reused here
is not hidden from this one. Where /proc is unavailable the process
lifetime peak (``ru_maxrss``) is used and marked as such. CUDA: the allocator's peak
(``torch.cuda.max_memory_allocated``) above what was allocated at entry. Both report what the
block itself needed on top of what existed before it (inputs, weights).

:func:`out_of_memory_as_error` turns an allocation failure inside a pass over data (CPU:
``MemoryError`` or the allocator's ``RuntimeError``; CUDA: ``torch.OutOfMemoryError``) into one
:class:`~omicsformer.errors.OutOfMemory` line naming the pass and the batch size to try.
"""

from __future__ import annotations

import ctypes
import gc
import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from omicsformer.errors import OutOfMemory

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = Path("/proc/self/statm")


def release_freed_memory() -> None:
    """Give freed heap memory back to the operating system (glibc only; otherwise nothing)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def current_rss() -> int | None:
    """Resident set size of this process in bytes, or None if /proc is unavailable."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class PeakMemory:
    """Context manager: ``peak_mb`` (CPU RSS growth) and ``cuda_peak_mb`` after exit."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak_mb = float("nan")
        self.cuda_peak_mb = float("nan")
        self.method = "rss-sampled"
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        gc.collect()
        release_freed_memory()
        self._base = current_rss()
        self._peak = self._base or 0
        if self._base is None:
            self.method = "ru_maxrss (process lifetime)"
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            self._cuda_base = torch.cuda.memory_allocated()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = current_rss() or 0
            self._peak = max(self._peak, rss)
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        if self._base is None:
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, current_rss() or 0)
            self.peak_mb = (self._peak - self._base) / 2**20
        if torch.cuda.is_available():
            self.cuda_peak_mb = (torch.cuda.max_memory_allocated() - self._cuda_base) / 2**20


# what PyTorch's allocators say when they cannot allocate (CPU: c10's DefaultCPUAllocator)
_OOM_TEXT = ("can't allocate memory", "out of memory", "not enough memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (CPU or CUDA), not another error."""
    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(t in str(exc) for t in _OOM_TEXT)


@contextmanager
def out_of_memory_as_error(what: str, batch_size: int, flag: str) -> Iterator[None]:
    """Raise :class:`~omicsformer.errors.OutOfMemory` (one line, no traceback) for an
    allocation failure inside the block: pass ``what`` with batches of ``batch_size``, whose
    size the command-line ``flag`` sets."""
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise OutOfMemory(what, batch_size, flag) from None
