"""Benchmark harness: `make bench` runs bench/run.py."""
