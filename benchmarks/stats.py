"""Latency summaries (mean, p50, p99, max) the same way in every phase."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of values <= it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values_ms: Sequence[float]) -> dict[str, float | int]:
    """mean/p50/p99/max in milliseconds, rounded for the report."""
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "mean_ms": round(statistics.fmean(values_ms), 2),
        "p50_ms": round(percentile(values_ms, 0.50), 2),
        "p99_ms": round(percentile(values_ms, 0.99), 2),
        "max_ms": round(max(values_ms), 2),
    }
