"""Benchmarks: each script prints figures measured against a reference taken in the same run."""
