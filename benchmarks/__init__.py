"""Benchmarks of Tasdir (`make bench`); results are kept in `benchmarks/results/`."""
