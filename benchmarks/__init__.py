"""Benchmarks, run by `make bench` (`python -m benchmarks [NAME ...]`): each prints one JSON line per case."""
