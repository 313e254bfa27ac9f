"""Helpers for `scripts/bench.py`: server processes, the load client, and the report.

Kept out of `gateway/` and `tests/` on purpose: the benchmark drives everything through
subprocesses and HTTP, exactly as a user would, and imports nothing from the code it measures.
"""
