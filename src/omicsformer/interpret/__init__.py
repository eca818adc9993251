"""Interpretation: attention-based and gradient-based gene-gene interactions, gene importances."""
