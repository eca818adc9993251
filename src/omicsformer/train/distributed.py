"""Moved to :mod:`omicsformer.ranks` (the console needs it, and must not import ``train``).

Kept so that ``pipeline.py`` imports it unchanged while that module is being split; import
:func:`~omicsformer.ranks.is_main_process` from :mod:`omicsformer.ranks` in new code.
"""

from omicsformer.ranks import global_rank, is_main_process

__all__ = ["global_rank", "is_main_process"]
