"""Which process am I? Needed before Lightning Fabric starts, to keep file writing on one rank.

Multi-process runs are started either by Fabric itself (it re-runs the command with
``LOCAL_RANK`` set for ranks > 0), by ``torchrun`` (``RANK``) or by SLURM (``SLURM_PROCID``).
Only the global rank 0 creates run folders, writes files and prints.
"""

from __future__ import annotations

import os


def global_rank() -> int:
    """The global rank of this process according to its launcher; 0 when not distributed."""
    for variable in ("RANK", "SLURM_PROCID"):
        if variable in os.environ:
            return int(os.environ[variable])
    local = int(os.environ.get("LOCAL_RANK", 0))
    node = int(os.environ.get("NODE_RANK", 0))
    return local if node == 0 else node * 1_000_000 + local  # only "is it 0?" matters here


def is_main_process() -> bool:
    return global_rank() == 0
