"""Data layer: every input becomes an AnnData (obs = clinical table, var = genes)."""

from omicsformer.data.readers import load_data, read_expression, read_table

__all__ = ["load_data", "read_expression", "read_table"]
