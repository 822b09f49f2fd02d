"""Benchmarks: `python -m bench` prints figures (nothing is asserted)."""
