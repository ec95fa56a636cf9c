"""Benchmarks: each `python -m bench.NAME [--quick]` prints `key: value` lines."""
