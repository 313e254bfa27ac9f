"""Small statistics helpers, kept free of numpy so the benchmark runs in the project venv."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty.

    With 200 samples p99 sits between the 2nd and 3rd slowest request, so it is a tail
    estimate, not a worst case.
    """
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """None when either side is missing or the denominator is not positive: an added latency
    of 0 ms or less for stock LiteLLM makes the ratio meaningless, not infinite."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator
