"""Benchmarks: `make bench-backfill` (python -m bench.backfill) and friends; see bench/README.md."""
