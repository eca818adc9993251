"""Data layer: every input becomes an AnnData (obs = clinical table, var = genes).

The one entry is :func:`omicsformer.data.readers.load_data`. This package file imports nothing:
Python runs it before any module of the package, and two of them sit below the rest of the
layers (``data.grouping``, read by ``nn``; ``data.transforms``, read by ``config``), so it must
not pull the readers in above them.
"""
