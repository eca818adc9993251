"""Benchmarks: attention kernels, whole models, and measurement helpers."""
